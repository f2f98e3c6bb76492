import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { assertLedgerSound, seedMerchant, seedShopper, walletAvailable } from '../helpers/factories.js'

/**
 * PERFORMANCE.md lever 3: on PostgreSQL a statement is a round trip, so a payment's unit sends what
 * it reads up front in one statement (Tx.prefetch) and its writes in one more. Counted here at the
 * driver, for every statement any connection of the node sends while one request is answered.
 */
if (DIALECTS.includes('postgres')) {
  describe('postgres: round trips per request', () => {
    let kassa: TestKassa
    let merchant: Awaited<ReturnType<typeof seedMerchant>>

    before(async () => {
      kassa = await openTestKassa('postgres')
      merchant = await seedMerchant(kassa, 'Books', 60)
    })
    after(async () => {
      await assertLedgerSound(kassa)
      await kassa.dispose()
    })

    /** The statements sent while `request` runs. */
    async function statementsOf<T>(request: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
      const statements: string[] = []
      const original = pg.Client.prototype.query
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text ?? ''
        statements.push(text.replace(/\s+/g, ' ').trim())
        return (original as (...a: unknown[]) => unknown).apply(this, args)
      } as typeof original
      try {
        return { result: await request(), statements }
      } finally {
        pg.Client.prototype.query = original
      }
    }

    const key = (name: string) => ({ 'idempotency-key': `${name}-${Math.random()}` })

    /**
     * The statements between the batch's BEGIN and COMMIT, the unit's round trips on the writer
     * connection: the reads sent ahead, a read of one table, or the queued writes.
     */
    function inUnit(statements: readonly string[]): string[] {
      const begin = statements.indexOf('BEGIN')
      const commit = statements.lastIndexOf('COMMIT')
      assert.ok(begin >= 0 && commit > begin, `one batch: ${statements.join(' | ')}`)
      return statements.slice(begin + 1, commit).map((text) => {
        if (text.startsWith('select r0.*')) return 'reads sent ahead'
        if (text.startsWith('with w0 as')) return 'writes'
        const table = /^select .*? from "(\w+)"/.exec(text)?.[1]
        return table === undefined ? text.slice(0, 60) : `read ${table}`
      })
    }

    it('create and confirm, confirm, capture, refund and cancel each send their reads ahead and their writes in one statement', async () => {
      const shopper = await seedShopper(kassa, 100_000n)
      const wallet = { type: 'wallet_balance', shopper }
      // The first payment opens the shopper's and the merchant's accounts; the ones measured find them.
      const first = await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'rt-0', confirm: true, payment_method: wallet }, key('first'))
      assert.equal(first.statusCode, 200, first.body)

      const create = await statementsOf(() =>
        merchant.api.post('/v1/payments', { amount: 10_000, currency: 'CNY', order_reference: 'rt-1', capture_method: 'manual', confirm: true, payment_method: wallet }, key('create')),
      )
      assert.equal(create.result.statusCode, 200, create.result.body)
      const held = create.result.json()
      assert.equal(held.status, 'requires_capture')
      // Idempotency key, shopper, channel, accounts; then payment, hold, postings, balances, events.
      assert.deepEqual(inUnit(create.statements), ['reads sent ahead', 'writes'])

      const capture = await statementsOf(() => merchant.api.post(`/v1/payments/${held.id}/capture`, { amount_to_capture: 6_000 }, key('capture')))
      assert.equal(capture.result.statusCode, 200, capture.result.body)
      assert.equal(capture.result.json().amount_received, 6_000)
      // The hold's postings and whether it was resolved need the payment's hold id; each transfer reads its accounts.
      assert.deepEqual(inUnit(capture.statements), ['reads sent ahead', 'reads sent ahead', 'read ledger_accounts', 'writes', 'read ledger_accounts', 'writes'])

      const refund = await statementsOf(() => merchant.api.post('/v1/refunds', { payment: held.id, amount: 1_000 }, key('refund')))
      assert.equal(refund.result.statusCode, 200, refund.result.body)
      assert.deepEqual(inUnit(refund.statements), ['reads sent ahead', 'read ledger_accounts', 'writes'])

      const later = await merchant.api.post('/v1/payments', { amount: 500, currency: 'CNY', order_reference: 'rt-2' }, key('later'))
      const confirm = await statementsOf(() => merchant.api.post(`/v1/payments/${later.json().id}/confirm`, { payment_method: wallet }, key('confirm')))
      assert.equal(confirm.result.statusCode, 200, confirm.result.body)
      assert.equal(confirm.result.json().status, 'succeeded')
      // The accounts need the payment's currency, so they are read after it.
      assert.deepEqual(inUnit(confirm.statements), ['reads sent ahead', 'read ledger_accounts', 'writes'])

      const open = await merchant.api.post('/v1/payments', { amount: 700, currency: 'CNY', order_reference: 'rt-3', capture_method: 'manual', confirm: true, payment_method: wallet }, key('open'))
      const cancel = await statementsOf(() => merchant.api.post(`/v1/payments/${open.json().id}/cancel`, {}, key('cancel')))
      assert.equal(cancel.result.statusCode, 200, cancel.result.body)
      assert.equal(cancel.result.json().status, 'canceled')
      assert.deepEqual(inUnit(cancel.statements), ['reads sent ahead', 'reads sent ahead', 'read ledger_accounts', 'writes'])

      // 100 + 6,000 captured − 1,000 refunded + 500: the hold's other 4,000 and the canceled 700 are back.
      assert.equal(await walletAvailable(kassa, shopper), 100_000n - 100n - 6_000n + 1_000n - 500n)
    })
  })
}
