/**
 * Many terminals at once against a POS host (`kassa pos load`, and the end-to-end benchmark): each
 * terminal has its own connection and does what a real one does, one sale at a time, until the
 * duration is over. Reports sales per second, latency percentiles and the response codes.
 */
import { assert } from '../../domain/assert.js'
import { paymentRequest, PosTerminalConnection, type TerminalCard, type TerminalCredentials } from './terminal.js'

export const loadTerminalsMax = 1_000
export const loadDurationMsMax = 3_600_000
/** Latencies kept for the percentiles; beyond that, sales are counted but not timed. */
const latencySamplesMax = 1_000_000

export type PosLoadOptions = {
  readonly host: string
  readonly port: number
  readonly terminals: readonly TerminalCredentials[]
  readonly durationMs: number
  readonly card: TerminalCard
  /** Sale amounts cycle from `amountMinMinor` to `amountMaxMinor` (1 to 100 by default). */
  readonly amountMinMinor?: bigint
  readonly amountMaxMinor?: bigint
  /** Per sale; 30,000 ms by default. */
  readonly timeoutMs?: number
  /** The first STAN of every terminal; 1 by default. */
  readonly stanFirst?: number
  readonly clock?: { now(): number }
}

export type PosLoadReport = {
  readonly terminals: number
  readonly duration_ms: number
  /** Sales sent. */
  readonly sales: number
  /** Sales answered (any code). */
  readonly answered: number
  readonly approved: number
  /** The sum of the approved amounts: what the ledger must show as taken. */
  readonly approved_amount_minor: bigint
  /** Sales with no answer (timeout, closed connection, connection refused). */
  readonly unanswered: number
  readonly sales_per_second: number
  readonly latency_ms: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly response_codes: Readonly<Record<string, number>>
}

/**
 * @example
 * const report = await runPosLoad({ host: '127.0.0.1', port: 8583, terminals, durationMs: 30_000, card: { pan: '6220010000000018', expiry: '3012' } })
 * console.log(formatLoadReport(report))
 */
export async function runPosLoad(options: PosLoadOptions): Promise<PosLoadReport> {
  const amountMin = options.amountMinMinor ?? 1n
  const amountMax = options.amountMaxMinor ?? 100n
  assert(options.terminals.length >= 1 && options.terminals.length <= loadTerminalsMax, `1 to ${loadTerminalsMax} terminals`)
  assert(Number.isSafeInteger(options.durationMs) && options.durationMs >= 1 && options.durationMs <= loadDurationMsMax, `the duration is 1 ms to ${loadDurationMsMax} ms`)
  assert(amountMin >= 1n && amountMin <= amountMax, 'amounts are 1 ≤ min ≤ max')
  const clock = options.clock ?? { now: () => Date.now() }
  const latencies: number[] = []
  const codes: Record<string, number> = {}
  const totals: LoadTotals = { sales: 0, answered: 0, approved: 0, unanswered: 0, approvedAmount: 0n }
  const startedMs = performance.now()
  const deadlineMs = startedMs + options.durationMs

  const drive = async (terminal: TerminalCredentials, index: number): Promise<void> => {
    let connection: PosTerminalConnection
    try {
      connection = await PosTerminalConnection.open(options.host, options.port)
    } catch {
      totals.unanswered++
      return
    }
    let stan = options.stanFirst ?? 1
    let amount = amountMin + (BigInt(index) % (amountMax - amountMin + 1n))
    try {
      // Bounded by the deadline, and by 999,999 STANs a terminal may use.
      while (performance.now() < deadlineMs && stan <= 999_999 && !connection.isClosed) {
        const request = paymentRequest({ terminal, stan, nowMs: clock.now(), amount, card: options.card })
        const sentMs = performance.now()
        totals.sales++
        const result = await connection.exchange(request, terminal.mac_key, options.timeoutMs ?? 30_000)
        if (result.outcome !== 'answered') {
          totals.unanswered++
          break
        }
        totals.answered++
        if (latencies.length < latencySamplesMax) latencies.push(performance.now() - sentMs)
        const code = result.answer.fields[39] ?? '??'
        codes[code] = (codes[code] ?? 0) + 1
        if (code === '00' && result.mac === 'valid') {
          totals.approved++
          totals.approvedAmount += amount
        }
        stan++
        amount = amount >= amountMax ? amountMin : amount + 1n
      }
    } finally {
      connection.close()
    }
  }

  await Promise.all(options.terminals.map((terminal, index) => drive(terminal, index)))
  return loadReport(options.terminals.length, performance.now() - startedMs, totals, latencies, codes)
}

export type LoadTotals = { sales: number; answered: number; approved: number; unanswered: number; approvedAmount: bigint }

/** The report of a load run from what its drivers counted (latencies are sorted here). */
export function loadReport(terminals: number, durationMs: number, totals: LoadTotals, latencies: number[], codes: Record<string, number>): PosLoadReport {
  latencies.sort((a, b) => a - b)
  return {
    terminals,
    duration_ms: Math.round(durationMs),
    sales: totals.sales,
    answered: totals.answered,
    approved: totals.approved,
    approved_amount_minor: totals.approvedAmount,
    unanswered: totals.unanswered,
    sales_per_second: durationMs > 0 ? (totals.answered * 1000) / durationMs : 0,
    latency_ms: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    response_codes: codes,
  }
}

/** The value at `fraction` of sorted `values` (nearest rank); 0 when empty. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)))
  return sorted[rank - 1] ?? 0
}

/** One line: `50 terminals, 30.0 s: 12345 sales, 411.5 sales/s, p50 10.2 ms, p99 45.1 ms, codes 00=12340 91=5`. */
export function formatLoadReport(report: PosLoadReport): string {
  const codes = Object.entries(report.response_codes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}=${count}`)
    .join(' ')
  return [
    `${report.terminals} terminals, ${(report.duration_ms / 1000).toFixed(1)} s: ${report.sales} sales, ${report.sales_per_second.toFixed(1)} sales/s`,
    `p50 ${report.latency_ms.p50.toFixed(1)} ms, p99 ${report.latency_ms.p99.toFixed(1)} ms`,
    `codes ${codes === '' ? 'none' : codes}`,
    `approved ${report.approved} for ${report.approved_amount_minor} minor units`,
    `unanswered ${report.unanswered}`,
  ].join(', ')
}
