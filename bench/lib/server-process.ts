import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import { loadConfig } from '../../src/config.js'
import { createKassa, type Kassa } from '../../src/kassa.js'
import { verifyLedger } from '../../src/ledger/verify.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import type { Database } from '../../src/store/schema.js'
import type { StoreOptions } from '../../src/store/store.js'
import type { Engine, RunnerMessage, ServerMessage, ServerReport } from './protocol.js'

/** How long a server waits for requests still in flight after the load stops. */
const drainTimeoutMs = 10_000
/** The most shoppers a server seeds. */
const shopperCountMax = 64

/** Sends one message to the runner and resolves once it has left this process. */
export function sendToRunner<Message extends { type: string } = ServerMessage>(message: Message): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('this file is started by bench/run.ts with child_process.fork, not by hand')
  return new Promise((resolve) => send(message, undefined, {}, () => resolve()))
}

export type ServerSettings = { engine: Engine; databaseUrl: string | undefined; shopperCount: number; lifetimeMs: number }

export function serverSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const engine = env['BENCH_ENGINE'] === 'postgres' ? 'postgres' : 'sqlite'
  const databaseUrl = env['BENCH_DATABASE_URL']
  if (engine === 'postgres' && (databaseUrl === undefined || databaseUrl === '')) throw new Error('BENCH_DATABASE_URL is needed for postgres')
  const shopperCount = Number(env['BENCH_SHOPPERS'] ?? '8')
  const lifetimeMs = Number(env['BENCH_LIFETIME_MS'] ?? '120000')
  if (!Number.isSafeInteger(shopperCount) || shopperCount < 1 || shopperCount > shopperCountMax) throw new Error(`BENCH_SHOPPERS must be 1 to ${shopperCountMax}`)
  if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1_000 || lifetimeMs > 600_000) throw new Error('BENCH_LIFETIME_MS must be 1000 to 600000')
  return { engine, databaseUrl, shopperCount, lifetimeMs }
}

/**
 * The guards every server process sets first: it exits by itself after `lifetimeMs`, and at once
 * if the runner goes away, so no benchmark server outlives its run; its temporary data directory,
 * if it has one, is removed on any exit.
 */
export function guardProcess(settings: ServerSettings, dataDirectory?: string): void {
  if (dataDirectory !== undefined) process.on('exit', () => rmSync(dataDirectory, { recursive: true, force: true }))
  setTimeout(() => {
    process.stderr.write(`bench server: lifetime of ${settings.lifetimeMs} ms exceeded, exiting\n`)
    process.exit(3)
  }, settings.lifetimeMs).unref()
  process.on('disconnect', () => process.exit(4))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(5))
}

export function temporaryDataDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'kassa-bench-'))
}

export type OpenedKassa = { kassa: Kassa; sqlitePath: string | undefined; postgresSchema: string; dropSchema: () => Promise<void> }

/**
 * Kassa as production builds it (createKassa: store, migrations, services, Fastify app), on SQLite
 * in `dataDirectory` or on a fresh PostgreSQL schema, logging errors only.
 */
export async function openBenchKassa(settings: ServerSettings, dataDirectory: string): Promise<OpenedKassa> {
  const config = loadConfig({ LOG_LEVEL: 'error', KASSA_DATA_DIR: dataDirectory, KASSA_DEMO: '0', HOST: '127.0.0.1', PORT: '0' })
  const masterKey = masterKeyFrom(randomBytes(32).toString('base64'))
  if (settings.engine === 'sqlite') {
    const sqlitePath = join(dataDirectory, 'kassa.db')
    const kassa = await createKassa({ config, masterKey, storeOptions: { kind: 'sqlite', path: sqlitePath } })
    return { kassa, sqlitePath, postgresSchema: '', dropSchema: async () => undefined }
  }
  const connectionString = settings.databaseUrl as string
  const schema = `kassa_bench_${process.pid}_${Date.now()}`
  const storeOptions: StoreOptions = { kind: 'postgres', connectionString, schema }
  const kassa = await createKassa({ config, masterKey, storeOptions })
  return { kassa, sqlitePath: undefined, postgresSchema: schema, dropSchema: () => dropPostgresSchema(connectionString, schema) }
}

/** Drops a schema this benchmark made; names other than kassa_bench_… are refused. */
export async function dropPostgresSchema(connectionString: string, schema: string): Promise<void> {
  if (!/^kassa_bench_[0-9_]+$/.test(schema)) throw new Error(`refusing to drop schema "${schema}"`)
  const admin = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 })
  await admin.connect()
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await admin.end()
  }
}

