import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { createKassa, type Kassa } from '../../src/kassa.js'
import { createLogger } from '../../src/logger.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import { freshStoreOptions, type TestStore } from '../helpers/dialects.js'
import { seedMerchant, seedShopper } from '../helpers/factories.js'

describe('logs', () => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
      done()
    },
  })
  let kassa: Kassa
  let store: TestStore

  before(async () => {
    store = freshStoreOptions('sqlite')
    kassa = await createKassa({
      config: loadConfig({ KASSA_DEMO: '0' }),
      storeOptions: store.options,
      logger: createLogger('debug', sink),
      masterKey: masterKeyFrom(randomBytes(32).toString('base64')),
    })
  })
  after(async () => {
    await kassa.close()
    await store.cleanup()
  })

  it('writes one structured line per request with its request id, and never a key or secret', async () => {
    const merchant = await seedMerchant(kassa)
    const shopper = await seedShopper(kassa, 1_000n)
    const webhook = await merchant.api.post('/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] })
    const secret = webhook.json().secret as string
    const paid = await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'log-1', confirm: true, payment_method: { type: 'wallet_balance', shopper } }, { 'x-request-id': 'req-from-caller' })
    assert.equal(paid.headers['request-id'], 'req-from-caller')
    await kassa.app.inject({ method: 'GET', url: '/v1/payments', headers: { authorization: 'Bearer sk_wrong_key_that_must_not_be_logged' } })
    await kassa.deliveryWorker.runOnce()
    kassa.logger.info({ headers: { authorization: `Bearer ${merchant.key}` }, secret, api_key: merchant.key }, 'a careless log call')
    await new Promise((resolve) => setImmediate(resolve))

    const text = lines.join('\n')
    assert.ok(lines.length >= 4)
    for (const line of lines) JSON.parse(line)
    const requestLine = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry['reqId'] === 'req-from-caller')
    assert.ok(requestLine !== undefined, 'the request line carries its request id')
    assert.equal(requestLine['status'], 200)
    assert.ok(!text.includes(merchant.key), 'the merchant key is not logged')
    assert.ok(!text.includes(secret), 'the webhook secret is not logged')
    assert.ok(!text.includes('sk_wrong_key_that_must_not_be_logged'))
    assert.match(text, /\[redacted\]/)
  })
})
