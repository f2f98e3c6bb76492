/**
 * `npm run bench`: the payment benchmark against its ceiling, the latency at 80 % of saturation,
 * PostgreSQL as an extra row when it answers, the codec benchmarks when their modules exist, POS
 * card authorizations end to end against the scheme simulator alone (bench/pos.ts); then writes
 * docs/benchmarks.md. About 5 minutes; stops itself after `globalTimeLimitMs` in any case.
 *
 * Flags: --quick (one short round, for trying the harness; does not write the docs unless --write),
 * --profile (one Kassa run under `node --cpu-prof`, prints the top self-time functions),
 * --only pos (only the POS benchmark; rewrites only its section of docs/benchmarks.md),
 * --no-postgres, --no-codecs, --no-pos, --no-door, --no-write; --only pos|door runs one and rewrites its section. BENCH_POSTGRES_URL overrides the PostgreSQL URL.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { killChildren } from './lib/child.js'
import { runCodecBench, type CodecOutcome } from './lib/codecs.js'
import { describeMachine } from './lib/machine.js'
import { renderReport, replaceSection, summarize } from './lib/report.js'
import { benchPayments, defaultPaymentBenchSettings, profilePayments, type PaymentBenchSettings } from './payments.js'
import { defaultDoorBenchSettings, doorSummaryLine, renderDoorSection, runDoorBench } from './lib/door-section.js'
import { benchPos, defaultPosBenchSettings, posSummaryLine, renderPosSection, summarizePos, type PosBenchSettings } from './pos.js'

const globalTimeLimitMs = 480_000
const defaultPostgresUrl = 'postgres://postgres@127.0.0.1:5432/test'
const codecDurationMs = 1_000
const codecTimeoutMs = 45_000

const args = process.argv.slice(2)
const flags = new Set(args)
const quick = flags.has('--quick')
/** The benchmarks `--only` can pick. */
const selectable = ['pos', 'door'] as const
const onlyIndex = args.indexOf('--only')
const only = onlyIndex < 0 ? undefined : args[onlyIndex + 1]
const docsPath = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url))
const writeDocs = !flags.has('--no-write') && (!quick || flags.has('--write'))

function log(line: string): void {
  process.stdout.write(`${line}\n`)
}

