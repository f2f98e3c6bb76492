/**
 * POS card authorizations end to end: simulated terminals (the load driver of `kassa pos load`) →
 * Kassa's POS terminal host (TCP, ISO 8583, MACed) → Kassa's acquirer (SQLite, ledger) → the card
 * scheme simulator → back. Against a ceiling measured in the same run: as many concurrent sales
 * sent straight to a fresh scheme simulator over a scheme link, with no Kassa in between.
 *
 * Processes: the scheme simulator and Kassa each run in their own (bench/pos-main.ts); the terminals,
 * and the ceiling's link, run in this one. Each run gets a fresh simulator (and Kassa a fresh
 * database), so every run starts from the same balances. `rounds` rounds, each running both paths
 * back to back, the order alternating, as the payment benchmark does.
 */
import { fileURLToPath } from 'node:url'
import { testCards } from '../sim/scheme/index.js'
import { acquirerIdDefault } from '../src/acquiring/open.js'
import { loadReport, runPosLoad, type PosLoadReport } from '../src/acquiring/pos-host/load.js'
import type { TerminalCredentials } from '../src/acquiring/pos-host/terminal.js'
import { openSchemeLink, type SchemeLink } from '../src/acquiring/scheme-link/index.js'
import { formatMinor } from '../src/domain/money.js'
import { forkChild, removeDirectory, type Forked } from './lib/child.js'
import { cpuShare, cpuTimes } from './lib/machine.js'
import { median } from './lib/stats.js'

export type PosBenchSettings = {
  rounds: number
  warmupSeconds: number
  measureSeconds: number
  /** Terminals at once, each with its own connection; the ceiling keeps as many sales in flight. */
  terminals: number
  /** Every sale's amount, in minor units (fen). */
  amountMinor: bigint
}

export const defaultPosBenchSettings: PosBenchSettings = { rounds: 3, warmupSeconds: 3, measureSeconds: 10, terminals: 50, amountMinor: 100n }

// ---------------------------------------------------------------------------------------------
// Messages with the processes of bench/pos-main.ts (amounts as decimal strings: IPC is JSON)
// ---------------------------------------------------------------------------------------------

export type SchemeReady = { type: 'ready'; port: number }
export type SchemeReport = {
  type: 'report'
  /** The approve card's opening balance, which the simulator was started with. */
  openingMinor: string
  /** What the approve card's account was debited over the whole run, warm-up included. */
  spentMinor: string
  heldMinor: string
  /** Transactions the simulator keeps before it answers 96. */
  transactionsMax: number
  messagesReceived: number
  /** CPU time of the simulator process from `ready` to `finish`. */
  cpuMicroseconds: number
}
export type KassaReady = { type: 'ready'; port: number; terminals: TerminalCredentials[]; dataDirectory: string; durability: string; databaseVersion: string }
export type KassaReport = {
  type: 'report'
  cardTransactionsByStatus: Record<string, number>
  approvedAmountMinor: string
  /** Answers the POS host sent, by field 39. */
  hostResponseCodes: Record<string, number>
  /** Requests the acquirer's link gave up waiting for (each one reversed). */
  linkTimedOut: number
  ledger: { ok: boolean; violations: string[]; postings: number }
  /** CPU time of the Kassa process from `ready` to `finish`. */
  cpuMicroseconds: number
}
export type PosChildMessage = SchemeReady | SchemeReport | KassaReady | KassaReport | { type: 'failure'; message: string }

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

export type PosPath = 'kassa' | 'scheme_direct'

export type PosRun = {
  path: PosPath
  round: number
  warmup?: PosLoadReport
  measured?: PosLoadReport
  kassa?: KassaReport
  scheme?: SchemeReport
  /** e.g. "SQLite 3.53.2, journal_mode=wal synchronous=2 (FULL)", as Kassa's database reported it. */
  database?: string
  /** CPU stolen by the hypervisor and left idle during the measured part, in percent (Linux). */
  cpu?: { steal: number; idle: number } | undefined
  problems: string[]
}

