/**
 * The payment benchmark (issue 2): Kassa's `POST /v1/payments` (create + confirm from the wallet
 * balance, one payment per request) against the ceiling (bench/ceiling-server.ts: the same rows,
 * the same group commit, no other logic), both on SQLite at synchronous=FULL, each server in its
 * own process, load from autocannon in this one.
 *
 * Saturation is measured in `rounds` rounds; each round runs both servers back to back (the order
 * alternates, so drift on this noisy machine hits both alike) on fresh databases. Then Kassa runs
 * once more at 80 % of its median saturation rate for the latency target, and the ceiling at that
 * same rate for reference; and, if a PostgreSQL URL is given and answers, Kassa once at saturation
 * on PostgreSQL as an extra, labelled row.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { forkChild, removeDirectory } from './lib/child.js'
import { drivePayments, type LoadResult } from './lib/load.js'
import { cpuShare, cpuTimes } from './lib/machine.js'
import { pacePayments, type PacedResult } from './lib/paced.js'
import { newestProfile, summarizeProfile, type ProfileSummary } from './lib/profile.js'
import type { Engine, ServerMessage, ServerReady, ServerReport } from './lib/protocol.js'
import { dropPostgresSchema } from './lib/server-process.js'
import { median } from './lib/stats.js'

export type PaymentBenchSettings = {
  rounds: number
  warmupSeconds: number
  measureSeconds: number
  connections: number
  shoppers: number
  /** The fraction of the median saturation rate for the latency run (0.8). */
  lightLoadFraction: number
  /**
   * The evenly paced load's warm-up at its rate, not counted (bench/lib/paced.ts): its connections
   * open and the backlog the load before it left drains.
   */
  pacedWarmupSeconds: number
  /** postgres://… for the extra PostgreSQL row; undefined skips it. */
  postgresUrl: string | undefined
}

export const defaultPaymentBenchSettings: PaymentBenchSettings = {
  rounds: 3,
  warmupSeconds: 3,
  measureSeconds: 10,
  connections: 50,
  shoppers: 8,
  lightLoadFraction: 0.8,
  pacedWarmupSeconds: 2,
  postgresUrl: undefined,
}

export type ServerKind = 'kassa' | 'ceiling'

export type ServerRun = {
  kind: ServerKind
  engine: Engine
  round: number
  /** Requests per second asked of autocannon; undefined at saturation. */
  overallRate: number | undefined
  ready?: ServerReady
  warmup?: LoadResult
  measured?: LoadResult
  /** The same rate spread evenly (open loop), after `measured`, when asked for. */
  paced?: PacedResult
  report?: ServerReport
  /** CPU stolen by the hypervisor and left idle during the measured part, in percent (Linux). */
  cpu?: { steal: number; idle: number } | undefined
  /** Everything that went wrong: errors, non-2xx, counts that disagree, an unsound ledger, a crash. */
  problems: string[]
  profile?: ProfileSummary
}

export type PaymentBenchResult = {
  settings: PaymentBenchSettings
  saturation: ServerRun[]
  lightLoad: ServerRun | undefined
  /** The ceiling at the same rate as `lightLoad`: what this machine's fsync alone does to latency. */
  lightLoadCeiling: ServerRun | undefined
  lightLoadSkipped: string | undefined
  postgres: ServerRun | undefined
  postgresSkipped: string | undefined
}

const serverFiles: Record<ServerKind, string> = {
  kassa: fileURLToPath(new URL('./payments-server.js', import.meta.url)),
  ceiling: fileURLToPath(new URL('./ceiling-server.js', import.meta.url)),
}

/** Start-up (migrations, seeding) and the after-run checks (ledger verify) are bounded too. */
const readyTimeoutMs = 60_000
const reportTimeoutMs = 90_000

let tagSequence = 0

