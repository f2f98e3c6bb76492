import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { SimulatedClock } from '../../src/domain/clock.js'
import { retryWindowMs } from '../../src/events/delivery-worker.js'
import { verifySignature } from '../../src/events/signing.js'
import { createKassa } from '../../src/kassa.js'
import { createLogger } from '../../src/logger.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import { DIALECTS, freshStoreOptions, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { seedMerchant, seedShopper } from '../helpers/factories.js'

type Received = { type: string; signature: string | undefined; body: string; delivery: string | undefined }

/** A merchant's webhook receiver: records what arrives, answers with the status it is told. */
async function receiver(statuses: () => number) {
  const received: Received[] = []
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({
        type: (JSON.parse(body) as { type: string }).type,
        signature: request.headers['kassa-signature'] as string | undefined,
        body,
        delivery: request.headers['kassa-delivery-id'] as string | undefined,
      })
      response.writeHead(statuses()).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
  return { received, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > timeoutMs) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: webhooks`, () => {
    let kassa: TestKassa
    const clock = new SimulatedClock(Date.now())

    before(async () => {
      kassa = await openTestKassa(dialect, { clock })
    })
    after(async () => kassa.dispose())

    it('signs each delivery so the receiver can verify it, and lists deliveries with attempts', async () => {
      const hook = await receiver(() => 200)
      try {
        const merchant = await seedMerchant(kassa)
        const endpoint = await merchant.api.post('/v1/webhook_endpoints', { url: hook.url, enabled_events: ['payment.succeeded', 'refund.succeeded'] })
        assert.equal(endpoint.statusCode, 200, endpoint.body)
        const secret = endpoint.json().secret as string
        assert.match(secret, /^whsec_/)
        const stored = await kassa.store.db.selectFrom('webhook_endpoints').select('secret_sealed').executeTakeFirstOrThrow()
        assert.ok(!stored.secret_sealed.includes(secret.slice(6)), 'the secret is sealed, not stored in clear')
        assert.equal((await merchant.api.get(`/v1/webhook_endpoints/${endpoint.json().id}`)).json().secret, undefined)

        const shopper = await seedShopper(kassa, 5_000n)
        const payment = await merchant.api.post('/v1/payments', { amount: 1_234, currency: 'CNY', order_reference: 'w-1', confirm: true, payment_method: { type: 'wallet_balance', shopper } })
        assert.equal(payment.statusCode, 200)
        await kassa.deliveryWorker.runOnce()
        assert.deepEqual(hook.received.map((r) => r.type), ['payment.succeeded'], 'only the subscribed type is sent')
        const delivered = hook.received[0]
        assert.ok(delivered !== undefined)
        assert.deepEqual(verifySignature(secret, delivered.signature, delivered.body, clock.now() / 1000), { ok: true })
        assert.deepEqual(verifySignature(secret, delivered.signature, delivered.body.replace('1234', '1235'), clock.now() / 1000), { ok: false, reason: 'mismatch' })
        assert.deepEqual(verifySignature('whsec_other', delivered.signature, delivered.body, clock.now() / 1000), { ok: false, reason: 'mismatch' })
        assert.deepEqual(verifySignature(secret, delivered.signature, delivered.body, clock.now() / 1000 + 3600), { ok: false, reason: 'stale' })
        const event = JSON.parse(delivered.body)
        assert.equal(event.data.object.id, payment.json().id)
        assert.equal(event.data.object.status, 'succeeded')

        const deliveries = (await merchant.api.get(`/v1/webhook_endpoints/${endpoint.json().id}/deliveries`)).json()
        assert.equal(deliveries.data.length, 1)
        assert.equal(deliveries.data[0].status, 'succeeded')
        assert.equal(deliveries.data[0].attempts.length, 1)
        assert.equal(deliveries.data[0].attempts[0].response_status, 200)
        const withDeliveries = (await merchant.api.get(`/v1/events/${event.id}`)).json()
        assert.equal(withDeliveries.deliveries[0].id, delivered.delivery)
      } finally {
        await hook.close()
      }
    })

    it('retries with growing delays and gives up after three days', async () => {
      const hook = await receiver(() => 500)
      try {
        const merchant = await seedMerchant(kassa)
        await merchant.api.post('/v1/webhook_endpoints', { url: hook.url, enabled_events: ['*'] })
        await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'w-2' })
        const created = clock.now()
        const delays: number[] = []
        let last = clock.now()
        for (let round = 0; round < 100; round++) {
          const row = await kassa.store.db.selectFrom('webhook_deliveries').selectAll().where('merchant_id', '=', merchant.id).executeTakeFirstOrThrow()
          if (row.status !== 'pending') break
          clock.set(Math.max(Number(row.next_attempt_at), clock.now()))
          delays.push(clock.now() - last)
          last = clock.now()
          assert.equal(await kassa.deliveryWorker.runOnce(), 1)
        }
        const row = await kassa.store.db.selectFrom('webhook_deliveries').selectAll().where('merchant_id', '=', merchant.id).executeTakeFirstOrThrow()
        assert.equal(row.status, 'failed')
        assert.equal(hook.received.length, Number(row.attempt_count))
        assert.ok(hook.received.length >= 15 && hook.received.length <= 40, `${hook.received.length} attempts`)
        assert.ok(Number(row.last_attempt_at) - created <= retryWindowMs, 'no attempt after the three days')
        assert.ok(Number(row.last_attempt_at) - created >= retryWindowMs * 0.8, 'retries go on for about three days')
        assert.ok((delays[2] ?? 0) < (delays[6] ?? 0), `delays grow: ${delays.slice(1, 8).join(', ')}`)
      } finally {
        await hook.close()
      }
    })

    it('delivers once the receiver recovers', async () => {
      let failures = 2
      const hook = await receiver(() => (failures-- > 0 ? 503 : 204))
      try {
        const merchant = await seedMerchant(kassa)
        const endpoint = (await merchant.api.post('/v1/webhook_endpoints', { url: hook.url, enabled_events: ['payment.created'] })).json()
        await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'w-3' })
        for (let round = 0; round < 3; round++) {
          await kassa.deliveryWorker.runOnce()
          clock.advance(10 * 60 * 1000)
        }
        const deliveries = (await merchant.api.get(`/v1/webhook_endpoints/${endpoint.id}/deliveries`)).json()
        assert.equal(deliveries.data[0].status, 'succeeded')
        assert.deepEqual(deliveries.data[0].attempts.map((a: { response_status: number }) => a.response_status), [503, 503, 204])
      } finally {
        await hook.close()
      }
    })
  })

  describe(`${dialect}: one slow endpoint`, () => {
    it("holds at most 8 deliveries in flight, and another merchant's webhooks go out meanwhile", async () => {
      // This merchant's receiver takes every request and never answers.
      const hanging = new Set<import('node:http').ServerResponse>()
      const slow: Server = createServer((_request, response) => void hanging.add(response))
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
      const fast = await receiver(() => 200)
      const kassa = await openTestKassa(dialect, { env: { KASSA_WEBHOOK_TIMEOUT_MS: '5000' } })
      try {
        const stuck = await seedMerchant(kassa, 'Stuck')
        const other = await seedMerchant(kassa, 'Other')
        await stuck.api.post('/v1/webhook_endpoints', { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/hooks`, enabled_events: ['payment.created'] })
        await other.api.post('/v1/webhook_endpoints', { url: fast.url, enabled_events: ['payment.created'] })
        for (let n = 0; n < 20; n++) await stuck.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: `stuck-${n}` })
        await other.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'other-1' })

        kassa.deliveryWorker.start()
        // Well before the stuck endpoint's requests time out (5 s).
        await waitFor(() => fast.received.length === 1, 2_000)
        assert.equal(fast.received[0]?.type, 'payment.created')
        await waitFor(() => hanging.size === 8, 2_000)
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.equal(hanging.size, 8, 'no more than 8 requests at once to one endpoint')
        const waiting = await kassa.store.db.selectFrom('webhook_deliveries').select('id').where('merchant_id', '=', stuck.id).where('status', '=', 'pending').execute()
        assert.equal(waiting.length, 20, 'the rest wait their turn, none given up')
      } finally {
        slow.closeAllConnections()
        await kassa.deliveryWorker.stop()
        await kassa.dispose()
        await new Promise<void>((resolve) => slow.close(() => resolve()))
        await fast.close()
      }
    })
  })

  describe(`${dialect}: webhook deliveries survive a restart`, () => {
    it('sends after a restart what was recorded before it', async () => {
      const hook = await receiver(() => 200)
      const store = freshStoreOptions(dialect)
      const masterKey = masterKeyFrom(randomBytes(32).toString('base64'))
      const open = () => createKassa({ config: loadConfig({ KASSA_DEMO: '0' }), storeOptions: store.options, logger: createLogger('error'), masterKey })
      try {
        const first = await open()
        const merchant = await seedMerchant(first)
        await merchant.api.post('/v1/webhook_endpoints', { url: hook.url, enabled_events: ['*'] })
        await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'restart' })
        await first.close()
        assert.equal(hook.received.length, 0)
        const second = await open()
        second.deliveryWorker.start()
        await waitFor(() => hook.received.length === 1)
        await second.close()
        assert.equal(hook.received[0]?.type, 'payment.created')
      } finally {
        await hook.close()
        await store.cleanup()
      }
    })
  })
}