function postgresUrl(): string | undefined {
  if (flags.has('--no-postgres')) return undefined
  const fromEnv = process.env['BENCH_POSTGRES_URL'] ?? process.env['DATABASE_URL']
  if (fromEnv !== undefined && /^postgres(ql)?:\/\//.test(fromEnv)) return fromEnv
  return defaultPostgresUrl
}

/** The POS benchmark, its summary line printed; that line, its docs section, and whether every run was clean. */
async function runPos(command: string): Promise<{ section: string[]; line: string; clean: boolean }> {
  const settings: PosBenchSettings = { ...defaultPosBenchSettings, ...(quick ? { rounds: 1, warmupSeconds: 1, measureSeconds: 3 } : {}) }
  const loadAverage = describeMachine().loadAverage
  const date = new Date()
  log(`pos: ${settings.rounds} round(s) of scheme direct + Kassa POS, ${settings.terminals} terminals, ${settings.warmupSeconds} s warm-up + ${settings.measureSeconds} s each`)
  const result = await benchPos(settings, log)
  const summary = summarizePos(result)
  const line = posSummaryLine(summary)
  log(line)
  return { section: renderPosSection(result, { date, command, loadAverage }), line, clean: summary.allClean }
}

/** The door flow benchmark, its summary line printed; its docs section, and whether it was clean. */
async function runDoor(command: string): Promise<{ section: string[]; line: string; clean: boolean }> {
  const settings = quick ? { parcels: 300, concurrency: 8 } : defaultDoorBenchSettings
  log(`door: ${settings.parcels} parcels, ${settings.concurrency} doors at once`)
  const result = await runDoorBench(settings)
  const line = doorSummaryLine(result)
  log(line)
  return { section: renderDoorSection(result, settings, { date: new Date(), command }), line, clean: result.errors === 0 && result.ledgerOk }
}

/** `--only pos|door`: one benchmark alone; its section of docs/benchmarks.md is rewritten, the rest kept. */
async function mainOnly(run: (command: string) => Promise<{ section: string[]; clean: boolean }>): Promise<number> {
  const outcome = await run(`npm run bench -- ${args.join(' ')}`)
  if (writeDocs) {
    writeFileSync(docsPath, replaceSection(readFileSync(docsPath, 'utf8'), outcome.section, '## Codecs'))
    log(`\nwrote the "${outcome.section[0]}" section of ${docsPath}`)
  }
  return outcome.clean ? 0 : 1
}

async function main(): Promise<number> {
  if (only !== undefined) {
    if (only === 'pos') return mainOnly(runPos)
    if (only === 'door') return mainOnly(runDoor)
    throw new Error(`--only takes one of: ${selectable.join(', ')}`)
  }
  const started = Date.now()
  // Described before the load starts, so the load average is other work's, not ours.
  const machine = describeMachine()
  const settings: PaymentBenchSettings = {
    ...defaultPaymentBenchSettings,
    ...(quick ? { rounds: 1, warmupSeconds: 1, measureSeconds: 3 } : {}),
    postgresUrl: postgresUrl(),
  }

  if (flags.has('--profile')) {
    const run = await profilePayments({ ...settings, postgresUrl: undefined }, log)
    const profile = run.profile
    if (profile === undefined) return 1
    log(`\nSelf time under load (${profile.sampledMs.toFixed(0)} ms sampled in a ${profile.windowMs.toFixed(0)} ms window), by area:`)
    for (const line of profile.byArea) log(`  ${line.percent.toFixed(1).padStart(5)} %  ${line.name}`)
    log('\nTop functions by self time:')
    for (const line of profile.top) log(`  ${line.percent.toFixed(1).padStart(5)} %  ${line.name}  ${line.where}`)
    return run.problems.length === 0 ? 0 : 1
  }

  log(`payments: ${settings.rounds} round(s) of ceiling + Kassa, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.measureSeconds} s each`)
  const result = await benchPayments(settings, log)

  const codecs: CodecOutcome[] = []
  if (!flags.has('--no-codecs')) {
    const durationMs = quick ? 200 : codecDurationMs
    codecs.push(await runCodecBench('EMVCo QR (bench/qr.ts)', 'qr', 'benchQrCodec', durationMs, codecTimeoutMs))
    codecs.push(await runCodecBench('ISO 8583 (bench/iso8583.ts)', 'iso8583', 'benchIso8583Codec', durationMs, codecTimeoutMs))
    for (const outcome of codecs) log(outcome.status === 'ok' ? `${outcome.title}: ${outcome.rows.length} rows in ${outcome.elapsedMs} ms` : `${outcome.title}: ${outcome.status}, ${outcome.reason}`)
  }

  const command = quick ? 'npm run bench -- --quick' : 'npm run bench'
  const pos = flags.has('--no-pos') ? undefined : await runPos(command)
  const door = flags.has('--no-door') ? undefined : await runDoor(command)

  const summary = summarize(result)
  log('')
  log(`Kassa   ${Math.round(summary.kassaRate)} payments/s, p50 ${summary.kassaP50} ms, p99 ${summary.kassaP99} ms (median)`)
  log(`ceiling ${Math.round(summary.ceilingRate)} payments/s, p50 ${summary.ceilingP50} ms, p99 ${summary.ceilingP99} ms (median)`)
  log(`ratio   ${summary.ratio.toFixed(2)}`)
  if (pos !== undefined) log(pos.line)
  if (door !== undefined) log(door.line)
  log(`80 %    autocannon overallRate: ${summary.lightLoadRate === undefined ? 'n/a' : Math.round(summary.lightLoadRate)} payments/s, p99 ${summary.lightLoadP99 ?? 'n/a'} ms`)
  log(`80 %    evenly paced:           ${summary.pacedRate === undefined ? 'n/a' : Math.round(summary.pacedRate)} payments/s, p99 ${summary.pacedP99 ?? 'n/a'} ms`)
  for (const verdict of summary.verdicts) log(`${verdict.met === undefined ? 'n/a   ' : verdict.met ? 'MET   ' : 'MISSED'} ${verdict.name}: ${verdict.figure}`)

  const sqliteRun = [...result.saturation, result.lightLoad].find((run) => run?.ready?.engine === 'sqlite')
  const report = renderReport({
    date: new Date(),
    machine,
    durability: sqliteRun?.ready?.durability ?? 'unknown',
    databaseVersion: sqliteRun?.ready?.databaseVersion ?? 'SQLite (version unknown)',
    postgresVersion: result.postgres?.ready?.databaseVersion,
    result,
    codecs,
    posSection: pos?.section,
    elapsedSeconds: (Date.now() - started) / 1000,
    command,
  })
  const markdown = door === undefined ? report : replaceSection(report, door.section, '## Codecs')
  if (writeDocs) {
    writeFileSync(docsPath, markdown)
    log(`\nwrote ${docsPath}`)
  }
  // The benchmark failed if a run could not be trusted; missing a target is a result, not a failure.
  return summary.allClean && (pos?.clean ?? true) && (door?.clean ?? true) ? 0 : 1
}

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${globalTimeLimitMs / 1000} s, stopping\n`)
  killChildren()
  process.exit(2)
}, globalTimeLimitMs)
watchdog.unref()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren()
    process.exit(130)
  })
}

main().then(
  (code) => {
    killChildren()
    process.exit(code)
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    killChildren()
    process.exit(1)
  },
)