/** Checks that make a run trustworthy; every failure is named in `problems`. */
function check(run: ServerRun, connections: number): void {
  const { warmup, measured, report } = run
  for (const [phase, load] of [['warm-up', warmup], ['measured', measured]] as const) {
    if (load === undefined) continue
    if (load.non2xx > 0) run.problems.push(`${phase}: ${load.non2xx} non-2xx responses ${JSON.stringify(load.statusCodes)}`)
    if (load.errors > 0) run.problems.push(`${phase}: ${load.errors} request errors (${load.timeouts} timeouts)`)
  }
  const { paced } = run
  if (paced !== undefined) {
    if (paced.non2xx > 0) run.problems.push(`paced: ${paced.non2xx} non-2xx responses ${JSON.stringify(paced.statusCodes)}`)
    if (paced.errors > 0) run.problems.push(`paced: ${paced.errors} request errors`)
    if (paced.skipped > 0) run.problems.push(`paced: ${paced.skipped} requests not sent, the server fell behind`)
  }
  if (report === undefined) return
  const sent200 = report.responsesByStatus['200'] ?? 0
  const otherStatuses = Object.entries(report.responsesByStatus).filter(([status]) => status !== '200')
  if (otherStatuses.length > 0) run.problems.push(`server answered other statuses: ${JSON.stringify(Object.fromEntries(otherStatuses))}`)
  const payments = Object.values(report.paymentsByStatus).reduce((a, b) => a + b, 0)
  const succeeded = report.paymentsByStatus['succeeded'] ?? 0
  if (succeeded !== payments) run.problems.push(`payments not succeeded in the database: ${JSON.stringify(report.paymentsByStatus)}`)
  // A request whose socket autocannon destroyed at its stop may still commit; its answer is then never
  // written. So: exactly one payment per 200 sent, plus at most one per such aborted request.
  const aborted = report.responsesAborted
  if (payments < sent200 || payments > sent200 + aborted) {
    run.problems.push(`${payments} payments in the database but ${sent200} responses 200 sent (${aborted} requests aborted by the client)`)
  }
  const keys200 = report.idempotencyByStatus['200'] ?? 0
  if (keys200 !== payments) run.problems.push(`${keys200} idempotency records with 200 but ${payments} payments`)
  // autocannon drops the requests in flight when its time is up: at most one per connection per phase.
  const received = (warmup?.ok ?? 0) + (measured?.ok ?? 0) + (paced === undefined ? 0 : paced.ok + paced.warmupOk)
  const phases = (warmup === undefined ? 0 : 1) + (measured === undefined ? 0 : 1)
  if (received > sent200 || sent200 - received > connections * phases) {
    run.problems.push(`autocannon counted ${received} 2xx, the server sent ${sent200} (more apart than the ${connections * phases} requests in flight at the stops)`)
  }
  if (!report.ledger.ok) run.problems.push(`ledger verify failed: ${report.ledger.violations.join('; ')}`)
}

/**
 * One server process, fresh database: start, warm up, measure, then let it drain, count and
 * verify. Never throws: a failure is recorded in `problems` and the child is killed.
 */
