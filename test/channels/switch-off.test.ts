// The real event: a wallet channel carrying a share of live traffic is switched to draining, then
// disabled, while concurrent HTTP load runs. Afterwards nothing is lost or stuck, nothing started
// on the channel after the switch, its old payments still complete and refund, the ledger verifies.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { verifyLedger } from '../../src/ledger/verify.js'
import { DIALECTS } from '../helpers/dialects.js'
import { openCheckoutWorld, type CheckoutWorld } from '../helpers/counterparts.js'
import { seedMerchant, seedOperator, seedShopper } from '../helpers/factories.js'

type Sent = { status: number; code: string | undefined; id: string | undefined; channel: string; sentAt: number }

for (const dialect of DIALECTS) {
  describe(`${dialect}: switching a wallet channel off mid-traffic`, () => {
    let world: CheckoutWorld
    before(async () => {
      world = await openCheckoutWorld(dialect, { queryAfterMs: 500, checkEveryMs: 100 })
    })
    after(async () => {
      await world?.dispose()
    })

    it('loses nothing, strands nothing, starts nothing on the channel after the switch, and still refunds its old payments', async () => {
      const shop = await seedMerchant(world.kassa, 'Busy Shop', 60)
      const operator = await seedOperator(world.kassa)
      const shoppers = await Promise.all(Array.from({ length: 4 }, () => seedShopper(world.kassa, 100_000_000n)))
      const alipay = world.counterparts.wallets.find((w) => w.provider.id === 'alipay-like')
      assert.ok(alipay)
      const sent: Sent[] = []
      let stop = false
      let n = 0

      const createOne = async (worker: number) => {
        n += 1
        const useWallet = n % 2 === 0
        const body = {
          amount: 1_000 + (n % 97),
          currency: 'CNY',
          order_reference: `load-${n}`,
          shopper: shoppers[worker % shoppers.length],
          confirm: true,
          payment_method: useWallet ? { type: 'wallet', provider: 'alipay-like' } : { type: 'wallet_balance', shopper: shoppers[worker % shoppers.length] },
        }
        const sentAt = Date.now()
        const response = await fetch(`${world.url}/v1/payments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${shop.key}`, 'content-type': 'application/json', 'idempotency-key': `load-${dialect}-${n}` },
          body: JSON.stringify(body),
        })
        const json = (await response.json()) as { id?: string; error?: { code: string } }
        sent.push({ status: response.status, code: json.error?.code, id: json.id, channel: useWallet ? 'wallet.alipay-like' : 'wallet_balance', sentAt })
      }
      const workers = Array.from({ length: 6 }, async (_, worker) => {
        while (!stop) await createOne(worker)
      })
      // A payer who pays some of the wallet orders while traffic flows, before and after the switch.
      const payer = (async () => {
        while (!stop) {
          const pending = await world.kassa.store.db.selectFrom('channel_attempts').select(['provider_order_id', 'id']).where('channel_id', '=', 'wallet.alipay-like').where('status', '=', 'pending').limit(5).execute()
          for (const attempt of pending.slice(0, 2)) alipay.pay(attempt.provider_order_id ?? '', 'wang')
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      })()

      await new Promise((resolve) => setTimeout(resolve, 1_500))
      const draining = await operator.api.post('/console/v1/channels/wallet.alipay-like', { state: 'draining' })
      assert.equal(draining.statusCode, 200)
      const switchedAt = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const disabled = await operator.api.post('/console/v1/channels/wallet.alipay-like', { state: 'disabled' })
      assert.equal(disabled.statusCode, 200)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      stop = true
      await Promise.all(workers)
      await payer

      // Every request had an answer, and no answer was a server error.
      assert.ok(sent.length > 40, `enough traffic (${sent.length})`)
      const fiveHundreds = sent.filter((s) => s.status >= 500)
      assert.deepEqual(fiveHundreds, [])
      const walletAfter = sent.filter((s) => s.channel === 'wallet.alipay-like' && s.sentAt > switchedAt)
      assert.ok(walletAfter.length > 0)
      assert.ok(walletAfter.every((s) => s.status === 409 || s.status === 400), 'the channel refused every new payment after the switch')
      assert.ok(sent.filter((s) => s.channel === 'wallet_balance').every((s) => s.status === 200), 'the other channel went on')

      // Nothing was started on the channel after the switch committed.
      const lateAttempts = await world.kassa.store.db.selectFrom('channel_attempts').select('id').where('channel_id', '=', 'wallet.alipay-like').where('created_at', '>', BigInt(switchedAt)).execute()
      assert.deepEqual(lateAttempts, [])

      // Nothing lost: every payment answered 200 is in the database, and only those.
      const accepted = sent.filter((s) => s.status === 200).map((s) => s.id ?? '')
      const stored = await world.kassa.store.db.selectFrom('payments').select(['id', 'status', 'channel']).where('merchant_id', '=', shop.id).execute()
      assert.deepEqual(stored.map((p) => p.id).sort(), [...accepted].sort())

      // Payments in flight on the switched-off channel still complete: the shoppers pay them now.
      const open = await world.kassa.store.db.selectFrom('channel_attempts').select(['provider_order_id']).where('channel_id', '=', 'wallet.alipay-like').where('status', '=', 'pending').execute()
      for (const attempt of open) assert.equal(alipay.pay(attempt.provider_order_id ?? '', 'wang'), 'paid')
      const deadline = Date.now() + 20_000
      for (;;) {
        const waiting = await world.kassa.store.db.selectFrom('payments').select('id').where('merchant_id', '=', shop.id).where('status', '!=', 'succeeded').execute()
        if (waiting.length === 0) break
        assert.ok(Date.now() < deadline, `${waiting.length} payment(s) stuck, e.g. ${waiting[0]?.id}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }

      // Refunds of the channel's old payments still go through it.
      const old = stored.filter((p) => p.channel === 'wallet.alipay-like').slice(0, 3)
      assert.equal(old.length, 3)
      for (const p of old) {
        const refund = await shop.api.post('/v1/refunds', { payment: p.id, amount: 100 }, { 'idempotency-key': `refund-${p.id}` })
        assert.equal(refund.statusCode, 200, refund.body)
        assert.equal(refund.json().status, 'succeeded')
      }
      const ledger = await verifyLedger(world.kassa.store.db)
      assert.ok(ledger.ok, ledger.ok ? '' : ledger.violations.join('\n'))
    })
  })
}
