// The card channel through the merchant API against the scheme simulator: tokenize, sale,
// authorization + capture by advice, declines, no answer (reversed, never charged), refunds.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Acquirer } from '../../src/acquiring/acquirer.js'
import { cardReverser } from '../../src/acquiring/pos-host/reversal.js'
import { reversalSweeper } from '../../src/acquiring/reversal-sweeper.js'
import { openSchemeLink, type SchemeLink } from '../../src/acquiring/scheme-link/index.js'
import { startSchemeSimulator, testCards, type SchemeSimulator } from '../../sim/scheme/index.js'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { assertLedgerSound, seedMerchant } from '../helpers/factories.js'

type Json = Record<string, any>

for (const dialect of DIALECTS) {
  describe(`${dialect}: card payments through the API`, () => {
    let kassa: TestKassa
    let scheme: SchemeSimulator
    let link: SchemeLink
    let shop: Awaited<ReturnType<typeof seedMerchant>>
    let seller: Awaited<ReturnType<typeof seedMerchant>>
    let acquirer: Acquirer
    let cards: Awaited<ReturnType<TestKassa['enableCards']>>
    let n = 0

    before(async () => {
      kassa = await openTestKassa(dialect)
      scheme = await startSchemeSimulator({ port: 0, clock: kassa.clock, seed: 5 })
      link = openSchemeLink({ host: '127.0.0.1', port: scheme.port, clock: kassa.clock, acquirerId: '12345678', echoIntervalMs: 0 })
      assert.equal(await link.waitUntilUp(3_000), true)
      acquirer = new Acquirer({ store: kassa.store, clock: kassa.clock, link, masterKey: kassa.masterKey, timeoutMs: 800, reversalAttemptsMax: 3, acquirerId: '12345678' })
      cards = await kassa.enableCards(
        acquirer,
        cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId: '12345678', timeoutMs: 800, reversalAttemptsMax: 3 }),
      )
      shop = await seedMerchant(kassa, 'Card Shop', 60)
      seller = await seedMerchant(kassa, 'Marketplace Seller', 60, 'third_party')
    })
    after(async () => {
      await link?.close()
      await scheme?.close()
      await kassa?.dispose()
    })

    const tokenize = async (pan: string) => {
      const response = await shop.api.post('/v1/cards', { number: pan, exp_month: 12, exp_year: 2030 })
      assert.equal(response.statusCode, 200, response.body)
      return response.json().id as string
    }
    const pay = async (card: string, amount: number, capture_method: 'automatic' | 'manual' = 'automatic') => {
      n += 1
      return shop.api.post('/v1/payments', { amount, currency: 'CNY', order_reference: `card-${n}`, capture_method, confirm: true, payment_method: { type: 'card', card } }, { 'idempotency-key': `card-${dialect}-${n}` })
    }

    it('tokenizes a card into the vault: masked everywhere, never in clear in a row', async () => {
      const response = await shop.api.post('/v1/cards', { number: testCards.approve.pan, exp_month: 12, exp_year: 2030 })
      const card = response.json()
      assert.match(card.id, /^card_/)
      assert.equal(card.masked, '622001******0018')
      const row = await kassa.store.db.selectFrom('vault_cards').selectAll().where('id', '=', card.id).executeTakeFirstOrThrow()
      assert.ok(!Object.values(row).map(String).join(' ').includes(testCards.approve.pan))
      const bad = await shop.api.post('/v1/cards', { number: '6220010000000019', exp_month: 12, exp_year: 2030 })
      assert.equal(bad.statusCode, 400)
      assert.equal(bad.json().error.param, 'number')
      const notCertified = await seller.api.post('/v1/cards', { number: testCards.approve.pan, exp_month: 12, exp_year: 2030 })
      assert.equal(notCertified.statusCode, 403)
    })

    it('a sale succeeds at once; the ledger has the scheme owing Kassa and Kassa owing the merchant', async () => {
      const response = await pay(await tokenize(testCards.approve.pan), 25_000)
      assert.equal(response.statusCode, 200, response.body)
      const payment = response.json()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.channel, 'card')
      assert.equal(payment.amount_received, 25_000)
      assert.equal(payment.fee_amount, 150)
      const cardTx = await kassa.store.db.selectFrom('card_transactions').selectAll().where('merchant_id', '=', shop.id).where('kind', '=', 'sale').execute()
      assert.equal(cardTx.length, 1)
      assert.equal(cardTx[0]?.masked_pan, '622001******0018')
      await assertLedgerSound(kassa)
    })

    it('declines name their reason and leave the payment open for another method', async () => {
      for (const [card, code] of [[testCards.insufficient_funds.pan, 'card_insufficient_funds'], [testCards.do_not_honour.pan, 'card_do_not_honour'], [testCards.expired.pan, 'card_card_expired']] as const) {
        const payment = (await pay(await tokenize(card), 90_000)).json()
        assert.equal(payment.status, 'requires_payment_method', card)
        assert.equal(payment.last_payment_error.code, code)
      }
    })

    it('no answer from the scheme: reversed, nothing charged, the payment stays open', async () => {
      const payment = (await pay(await tokenize(testCards.no_answer.pan), 3_000)).json()
      assert.equal(payment.status, 'requires_payment_method')
      assert.equal(payment.last_payment_error.code, 'card_network_timeout')
      const rows = await kassa.store.db.selectFrom('card_transactions').select(['status', 'transfer_id']).where('reference_id', 'like', 'att_%').where('masked_pan', 'like', '%0' + testCards.no_answer.pan.slice(-3)).execute()
      assert.ok(rows.every((row) => row.transfer_id === null), 'nothing posted for a reversed request')
      await assertLedgerSound(kassa)
    })

    it('manual capture: authorizes, captures part by advice, refunds part, never beyond', async () => {
      const authorized = (await pay(await tokenize(testCards.approve.pan), 40_000, 'manual')).json()
      assert.equal(authorized.status, 'requires_capture')
      assert.equal(authorized.amount_capturable, 40_000)
      const captured = await shop.api.post(`/v1/payments/${authorized.id}/capture`, { amount_to_capture: 30_000 }, { 'idempotency-key': `cap-${authorized.id}` })
      assert.equal(captured.statusCode, 200, captured.body)
      assert.equal(captured.json().status, 'succeeded')
      assert.equal(captured.json().amount_received, 30_000)
      const replay = await shop.api.post(`/v1/payments/${authorized.id}/capture`, { amount_to_capture: 30_000 }, { 'idempotency-key': `cap-${authorized.id}` })
      assert.equal(replay.statusCode, 200)
      assert.equal(replay.headers['idempotent-replayed'], 'true')
      const refund = await shop.api.post('/v1/refunds', { payment: authorized.id, amount: 10_000 }, { 'idempotency-key': `rf-${authorized.id}` })
      assert.equal(refund.statusCode, 200, refund.body)
      assert.equal(refund.json().status, 'succeeded')
      const again = await shop.api.post('/v1/refunds', { payment: authorized.id, amount: 10_000 }, { 'idempotency-key': `rf-${authorized.id}` })
      assert.equal(again.json().id, refund.json().id, 'a replayed refund is the same refund')
      const over = await shop.api.post('/v1/refunds', { payment: authorized.id, amount: 20_001 }, { 'idempotency-key': `rf2-${authorized.id}` })
      assert.equal(over.statusCode, 400)
      const payment: Json = (await shop.api.get(`/v1/payments/${authorized.id}`)).json()
      assert.equal(payment.amount_refunded, 10_000)
      const cardRefunds = await kassa.store.db.selectFrom('card_transactions').select('amount').where('merchant_id', '=', shop.id).where('kind', '=', 'refund').where('status', '=', 'approved').execute()
      assert.deepEqual(cardRefunds.map((r) => r.amount), [10_000n], 'one refund reached the scheme')
      await assertLedgerSound(kassa)
    })

    it('a refund left by a process that stopped is finished by the worker: sent if it never left, settled (not resent) if it was answered', async () => {
      const issuer = () => scheme.issuers.account(testCards.approve.pan)?.available_minor ?? -1n
      const sale = (await pay(await tokenize(testCards.approve.pan), 9_000)).json()
      assert.equal(sale.status, 'succeeded')
      const realRefund = acquirer.refund.bind(acquirer)
      const stopsWith = async (stopping: typeof acquirer.refund, amount: number) => {
        acquirer.refund = stopping
        try {
          const answer = await shop.api.post('/v1/refunds', { payment: sale.id, amount }, { 'idempotency-key': `stop-${sale.id}-${amount}` })
          assert.equal(answer.statusCode, 500, 'the process "stopped" mid-refund')
        } finally {
          acquirer.refund = realRefund
        }
        const [row] = await kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', sale.id).where('amount', '=', BigInt(amount)).execute()
        assert.ok(row)
        assert.equal(row.status, 'pending')
        assert.equal(row.provider_refund_id, 'sending')
        // Time passes (the claim is old now); the worker finds it due.
        await kassa.store.writer.submit((tx) => tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: 0n, updated_at: 0n }).where('id', '=', row.id)))
        await kassa.counterparts.checkDue()
        return kassa.store.db.selectFrom('refunds').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow()
      }

      // Stopped after claiming, before anything was sent: the worker sends it.
      const before = issuer()
      const neverSent = await stopsWith(async () => {
        throw new Error('the process stopped')
      }, 1_000)
      assert.equal(neverSent.status, 'succeeded')
      assert.equal(issuer(), before + 1_000n, 'the card got its refund once')

      // Stopped after the scheme answered, before the refund was settled: settled from the card row, not sent again.
      const answered = await stopsWith(async (...args) => {
        await realRefund(...args)
        throw new Error('the process stopped')
      }, 2_000)
      assert.equal(answered.status, 'succeeded')
      assert.equal(issuer(), before + 3_000n, 'each refund reached the card once')
      const payment: Json = (await shop.api.get(`/v1/payments/${sale.id}`)).json()
      assert.equal(payment.amount_refunded, 3_000)
      const cardRefunds = await kassa.store.db.selectFrom('card_transactions').select('amount').where('kind', '=', 'refund').where('reference_id', 'in', [neverSent.id, answered.id]).where('status', '=', 'approved').execute()
      assert.deepEqual(cardRefunds.map((r) => r.amount).sort(), [1_000n, 2_000n])
      await assertLedgerSound(kassa)
    })

    it('a refund whose reversal is not yet acknowledged stays pending and reserved; once acknowledged it fails and can be made again', async () => {
      const issuer = () => scheme.issuers.account(testCards.approve.pan)?.available_minor ?? -1n
      const sale = (await pay(await tokenize(testCards.approve.pan), 8_000)).json()
      const before = issuer()
      // The refund's answer is lost, and so is every answer to its reversal: the scheme undid it, Kassa cannot know yet.
      scheme.setFaults([{ action: 'drop', mtis: ['0200'], timesMax: 1 }, { action: 'drop', mtis: ['0400', '0401'] }])
      let refund: Json
      try {
        refund = (await shop.api.post('/v1/refunds', { payment: sale.id, amount: 8_000 }, { 'idempotency-key': `unacked-${sale.id}` })).json()
      } finally {
        scheme.setFaults([])
      }
      assert.equal(refund.status, 'pending', 'neither made nor failed while the reversal is owed')
      const card = () => kassa.store.db.selectFrom('card_transactions').selectAll().where('reference_id', '=', refund.id).executeTakeFirstOrThrow()
      assert.equal((await card()).status, 'reversal_pending')
      const twice = await shop.api.post('/v1/refunds', { payment: sale.id, amount: 8_000 }, { 'idempotency-key': `unacked-again-${sale.id}` })
      assert.equal(twice.statusCode, 400, 'the amount is not refundable again while the card may hold it')
      // The sweeper's repeat is acknowledged; the worker's next look settles the refund.
      const reverse = cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId: '12345678', timeoutMs: 800, reversalAttemptsMax: 3 })
      await reversalSweeper({ store: kassa.store, reverse, clock: kassa.clock }).sweepOnce()
      assert.equal((await card()).status, 'reversed')
      await kassa.store.writer.submit((tx) => tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: 0n }).where('id', '=', refund.id)))
      await kassa.counterparts.checkDue()
      const settled = await kassa.store.db.selectFrom('refunds').select(['status', 'failure_code']).where('id', '=', refund.id).executeTakeFirstOrThrow()
      assert.deepEqual(settled, { status: 'failed', failure_code: 'reversed' })
      assert.equal(issuer(), before, 'the scheme undid the refund')
      const again = await shop.api.post('/v1/refunds', { payment: sale.id, amount: 8_000 }, { 'idempotency-key': `unacked-third-${sale.id}` })
      assert.equal(again.json().status, 'succeeded', again.body)
      assert.equal(issuer(), before + 8_000n, 'the card got the refund once')
      await assertLedgerSound(kassa)
    })

    it('a refund being sent is sent once: a retry with its key and the worker both leave a fresh claim alone', async () => {
      const issuer = () => scheme.issuers.account(testCards.approve.pan)?.available_minor ?? -1n
      const sale = (await pay(await tokenize(testCards.approve.pan), 5_000)).json()
      const before = issuer()
      const realRefund = acquirer.refund.bind(acquirer)
      let proceed: () => void = () => undefined
      const held = new Promise<void>((resolve) => (proceed = resolve))
      let calls = 0
      acquirer.refund = async (...args) => {
        calls += 1
        await held // claimed, not yet recorded at the acquirer
        return realRefund(...args)
      }
      try {
        const key = { 'idempotency-key': `slow-refund-${sale.id}` }
        const first = shop.api.post('/v1/refunds', { payment: sale.id, amount: 3_000 }, key)
        for (let waited = 0; calls === 0; waited += 10) {
          assert.ok(waited < 5_000)
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        const retry = await shop.api.post('/v1/refunds', { payment: sale.id, amount: 3_000 }, key)
        assert.equal(retry.statusCode, 200, retry.body)
        assert.equal(retry.json().status, 'pending', 'the retry replays the refund as it stands')
        await kassa.store.writer.submit((tx) => tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: 0n }).where('payment_id', '=', sale.id)))
        await kassa.counterparts.checkDue()
        assert.equal(calls, 1, 'neither the retry nor the worker sent it again')
        proceed()
        assert.equal((await first).json().status, 'succeeded')
      } finally {
        acquirer.refund = realRefund
      }
      assert.equal(issuer(), before + 3_000n, 'the card got the refund once')
      const rows = await kassa.store.db.selectFrom('card_transactions').select('id').where('kind', '=', 'refund').where('amount', '=', 3_000n).where('merchant_id', '=', shop.id).execute()
      assert.equal(rows.length, 1)
      await assertLedgerSound(kassa)
    })

    it('a refund a stopped process sent without recording the answer is reversed at the scheme, never sent twice; it fails and can be made again', async () => {
      const issuer = () => scheme.issuers.account(testCards.approve.pan)?.available_minor ?? -1n
      const sale = (await pay(await tokenize(testCards.approve.pan), 6_000)).json()
      assert.equal(sale.status, 'succeeded')
      const before = issuer()
      const realSend = link.sendStamped
      // The refund leaves and the scheme pays it to the card; the process stops before it reads the answer.
      let answered: Promise<unknown> | undefined
      link.sendStamped = (message, options) => {
        answered = realSend(message, options)
        return new Promise(() => undefined)
      }
      void shop.api.post('/v1/refunds', { payment: sale.id, amount: 2_500 }, { 'idempotency-key': `lost-refund-${sale.id}` })
      const cardRefund = () => kassa.store.db.selectFrom('card_transactions').selectAll().where('kind', '=', 'refund').where('amount', '=', 2_500n).where('merchant_id', '=', shop.id).executeTakeFirst()
      for (let waited = 0; ((await cardRefund())?.stan ?? null) === null || answered === undefined; waited += 20) {
        assert.ok(waited < 5_000, 'the refund was recorded with its STAN before it left')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      link.sendStamped = realSend
      await answered
      assert.equal(issuer(), before + 2_500n, 'the scheme paid the refund to the card')
      const refundRow = () => kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', sale.id).executeTakeFirstOrThrow()
      const workerLooks = async () => {
        await kassa.store.writer.submit((tx) => tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: 0n }).where('payment_id', '=', sale.id)))
        await kassa.counterparts.checkDue()
      }
      // The worker looks while the request is still in flight: it neither sends it again nor settles it.
      await workerLooks()
      assert.equal((await refundRow()).status, 'pending')
      assert.equal(issuer(), before + 2_500n)
      // Minutes later the sweeper reverses it at the scheme: the card gives the refund back.
      const reverse = cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId: '12345678', timeoutMs: 800, reversalAttemptsMax: 3 })
      await reversalSweeper({ store: kassa.store, reverse, clock: { now: () => kassa.clock.now() + 6 * 60_000 } }).sweepOnce()
      assert.equal((await cardRefund())?.status, 'reversed')
      assert.equal(issuer(), before, 'the refund undone at the card')
      // The worker's next look settles the refund as failed, and the whole amount can be refunded again.
      await workerLooks()
      const failed = await refundRow()
      assert.equal(failed.status, 'failed')
      assert.equal(failed.failure_code, 'reversed')
      assert.equal((await shop.api.get(`/v1/payments/${sale.id}`)).json().amount_refunded, 0)
      const again = await shop.api.post('/v1/refunds', { payment: sale.id, amount: 6_000 }, { 'idempotency-key': `refund-again-${sale.id}` })
      assert.equal(again.statusCode, 200, again.body)
      assert.equal(again.json().status, 'succeeded')
      assert.equal(issuer(), before + 6_000n, 'the card got the refund once')
      await assertLedgerSound(kassa)
    })

    it('a capture booked by a process that stopped before it moved the payment is finished by the retry, not sent again', async () => {
      const authorized = (await pay(await tokenize(testCards.approve.pan), 6_000, 'manual')).json()
      assert.equal(authorized.status, 'requires_capture')
      const realCapture = acquirer.capture.bind(acquirer)
      acquirer.capture = async (...args) => {
        await realCapture(...args)
        throw new Error('the process stopped')
      }
      try {
        const stopped = await shop.api.post(`/v1/payments/${authorized.id}/capture`, { amount_to_capture: 5_000 }, { 'idempotency-key': `stop-cap-${authorized.id}` })
        assert.equal(stopped.statusCode, 500)
      } finally {
        acquirer.capture = realCapture
      }
      assert.equal((await shop.api.get(`/v1/payments/${authorized.id}`)).json().status, 'requires_capture', 'the payment did not move')
      const retried = await shop.api.post(`/v1/payments/${authorized.id}/capture`, { amount_to_capture: 5_000 }, { 'idempotency-key': `retry-cap-${authorized.id}` })
      assert.equal(retried.statusCode, 200, retried.body)
      assert.equal(retried.json().status, 'succeeded')
      assert.equal(retried.json().amount_received, 5_000)
      const captures = await kassa.store.db.selectFrom('card_transactions').select(['id', 'status']).where('kind', '=', 'capture').where('amount', '=', 5_000n).where('merchant_id', '=', shop.id).execute()
      assert.equal(captures.length, 1, 'one advice reached the scheme')
      await assertLedgerSound(kassa)
    })

    it('a capture advice a stopped process sent without recording the answer is repeated, and the payment follows', async () => {
      const authorized = (await pay(await tokenize(testCards.approve.pan), 7_000, 'manual')).json()
      assert.equal(authorized.status, 'requires_capture')
      const realSend = link.sendStamped
      // The advice leaves and the scheme books it; the process stops before it reads the answer.
      let answered: Promise<unknown> | undefined
      link.sendStamped = (message, options) => {
        answered = realSend(message, options)
        return new Promise(() => undefined)
      }
      void shop.api.post(`/v1/payments/${authorized.id}/capture`, { amount_to_capture: 7_000 }, { 'idempotency-key': `hang-cap-${authorized.id}` })
      let pending: { id: string } | undefined
      for (let waited = 0; (pending === undefined || answered === undefined) && waited < 5_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        pending = await kassa.store.db.selectFrom('card_transactions').select('id').where('kind', '=', 'capture').where('amount', '=', 7_000n).where('status', '=', 'pending').where('stan', 'is not', null).executeTakeFirst()
      }
      link.sendStamped = realSend
      assert.ok(pending, 'the advice was recorded with its STAN before it left')
      assert.ok(answered)
      await answered
      // Minutes later the worker repeats it (0221): the scheme answers as it did, the capture is booked once.
      assert.equal(await cards.recoverCaptures(0), 1)
      const payment: Json = (await shop.api.get(`/v1/payments/${authorized.id}`)).json()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.amount_received, 7_000)
      const row = await kassa.store.db.selectFrom('card_transactions').selectAll().where('id', '=', pending.id).executeTakeFirstOrThrow()
      assert.equal(row.status, 'approved')
      assert.equal(await cards.recoverCaptures(0), 0, 'nothing left to repeat')
      await assertLedgerSound(kassa)
    })

    it('a capture advice whose answer is lost is never reversed: the merchant is told it follows, and the repeat books it once', async () => {
      const issuerAvailable = () => scheme.issuers.account(testCards.approve_bank_two.pan)?.available_minor ?? -1n
      const authorized = (await pay(await tokenize(testCards.approve_bank_two.pan), 4_400, 'manual')).json()
      assert.equal(authorized.status, 'requires_capture')
      const held = issuerAvailable()
      scheme.setFaults([{ action: 'drop', mtis: ['0220'], timesMax: 1 }])
      const key = { 'idempotency-key': `lost-capture-${authorized.id}` }
      let answer
      try {
        answer = await shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, key)
      } finally {
        scheme.setFaults([])
      }
      assert.equal(answer.statusCode, 504, answer.body)
      assert.equal(answer.json().error.code, 'capture_unanswered')
      const capture = () => kassa.store.db.selectFrom('card_transactions').selectAll().where('kind', '=', 'capture').where('amount', '=', 4_400n).where('merchant_id', '=', shop.id).executeTakeFirstOrThrow()
      assert.equal((await capture()).status, 'pending', 'an advice is not reversed')
      const messagesBefore = scheme.stats().messages_received
      const replay = await shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, key)
      assert.equal(replay.body, answer.body, 'the same key replays the first answer')
      const other = await shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, { 'idempotency-key': `lost-capture-other-${authorized.id}` })
      assert.equal(other.statusCode, 409, 'another capture is refused while the first is unanswered')
      assert.equal(scheme.stats().messages_received, messagesBefore, 'neither sent another advice')
      assert.equal(await cards.recoverCaptures(0), 1)
      assert.equal((await capture()).status, 'approved')
      const payment: Json = (await shop.api.get(`/v1/payments/${authorized.id}`)).json()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.amount_received, 4_400)
      assert.equal(issuerAvailable(), held, 'the hold became the charge; nothing more was taken')
      await assertLedgerSound(kassa)
    })

    it('cancels an authorization: reversed at the scheme so the issuer releases the hold, and the ledger hold is voided once', async () => {
      const issuerAvailable = () => scheme.issuers.account(testCards.approve_bank_two.pan)?.available_minor ?? -1n
      const before = issuerAvailable()
      const authorized = (await pay(await tokenize(testCards.approve_bank_two.pan), 7_700, 'manual')).json()
      assert.equal(authorized.status, 'requires_capture')
      assert.equal(issuerAvailable(), before - 7_700n, 'held at the issuer')
      const canceled = await shop.api.post(`/v1/payments/${authorized.id}/cancel`, { cancellation_reason: 'abandoned' }, { 'idempotency-key': `cancel-${authorized.id}` })
      assert.equal(canceled.statusCode, 200, canceled.body)
      assert.equal(canceled.json().status, 'canceled')
      assert.equal(issuerAvailable(), before, 'the issuer released the hold on the 0400')
      const card = await kassa.store.db.selectFrom('card_transactions').select('status').where('reference_id', 'is not', null).where('merchant_id', '=', shop.id).where('kind', '=', 'authorization').where('amount', '=', 7_700n).executeTakeFirstOrThrow()
      assert.equal(card.status, 'reversed')
      const replay = await shop.api.post(`/v1/payments/${authorized.id}/cancel`, { cancellation_reason: 'abandoned' }, { 'idempotency-key': `cancel-${authorized.id}` })
      assert.equal(replay.statusCode, 200)
      const capture = await shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, { 'idempotency-key': `cap-after-cancel-${authorized.id}` })
      assert.equal(capture.statusCode, 409)
      await assertLedgerSound(kassa)
    })

    it('never sends two sales for one payment: a retried request and extra starts race the first', async () => {
      const card = await tokenize(testCards.approve.pan)
      const issuer = () => scheme.issuers.account(testCards.approve.pan)?.available_minor ?? -1n
      const before = issuer()
      const vaultRows = async () => (await kassa.store.db.selectFrom('vault_cards').select('id').where('merchant_id', '=', shop.id).execute()).length
      const vaultedBefore = await vaultRows()
      const body = { amount: 3_100, currency: 'CNY', order_reference: 'race-1', confirm: true, payment_method: { type: 'card', card } }
      const key = { 'idempotency-key': `race-${dialect}` }
      const answers = await Promise.all([shop.api.post('/v1/payments', body, key), shop.api.post('/v1/payments', body, key), shop.api.post('/v1/payments', body, key)])
      const paymentId = answers.map((answer) => answer.json()?.id as string | undefined).find((id) => id !== undefined)
      assert.ok(paymentId, answers.map((a) => a.body).join('\n'))
      const attempt = await kassa.counterparts.latestAttempt(paymentId)
      assert.ok(attempt)
      await Promise.all([kassa.counterparts.start(attempt.id), kassa.counterparts.check(attempt.id)])
      const sales = await kassa.store.db.selectFrom('card_transactions').select('id').where('reference_id', '=', attempt.id).where('original_id', 'is', null).execute()
      assert.equal(sales.length, 1, 'one sale reached the scheme')
      assert.equal(issuer(), before - 3_100n, 'the shopper is charged once')
      assert.equal(await vaultRows(), vaultedBefore, 'the sale uses the card already in the vault, no second sealed copy')
      assert.equal((await shop.api.get(`/v1/payments/${paymentId}`)).json().status, 'succeeded')
      await assertLedgerSound(kassa)
    })

    it('captures an authorization once when two captures race', async () => {
      const authorized = (await pay(await tokenize(testCards.approve_bank_two.pan), 2_200, 'manual')).json()
      const issuer = () => scheme.issuers.account(testCards.approve_bank_two.pan)?.available_minor ?? -1n
      const held = issuer()
      const answers = await Promise.all([
        shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, { 'idempotency-key': `cap-race-a-${authorized.id}` }),
        shop.api.post(`/v1/payments/${authorized.id}/capture`, {}, { 'idempotency-key': `cap-race-b-${authorized.id}` }),
      ])
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 409], answers.map((a) => a.body).join('\n'))
      const captures = await kassa.store.db.selectFrom('card_transactions').select(['status']).where('reference_id', '=', (await kassa.counterparts.latestAttempt(authorized.id))?.id ?? '').where('kind', '=', 'capture').execute()
      assert.deepEqual(captures.map((c) => c.status), ['approved'])
      assert.equal(issuer(), held, 'the hold became one capture of the whole amount')
      await assertLedgerSound(kassa)
    })

    it('takes no more cards on a payment after five declines (card testing)', async () => {
      const created = (await shop.api.post('/v1/payments', { amount: 900, currency: 'CNY', order_reference: 'tester' }, { 'idempotency-key': `tester-${dialect}` })).json()
      const declined = await tokenize(testCards.do_not_honour.pan)
      for (let attempt = 1; attempt <= 5; attempt++) {
        const answer = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'card', card: declined } }, { 'idempotency-key': `tester-${dialect}-${attempt}` })
        assert.equal(answer.json().last_payment_error?.code, 'card_do_not_honour', answer.body)
      }
      const good = await tokenize(testCards.approve.pan)
      // The vault keeps one copy of a returning card, so earlier tests' sales may name it too.
      const sentWith = async () => (await kassa.store.db.selectFrom('card_transactions').select('id').where('card_id', '=', good).execute()).length
      const sentBefore = await sentWith()
      const refused = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'card', card: good } }, { 'idempotency-key': `tester-${dialect}-6` })
      assert.equal(refused.statusCode, 429, refused.body)
      assert.equal(refused.json().error.code, 'card_attempts_exceeded')
      assert.equal(await sentWith(), sentBefore, 'the sixth card never reached the scheme')
      assert.equal((await shop.api.get(`/v1/payments/${created.id}`)).json().status, 'requires_payment_method', 'other ways to pay stay open')
    })

    it('lets a checkout page charge only a card typed on it, and card ids name no neighbours', async () => {
      const open = async (order: string) => {
        const created = (await shop.api.post('/v1/payments', { amount: 4_200, currency: 'CNY', order_reference: order }, { 'idempotency-key': `${order}-${dialect}` })).json()
        const link = new URL(created.checkout_url)
        const page = (path: string, payload: Record<string, unknown>) =>
          kassa.app.inject({ method: 'POST', url: `${link.pathname}/api/${path}${link.search}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
        return { id: created.id as string, page }
      }
      const victim = await open('victim-order')
      const attacker = await open('attacker-order')
      const typed = await victim.page('cards', { number: testCards.approve_bank_two.pan, exp_month: 12, exp_year: 2030 })
      assert.equal(typed.statusCode, 200, typed.body)
      const victimCard = typed.json().id as string
      const own = (await attacker.page('cards', { number: testCards.approve.pan, exp_month: 12, exp_year: 2030 })).json().id as string
      const salesOf = async (card: string) => (await kassa.store.db.selectFrom('card_transactions').select('id').where('card_id', '=', card).execute()).length
      const salesBefore = await salesOf(victimCard)
      const stolen = await attacker.page('confirm', { payment_method: { type: 'card', card: victimCard } })
      assert.equal(stolen.statusCode, 400, stolen.body)
      assert.equal(stolen.json().error.param, 'payment_method.card')
      assert.equal((await shop.api.get(`/v1/payments/${attacker.id}`)).json().status, 'requires_payment_method', 'nothing was charged')
      assert.equal(await salesOf(victimCard), salesBefore, 'nothing reached the scheme')
      const paid = await victim.page('confirm', { payment_method: { type: 'card', card: victimCard } })
      assert.equal(paid.statusCode, 200, paid.body)
      // Two ids made one after another share their time part at most: the rest is fresh randomness, not "+1".
      const tail = (id: string) => id.slice(-16)
      assert.notEqual(tail(own), tail(victimCard))
      const nextTo = (id: string) => id.slice(0, -1) + '0123456789abcdefghjkmnpqrstvwxyz'[('0123456789abcdefghjkmnpqrstvwxyz'.indexOf(id.at(-1) ?? '0') + 1) % 32]
      assert.notEqual(nextTo(own), victimCard)
    })

    it("refuses another merchant's card and a card channel switched off", async () => {
      const card = await tokenize(testCards.approve.pan)
      const stolen = await seller.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'x', confirm: true, payment_method: { type: 'card', card } }, { 'idempotency-key': `steal-${dialect}` })
      assert.equal(stolen.statusCode, 400)
      assert.equal(stolen.json().error.param, 'payment_method.card')
    })
  })
}
