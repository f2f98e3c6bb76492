import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { assertLedgerSound, seedMerchant, seedOperator, seedShopper, walletAvailable } from '../helpers/factories.js'

const dialect = DIALECTS.at(-1) ?? 'sqlite'

describe(`${dialect}: bad input gets a 4xx naming the field, never a 500`, () => {
  let kassa: TestKassa
  let merchant: Awaited<ReturnType<typeof seedMerchant>>
  let shopper: string

  before(async () => {
    kassa = await openTestKassa(dialect)
    merchant = await seedMerchant(kassa)
    shopper = await seedShopper(kassa, 10_000n)
  })
  after(async () => {
    await assertLedgerSound(kassa)
    await kassa.dispose()
  })

  const base = { amount: 1000, currency: 'CNY', order_reference: 'o-1' }
  const cases: [string, unknown, number, string, string][] = [
    ['float amount', { ...base, amount: 10.5 }, 400, 'amount_invalid', 'amount'],
    ['negative amount', { ...base, amount: -1 }, 400, 'amount_invalid', 'amount'],
    ['zero amount', { ...base, amount: 0 }, 400, 'amount_invalid', 'amount'],
    ['oversized amount', { ...base, amount: 1_000_000_000_000 }, 400, 'amount_invalid', 'amount'],
    ['amount beyond 2^53', { ...base, amount: 2 ** 60 }, 400, 'amount_invalid', 'amount'],
    ['amount as a string', { ...base, amount: '1000' }, 400, 'amount_invalid', 'amount'],
    ['unknown currency', { ...base, currency: 'XYZ' }, 400, 'currency_unknown', 'currency'],
    ['lower-case currency', { ...base, currency: 'cny' }, 400, 'currency_unknown', 'currency'],
    ['missing currency', { amount: 1000, order_reference: 'o' }, 400, 'parameter_missing', 'currency'],
    ['missing order reference', { amount: 1000, currency: 'CNY' }, 400, 'parameter_missing', 'order_reference'],
    ['blank order reference', { ...base, order_reference: '   ' }, 400, 'parameter_invalid', 'order_reference'],
    ['unknown field', { ...base, colour: 'red' }, 400, 'parameter_unknown', 'colour'],
    ['wrong type', { ...base, capture_method: 7 }, 400, 'parameter_invalid', 'capture_method'],
    ['metadata value not a string', { ...base, metadata: { a: 1 } }, 400, 'parameter_invalid', 'metadata.a'],
    ['nested unknown field', { ...base, confirm: true, payment_method: { type: 'wallet_balance', shopper: 'shp_x', pin: '1' } }, 400, 'parameter_unknown', 'payment_method.pin'],
    ['bad shopper id', { ...base, confirm: true, payment_method: { type: 'wallet_balance', shopper: 'bob' } }, 400, 'parameter_invalid', 'payment_method.shopper'],
    ['unsupported method', { ...base, confirm: true, payment_method: { type: 'cheque' } }, 400, 'parameter_invalid', 'payment_method.type'],
    ['confirm without method', { ...base, confirm: true }, 400, 'parameter_missing', 'payment_method'],
    ['method without confirm', { ...base, payment_method: { type: 'wallet_balance', shopper: 'shp_01m84x920yn9vfyb6sdbkg4a9h' } }, 400, 'parameter_invalid', 'payment_method'],
    ['unknown shopper', { ...base, shopper: 'shp_01m84x920yn9vfyb6sdbkg4a9h' }, 400, 'shopper_missing', 'shopper'],
    ['body is an array', [1, 2], 400, 'parameter_invalid', 'body'],
    ['body is a number', 42, 400, 'parameter_invalid', 'body'],
  ]
  for (const [name, body, status, code, param] of cases) {
    it(name, async () => {
      const response = await merchant.api.post('/v1/payments', body)
      assert.equal(response.statusCode, status, response.body)
      const error = response.json().error
      assert.equal(error.code, code, response.body)
      assert.equal(error.param, param, response.body)
      assert.equal(typeof error.message, 'string')
      assert.equal(typeof error.type, 'string')
    })
  }

  it('says a blank name or reference must not be blank, on every route that takes one', async () => {
    const blank = await merchant.api.post('/v1/payments', { ...base, order_reference: ' \t ' })
    assert.equal(blank.json().error.message, 'Invalid parameter: order_reference must not be blank.')
    const operator = await seedOperator(kassa, 'admin')
    const merchantNamed = await kassa.app.inject({ method: 'POST', url: '/console/v1/merchants', headers: { authorization: `Bearer ${operator.key}` }, payload: { name: '  ', kind: 'third_party' } })
    assert.equal(merchantNamed.statusCode, 400, merchantNamed.body)
    assert.equal(merchantNamed.json().error.param, 'name')
    assert.match(merchantNamed.json().error.message, /must not be blank/)
    const station = await kassa.app.inject({ method: 'POST', url: '/console/v1/stations', headers: { authorization: `Bearer ${operator.key}` }, payload: { name: 'Pudong 1', city: ' ' } })
    assert.equal(station.statusCode, 400, station.body)
    assert.equal(station.json().error.param, 'city')
    const named = await kassa.app.inject({ method: 'POST', url: '/console/v1/merchants', headers: { authorization: `Bearer ${operator.key}` }, payload: { name: ' Shop with a space ', kind: 'third_party' } })
    assert.equal(named.statusCode, 200, 'spaces around a name are fine: only a blank one is refused')
  })

  it('names broken JSON, empty bodies where one is needed, and wrong media types', async () => {
    const broken = await merchant.api.post('/v1/payments', '{"amount": 10,')
    assert.equal(broken.statusCode, 400)
    assert.equal(broken.json().error.code, 'body_invalid_json')
    const empty = await merchant.api.post('/v1/payments', '')
    assert.equal(empty.statusCode, 400)
    assert.equal(empty.json().error.code, 'parameter_missing')
    const form = await kassa.app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { authorization: `Bearer ${merchant.key}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'amount=1',
    })
    assert.equal(form.statusCode, 415)
    assert.equal(form.json().error.code, 'body_unsupported_media_type')
    const proto = await merchant.api.post('/v1/payments', '{"__proto__": {"x": 1}, "amount": 1, "currency": "CNY", "order_reference": "p"}')
    assert.equal(proto.statusCode, 400)
    const huge = await merchant.api.post('/v1/payments', { ...base, description: 'x'.repeat(100_000) })
    assert.equal(huge.statusCode, 413)
    const badKey = await merchant.api.post('/v1/payments', base, { 'idempotency-key': 'has spaces in it' })
    assert.equal(badKey.statusCode, 400)
    assert.equal(badKey.json().error.code, 'idempotency_key_invalid')
    const badPath = await merchant.api.get('/v1/payments/not-an-id')
    assert.equal(badPath.statusCode, 400)
    assert.equal(badPath.json().error.param, 'id')
    const badQuery = await merchant.api.get('/v1/payments?limit=1000')
    assert.equal(badQuery.statusCode, 400)
    assert.equal(badQuery.json().error.param, 'limit')
    const noRoute = await merchant.api.get('/v1/nothing-here')
    assert.equal(noRoute.statusCode, 404)
    assert.equal(noRoute.json().error.code, 'route_not_found')
  })

  it('answers any JSON body with a status below 500 and never charges on a refusal', async () => {
    const before = await walletAvailable(kassa, shopper)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            amount: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
            currency: fc.oneof(fc.constantFrom('CNY', 'JPY', 'usd', ''), fc.string()),
            order_reference: fc.oneof(fc.string(), fc.integer()),
            confirm: fc.oneof(fc.boolean(), fc.string()),
            payment_method: fc.oneof(fc.constant({ type: 'wallet_balance', shopper: 'shp_01m84x920yn9vfyb6sdbkg4a9h' }), fc.jsonValue()),
          }, { requiredKeys: [] }),
        ),
        async (body) => {
          const response = await merchant.api.post('/v1/payments', JSON.stringify(body))
          assert.ok(response.statusCode < 500, `${response.statusCode} for ${JSON.stringify(body)}: ${response.body}`)
          if (response.statusCode >= 400) assert.equal(typeof response.json().error.code, 'string')
        },
      ),
      { numRuns: 200 },
    )
    assert.equal(await walletAvailable(kassa, shopper), before)
  })
})