export type PosBenchResult = { settings: PosBenchSettings; runs: PosRun[] }

const childFile = fileURLToPath(new URL('./pos-main.js', import.meta.url))
/** Start-up (migrations, terminal registration) and the after-run checks (ledger verify) are bounded too. */
const readyTimeoutMs = 60_000
const reportTimeoutMs = 60_000
/** Per sale, for the terminals and the ceiling alike: longer counts as unanswered. */
const saleTimeoutMs = 10_000
const card = { pan: testCards.approve.pan, expiry: testCards.approve.expiry }
/** Field 42 of the ceiling's sales: the scheme only echoes it. */
const ceilingAcceptorId = 'KASSABENCHCEIL0'

/** Sales per second answered 00, over the measured time. */
export function approvedRate(report: PosLoadReport): number {
  return report.duration_ms > 0 ? (report.approved * 1000) / report.duration_ms : 0
}

/**
 * The ceiling's load: `workers` loops, each sending one sale at a time over the one link, the way
 * each terminal does through Kassa. The result has the load driver's shape, so both are read alike.
 */
async function driveSchemeDirect(link: SchemeLink, options: { workers: number; durationMs: number; amountMinor: bigint }): Promise<PosLoadReport> {
  const latencies: number[] = []
  const codes: Record<string, number> = {}
  const totals = { sales: 0, answered: 0, approved: 0, unanswered: 0, approvedAmount: 0n }
  const startedMs = performance.now()
  const deadlineMs = startedMs + options.durationMs
  const worker = async (index: number): Promise<void> => {
    // The 0200 Kassa's acquirer sends for a chip sale (src/acquiring/acquirer.ts); the link adds 7, 11, 32 and 37.
    const fields = {
      2: card.pan,
      3: '000000',
      4: options.amountMinor.toString().padStart(12, '0'),
      14: card.expiry,
      22: '051',
      41: `CEIL${String(index).padStart(4, '0')}`,
      42: ceilingAcceptorId,
      49: '156',
    }
    while (performance.now() < deadlineMs) {
      const sentMs = performance.now()
      totals.sales++
      const result = await link.send({ mti: '0200', fields: { ...fields } }, { timeoutMs: saleTimeoutMs })
      if (result.outcome !== 'answered') {
        totals.unanswered++
        break
      }
      totals.answered++
      latencies.push(performance.now() - sentMs)
      const code = result.message.fields[39] ?? '??'
      codes[code] = (codes[code] ?? 0) + 1
      if (code === '00') {
        totals.approved++
        totals.approvedAmount += options.amountMinor
      }
    }
  }
  await Promise.all(Array.from({ length: options.workers }, (_, index) => worker(index)))
  return loadReport(options.workers, performance.now() - startedMs, totals, latencies, codes)
}

/** Asks a child to finish and waits for its report and its exit. */
async function finishChild<Report extends PosChildMessage>(child: Forked<PosChildMessage>, name: string, run: PosRun): Promise<Report> {
  child.send({ type: 'finish' })
  const report = await child.next<Report>('report', reportTimeoutMs)
  const code = await child.exited(10_000)
  if (code !== 0) run.problems.push(`${name} exited with code ${code}`)
  return report
}

async function stopChild(child: Forked<PosChildMessage> | undefined): Promise<void> {
  if (child === undefined || child.child.exitCode !== null) return
  child.child.kill('SIGKILL')
  await child.exited(2_000)
}

