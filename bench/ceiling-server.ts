/**
 * The ceiling: what this machine allows for the same durable writes as a Kassa payment, with no
 * other logic. A bare Fastify route takes the same request and commits the same rows to the real
 * Kassa schema (idempotency record, payment, one transfer with three postings, three balance
 * updates, two events each with its webhook fan-out INSERT…SELECT) with raw better-sqlite3
 * prepared statements, batched the way Kassa's writer batches: requests that arrive in one turn of
 * the event loop are queued, `setImmediate` flushes them in one BEGIN IMMEDIATE transaction (at
 * most 256), and each request is answered after the COMMIT. SQLite is opened by Kassa's own
 * `openSqliteDatabase` (WAL, synchronous=FULL).
 *
 * Left out on purpose, because they are Kassa's logic, not the cost of the writes: authentication
 * by hash, JSON-schema validation, the idempotency lookup, reading and checking balances, the
 * state machine, and the delivery worker.
 *
 * Started by `bench/run.ts` with child_process.fork, same IPC protocol as bench/payments-server.ts.
 */
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyReply } from 'fastify'
import { newId } from '../src/domain/ids.js'
import { accountId } from '../src/ledger/accounts.js'
import { openSqliteDatabase } from '../src/store/sqlite/connection.js'
import { openStore } from '../src/store/store.js'
import { benchFeeBasisPoints, seedBenchWorld } from './lib/seed.js'
import {
  countResponses,
  describeDatabase,
  drain,
  failAndExit,
  finishRequested,
  guardProcess,
  eventLoopMonitor,
  inspectDatabase,
  monotonicMicroseconds,
  openBenchKassa,
  sendToRunner,
  serverSettings,
  temporaryDataDirectory,
} from './lib/server-process.js'

/** The most payments one transaction commits: Kassa's writer default. */
const batchSizeMax = 256

type PaymentBody = {
  amount: number
  currency: string
  order_reference: string
  payment_method: { type: string; shopper: string }
}

type Queued = { body: PaymentBody; rawHash: string; key: string; reply: FastifyReply }

