import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { accountBalance, assertLedgerSound, caller, seedMerchant, seedOperator, seedShopper, walletAvailable } from '../helpers/factories.js'

type Json = Record<string, any>

for (const dialect of DIALECTS) {
  describe(`${dialect}: payments API`, () => {
    let kassa: TestKassa
    let merchant: Awaited<ReturnType<typeof seedMerchant>>
    let other: Awaited<ReturnType<typeof seedMerchant>>

    before(async () => {
      kassa = await openTestKassa(dialect)
      merchant = await seedMerchant(kassa, 'Books', 60)
      other = await seedMerchant(kassa, 'Shoes', 60)
    })
    after(async () => {
      await assertLedgerSound(kassa)
      await kassa.dispose()
    })

    const walletPayment = (shopper: string, amount: number, extra: Json = {}) => ({
      amount,
      currency: 'CNY',
      order_reference: `order-${Math.random()}`,
      confirm: true,
      payment_method: { type: 'wallet_balance', shopper },
      ...extra,
    })

    it('refuses requests without a valid merchant key', async () => {
      const none = await kassa.app.inject({ method: 'GET', url: '/v1/payments' })
      assert.equal(none.statusCode, 401)
      assert.equal(none.json().error.code, 'authentication_required')
      const wrong = await kassa.app.inject({ method: 'GET', url: '/v1/payments', headers: { authorization: 'Bearer sk_not-a-key' } })
      assert.equal(wrong.statusCode, 401)
      assert.equal(wrong.json().error.code, 'api_key_invalid')
      const operator = await seedOperator(kassa)
      const asOperator = await operator.api.get('/v1/payments')
      assert.equal(asOperator.statusCode, 403)
      const merchantOnConsole = await merchant.api.get('/console/v1/merchants')
      assert.equal(merchantOnConsole.statusCode, 403)
    })

    it('pays from the wallet with automatic capture and posts amount, fee and payable in the ledger', async () => {
      const shopper = await seedShopper(kassa, 100_000n)
      const payableBefore = (await accountBalance(kassa, `acc_merchant_payable_${merchant.id}_CNY`))?.credits_posted ?? 0n
      const response = await merchant.api.post('/v1/payments', walletPayment(shopper, 10_000, { metadata: { cart: 'c-1' } }))
      assert.equal(response.statusCode, 200, response.body)
      const payment = response.json()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.amount_received, 10_000)
      assert.equal(payment.fee_amount, 60)
      assert.deepEqual(payment.metadata, { cart: 'c-1' })
      assert.equal(await walletAvailable(kassa, shopper), 90_000n)
      const payable = await accountBalance(kassa, `acc_merchant_payable_${merchant.id}_CNY`)
      assert.equal((payable?.credits_posted ?? 0n) - payableBefore, 9_940n)
      const transfers = await kassa.store.db.selectFrom('ledger_transfers').selectAll().where('reference_id', '=', payment.id).execute()
      assert.equal(transfers.length, 1)
      assert.equal(transfers[0]?.code, 'payment_capture')
      const retrieved = await merchant.api.get(`/v1/payments/${payment.id}`)
      assert.deepEqual(retrieved.json(), payment)
    })

    it('holds, captures part, releases the rest, refunds repeatedly but never more than captured', async () => {
      const shopper = await seedShopper(kassa, 50_000n)
      const created = await merchant.api.post('/v1/payments', walletPayment(shopper, 19_900, { capture_method: 'manual' }))
      assert.equal(created.statusCode, 200, created.body)
      const payment = created.json()
      assert.equal(payment.status, 'requires_capture')
      assert.equal(payment.amount_capturable, 19_900)
      assert.equal(await walletAvailable(kassa, shopper), 30_100n, 'the hold reduces what the shopper can spend')

      const tooMuch = await merchant.api.post(`/v1/payments/${payment.id}/capture`, { amount_to_capture: 19_901 })
      assert.equal(tooMuch.statusCode, 400)
      assert.equal(tooMuch.json().error.code, 'capture_exceeds_authorized')
      assert.equal(tooMuch.json().error.param, 'amount_to_capture')

      const captured = await merchant.api.post(`/v1/payments/${payment.id}/capture`, { amount_to_capture: 15_000 })
      assert.equal(captured.statusCode, 200, captured.body)
      assert.equal(captured.json().status, 'succeeded')
      assert.equal(captured.json().amount_received, 15_000)
      assert.equal(captured.json().fee_amount, 90)
      assert.equal(await walletAvailable(kassa, shopper), 35_000n, 'the uncaptured 49.00 is released')

      const again = await merchant.api.post(`/v1/payments/${payment.id}/capture`, {})
      assert.equal(again.statusCode, 409)
      assert.equal(again.json().error.code, 'payment_not_capturable')

      const first = await merchant.api.post('/v1/refunds', { payment: payment.id, amount: 5_000 })
      assert.equal(first.statusCode, 200, first.body)
      const second = await merchant.api.post('/v1/refunds', { payment: payment.id, amount: 6_000 })
      assert.equal(second.statusCode, 200, second.body)
      const over = await merchant.api.post('/v1/refunds', { payment: payment.id, amount: 4_001 })
      assert.equal(over.statusCode, 400)
      assert.equal(over.json().error.code, 'refund_exceeds_captured')
      const rest = await merchant.api.post('/v1/refunds', { payment: payment.id })
      assert.equal(rest.statusCode, 200, rest.body)
      assert.equal(rest.json().amount, 4_000)
      const none = await merchant.api.post('/v1/refunds', { payment: payment.id })
      assert.equal(none.statusCode, 400)
      assert.equal(await walletAvailable(kassa, shopper), 50_000n)
      const final = (await merchant.api.get(`/v1/payments/${payment.id}`)).json()
      assert.equal(final.amount_refunded, 15_000)
      assert.equal(final.status, 'succeeded')
      const refunds = (await merchant.api.get(`/v1/refunds?payment=${payment.id}`)).json()
      assert.equal(refunds.data.length, 3)
    })

    it("charges the wallet channel's own fee on a manual capture as on an automatic one, in the ledger too", async () => {
      const operator = await seedOperator(kassa)
      assert.equal((await operator.api.post('/console/v1/channels/wallet_balance', { fee_basis_points: 150 })).statusCode, 200)
      try {
        const shopper = await seedShopper(kassa, 50_000n)
        const revenue = async () => (await accountBalance(kassa, 'acc_fee_revenue_platform_CNY'))?.credits_posted ?? 0n
        const atStart = await revenue()
        const automatic = (await merchant.api.post('/v1/payments', walletPayment(shopper, 10_000))).json()
        assert.equal(automatic.fee_amount, 150, "1.50 % of 100.00, the channel's, not the merchant's 0.60 %")
        const held = (await merchant.api.post('/v1/payments', walletPayment(shopper, 10_000, { capture_method: 'manual' }))).json()
        const captured = await merchant.api.post(`/v1/payments/${held.id}/capture`, { amount_to_capture: 8_000 })
        assert.equal(captured.statusCode, 200, captured.body)
        assert.equal(captured.json().fee_amount, 120, '1.50 % of the 80.00 captured')
        assert.equal((await revenue()) - atStart, 150n + 120n, 'the ledger books the same fees')
      } finally {
        await operator.api.post('/console/v1/channels/wallet_balance', { fee_basis_points: null })
      }
    })

    it('cancels a hold and gives the shopper the money back', async () => {
      const shopper = await seedShopper(kassa, 10_000n)
      const payment = (await merchant.api.post('/v1/payments', walletPayment(shopper, 7_000, { capture_method: 'manual' }))).json()
      assert.equal(await walletAvailable(kassa, shopper), 3_000n)
      const canceled = await merchant.api.post(`/v1/payments/${payment.id}/cancel`, { cancellation_reason: 'requested_by_customer' })
      assert.equal(canceled.statusCode, 200, canceled.body)
      assert.equal(canceled.json().status, 'canceled')
      assert.equal(await walletAvailable(kassa, shopper), 10_000n)
      const capture = await merchant.api.post(`/v1/payments/${payment.id}/capture`)
      assert.equal(capture.statusCode, 409)
      const refund = await merchant.api.post('/v1/refunds', { payment: payment.id })
      assert.equal(refund.statusCode, 409)
      assert.equal(refund.json().error.code, 'payment_not_refundable')
    })

    it('declines when the wallet is short, keeps the payment open, and succeeds after a top-up', async () => {
      const shopper = await seedShopper(kassa, 1_000n)
      const declined = await merchant.api.post('/v1/payments', walletPayment(shopper, 1_001))
      assert.equal(declined.statusCode, 402)
      const body = declined.json()
      assert.equal(body.error.code, 'insufficient_funds')
      assert.equal(body.error.payment.status, 'requires_payment_method')
      assert.equal(body.error.payment.last_payment_error.code, 'insufficient_funds')
      assert.equal(await walletAvailable(kassa, shopper), 1_000n)
      const operator = await seedOperator(kassa, 'finance')
      const topUp = await operator.api.post(`/console/v1/shoppers/${shopper}/top_ups`, { amount: 500, currency: 'CNY' })
      assert.equal(topUp.statusCode, 200, topUp.body)
      const confirmed = await merchant.api.post(`/v1/payments/${body.error.payment.id}/confirm`, { payment_method: { type: 'wallet_balance', shopper } })
      assert.equal(confirmed.statusCode, 200, confirmed.body)
      assert.equal(confirmed.json().status, 'succeeded')
      assert.equal(confirmed.json().last_payment_error, null)
      assert.equal(await walletAvailable(kassa, shopper), 499n)
    })

    it('tops a wallet up to the largest amount and no further, so its balance is always a JSON number', async () => {
      const operator = await seedOperator(kassa, 'finance')
      const shopper = await seedShopper(kassa, 0n)
      const topUp = (amount: number) => operator.api.post(`/console/v1/shoppers/${shopper}/top_ups`, { amount, currency: 'USD' })
      assert.equal((await topUp(999_999_999_000)).statusCode, 200)
      const over = await topUp(1_000)
      assert.equal(over.statusCode, 400, over.body)
      assert.equal(over.json().error.code, 'wallet_limit_exceeded')
      assert.equal(over.json().error.param, 'amount')
      assert.match(over.json().error.message, /at most 999 more/)
      assert.equal((await topUp(999)).statusCode, 200, 'up to the limit exactly')
      assert.equal(await walletAvailable(kassa, shopper, 'USD'), 999_999_999_999n)
      const shown = (await operator.api.get(`/console/v1/shoppers/${shopper}`)).json()
      assert.ok(JSON.stringify(shown).includes('999999999999') && !JSON.stringify(shown).includes('"999999999999"'), JSON.stringify(shown))
    })

    it("hides every object of another merchant behind a 404", async () => {
      const shopper = await seedShopper(kassa, 5_000n)
      const payment = (await merchant.api.post('/v1/payments', walletPayment(shopper, 1_000))).json()
      for (const response of [
        await other.api.get(`/v1/payments/${payment.id}`),
        await other.api.post(`/v1/payments/${payment.id}/capture`, {}),
        await other.api.post(`/v1/payments/${payment.id}/cancel`, {}),
        await other.api.post('/v1/refunds', { payment: payment.id }),
        await other.api.post(`/v1/payments/${payment.id}/sms_code`, { sms_code: '123456' }),
        await other.api.post(`/v1/payments/${payment.id}/confirm`, { payment_method: { type: 'wallet_balance', shopper } }),
      ]) {
        assert.equal(response.statusCode, 404, response.body)
        assert.equal(response.json().error.code, 'resource_missing')
      }
      const list = (await other.api.get('/v1/payments?limit=100')).json()
      assert.ok(list.data.every((p: Json) => p.merchant === other.id))
      const events = (await other.api.get(`/v1/events?object=${payment.id}`)).json()
      assert.equal(events.data.length, 0)
      const endpoint = (await merchant.api.post('/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/hooks', enabled_events: ['*'] })).json()
      const theirDeliveries = await other.api.get(`/v1/webhook_endpoints/${endpoint.id}/deliveries`)
      assert.equal(theirDeliveries.statusCode, 404, theirDeliveries.body)
      assert.equal((await merchant.api.get(`/v1/webhook_endpoints/${endpoint.id}/deliveries`)).statusCode, 200)
      assert.equal((await merchant.api.post(`/v1/webhook_endpoints/${endpoint.id}`, { status: 'disabled' })).statusCode, 200)
      assert.equal(await walletAvailable(kassa, shopper), 4_000n)
    })

    it('lists newest first with cursors and filters', async () => {
      const lister = await seedMerchant(kassa, 'Lister')
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const response = await lister.api.post('/v1/payments', { amount: 100 + i, currency: 'JPY', order_reference: i === 2 ? 'special' : `o-${i}` })
        assert.equal(response.statusCode, 200, response.body)
        ids.push(response.json().id)
      }
      const first = (await lister.api.get('/v1/payments?limit=2')).json()
      assert.deepEqual(first.data.map((p: Json) => p.id), [ids[4], ids[3]])
      assert.equal(first.has_more, true)
      const second = (await lister.api.get(`/v1/payments?limit=2&starting_after=${ids[3]}`)).json()
      assert.deepEqual(second.data.map((p: Json) => p.id), [ids[2], ids[1]])
      const third = (await lister.api.get(`/v1/payments?limit=2&starting_after=${ids[1]}`)).json()
      assert.deepEqual(third.data.map((p: Json) => p.id), [ids[0]])
      assert.equal(third.has_more, false)
      const back = (await lister.api.get(`/v1/payments?limit=2&ending_before=${ids[1]}`)).json()
      assert.deepEqual(back.data.map((p: Json) => p.id), [ids[3], ids[2]])
      const special = (await lister.api.get('/v1/payments?order_reference=special')).json()
      assert.deepEqual(special.data.map((p: Json) => p.id), [ids[2]])
      const open = (await lister.api.get('/v1/payments?status=requires_payment_method&limit=100')).json()
      assert.equal(open.data.length, 5)
      const none = (await lister.api.get('/v1/payments?status=succeeded')).json()
      assert.equal(none.data.length, 0)
      const filteredPage = (await lister.api.get(`/v1/payments?status=requires_payment_method&limit=2&starting_after=${ids[3]}`)).json()
      assert.deepEqual(filteredPage.data.map((p: Json) => p.id), [ids[2], ids[1]], 'a filter and a cursor together')
      assert.equal(filteredPage.has_more, true)
      const firstCreated = (await lister.api.get(`/v1/payments/${ids[0]}`)).json().created_at as string
      const since = (await lister.api.get(`/v1/payments?created_gte=${encodeURIComponent(firstCreated)}&limit=100`)).json()
      assert.equal(since.data.length, 5)
      const before = (await lister.api.get(`/v1/payments?created_lt=${encodeURIComponent(firstCreated)}`)).json()
      assert.equal(before.data.length, 0, 'created_lt excludes its own instant')
      const window = (await lister.api.get(`/v1/payments?created_gte=${encodeURIComponent(firstCreated)}&created_lt=2999-01-01T00:00:00.000Z&order_reference=special`)).json()
      assert.deepEqual(window.data.map((p: Json) => p.id), [ids[2]])
      const badCursor = await lister.api.get('/v1/payments?starting_after=rfd_01m84x9nsk3zd8yxg7dm4gzbq7')
      assert.equal(badCursor.statusCode, 400)
      assert.equal(badCursor.json().error.param, 'starting_after')
    })

    it('replays a request with the same idempotency key and refuses the key with another body', async () => {
      const shopper = await seedShopper(kassa, 10_000n)
      const body = walletPayment(shopper, 2_500)
      const headers = { 'idempotency-key': `key-${Math.random()}` }
      const first = await merchant.api.post('/v1/payments', body, headers)
      const second = await merchant.api.post('/v1/payments', body, headers)
      assert.equal(first.statusCode, 200)
      assert.equal(second.body, first.body)
      assert.equal(second.headers['idempotent-replayed'], 'true')
      assert.equal(await walletAvailable(kassa, shopper), 7_500n, 'charged once')
      const changed = await merchant.api.post('/v1/payments', { ...body, amount: 2_600 }, headers)
      assert.equal(changed.statusCode, 409)
      assert.equal(changed.json().error.code, 'idempotency_key_reused')
      assert.equal(changed.json().error.param, 'Idempotency-Key')
      // Another merchant may use the same key for its own request.
      const otherShopper = await seedShopper(kassa, 10_000n)
      const theirs = await other.api.post('/v1/payments', walletPayment(otherShopper, 100), headers)
      assert.equal(theirs.statusCode, 200)
      assert.notEqual(theirs.json().id, first.json().id)
    })

    it('stores the error of a refused command under its key too', async () => {
      const shopper = await seedShopper(kassa, 100n)
      const headers = { 'idempotency-key': `declined-${Math.random()}` }
      const body = walletPayment(shopper, 200)
      const first = await merchant.api.post('/v1/payments', body, headers)
      assert.equal(first.statusCode, 402)
      const replay = await merchant.api.post('/v1/payments', body, headers)
      assert.equal(replay.statusCode, 402)
      assert.equal(replay.body, first.body)
    })

    it('accepts each currency at its own exponent', async () => {
      for (const [currency, amount] of [['JPY', 1500], ['KWD', 12_345], ['CNY', 1]] as const) {
        const response = await merchant.api.post('/v1/payments', { amount, currency, order_reference: `fx-${currency}` })
        assert.equal(response.statusCode, 200, response.body)
        assert.equal(response.json().amount, amount)
      }
      const shopper = await seedShopper(kassa, 10_000n, 'JPY')
      const yen = await merchant.api.post('/v1/payments', { ...walletPayment(shopper, 3_000), currency: 'JPY' })
      assert.equal(yen.statusCode, 200, yen.body)
      assert.equal(await walletAvailable(kassa, shopper, 'JPY'), 7_000n)
      const mismatch = await merchant.api.post('/v1/payments', walletPayment(shopper, 100))
      assert.equal(mismatch.statusCode, 402, 'a JPY wallet holds no CNY')
    })

    it('serves the OpenAPI document and the reference page', async () => {
      const document = await kassa.app.inject({ method: 'GET', url: '/openapi.json' })
      assert.equal(document.statusCode, 200)
      const openapi = document.json()
      assert.equal(openapi.openapi, '3.1.0')
      for (const path of ['/v1/payments', '/v1/payments/{id}/capture', '/v1/refunds', '/v1/webhook_endpoints', '/console/v1/shoppers/{id}/top_ups']) {
        assert.ok(openapi.paths[path] !== undefined, `${path} is documented`)
      }
      const page = await kassa.app.inject({ method: 'GET', url: '/docs/' })
      assert.equal(page.statusCode, 200)
      assert.match(page.body, /swagger/i)
    })
  })
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: a wallet is spent only with its shopper's consent`, () => {
    let kassa: TestKassa
    before(async () => {
      kassa = await openTestKassa(dialect)
    })
    after(async () => {
      await assertLedgerSound(kassa)
      await kassa.dispose()
    })

    it('refuses a third-party seller charging by shopper id, and takes the one-time token from the shopper app once', async () => {
      const seller = await seedMerchant(kassa, 'Rogue Seller', 60, 'third_party')
      const shopper = await seedShopper(kassa, 10_000n)
      const byId = await seller.api.post('/v1/payments', { amount: 9_999, currency: 'CNY', order_reference: 'x', confirm: true, payment_method: { type: 'wallet_balance', shopper } })
      assert.equal(byId.statusCode, 403, byId.body)
      assert.equal(byId.json().error.code, 'wallet_consent_required')
      assert.equal(await walletAvailable(kassa, shopper), 10_000n)

      const session = await kassa.delivery.openShopperSession({ type: 'system', id: 'test' }, shopper)
      const app = caller(kassa, session.token)
      const token = (await app.post('/shopper/v1/payment_tokens')).json().token as string
      const paid = await seller.api.post('/v1/payments', { amount: 2_500, currency: 'CNY', order_reference: 'y', confirm: true, payment_method: { type: 'wallet_balance', token } })
      assert.equal(paid.statusCode, 200, paid.body)
      assert.equal(paid.json().shopper, shopper)
      assert.equal(await walletAvailable(kassa, shopper), 7_500n)
      const again = await seller.api.post('/v1/payments', { amount: 2_500, currency: 'CNY', order_reference: 'z', confirm: true, payment_method: { type: 'wallet_balance', token } })
      assert.equal(again.statusCode, 400)
      assert.equal(again.json().error.code, 'payment_token_invalid')
      assert.equal(await walletAvailable(kassa, shopper), 7_500n, 'a token pays once')
      const refund = await seller.api.post('/v1/refunds', { payment: paid.json().id })
      assert.equal(refund.statusCode, 200, refund.body)
      assert.equal(await walletAvailable(kassa, shopper), 10_000n)
    })
  })
}