function codesText(codes: Readonly<Record<string, number>>): string {
  const text = Object.entries(codes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}=${count}`)
    .join(' ')
  return text === '' ? 'none' : text
}

/** Checks that make a run trustworthy; every failure is named in `problems`. */
function check(run: PosRun): void {
  const loads = [['warm-up', run.warmup], ['measured', run.measured]] as const
  for (const [phase, load] of loads) {
    if (load === undefined) continue
    if (load.unanswered > 0) run.problems.push(`${phase}: ${load.unanswered} sales unanswered`)
    if (load.answered !== load.approved) run.problems.push(`${phase}: answered other than 00 (or with a wrong MAC): ${codesText(load.response_codes)}`)
  }
  const approvedCount = (run.warmup?.approved ?? 0) + (run.measured?.approved ?? 0)
  const approvedAmount = (run.warmup?.approved_amount_minor ?? 0n) + (run.measured?.approved_amount_minor ?? 0n)
  // The issuer must have been debited exactly what the terminals (or the ceiling) were told was approved.
  if (run.scheme !== undefined) {
    if (run.scheme.spentMinor !== String(approvedAmount)) run.problems.push(`the scheme debited ${run.scheme.spentMinor}, the sales approved ${approvedAmount}`)
    if (run.scheme.heldMinor !== '0') run.problems.push(`the scheme holds ${run.scheme.heldMinor} on the card`)
  }
  const kassa = run.kassa
  if (kassa === undefined) return
  const { approved = 0, ...others } = kassa.cardTransactionsByStatus
  if (approved !== approvedCount) run.problems.push(`${approved} approved card transactions in the database, ${approvedCount} sales approved to the terminals`)
  if (Object.keys(others).length > 0) run.problems.push(`card transactions not approved: ${JSON.stringify(others)}`)
  if (kassa.approvedAmountMinor !== String(approvedAmount)) run.problems.push(`approved card transactions total ${kassa.approvedAmountMinor}, the terminals ${approvedAmount}`)
  if (kassa.linkTimedOut > 0) run.problems.push(`${kassa.linkTimedOut} scheme requests timed out`)
  if (!kassa.ledger.ok) run.problems.push(`ledger verify failed: ${kassa.ledger.violations.join('; ')}`)
}

/**
 * One run of one path on a fresh scheme simulator: warm up, measure, then collect the children's
 * counts and check them. Never throws: a failure is recorded in `problems` and the children killed.
 */
async function runPath(path: PosPath, round: number, settings: PosBenchSettings): Promise<PosRun> {
  const run: PosRun = { path, round, problems: [] }
  const env = { BENCH_LIFETIME_MS: String((settings.warmupSeconds + settings.measureSeconds) * 1000 + readyTimeoutMs + reportTimeoutMs) }
  const scheme = forkChild<PosChildMessage>(childFile, { env, args: ['scheme'] })
  let kassa: Forked<PosChildMessage> | undefined
  let dataDirectory: string | undefined
  let link: SchemeLink | undefined
  try {
    const schemeReady = await scheme.next<SchemeReady>('ready', readyTimeoutMs)
    const measure = async (drive: (durationMs: number, warmup: PosLoadReport | undefined) => Promise<PosLoadReport>) => {
      run.warmup = await drive(settings.warmupSeconds * 1000, undefined)
      const before = cpuTimes()
      run.measured = await drive(settings.measureSeconds * 1000, run.warmup)
      run.cpu = cpuShare(before, cpuTimes())
    }
    if (path === 'kassa') {
      kassa = forkChild<PosChildMessage>(childFile, { env, args: ['kassa', String(schemeReady.port), String(settings.terminals)] })
      const ready = await kassa.next<KassaReady>('ready', readyTimeoutMs)
      dataDirectory = ready.dataDirectory
      run.database = `${ready.databaseVersion}, ${ready.durability}`
      const load = { host: '127.0.0.1', port: ready.port, terminals: ready.terminals, card, amountMinMinor: settings.amountMinor, amountMaxMinor: settings.amountMinor, timeoutMs: saleTimeoutMs }
      // The host answers 94 to a STAN a terminal already used today: the measured sales start past the warm-up's.
      await measure((durationMs, warmup) => runPosLoad({ ...load, durationMs, stanFirst: (warmup?.sales ?? 0) + 1 }))
      run.kassa = await finishChild<KassaReport>(kassa, 'Kassa', run)
    } else {
      // As Kassa's acquirer opens its link (src/acquiring/open.ts), with the same defaults.
      link = openSchemeLink({ host: '127.0.0.1', port: schemeReady.port, acquirerId: acquirerIdDefault })
      if (!(await link.waitUntilUp(5_000))) throw new Error('the scheme link did not come up within 5 s')
      const upLink = link
      await measure((durationMs) => driveSchemeDirect(upLink, { workers: settings.terminals, durationMs, amountMinor: settings.amountMinor }))
      await link.close()
    }
    run.scheme = await finishChild<SchemeReport>(scheme, 'the scheme simulator', run)
  } catch (error) {
    run.problems.push((error as Error).message)
  } finally {
    await link?.close()
    await stopChild(kassa)
    await stopChild(scheme)
    removeDirectory(dataDirectory)
  }
  check(run)
  return run
}

/** CPU per sale answered (warm-up and measured), microseconds; undefined without the figures. */
function cpuPerSale(run: PosRun, cpuMicroseconds: number | undefined): number | undefined {
  const answered = (run.warmup?.answered ?? 0) + (run.measured?.answered ?? 0)
  return cpuMicroseconds === undefined || answered === 0 ? undefined : cpuMicroseconds / answered
}

const pathNames: Record<PosPath, string> = { kassa: 'Kassa POS', scheme_direct: 'scheme direct' }

export function describePosRun(run: PosRun): string {
  const head = `${pathNames[run.path].padEnd(13)} round ${run.round}`
  const m = run.measured
  if (m === undefined) return `${head}: FAILED ${run.problems.join('; ')}`
  const kassaCpu = cpuPerSale(run, run.kassa?.cpuMicroseconds)
  const schemeCpu = cpuPerSale(run, run.scheme?.cpuMicroseconds)
  const cpu = `${kassaCpu === undefined ? '' : `, Kassa ${Math.round(kassaCpu)} µs CPU/sale`}${schemeCpu === undefined ? '' : `, scheme ${Math.round(schemeCpu)} µs CPU/sale`}`
  const problems = run.problems.length > 0 ? `  PROBLEMS: ${run.problems.join('; ')}` : ''
  return `${head}: ${Math.round(approvedRate(m))} sales/s (00 only), p50 ${m.latency_ms.p50.toFixed(1)} ms, p99 ${m.latency_ms.p99.toFixed(1)} ms, codes ${codesText(m.response_codes)}, unanswered ${m.unanswered}${cpu}${problems}`
}

export async function benchPos(settings: PosBenchSettings, log: (line: string) => void): Promise<PosBenchResult> {
  const runs: PosRun[] = []
  for (let round = 1; round <= settings.rounds; round++) {
    const order: PosPath[] = round % 2 === 1 ? ['scheme_direct', 'kassa'] : ['kassa', 'scheme_direct']
    for (const path of order) {
      const run = await runPath(path, round, settings)
      log(describePosRun(run))
      runs.push(run)
    }
  }
  return { settings, runs }
}

// ---------------------------------------------------------------------------------------------
// Summary and the docs/benchmarks.md section
// ---------------------------------------------------------------------------------------------

export type PosSummary = {
  kassaRate: number
  kassaP50: number
  kassaP99: number
  ceilingRate: number
  ceilingP50: number
  ceilingP99: number
  /** Kassa POS sales/s ÷ scheme-direct sales/s, of the medians. */
  ratio: number
  kassaCpu: number
  schemeCpuUnderKassa: number
  schemeCpuDirect: number
  allClean: boolean
}

export function summarizePos(result: PosBenchResult): PosSummary {
  const measured = (path: PosPath) => result.runs.filter((run) => run.path === path && run.measured !== undefined)
  const kassa = measured('kassa')
  const direct = measured('scheme_direct')
  const of = (runs: PosRun[], pick: (run: PosRun) => number | undefined) => median(runs.map((run) => pick(run) ?? Number.NaN))
  const kassaRate = of(kassa, (run) => run.measured && approvedRate(run.measured))
  const ceilingRate = of(direct, (run) => run.measured && approvedRate(run.measured))
  return {
    kassaRate,
    kassaP50: of(kassa, (run) => run.measured?.latency_ms.p50),
    kassaP99: of(kassa, (run) => run.measured?.latency_ms.p99),
    ceilingRate,
    ceilingP50: of(direct, (run) => run.measured?.latency_ms.p50),
    ceilingP99: of(direct, (run) => run.measured?.latency_ms.p99),
    ratio: kassaRate / ceilingRate,
    kassaCpu: of(kassa, (run) => cpuPerSale(run, run.kassa?.cpuMicroseconds)),
    schemeCpuUnderKassa: of(kassa, (run) => cpuPerSale(run, run.scheme?.cpuMicroseconds)),
    schemeCpuDirect: of(direct, (run) => cpuPerSale(run, run.scheme?.cpuMicroseconds)),
    allClean: result.runs.length > 0 && result.runs.every((run) => run.problems.length === 0 && run.measured !== undefined),
  }
}

/** The line `npm run bench` prints: `pos     Kassa 812 sales/s … ceiling 9,120 sales/s … ratio 0.09`. */
export function posSummaryLine(summary: PosSummary): string {
  const figures = (rate: number, p50: number, p99: number) => `${Math.round(rate)} sales/s, p50 ${fixed(p50)} ms, p99 ${fixed(p99)} ms`
  return `pos     Kassa ${figures(summary.kassaRate, summary.kassaP50, summary.kassaP99)}; scheme direct ${figures(summary.ceilingRate, summary.ceilingP50, summary.ceilingP99)}; ratio ${fixed(summary.ratio, 2)} (median)`
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
const int = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a')

export const posSectionHeading = '## POS authorizations end to end'

function runRow(run: PosRun): string {
  const m = run.measured
  const problems = run.problems.length === 0 ? 'none' : run.problems.join('; ').replaceAll('|', '/')
  if (m === undefined) return `| ${run.round} | ${pathNames[run.path]} | failed | | | | | | | | | | ${problems} |`
  const kassa = run.kassa
  const database = kassa === undefined ? '–' : `${int(kassa.cardTransactionsByStatus['approved'] ?? 0)} / ${kassa.ledger.ok ? `ok (${int(kassa.ledger.postings)} postings)` : 'FAILED'}`
  const cpu = run.cpu === undefined ? 'n/a' : `${run.cpu.steal.toFixed(1)} / ${run.cpu.idle.toFixed(1)}`
  const kassaCpu = cpuPerSale(run, kassa?.cpuMicroseconds)
  return `| ${run.round} | ${pathNames[run.path]} | ${int(approvedRate(m))} | ${fixed(m.latency_ms.p50)} | ${fixed(m.latency_ms.p99)} | ${fixed(m.latency_ms.max)} | ${codesText(m.response_codes)} | ${m.unanswered} | ${database} | ${kassaCpu === undefined ? '–' : int(kassaCpu)} | ${int(cpuPerSale(run, run.scheme?.cpuMicroseconds))} | ${cpu} | ${problems} |`
}

/** The section of docs/benchmarks.md, with when and how it was measured (it may be written on its own). */
export function renderPosSection(result: PosBenchResult, context: { date: Date; command: string; loadAverage: readonly number[] }): string[] {
  const s = result.settings
  const summary = summarizePos(result)
  const database = result.runs.find((run) => run.database !== undefined)?.database ?? 'SQLite'
  const scheme = result.runs.find((run) => run.scheme !== undefined)?.scheme
  return [
    posSectionHeading,
    '',
    `Measured by \`${context.command}\` on ${context.date.toISOString().replace('T', ' ').slice(0, 16)} UTC, load average ${context.loadAverage.join(', ')} when it started. Median of ${s.rounds} round(s); each round ran both paths back to back, the order alternating, each on a fresh scheme simulator (and Kassa on a fresh database).`,
    '',
    `| ${s.terminals} sales in flight | sales/s (00 only) | p50 | p99 | Kassa CPU per sale | scheme simulator CPU per sale |`,
    '|---|---|---|---|---|---|',
    `| Kassa: terminals → POS host → acquirer → scheme simulator → back | ${int(summary.kassaRate)} | ${fixed(summary.kassaP50)} ms | ${fixed(summary.kassaP99)} ms | ${int(summary.kassaCpu)} µs | ${int(summary.schemeCpuUnderKassa)} µs |`,
    `| ceiling: straight to the scheme simulator over a scheme link | ${int(summary.ceilingRate)} | ${fixed(summary.ceilingP50)} ms | ${fixed(summary.ceilingP99)} ms | – | ${int(summary.schemeCpuDirect)} µs |`,
    `| **Kassa POS / ceiling** | **${fixed(summary.ratio, 2)}** | | | | |`,
    '',
    'Each run:',
    '',
    '| round | path | sales/s (00 only) | p50 ms | p99 ms | max ms | answers by code (measured) | unanswered | approved card transactions in DB / ledger verify (warm-up included) | Kassa CPU µs/sale | scheme CPU µs/sale | machine CPU steal / idle % | problems |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...result.runs.map(runRow),
    '',
    `- **Kassa path.** ${s.terminals} terminals, registered for the run to one merchant, each with its own TCP connection to Kassa's POS terminal host, each selling one sale at a time (a 0200 chip sale, MACed, answer awaited before the next): the load driver of \`kassa pos load\` (\`runPosLoad\`, src/acquiring/pos-host/load.ts), in the runner process. Kassa runs in its own process (bench/pos-main.ts) as \`npm start\` wires it: \`createKassa\` on ${database} in a temporary directory, logger at \`error\`, \`openAcquiring\` (one scheme link), \`startPosHost\`. Each sale is journaled by the host, written as a pending card transaction, sent to the scheme, and landed with its ledger transfer.`,
    `- **Ceiling.** The same ${s.terminals} sales in flight, each loop sending the 0200 Kassa's acquirer sends straight to the scheme simulator over one scheme link (\`openSchemeLink\`, the acquirer's defaults), from the runner process: no POS host, no acquirer, no database. It is what the scheme simulator and the link alone allow on this machine, so the ratio is what Kassa's path costs on top.`,
    `- **Load.** ${s.warmupSeconds} s warm-up (not counted), then ${s.measureSeconds} s measured, per run. Every sale is ${s.amountMinor} minor units (CNY ${formatMinor(s.amountMinor, 'CNY')}) on the approve test card (testCards.approve). Only answers 00 count as sales; every other code is listed and makes the run a problem. Latency is from request written to answer read, of every answer, as the load driver measures it; a run lasts until the last sale in flight is answered.`,
    `- **The scheme simulator** runs in its own process (bench/pos-main.ts) in both paths. The approve card is opened with a balance of ${scheme === undefined ? 'more' : BigInt(scheme.openingMinor).toLocaleString('en-US')} minor units instead of its ${testCards.approve.balanceMinor.toLocaleString('en-US')}, which last ${(testCards.approve.balanceMinor / s.amountMinor).toLocaleString('en-US')} sales of ${s.amountMinor}: fewer than the ceiling makes in one run. Its PAN, expiry, issuer and limit per transaction are the card's. The simulator keeps up to ${scheme === undefined ? 'more' : scheme.transactionsMax.toLocaleString('en-US')} transactions (its default is 1,000,000; beyond, it answers 96).`,
    '- **Checks.** No sale unanswered; the scheme debited the card exactly the approved amounts; Kassa\'s database holds one approved card transaction per sale approved, for the same total, no other status, no scheme request timed out, and `verifyLedger` passes over the whole database.',
    '- Three busy processes (terminals, Kassa, scheme) share the 2 CPUs on the Kassa path, two on the ceiling\'s; CPU per sale (process CPU from ready to finish ÷ sales answered) moves less than sales/s when the machine is shared.',
    '',
  ]
}
