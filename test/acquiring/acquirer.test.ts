import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Acquirer } from '../../src/acquiring/acquirer.js'
import { cardReverser } from '../../src/acquiring/pos-host/reversal.js'
import { reversalSweeper } from '../../src/acquiring/reversal-sweeper.js'
import { openSchemeLink, type SchemeLink } from '../../src/acquiring/scheme-link/index.js'
import { startSchemeSimulator, testCards, type SchemeSimulator } from '../../sim/scheme/index.js'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { accountBalance, assertLedgerSound, seedMerchant } from '../helpers/factories.js'

for (const dialect of DIALECTS) {
  describe(`${dialect}: card acquiring through the scheme`, () => {
    let kassa: TestKassa
    let scheme: SchemeSimulator
    let link: SchemeLink
    let acquirer: Acquirer
    let merchant: Awaited<ReturnType<typeof seedMerchant>>

    before(async () => {
      kassa = await openTestKassa(dialect)
      scheme = await startSchemeSimulator({ port: 0, clock: kassa.clock, seed: 7 })
      link = openSchemeLink({ host: '127.0.0.1', port: scheme.port, clock: kassa.clock, acquirerId: '12345678', echoIntervalMs: 0 })
      assert.equal(await link.waitUntilUp(3_000), true)
      acquirer = new Acquirer({ store: kassa.store, clock: kassa.clock, link, masterKey: kassa.masterKey, timeoutMs: 500, reversalAttemptsMax: 3, acquirerId: '12345678' })
      merchant = await seedMerchant(kassa, 'Card Shop', 60)
    })
    after(async () => {
      await assertLedgerSound(kassa)
      await link.close()
      await scheme.close()
      await kassa.dispose()
    })

    const card = (pan: string, expiry = '3012') => ({ pan, expiry, entry_mode: '012' })
    const sale = (pan: string, amount: bigint, kind: 'sale' | 'authorization' = 'sale') =>
      acquirer.acquire({ merchant_id: merchant.id, fee_basis_points: 60, terminal_id: 'ECOM0001', kind, amount, currency: 'CNY', card: card(pan), reference_id: null })
    const receivable = async () => {
      const row = await accountBalance(kassa, 'acc_scheme_receivable_platform_CNY')
      return (row?.debits_posted ?? 0n) - (row?.credits_posted ?? 0n)
    }
    const issuerAvailable = (pan: string) => scheme.issuers.account(pan)?.available_minor ?? -1n

    it('approves a sale: the issuer is debited, the scheme owes Kassa, the merchant is owed less the fee', async () => {
      const before = { issuer: issuerAvailable(testCards.approve.pan), receivable: await receivable() }
      const result = await sale(testCards.approve.pan, 25_000n)
      assert.equal(result.outcome, 'approved')
      assert.equal(result.transaction.masked_pan, '622001******0018')
      assert.match(result.transaction.stan ?? '', /^[0-9]{6}$/)
      assert.equal(issuerAvailable(testCards.approve.pan), before.issuer - 25_000n)
      assert.equal((await receivable()) - before.receivable, 25_000n)
      const payable = await accountBalance(kassa, `acc_merchant_payable_${merchant.id}_CNY`)
      assert.equal(payable?.credits_posted, 25_000n - 150n)
      const vault = await kassa.store.db.selectFrom('vault_cards').selectAll().execute()
      const everything = JSON.stringify([vault, await kassa.store.db.selectFrom('card_transactions').selectAll().execute()], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
      assert.ok(!everything.includes(testCards.approve.pan), 'no PAN in clear in any row')
    })

    it('keeps one sealed copy of a returning card per merchant, and seals a reissued card anew', async () => {
      const pan = testCards.approve_bank_two.pan
      const vaulted = async (merchantId: string) =>
        kassa.store.db.selectFrom('vault_cards').select(['id', 'last4', 'card_sealed']).where('merchant_id', '=', merchantId).where('last4', '=', pan.slice(-4)).execute()
      const at = (merchantId: string, expiry: string) =>
        acquirer.acquire({ merchant_id: merchantId, fee_basis_points: 60, terminal_id: 'ECOM0001', kind: 'sale', amount: 100n, currency: 'CNY', card: card(pan, expiry), reference_id: null })
      const first = await at(merchant.id, '3012')
      const second = await at(merchant.id, '3012')
      assert.equal(first.outcome, 'approved')
      assert.equal(second.outcome, 'approved')
      assert.equal(second.transaction.card_id, first.transaction.card_id, 'the second sale names the card the first one vaulted')
      assert.equal((await vaulted(merchant.id)).length, 1)
      const reissued = await at(merchant.id, '3112')
      assert.notEqual(reissued.transaction.card_id, first.transaction.card_id)
      assert.equal((await vaulted(merchant.id)).length, 2, 'a new expiry date is a new sealed card')
      const other = await seedMerchant(kassa, 'Other Card Shop', 60)
      const elsewhere = await at(other.id, '3012')
      assert.notEqual(elsewhere.transaction.card_id, first.transaction.card_id, 'a card id never crosses merchants')
      assert.equal((await vaulted(other.id)).length, 1)
      assert.ok(!JSON.stringify(await vaulted(merchant.id)).includes(pan), 'the copy is sealed')
    })

    it('declines with the issuer\'s reason and posts nothing', async () => {
      for (const [pan, amount, reason] of [
        [testCards.insufficient_funds.pan, 6_000n, 'insufficient_funds'],
        [testCards.do_not_honour.pan, 100n, 'do_not_honour'],
        [testCards.exceeds_limit.pan, 6_000n, 'amount_limit_exceeded'],
        [testCards.issuer_unavailable.pan, 100n, 'issuer_unavailable'],
      ] as const) {
        const before = await receivable()
        const result = await sale(pan, amount)
        assert.equal(result.outcome, 'declined', pan)
        assert.equal(result.outcome === 'declined' ? result.reason : '', reason)
        assert.equal(result.transaction.transfer_id, null)
        assert.equal(await receivable(), before)
      }
      await assert.rejects(sale('6220010000000019', 100n), /Luhn/)
    })

    it('reverses a sale whose answer never came: nobody is charged, nothing is posted', async () => {
      const before = { issuer: issuerAvailable(testCards.approve.pan), receivable: await receivable() }
      scheme.setFaults([{ action: 'drop', pan: testCards.approve.pan, mtis: ['0200'], timesMax: 1 }])
      const result = await sale(testCards.approve.pan, 7_000n)
      scheme.setFaults([])
      assert.equal(result.outcome, 'reversed')
      assert.equal(issuerAvailable(testCards.approve.pan), before.issuer, 'the issuer took it, and gave it back on the reversal')
      assert.equal(await receivable(), before.receivable)
      assert.equal(result.transaction.transfer_id, null)
    })

    it('keeps a reversal pending while the scheme does not acknowledge it', async () => {
      scheme.setFaults([{ action: 'drop', pan: testCards.approve.pan, mtis: ['0200', '0400', '0401'], timesMax: 10 }])
      const result = await sale(testCards.approve.pan, 1_000n)
      scheme.setFaults([])
      assert.equal(result.outcome, 'reversal_pending')
      assert.equal(result.transaction.status, 'reversal_pending')
    })

    it('a sale left in flight by a stopped process (sent, never heard of again) is reversed by the sweeper', async () => {
      const before = issuerAvailable(testCards.approve.pan)
      const receivableBefore = await receivable()
      // The process "stops" right after the request leaves: the scheme approves it, and its answer
      // is only read (by a process that hung, not died) after the sweeper has reversed the sale.
      let releaseAnswer = () => {}
      const stopping: SchemeLink = {
        ...link,
        sendStamped: (message, options) => {
          const answer = link.sendStamped(message, options)
          return new Promise((resolve) => (releaseAnswer = () => void answer.then(resolve)))
        },
      }
      const dying = new Acquirer({ store: kassa.store, clock: kassa.clock, link: stopping, masterKey: kassa.masterKey, timeoutMs: 500, reversalAttemptsMax: 3, acquirerId: '12345678' })
      const hung = dying.acquire({ merchant_id: merchant.id, fee_basis_points: 60, terminal_id: 'ECOM0001', kind: 'sale', amount: 7_700n, currency: 'CNY', card: card(testCards.approve.pan), reference_id: 'stopped-process-1' })
      for (let waited = 0; issuerAvailable(testCards.approve.pan) !== before - 7_700n && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal(issuerAvailable(testCards.approve.pan), before - 7_700n, 'the issuer approved and holds the money')
      const row = await kassa.store.db.selectFrom('card_transactions').selectAll().where('reference_id', '=', 'stopped-process-1').executeTakeFirstOrThrow()
      assert.equal(row.status, 'pending')
      assert.match(row.stan ?? '', /^[0-9]{6}$/, 'the request was recorded with its STAN before it left')
      assert.ok(row.transmitted_at !== null && row.rrn !== null)

      const reverse = cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId: '12345678', timeoutMs: 500, reversalAttemptsMax: 2 })
      // Soon after, it may still be in flight somewhere: left alone.
      await reversalSweeper({ store: kassa.store, reverse, clock: kassa.clock }).sweepOnce()
      assert.equal((await acquirer.transaction(merchant.id, row.id))?.status, 'pending')
      // Minutes later nobody can still be waiting for it: reversed at the scheme.
      const later = { now: () => kassa.clock.now() + 6 * 60_000 }
      const swept = await reversalSweeper({ store: kassa.store, reverse, clock: later }).sweepOnce()
      assert.ok(swept.reversed >= 1, JSON.stringify(swept))
      assert.equal((await acquirer.transaction(merchant.id, row.id))?.status, 'reversed')
      assert.equal(issuerAvailable(testCards.approve.pan), before, 'the issuer gave the money back')
      assert.equal((await acquirer.transaction(merchant.id, row.id))?.transfer_id, null, 'nothing was booked for it')
      // The hung process finally reads the scheme's approval: the row stays reversed, nothing is booked.
      releaseAnswer()
      const late = await hung
      assert.equal(late.outcome, 'reversed')
      assert.equal((await acquirer.transaction(merchant.id, row.id))?.status, 'reversed')
      assert.equal(await receivable(), receivableBefore, 'no sale booked for money the issuer gave back')
    })

    it('sends owed reversals again until the scheme acknowledges them: the issuer gets its money back', async () => {
      const before = issuerAvailable(testCards.approve.pan)
      scheme.setFaults([{ action: 'drop', pan: testCards.approve.pan, mtis: ['0200', '0400', '0401'], timesMax: 10 }])
      const result = await sale(testCards.approve.pan, 4_400n)
      assert.equal(result.outcome, 'reversal_pending')
      // The scheme acted on each 0400 and lost only its 0410: the issuer has given the money back, Kassa cannot know it yet.
      const sweeper = reversalSweeper({ store: kassa.store, reverse: cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId: '12345678', timeoutMs: 500, reversalAttemptsMax: 1 }) })
      const stillDown = await sweeper.sweepOnce()
      assert.ok(stillDown.owed >= 1)
      scheme.setFaults([])
      const swept = await sweeper.sweepOnce()
      assert.ok(swept.reversed >= 1, JSON.stringify(swept))
      assert.equal((await acquirer.transaction(merchant.id, result.transaction.id))?.status, 'reversed')
      assert.equal(issuerAvailable(testCards.approve.pan), before, 'nobody is charged, and a repeated reversal takes nothing twice')
      assert.deepEqual(await sweeper.sweepOnce(), { owed: 0, reversed: 0 }, 'nothing is owed any more')
    })

    it('ignores a duplicated answer: one approval, one posting', async () => {
      const before = await receivable()
      scheme.setFaults([{ action: 'duplicate', pan: testCards.approve_bank_two.pan, timesMax: 1 }])
      const result = await sale(testCards.approve_bank_two.pan, 3_000n)
      scheme.setFaults([])
      assert.equal(result.outcome, 'approved')
      assert.equal((await receivable()) - before, 3_000n)
    })

    it('authorizes, captures part by advice, and refunds in parts never beyond the capture', async () => {
      const start = { issuer: issuerAvailable(testCards.approve.pan), receivable: await receivable() }
      const authorization = await sale(testCards.approve.pan, 10_000n, 'authorization')
      assert.equal(authorization.outcome, 'approved')
      assert.equal(issuerAvailable(testCards.approve.pan), start.issuer - 10_000n, 'held at the issuer')
      assert.equal(await receivable(), start.receivable, 'a hold posts nothing yet')
      const capture = await acquirer.capture(merchant.id, authorization.transaction.id, 8_000n, 60)
      assert.equal(capture.outcome, 'approved')
      assert.equal((await receivable()) - start.receivable, 8_000n)
      assert.equal(issuerAvailable(testCards.approve.pan), start.issuer - 8_000n, 'the rest of the hold is released at the issuer')
      await assert.rejects(acquirer.capture(merchant.id, authorization.transaction.id, 1_000n, 60), /capture/)

      const refund = await acquirer.refund(merchant.id, capture.transaction.id, 3_000n)
      assert.equal(refund.outcome, 'approved')
      assert.equal((await receivable()) - start.receivable, 5_000n)
      await assert.rejects(acquirer.refund(merchant.id, capture.transaction.id, 5_001n), /refunded/)
      const rest = await acquirer.refund(merchant.id, capture.transaction.id, undefined)
      assert.equal(rest.outcome, 'approved')
      assert.equal(rest.transaction.amount, 5_000n)
      assert.equal(await receivable(), start.receivable)
      assert.equal(issuerAvailable(testCards.approve.pan), start.issuer)
      const other = await seedMerchant(kassa, 'Other')
      await assert.rejects(acquirer.refund(other.id, capture.transaction.id, 1n), /No such card transaction/)
    })
  })
}