async function main(): Promise<void> {
  const settings = serverSettings()
  if (settings.engine !== 'sqlite') throw new Error('the ceiling runs on SQLite only')
  const dataDirectory = temporaryDataDirectory()
  guardProcess(settings, dataDirectory)

  // The schema and the starting rows come from Kassa itself, so the rows written are Kassa's rows.
  const opened = await openBenchKassa(settings, dataDirectory)
  const world = await seedBenchWorld(opened.kassa, settings.shopperCount)
  const database = await describeDatabase(opened.kassa.store.db, 'sqlite')
  await opened.kassa.close()
  const path = opened.sqlitePath as string

  const db = openSqliteDatabase(path)
  const statements = {
    idempotency: db.prepare(
      `insert into idempotency_keys (principal_id, key, request_hash, status, response_status, response_body, created_at)
       values (?, ?, ?, 'completed', 200, ?, ?)`,
    ),
    payment: db.prepare(
      `insert into payments (id, merchant_id, status, amount, currency, capture_method, order_reference, description, metadata,
         shopper_id, payment_method_type, channel, amount_capturable, amount_received, amount_refunded, fee_amount,
         hold_transfer_id, last_error_code, last_error_message, cancellation_reason, version, created_at, updated_at)
       values (?, ?, 'succeeded', ?, ?, 'automatic', ?, null, '{}', ?, 'wallet_balance', 'wallet_balance', 0, ?, 0, ?,
         null, null, null, null, 1, ?, ?)`,
    ),
    transfer: db.prepare(
      `insert into ledger_transfers (id, kind, pending_id, code, amount, currency, reference_id, merchant_id, created_at)
       values (?, 'single_phase', null, 'payment_capture', ?, ?, ?, ?, ?)`,
    ),
    posting: db.prepare(
      `insert into ledger_postings (transfer_id, leg, account_id, side, phase, amount, currency, merchant_id, created_at)
       values (?, ?, ?, ?, 'posted', ?, ?, ?, ?)`,
    ),
    debit: db.prepare('update ledger_accounts set debits_posted = debits_posted + ? where id = ?'),
    credit: db.prepare('update ledger_accounts set credits_posted = credits_posted + ? where id = ?'),
    event: db.prepare('insert into events (id, merchant_id, type, object_id, data, created_at) values (?, ?, ?, ?, ?, ?)'),
    deliveries: db.prepare(
      `insert into webhook_deliveries (id, merchant_id, endpoint_id, event_id, status, attempt_count, next_attempt_at, created_at)
       select ? || id, merchant_id, id, ?, 'pending', 0, ?, ? from webhook_endpoints
       where merchant_id = ? and status = 'enabled' and (enabled_events like '%"*"%' or enabled_events like ?)`,
    ),
  }
  const merchantId = world.merchantId
  const payableAccount = accountId({ code: 'merchant_payable', owner_id: merchantId, currency: 'CNY' })
  const feeAccount = accountId({ code: 'fee_revenue', owner_id: undefined, currency: 'CNY' })
  const authorization = `Bearer ${world.key}`
  const principalId = merchantId

  function event(type: string, paymentId: string, view: Record<string, unknown>, nowMs: number): void {
    const id = newId('event', nowMs)
    const data = JSON.stringify({ id, object: 'event', type, created_at: new Date(nowMs).toISOString(), data: { object: view } })
    statements.event.run(id, merchantId, type, paymentId, data, nowMs)
    statements.deliveries.run(`whd_${id.slice(4)}_`, id, nowMs, nowMs, merchantId, `%"${type}"%`)
  }

  /** Writes one payment's rows; answers the response body. */
  function writePayment(item: Queued, nowMs: number): string {
    const { body } = item
    const amount = BigInt(body.amount)
    const fee = (amount * BigInt(benchFeeBasisPoints) + 5_000n) / 10_000n
    const shopperId = body.payment_method.shopper
    const shopperAccount = accountId({ code: 'shopper_balance', owner_id: shopperId, currency: 'CNY' })
    const paymentId = newId('payment', nowMs)
    const transferId = newId('transfer', nowMs)
    const created = new Date(nowMs).toISOString()
    const view = {
      id: paymentId, object: 'payment', merchant: merchantId, status: 'succeeded', amount: body.amount, currency: body.currency,
      capture_method: 'automatic', order_reference: body.order_reference, description: null, metadata: {}, shopper: shopperId,
      payment_method_type: 'wallet_balance', channel: 'wallet_balance', amount_capturable: 0, amount_received: body.amount,
      amount_refunded: 0, fee_amount: Number(fee), last_payment_error: null, cancellation_reason: null, created_at: created, updated_at: created,
    }
    const response = JSON.stringify(view)
    statements.payment.run(paymentId, merchantId, amount, body.currency, body.order_reference, shopperId, amount, fee, nowMs, nowMs)
    event('payment.created', paymentId, { ...view, status: 'requires_payment_method', payment_method_type: null, channel: null, amount_received: 0, fee_amount: 0 }, nowMs)
    statements.transfer.run(transferId, amount, body.currency, paymentId, merchantId, nowMs)
    statements.posting.run(transferId, 0, shopperAccount, 'debit', amount, body.currency, merchantId, nowMs)
    statements.posting.run(transferId, 1, payableAccount, 'credit', amount - fee, body.currency, merchantId, nowMs)
    statements.posting.run(transferId, 2, feeAccount, 'credit', fee, body.currency, merchantId, nowMs)
    statements.debit.run(amount, shopperAccount)
    statements.credit.run(amount - fee, payableAccount)
    statements.credit.run(fee, feeAccount)
    event('payment.succeeded', paymentId, view, nowMs)
    statements.idempotency.run(principalId, item.key, item.rawHash, response, nowMs)
    return response
  }

  const writeBatch = db.transaction((batch: Queued[], responses: string[]) => {
    const nowMs = Date.now()
    for (const item of batch) responses.push(writePayment(item, nowMs))
  })

  const writer = { batchesCommitted: 0, unitsCommitted: 0 }
  let queue: Queued[] = []
  let scheduled = false

  function flush(): void {
    scheduled = false
    const batch = queue.length <= batchSizeMax ? queue : queue.slice(0, batchSizeMax)
    queue = queue.length <= batchSizeMax ? [] : queue.slice(batchSizeMax)
    const responses: string[] = []
    try {
      writeBatch.immediate(batch, responses)
      writer.batchesCommitted += 1
      writer.unitsCommitted += batch.length
    } catch (error) {
      for (const item of batch) void item.reply.code(500).send({ error: (error as Error).message })
      schedule()
      return
    }
    // Answered only now: the COMMIT above returned, so the batch is durable.
    for (let index = 0; index < batch.length; index++) {
      void (batch[index] as Queued).reply.code(200).header('content-type', 'application/json; charset=utf-8').send(responses[index])
    }
    schedule()
  }

  function schedule(): void {
    if (scheduled || queue.length === 0) return
    scheduled = true
    setImmediate(flush)
  }

  const app = Fastify({ logger: false })
  app.post<{ Body: PaymentBody }>('/v1/payments', (request, reply) => {
    const key = request.headers['idempotency-key']
    if (request.headers.authorization !== authorization || typeof key !== 'string') return reply.code(401).send({ error: 'unauthorized' })
    const rawHash = createHash('sha256').update(JSON.stringify(request.body)).digest('base64url')
    queue.push({ body: request.body, rawHash, key, reply })
    schedule()
    return reply
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const counter = countResponses(app.server)
  const finish = finishRequested()
  const loadStarted = monotonicMicroseconds()
  const cpuStarted = process.cpuUsage()
  const eventLoop = eventLoopMonitor()
  await sendToRunner({
    type: 'ready',
    port: (app.server.address() as AddressInfo).port,
    key: world.key,
    shoppers: world.shoppers,
    dataDirectory,
    postgresSchema: '',
    engine: 'sqlite',
    ...database,
  })
  await finish
  const loadEnded = monotonicMicroseconds()
  const cpuUsed = process.cpuUsage(cpuStarted)
  await drain(counter)
  await app.close()
  db.close()
  // The ceiling's rows must be sound Kassa rows too: the same checks as for Kassa.
  const store = await openStore({ kind: 'sqlite', path })
  const report = await inspectDatabase(store.db, counter, writer, [loadStarted, loadEnded], cpuUsed, eventLoop)
  await store.close()
  await sendToRunner(report)
  process.exit(0)
}

main().catch(failAndExit)
