/**
 * The scheme's settlement file for one day: one line per posted transaction (money that moved on an
 * issuer account), then totals per currency. Pure: postings in, text out. The format is in
 * `docs/scheme.md` ("Settlement file"); Kassa's reconciliation reads it.
 *
 * ```
 * H|settlement|2026-01-01|kassa_scheme_simulator|1
 * D|2026-01-01|000002|600100000001|622001******0018|10000|156|00|capture|debit
 * D|2026-01-01|000004|600100000003|622001******0018|2500|156|00|refund|credit
 * T|156|1|10000|1|2500|7500
 * E|2
 * ```
 */
import { assert } from '../../src/domain/assert.js'

export type PostingType = 'sale' | 'capture' | 'refund' | 'reversal'
/** `debit`: the cardholder's account was charged (the acquirer is owed); `credit`: it was paid back. */
export type PostingDirection = 'debit' | 'credit'

export type Posting = {
  /** UTC date of the posting, YYYY-MM-DD: the settlement day it belongs to. */
  readonly date: string
  readonly stan: string
  readonly rrn: string
  /** Masked with `maskPan`: the card number, or the token for a token payment. Never in clear. */
  readonly pan_masked: string
  readonly amount_minor: bigint
  /** ISO 4217 numeric. */
  readonly currency: string
  readonly response_code: string
  readonly type: PostingType
  readonly direction: PostingDirection
}

export const settlementFileVersion = '1'
export const settlementFileSender = 'kassa_scheme_simulator'
const datePattern = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/

/** The file name for a day: `scheme-settlement-2026-01-01.txt`. */
export function settlementFileName(date: string): string {
  assert(datePattern.test(date), 'a settlement date is YYYY-MM-DD')
  return `scheme-settlement-${date}.txt`
}

/**
 * Renders the day's file from every posting (those of other days are left out), in posting order,
 * with one total line per currency in code order. Ends with a newline.
 */
export function renderSettlementFile(date: string, postings: readonly Posting[]): string {
  assert(datePattern.test(date), 'a settlement date is YYYY-MM-DD')
  const lines = [`H|settlement|${date}|${settlementFileSender}|${settlementFileVersion}`]
  const totals = new Map<string, { debitCount: number; debitMinor: bigint; creditCount: number; creditMinor: bigint }>()
  let detailCount = 0
  for (const posting of postings) {
    if (posting.date !== date) continue
    assert(!/[0-9]{13,}/.test(posting.pan_masked), 'a settlement line must not carry a clear PAN')
    assert(posting.amount_minor > 0n, 'a posting moves a positive amount')
    lines.push(
      ['D', posting.date, posting.stan, posting.rrn, posting.pan_masked, posting.amount_minor.toString(), posting.currency, posting.response_code, posting.type, posting.direction].join('|'),
    )
    detailCount++
    const total = totals.get(posting.currency) ?? { debitCount: 0, debitMinor: 0n, creditCount: 0, creditMinor: 0n }
    if (posting.direction === 'debit') {
      total.debitCount++
      total.debitMinor += posting.amount_minor
    } else {
      total.creditCount++
      total.creditMinor += posting.amount_minor
    }
    totals.set(posting.currency, total)
  }
  for (const currency of [...totals.keys()].sort()) {
    const total = totals.get(currency)
    assert(total !== undefined, 'a total for every currency seen')
    lines.push(['T', currency, total.debitCount, total.debitMinor, total.creditCount, total.creditMinor, total.debitMinor - total.creditMinor].join('|'))
  }
  lines.push(`E|${detailCount}`)
  return lines.join('\n') + '\n'
}

export type SettlementFile = {
  readonly date: string
  readonly postings: readonly Posting[]
  readonly totals: readonly {
    readonly currency: string
    readonly debit_count: number
    readonly debit_minor: bigint
    readonly credit_count: number
    readonly credit_minor: bigint
    readonly net_minor: bigint
  }[]
}

/**
 * Reads a settlement file back (for tests and for reconciliation), or returns an error naming the line.
 *
 * @example
 * parseSettlementFile(renderSettlementFile('2026-01-01', postings)) // { ok: true, value: { date, postings, totals } }
 */
export function parseSettlementFile(text: string): { readonly ok: true; readonly value: SettlementFile } | { readonly ok: false; readonly error: string } {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const header = lines[0]?.split('|')
  if (header === undefined || header[0] !== 'H' || header[1] !== 'settlement' || header.length !== 5 || !datePattern.test(header[2] ?? '')) {
    return { ok: false, error: 'line 1: not a settlement header' }
  }
  const date = header[2] ?? ''
  const postings: Posting[] = []
  const totals: SettlementFile['totals'][number][] = []
  let ended = false
  for (let index = 1; index < lines.length; index++) {
    const parts = (lines[index] ?? '').split('|')
    const where = `line ${index + 1}`
    if (ended) return { ok: false, error: `${where}: after the end record` }
    if (parts[0] === 'D' && parts.length === 10) {
      const [, day, stan, rrn, pan_masked, amount, currency, response_code, type, direction] = parts as [string, string, string, string, string, string, string, string, string, string]
      if (!/^[0-9]+$/.test(amount) || !isPostingType(type) || (direction !== 'debit' && direction !== 'credit')) return { ok: false, error: `${where}: malformed detail record` }
      postings.push({ date: day, stan, rrn, pan_masked, amount_minor: BigInt(amount), currency, response_code, type, direction })
    } else if (parts[0] === 'T' && parts.length === 7 && parts.slice(2).every((part) => /^-?[0-9]+$/.test(part))) {
      const [, currency, debitCount, debitMinor, creditCount, creditMinor, netMinor] = parts as [string, string, string, string, string, string, string]
      totals.push({ currency, debit_count: Number(debitCount), debit_minor: BigInt(debitMinor), credit_count: Number(creditCount), credit_minor: BigInt(creditMinor), net_minor: BigInt(netMinor) })
    } else if (parts[0] === 'E' && parts.length === 2) {
      if (parts[1] !== String(postings.length)) return { ok: false, error: `${where}: the end record counts ${parts[1] ?? ''} details, the file has ${postings.length}` }
      ended = true
    } else {
      return { ok: false, error: `${where}: unknown record` }
    }
  }
  if (!ended) return { ok: false, error: 'the file has no end record' }
  return { ok: true, value: { date, postings, totals } }
}

function isPostingType(type: string): type is PostingType {
  return type === 'sale' || type === 'capture' || type === 'refund' || type === 'reversal'
}
