import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { loadConfig } from '../../src/config.js'
import { createKassa, type Kassa } from '../../src/kassa.js'
import { createLogger } from '../../src/logger.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import type { DialectName } from '../../src/store/dialect.js'
import { dialects } from '../../src/store/dialect.js'
import { DIALECTS, freshStoreOptions, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { assertLedgerSound, caller, seedMerchant, seedShopper, walletAvailable, type Caller } from '../helpers/factories.js'

const concurrentRequestsCount = 20

function paymentBody(shopper: string, amount: number, order_reference = 'order-42') {
  return { amount, currency: 'CNY', order_reference, confirm: true, payment_method: { type: 'wallet_balance', shopper } }
}

/** Every answer the same status and the same bytes; exactly one of them did the work, the rest replayed it. */
function assertOneAnswer(responses: readonly LightMyRequestResponse[], status: number): string {
  const first = responses[0]
  assert.ok(first !== undefined)
  for (const response of responses) {
    assert.equal(response.statusCode, status, response.body)
    assert.equal(response.body, first.body)
  }
  const replayed = responses.filter((response) => response.headers['idempotent-replayed'] === 'true')
  assert.equal(replayed.length, responses.length - 1, 'one request did the work, every other one replayed it')
  return first.body
}

async function paymentsOf(kassa: Kassa, merchantId: string) {
  return kassa.store.db.selectFrom('payments').select(['id', 'status', 'amount']).where('merchant_id', '=', merchantId).execute()
}

async function transfersReferencing(kassa: Kassa, paymentId: string): Promise<number> {
  const rows = await kassa.store.db.selectFrom('ledger_transfers').select('id').where('reference_id', '=', paymentId).execute()
  return rows.length
}

async function eventsAbout(kassa: Kassa, paymentId: string): Promise<string[]> {
  const rows = await kassa.store.db.selectFrom('events').select('type').where('object_id', '=', paymentId).orderBy('id').execute()
  return rows.map((row) => row.type)
}

/** Two Kassa processes' worth of nodes on one database, as a deployment behind a load balancer runs them. */
async function openTwoNodes(dialect: DialectName): Promise<{ nodes: [Kassa, Kassa]; dispose(): Promise<void> }> {
  const store = freshStoreOptions(dialect)
  const masterKey = masterKeyFrom(randomBytes(32).toString('base64'))
  const open = () =>
    createKassa({
      config: loadConfig({ LOG_LEVEL: 'error', KASSA_DEMO: '0' }),
      storeOptions: store.options,
      logger: createLogger(process.env['KASSA_TEST_LOG_LEVEL'] ?? 'error'),
      masterKey,
    })
  // One after the other: the second finds the schema migrated by the first.
  const first = await open()
  const second = await open()
  return {
    nodes: [first, second],
    async dispose() {
      await first.close()
      await second.close()
      await store.cleanup()
    },
  }
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: idempotency keys under concurrency`, () => {
    let kassa: TestKassa
    before(async () => {
      kassa = await openTestKassa(dialect)
    })
    after(async () => {
      await kassa.dispose()
    })

    it(`${concurrentRequestsCount} concurrent creates with one key: one payment, one debit, one answer`, async () => {
      const merchant = await seedMerchant(kassa)
      const shopper = await seedShopper(kassa, 10_000n)
      const key = 'order-42-pay'
      const responses = await Promise.all(
        Array.from({ length: concurrentRequestsCount }, () => merchant.api.post('/v1/payments', paymentBody(shopper, 1_500), { 'idempotency-key': key })),
      )
      const body = JSON.parse(assertOneAnswer(responses, 200)) as { id: string; status: string; amount_received: number }
      assert.equal(body.status, 'succeeded')
      assert.equal(body.amount_received, 1_500)

      assert.deepEqual(await paymentsOf(kassa, merchant.id), [{ id: body.id, status: 'succeeded', amount: 1_500n }])
      assert.equal(await walletAvailable(kassa, shopper), 8_500n)
      assert.equal(await transfersReferencing(kassa, body.id), 1)
      assert.deepEqual(await eventsAbout(kassa, body.id), ['payment.created', 'payment.succeeded'])

      // A later retry replays the same bytes.
      const retry = await merchant.api.post('/v1/payments', paymentBody(shopper, 1_500), { 'idempotency-key': key })
      assert.equal(retry.statusCode, 200)
      assert.equal(retry.headers['idempotent-replayed'], 'true')
      assert.equal(retry.body, responses[0]?.body)

      // The same key with another body, or on another endpoint, is refused and changes nothing.
      for (const [url, other] of [
        ['/v1/payments', paymentBody(shopper, 1_600)],
        ['/v1/payments', paymentBody(shopper, 1_500, 'order-43')],
        ['/v1/payments', { ...paymentBody(shopper, 1_500), capture_method: 'manual' }],
        ['/v1/refunds', { payment: body.id }],
      ] as const) {
        const reused = await merchant.api.post(url, other, { 'idempotency-key': key })
        assert.equal(reused.statusCode, 409, reused.body)
        assert.deepEqual(JSON.parse(reused.body).error, {
          type: 'idempotency_error',
          code: 'idempotency_key_reused',
          message: 'This idempotency key was used with another request; use a new key for a new request.',
          param: 'Idempotency-Key',
        })
      }
      assert.equal((await paymentsOf(kassa, merchant.id)).length, 1)
      assert.equal(await walletAvailable(kassa, shopper), 8_500n)
      await assertLedgerSound(kassa)
    })

    it('the same body written with its keys in another order and the defaults spelled out is the same request', async () => {
      const merchant = await seedMerchant(kassa)
      const shopper = await seedShopper(kassa, 10_000n)
      const first = await merchant.api.post('/v1/payments', paymentBody(shopper, 700), { 'idempotency-key': 'k-1' })
      assert.equal(first.statusCode, 200, first.body)
      const reordered = {
        payment_method: { shopper, type: 'wallet_balance' },
        confirm: true,
        capture_method: 'automatic',
        order_reference: 'order-42',
        currency: 'CNY',
        amount: 700,
      }
      const again = await merchant.api.post('/v1/payments', reordered, { 'idempotency-key': 'k-1' })
      assert.equal(again.statusCode, 200, again.body)
      assert.equal(again.body, first.body)
      assert.equal(await walletAvailable(kassa, shopper), 9_300n)
    })

    it('concurrent declines with one key: one declined payment, every answer the same 402', async () => {
      const merchant = await seedMerchant(kassa)
      const shopper = await seedShopper(kassa, 1_000n)
      const responses = await Promise.all(
        Array.from({ length: concurrentRequestsCount }, () => merchant.api.post('/v1/payments', paymentBody(shopper, 1_001), { 'idempotency-key': 'too-much' })),
      )
      const body = JSON.parse(assertOneAnswer(responses, 402)) as { error: { code: string; payment: { id: string; status: string } } }
      assert.equal(body.error.code, 'insufficient_funds')
      assert.equal(body.error.payment.status, 'requires_payment_method')
      assert.deepEqual(await paymentsOf(kassa, merchant.id), [{ id: body.error.payment.id, status: 'requires_payment_method', amount: 1_001n }])
      assert.equal(await walletAvailable(kassa, shopper), 1_000n)
    })

    it('keys belong to their merchant: two merchants with one key make two payments', async () => {
      const first = await seedMerchant(kassa, 'First')
      const second = await seedMerchant(kassa, 'Second')
      const shopper = await seedShopper(kassa, 10_000n)
      const [a, b] = await Promise.all([
        first.api.post('/v1/payments', paymentBody(shopper, 1_000), { 'idempotency-key': 'shared' }),
        second.api.post('/v1/payments', paymentBody(shopper, 1_000), { 'idempotency-key': 'shared' }),
      ])
      assert.equal(a?.statusCode, 200, a?.body)
      assert.equal(b?.statusCode, 200, b?.body)
      assert.notEqual(JSON.parse(a?.body ?? '{}').id, JSON.parse(b?.body ?? '{}').id)
      assert.equal(await walletAvailable(kassa, shopper), 8_000n)
    })

    it('capture and refund retried concurrently with one key each move money once', async () => {
      const merchant = await seedMerchant(kassa)
      const shopper = await seedShopper(kassa, 10_000n)
      const created = await merchant.api.post('/v1/payments', { ...paymentBody(shopper, 4_000), capture_method: 'manual' }, { 'idempotency-key': 'create' })
      assert.equal(created.statusCode, 200, created.body)
      const id = (JSON.parse(created.body) as { id: string }).id
      const captures = await Promise.all(
        Array.from({ length: 10 }, () => merchant.api.post(`/v1/payments/${id}/capture`, { amount_to_capture: 3_000 }, { 'idempotency-key': 'capture' })),
      )
      assertOneAnswer(captures, 200)
      const refunds = await Promise.all(
        Array.from({ length: 10 }, () => merchant.api.post('/v1/refunds', { payment: id, amount: 1_000 }, { 'idempotency-key': 'refund' })),
      )
      assertOneAnswer(refunds, 200)
      assert.equal(await walletAvailable(kassa, shopper), 10_000n - 3_000n + 1_000n)
      const refundRows = await kassa.store.db.selectFrom('refunds').select('amount').where('payment_id', '=', id).execute()
      assert.deepEqual(refundRows, [{ amount: 1_000n }])
      await assertLedgerSound(kassa)
    })
  })

  // Several nodes may write at once only where the engine allows it (PostgreSQL); SQLite keeps one writer process.
  if (dialects[dialect].concurrentWriters) {
    describe(`${dialect}: idempotency keys across two nodes`, () => {
      let nodes: [Kassa, Kassa]
      let dispose: () => Promise<void>
      before(async () => {
        ;({ nodes, dispose } = await openTwoNodes(dialect))
      })
      after(async () => {
        await dispose()
      })

      /** The same merchant key, spoken to either node. */
      function both(key: string): [Caller, Caller] {
        return [caller(nodes[0], key), caller(nodes[1], key)]
      }

      it('the second node sees what the first one wrote', async () => {
        const merchant = await seedMerchant(nodes[0])
        const [, onSecond] = both(merchant.key)
        const shopper = await seedShopper(nodes[0], 1_000n)
        const response = await onSecond.post('/v1/payments', paymentBody(shopper, 100), { 'idempotency-key': 'hello' })
        assert.equal(response.statusCode, 200, response.body)
        assert.equal(await walletAvailable(nodes[1], shopper), 900n)
      })

      it(`${concurrentRequestsCount} concurrent creates with one key over two nodes: one payment, one debit, one answer`, async () => {
        const merchant = await seedMerchant(nodes[0])
        const apis = both(merchant.key)
        const shopper = await seedShopper(nodes[0], 10_000n)
        const responses = await Promise.all(
          Array.from({ length: concurrentRequestsCount }, (_, i) =>
            apis[i % 2 === 0 ? 0 : 1].post('/v1/payments', paymentBody(shopper, 1_500), { 'idempotency-key': 'two-nodes' }),
          ),
        )
        const payments = await paymentsOf(nodes[0], merchant.id)
        assert.equal(payments.length, 1, 'exactly one payment')
        assert.equal(await walletAvailable(nodes[0], shopper), 8_500n, 'the wallet is debited once')
        const statuses = responses.map((response) => response.statusCode)
        assert.deepEqual(statuses, statuses.map(() => 200), `every node answers 200, got ${JSON.stringify(statuses)}: ${responses.find((r) => r.statusCode !== 200)?.body}`)
        const body = JSON.parse(assertOneAnswer(responses, 200)) as { id: string }
        assert.equal(body.id, payments[0]?.id)
        await assertLedgerSound(nodes[0])
      })

      it('payments with their own keys over two nodes never overdraw one wallet', async () => {
        const merchant = await seedMerchant(nodes[0])
        const apis = both(merchant.key)
        const shopper = await seedShopper(nodes[0], 10_000n)
        const responses = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            apis[i % 2 === 0 ? 0 : 1].post('/v1/payments', paymentBody(shopper, 3_000, `order-${i}`), { 'idempotency-key': `own-${i}` }),
          ),
        )
        const statuses = responses.map((response) => response.statusCode).sort()
        assert.deepEqual(statuses, [200, 200, 200, 402, 402, 402, 402, 402, 402, 402])
        assert.equal(await walletAvailable(nodes[1], shopper), 1_000n)
        const payments = await paymentsOf(nodes[0], merchant.id)
        assert.equal(payments.filter((p) => p.status === 'succeeded').length, 3)
        assert.equal(payments.filter((p) => p.status === 'requires_payment_method').length, 7)
        await assertLedgerSound(nodes[0])
      })
    })
  }
}