/** Durability settings and version as the database itself reports them. */
export async function describeDatabase(db: Kysely<Database>, engine: Engine): Promise<{ durability: string; databaseVersion: string }> {
  if (engine === 'sqlite') {
    const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db)
    const synchronous = await sql<{ synchronous: bigint }>`pragma synchronous`.execute(db)
    const version = await sql<{ v: string }>`select sqlite_version() as v`.execute(db)
    const level = Number(synchronous.rows[0]?.synchronous ?? -1)
    const names = ['OFF', 'NORMAL', 'FULL', 'EXTRA']
    return {
      durability: `journal_mode=${journal.rows[0]?.journal_mode ?? '?'} synchronous=${level} (${names[level] ?? '?'})`,
      databaseVersion: `SQLite ${version.rows[0]?.v ?? '?'}`,
    }
  }
  const commit = await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)
  const fsync = await sql<{ fsync: string }>`show fsync`.execute(db)
  const version = await sql<{ server_version: string }>`show server_version`.execute(db)
  return {
    durability: `synchronous_commit=${commit.rows[0]?.synchronous_commit ?? '?'} fsync=${fsync.rows[0]?.fsync ?? '?'}`,
    databaseVersion: `PostgreSQL ${version.rows[0]?.server_version ?? '?'}`,
  }
}

export type ResponseCounter = {
  readonly byStatus: Map<number, number>
  aborted: number
  started: number
  ended: number
}

/**
 * Counts every response the HTTP server finishes writing, by status, at the socket level: the
 * load generator drops the requests still in flight when its time is up, so only the server
 * knows exactly how many 200s it sent. One 'close' listener per request, the same in every server.
 */
export function countResponses(server: Server): ResponseCounter {
  const counter: ResponseCounter = { byStatus: new Map(), aborted: 0, started: 0, ended: 0 }
  server.on('request', (_request, response) => {
    counter.started += 1
    response.once('close', () => {
      counter.ended += 1
      if (response.writableFinished) counter.byStatus.set(response.statusCode, (counter.byStatus.get(response.statusCode) ?? 0) + 1)
      else counter.aborted += 1
    })
  })
  return counter
}

/** Waits until every request received has been answered (or aborted), at most `drainTimeoutMs`. */
export async function drain(counter: ResponseCounter): Promise<void> {
  const started = Date.now()
  let quietSince = Date.now()
  let lastEnded = -1
  while (Date.now() - started < drainTimeoutMs) {
    if (counter.ended !== lastEnded) {
      lastEnded = counter.ended
      quietSince = Date.now()
    }
    if (counter.started === counter.ended && Date.now() - quietSince >= 200) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function countBy(db: Kysely<Database>, table: 'payments' | 'idempotency_keys', column: 'status' | 'response_status'): Promise<Record<string, number>> {
  const result = await sql<{ key: unknown; n: bigint | number }>`select ${sql.ref(column)} as key, count(*) as n from ${sql.table(table)} group by ${sql.ref(column)}`.execute(db)
  const counts: Record<string, number> = {}
  for (const row of result.rows) counts[String(row.key)] = Number(row.n)
  return counts
}

/** What a server checks in its database after the run: row counts and the whole ledger. */
export async function inspectDatabase(
  db: Kysely<Database>,
  counter: ResponseCounter,
  writer: { batchesCommitted: number; unitsCommitted: number },
  loadWindowMicroseconds: [number, number],
  cpuMicroseconds: { user: number; system: number },
  eventLoop: IntervalHistogram,
): Promise<ServerReport> {
  const eventLoopDelayMs = delaySummary(eventLoop)
  const paymentsByStatus = await countBy(db, 'payments', 'status')
  const idempotencyByStatus = await countBy(db, 'idempotency_keys', 'response_status')
  const verifyStarted = Date.now()
  const verification = await verifyLedger(db)
  return {
    type: 'report',
    responsesByStatus: Object.fromEntries([...counter.byStatus].map(([status, n]) => [String(status), n])),
    responsesAborted: counter.aborted,
    paymentsByStatus,
    idempotencyByStatus,
    ledger: { ok: verification.ok, violations: verification.violations.slice(0, 10), ...verification.checked, ms: Date.now() - verifyStarted },
    batchesCommitted: writer.batchesCommitted,
    unitsCommitted: writer.unitsCommitted,
    loadWindowMicroseconds,
    cpuMicroseconds,
    eventLoopDelayMs,
  }
}

/** Starts measuring event-loop delay, at 10 ms resolution. */
export function eventLoopMonitor(): IntervalHistogram {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  return histogram
}

function delaySummary(histogram: IntervalHistogram): ServerReport['eventLoopDelayMs'] {
  histogram.disable()
  const ms = (nanoseconds: number) => Math.round(nanoseconds / 1e5) / 10
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }
}

/** Now on the monotonic clock, in microseconds. */
export function monotonicMicroseconds(): number {
  return Number(process.hrtime.bigint() / 1_000n)
}

/** Resolves when the runner says the load is over. */
export function finishRequested(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: RunnerMessage) => {
      if (message?.type === 'finish') {
        process.off('message', onMessage)
        resolve()
      }
    }
    process.on('message', onMessage)
  })
}

/** Reports a failure to the runner (if it still listens) and exits non-zero. */
export async function failAndExit(error: unknown): Promise<never> {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  process.stderr.write(`bench server failed: ${message}\n`)
  if (process.connected) await sendToRunner({ type: 'failure', message: message.split('\n')[0] ?? message }).catch(() => undefined)
  process.exit(1)
}