export async function runServer(
  kind: ServerKind,
  engine: Engine,
  round: number,
  settings: PaymentBenchSettings,
  overallRate: number | undefined,
  options: { profileDirectory?: string; pacedSeconds?: number } = {},
): Promise<ServerRun> {
  const { profileDirectory, pacedSeconds } = options
  const run: ServerRun = { kind, engine, round, overallRate, problems: [] }
  const lifetimeMs = (settings.warmupSeconds + settings.measureSeconds + (pacedSeconds === undefined ? 0 : settings.pacedWarmupSeconds + pacedSeconds)) * 1000 + readyTimeoutMs + reportTimeoutMs
  const execArgv = profileDirectory === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`]
  const child = forkChild<ServerMessage>(serverFiles[kind], {
    env: {
      BENCH_ENGINE: engine,
      BENCH_DATABASE_URL: settings.postgresUrl ?? '',
      BENCH_SHOPPERS: String(settings.shoppers),
      BENCH_LIFETIME_MS: String(lifetimeMs),
    },
    execArgv,
  })
  try {
    run.ready = await child.next<ServerReady>('ready', readyTimeoutMs)
    const tag = `${kind}${round}-${process.pid}-${tagSequence++}`
    const load = { port: run.ready.port, key: run.ready.key, shoppers: run.ready.shoppers, connections: settings.connections, overallRate }
    run.warmup = await drivePayments({ ...load, durationSeconds: settings.warmupSeconds, tag: `${tag}w` })
    const before = cpuTimes()
    run.measured = await drivePayments({ ...load, durationSeconds: settings.measureSeconds, tag: `${tag}m` })
    run.cpu = cpuShare(before, cpuTimes())
    if (pacedSeconds !== undefined && overallRate !== undefined) {
      run.paced = await pacePayments({ ...load, rate: overallRate, warmupSeconds: settings.pacedWarmupSeconds, durationSeconds: pacedSeconds, tag: `${tag}p` })
    }
    child.send({ type: 'finish' })
    run.report = await child.next<ServerReport>('report', reportTimeoutMs)
    const code = await child.exited(10_000)
    if (code !== 0) run.problems.push(`server exited with code ${code}`)
    check(run, settings.connections)
  } catch (error) {
    run.problems.push((error as Error).message)
    child.child.kill('SIGKILL')
    await child.exited(2_000)
    check(run, settings.connections)
    const schema = run.ready?.postgresSchema ?? ''
    if (schema !== '' && settings.postgresUrl !== undefined) await dropPostgresSchema(settings.postgresUrl, schema).catch(() => undefined)
  } finally {
    removeDirectory(run.ready?.dataDirectory)
  }
  if (profileDirectory !== undefined) {
    const file = newestProfile(profileDirectory)
    if (file !== undefined) run.profile = summarizeProfile(file, run.report?.loadWindowMicroseconds)
  }
  return run
}

async function postgresAnswers(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (error) {
    return `PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//…@')} did not answer: ${(error as Error).message}`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Server CPU time (user + system) per payment answered, in microseconds, over warm-up and measured load. */
export function cpuPerPayment(run: ServerRun): number | undefined {
  const report = run.report
  const payments = report?.responsesByStatus['200'] ?? 0
  if (report === undefined || payments === 0) return undefined
  return (report.cpuMicroseconds.user + report.cpuMicroseconds.system) / payments
}

function describe(run: ServerRun): string {
  const m = run.measured
  const head = `${run.kind.padEnd(7)} ${run.engine.padEnd(8)} round ${run.round}${run.overallRate === undefined ? '' : ` @${Math.round(run.overallRate)}/s`}`
  if (m === undefined) return `${head}: FAILED ${run.problems.join('; ')}`
  const batch = run.report === undefined || run.report.batchesCommitted === 0 ? '' : `, ${(run.report.unitsCommitted / run.report.batchesCommitted).toFixed(1)} units/commit`
  const cpu = cpuPerPayment(run)
  const cpuText = cpu === undefined ? '' : `, ${Math.round(cpu)} µs CPU/payment`
  const loop = run.report === undefined ? '' : `, event loop delay p99 ${run.report.eventLoopDelayMs.p99} / max ${run.report.eventLoopDelayMs.max} ms`
  const paced = run.paced === undefined ? '' : `; evenly paced: ${Math.round(run.paced.rate)}/s, p50 ${run.paced.latency.p50} ms, p99 ${run.paced.latency.p99} ms`
  return `${head}: ${Math.round(m.rate)} payments/s, p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms${batch}${cpuText}${loop}${paced}${run.problems.length > 0 ? `  PROBLEMS: ${run.problems.join('; ')}` : ''}`
}

export async function benchPayments(settings: PaymentBenchSettings, log: (line: string) => void): Promise<PaymentBenchResult> {
  const saturation: ServerRun[] = []
  for (let round = 1; round <= settings.rounds; round++) {
    const order: ServerKind[] = round % 2 === 1 ? ['ceiling', 'kassa'] : ['kassa', 'ceiling']
    for (const kind of order) {
      const run = await runServer(kind, 'sqlite', round, settings, undefined)
      log(describe(run))
      saturation.push(run)
    }
  }

  const kassaRates = saturation.filter((run) => run.kind === 'kassa' && run.measured !== undefined).map((run) => (run.measured as LoadResult).rate)
  let lightLoad: ServerRun | undefined
  let lightLoadCeiling: ServerRun | undefined
  let lightLoadSkipped: string | undefined
  if (kassaRates.length === 0) lightLoadSkipped = 'no Kassa saturation run finished'
  else {
    const rate = settings.lightLoadFraction * median(kassaRates)
    lightLoad = await runServer('kassa', 'sqlite', 1, settings, rate, { pacedSeconds: settings.measureSeconds })
    log(describe(lightLoad))
    lightLoadCeiling = await runServer('ceiling', 'sqlite', 1, settings, rate, { pacedSeconds: settings.measureSeconds })
    log(describe(lightLoadCeiling))
  }

  let postgres: ServerRun | undefined
  let postgresSkipped: string | undefined
  if (settings.postgresUrl === undefined) postgresSkipped = 'no PostgreSQL URL given'
  else {
    postgresSkipped = await postgresAnswers(settings.postgresUrl)
    if (postgresSkipped === undefined) {
      postgres = await runServer('kassa', 'postgres', 1, settings, undefined)
      log(describe(postgres))
    }
  }
  return { settings, saturation, lightLoad, lightLoadCeiling, lightLoadSkipped, postgres, postgresSkipped }
}

/** One Kassa saturation run under `node --cpu-prof`, summarised to the top self-time functions. */
export async function profilePayments(settings: PaymentBenchSettings, log: (line: string) => void): Promise<ServerRun> {
  // Left in place afterwards, so the profile can be opened in Chrome DevTools.
  const directory = mkdtempSync(join(tmpdir(), 'kassa-bench-profile-'))
  const run = await runServer('kassa', 'sqlite', 1, settings, undefined, { profileDirectory: directory })
  log(describe(run))
  log(`profile: ${run.profile?.file ?? 'none written'}`)
  return run
}
