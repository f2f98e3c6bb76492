/**
 * The two server processes of the POS benchmark (bench/pos.ts forks them; not started by hand):
 *
 *   node dist/bench/pos-main.js scheme                      the card scheme simulator
 *   node dist/bench/pos-main.js kassa <scheme port> <n>     Kassa on SQLite: its acquirer on a link to
 *                                                           that scheme, the POS terminal host, n terminals
 *
 * Each says `ready` over IPC; on `finish` it reports what it counted and exits. Each exits by itself
 * after BENCH_LIFETIME_MS and when the runner goes away (bench/lib/server-process.ts).
 */
import { sql } from 'kysely'
import { startSchemeSimulator, testCards, type TestCard } from '../sim/scheme/index.js'
import { openAcquiring } from '../src/acquiring/open.js'
import { startPosHost } from '../src/acquiring/pos-host/index.js'
import { registerLoadTerminals } from '../src/cli/pos.js'
import { verifyLedger } from '../src/ledger/verify.js'
import type { KassaReport, PosChildMessage, SchemeReport } from './pos.js'
import { describeDatabase, failAndExit, finishRequested, guardProcess, openBenchKassa, sendToRunner, serverSettings, temporaryDataDirectory, type ServerSettings } from './lib/server-process.js'

/**
 * The approve card's opening balance in the benchmark: 100,000.00 CNY lasts 100,000 sales of 1.00,
 * which the scheme-direct ceiling can spend within one run. Raised so no run can exhaust it; every
 * other property of the card (PAN, expiry, limit per transaction, issuer) stays as in testCards.
 */
const benchApproveBalanceMinor = 10n ** 15n

const benchCards: TestCard[] = Object.values(testCards).map((card) => (card.pan === testCards.approve.pan ? { ...card, balanceMinor: benchApproveBalanceMinor } : card))

/**
 * The simulator keeps every transaction (for reversals and the settlement file), 1,000,000 by
 * default, and answers 96 beyond; the ceiling keeps ~500,000 in one run here (~37,000 sales/s for
 * 13 s, ~1.1 GB). Twice the default leaves room for a faster machine.
 */
const schemeTransactionsMax = 2_000_000
const linkUpTimeoutMs = 5_000
const hostCloseGraceMs = 10_000

/** CPU time (user + system) since `started`, in microseconds. */
function cpuSince(started: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(started)
  return used.user + used.system
}

async function serveScheme(settings: ServerSettings): Promise<void> {
  guardProcess(settings)
  const scheme = await startSchemeSimulator({ port: 0, host: '127.0.0.1', seed: 1, cards: benchCards, transactionsMax: schemeTransactionsMax })
  const finish = finishRequested()
  const cpuStarted = process.cpuUsage()
  await sendToRunner<PosChildMessage>({ type: 'ready', port: scheme.port })
  await finish
  const cpuMicroseconds = cpuSince(cpuStarted)
  const account = scheme.issuers.account(testCards.approve.pan)
  const stats = scheme.stats()
  await scheme.close()
  const report: SchemeReport = {
    type: 'report',
    openingMinor: String(benchApproveBalanceMinor),
    spentMinor: String(benchApproveBalanceMinor - (account?.balance_minor ?? benchApproveBalanceMinor)),
    heldMinor: String(account?.held_minor ?? 0n),
    transactionsMax: schemeTransactionsMax,
    messagesReceived: stats.messages_received,
    cpuMicroseconds,
  }
  await sendToRunner<PosChildMessage>(report)
  process.exit(0)
}

async function serveKassa(settings: ServerSettings, schemePort: number, terminalCount: number): Promise<void> {
  const dataDirectory = temporaryDataDirectory()
  guardProcess(settings, dataDirectory)
  const { kassa } = await openBenchKassa(settings, dataDirectory)
  const { store, clock, masterKey, logger } = kassa
  // Wired as runPosStory (src/demo/pos.ts) and `npm start` wire it: the acquirer on one link to the
  // scheme, the POS host in front of the acquirer, all in this process.
  const acquiring = await openAcquiring({ store, clock, masterKey, logger }, { scheme: { host: '127.0.0.1', port: schemePort } })
  if (!(await acquiring.link.waitUntilUp(linkUpTimeoutMs))) throw new Error(`the scheme on port ${schemePort} did not answer within ${linkUpTimeoutMs} ms`)
  const host = await startPosHost({ port: 0, host: '127.0.0.1', store, clock, masterKey, acquirer: acquiring.acquirer, reverse: acquiring.reverse, logger })
  const terminals = await registerLoadTerminals(kassa, terminalCount)
  const database = await describeDatabase(store.db, 'sqlite')
  const finish = finishRequested()
  const cpuStarted = process.cpuUsage()
  await sendToRunner<PosChildMessage>({ type: 'ready', port: host.port, terminals, dataDirectory, ...database })
  await finish
  const cpuMicroseconds = cpuSince(cpuStarted)
  // The terminals wait for every answer before they stop, so nothing should be left; the grace is a bound.
  await host.close(hostCloseGraceMs)
  const linkStats = acquiring.link.stats()
  await acquiring.close()
  const rows = await sql<{ status: string; n: number | bigint; amount: number | bigint | null }>`select status, count(*) as n, sum(amount) as amount from card_transactions group by status`.execute(store.db)
  const verification = await verifyLedger(store.db)
  const report: KassaReport = {
    type: 'report',
    cardTransactionsByStatus: Object.fromEntries(rows.rows.map((row) => [row.status, Number(row.n)])),
    approvedAmountMinor: String(rows.rows.find((row) => row.status === 'approved')?.amount ?? 0),
    hostResponseCodes: host.stats().response_codes,
    linkTimedOut: linkStats.timed_out,
    ledger: { ok: verification.ok, violations: verification.violations.slice(0, 10), postings: verification.checked.postings },
    cpuMicroseconds,
  }
  await kassa.close()
  await sendToRunner<PosChildMessage>(report)
  process.exit(0)
}

async function main(): Promise<void> {
  const settings = serverSettings()
  const [role, schemePortText, terminalsText] = process.argv.slice(2)
  if (role === 'scheme') return serveScheme(settings)
  const schemePort = Number(schemePortText)
  const terminalCount = Number(terminalsText)
  if (role !== 'kassa' || !Number.isSafeInteger(schemePort) || schemePort < 1 || schemePort > 65_535 || !Number.isSafeInteger(terminalCount)) {
    throw new Error('usage: pos-main.js scheme | pos-main.js kassa <scheme port> <terminals>')
  }
  return serveKassa(settings, schemePort, terminalCount)
}

main().catch(failAndExit)
