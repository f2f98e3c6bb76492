/**
 * The bank gateway's wire protocol, as pure functions Kassa's netbank and quick-pay channels mirror
 * (and the tests use): building and signing a request, verifying an answer, a notification and the
 * browser's return. No I/O.
 *
 * The signature (byte-exact, `docs/simulators.md`): take every parameter except `sign`, drop those
 * whose value is empty, sort by key (ASCII), write `key=value` joined by `&` with no percent-encoding,
 * and compute HMAC-SHA256 over the UTF-8 bytes of that string with the UTF-8 bytes of the merchant's
 * shared key; `sign` is the lower-case hex digest. Integers (amounts) are written in decimal.
 *
 * @example
 * const body = signBankRequest({ merchant_id: '102100000001', order_no: 'pay_1', amount: 10000n, currency: 'CNY',
 *   notify_url: 'https://kassa.example/notify/icbc', return_url: 'https://kassa.example/return/pay_1', subject: 'Order 1' }, key)
 * await fetch(`${bankUrl}/gateway/orders`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(body) })
 */
import { findCurrency, type CurrencyCode } from '../../src/domain/currency.js'
import { parseAmountMinor } from '../common/amount.js'
import { canonicalString, definedParams, flatParamsFromJson, hmacSha256, parseFormParams, signaturesEqual, type WireParams } from '../common/canonical.js'

export { encodeForm, parseFormParams, type WireParams } from '../common/canonical.js'
export { parseAmountMinor } from '../common/amount.js'

/** An order's status at the bank. */
export type BankOrderStatus = 'WAITING' | 'PAID' | 'FAILED' | 'CLOSED'
export const bankOrderStatuses: readonly BankOrderStatus[] = ['WAITING', 'PAID', 'FAILED', 'CLOSED']

/** What a merchant answers a notification with, as the whole body, to stop the retries. */
export const bankNotificationAcknowledgement = 'success'

/** The bank's `ret_code`s. Every API answer is HTTP 200 with one of them (a 5xx comes from a proxy). */
export const bankReturnCodes = {
  success: '0000',
  signature_invalid: '1001',
  parameter_invalid: '1002',
  merchant_unknown: '1003',
  order_no_reused: '2001',
  order_not_found: '2002',
  order_paid: '2003',
  order_not_paid: '2004',
  order_closed: '2005',
  currency_not_supported: '2006',
  refund_exceeds_paid: '3001',
  refund_no_reused: '3002',
  refund_not_found: '3003',
  account_mismatch: '4001',
  account_blocked: '4002',
  binding_request_not_found: '4003',
  sms_code_wrong: '4004',
  sms_code_expired: '4005',
  sms_code_attempts_exceeded: '4006',
  binding_not_found: '4007',
  insufficient_balance: '4008',
  payment_not_awaiting_code: '4009',
  system_busy: '9999',
} as const

export type BankReturnCodeName = keyof typeof bankReturnCodes
export type BankReturnCode = (typeof bankReturnCodes)[BankReturnCodeName]

/** Parameters before signing: text, or integers (amounts as bigint) written in decimal. */
export type BankParamsInput = Readonly<Record<string, string | number | bigint | undefined>>

/**
 * The string a bank signature covers.
 * @example bankCanonicalString({ order_no: 'A1', amount: '100', sign: 'ab', subject: '' }) // 'amount=100&order_no=A1'
 */
export function bankCanonicalString(params: WireParams): string {
  return canonicalString(params, ['sign'])
}

/** The `sign` of a parameter set: lower-case hex HMAC-SHA256. */
export function bankSignature(params: WireParams, key: string): string {
  return hmacSha256(key, bankCanonicalString(params), 'hex')
}

/**
 * The request's parameters as text with `sign` added; send them as a form or a JSON object.
 * @example signBankRequest({ merchant_id: 'M1', order_no: 'A1' }, 'k') // { merchant_id: 'M1', order_no: 'A1', sign: '…64 hex…' }
 */
export function signBankRequest(params: BankParamsInput, key: string): Record<string, string> {
  const text = definedParams(params)
  return { ...text, sign: bankSignature(text, key) }
}

/** Whether `params.sign` is the signature of the other parameters under `key`. */
export function verifyBankSignature(params: WireParams, key: string): boolean {
  const sign = params.sign
  return sign !== undefined && signaturesEqual(sign.toLowerCase(), bankSignature(params, key))
}

export type BankVerifyFailure = { readonly ok: false; readonly reason: 'malformed' | 'signature_missing' | 'signature_invalid'; readonly message: string }

/**
 * Checks an API answer (the parsed JSON). Answers refusing a request the bank could not tie to a
 * merchant's key (`1001`, `1003`, and `1002` before the signature was checked) carry no `sign`; the
 * result says `signature_missing` and still gives `ret_code` for the caller to act on.
 */
export function verifyBankAnswer(json: unknown, key: string): { readonly ok: true; readonly params: WireParams } | (BankVerifyFailure & { readonly ret_code?: string }) {
  const flat = flatParamsFromJson(json)
  if (!flat.ok) return { ok: false, reason: 'malformed', message: flat.message }
  const retCode = flat.params.ret_code
  if (flat.params.sign === undefined) return { ok: false, reason: 'signature_missing', message: 'the answer is not signed', ...(retCode === undefined ? {} : { ret_code: retCode }) }
  if (!verifyBankSignature(flat.params, key)) return { ok: false, reason: 'signature_invalid', message: 'the answer signature does not verify' }
  return { ok: true, params: flat.params }
}

/** An order status report from the bank: a notification or the browser's return. */
export type BankOrderReport = {
  readonly merchant_id: string
  readonly order_no: string
  readonly bank_order_id: string
  readonly status: BankOrderStatus
  readonly amount_minor: bigint
  readonly currency: CurrencyCode
  /** `yyyyMMddHHmmss`, Beijing time, when PAID. */
  readonly paid_at: string | undefined
  readonly failure_reason: string | undefined
}

export type BankNotification = BankOrderReport & {
  /** Unique per notification; a duplicate carries the same one. */
  readonly notify_id: string
  readonly notify_time: string
  readonly bank_id: string
}

export type BankReportResult<T> = { readonly ok: true; readonly report: T } | BankVerifyFailure

/**
 * Verifies and reads an asynchronous notification (`POST notify_url`, form-encoded). Check the
 * result's order against your own: a genuine signature does not make the amount right.
 *
 * @example
 * const result = verifyBankNotification(rawBody, key)
 * if (result.ok && result.report.status === 'PAID') { … } // then answer the body `success`
 */
export function verifyBankNotification(body: string | WireParams, key: string): BankReportResult<BankNotification> {
  const parsed = typeof body === 'string' ? parseFormParams(body) : ({ ok: true, params: body } as const)
  if (!parsed.ok) return { ok: false, reason: 'malformed', message: parsed.message }
  const report = readReport(parsed.params, key)
  if (!report.ok) return report
  const notifyId = parsed.params.notify_id
  const notifyTime = parsed.params.notify_time
  const bankId = parsed.params.bank_id
  if (notifyId === undefined || notifyTime === undefined || bankId === undefined) return { ok: false, reason: 'malformed', message: 'notify_id, notify_time and bank_id are required' }
  return { ok: true, report: { ...report.report, notify_id: notifyId, notify_time: notifyTime, bank_id: bankId } }
}

/**
 * Verifies and reads the query string the bank appends to `return_url` when it sends the browser
 * back. Every parameter of the URL counts (the merchant's own ones too), except `sign`.
 */
export function verifyBankReturn(query: string | URLSearchParams, key: string): BankReportResult<BankOrderReport> {
  const search = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query
  const params: Record<string, string> = {}
  for (const [name, value] of search) {
    if (Object.hasOwn(params, name)) return { ok: false, reason: 'malformed', message: `${name} is repeated` }
    params[name] = value
  }
  return readReport(params, key)
}

function readReport(params: WireParams, key: string): BankReportResult<BankOrderReport> {
  if (params.sign === undefined) return { ok: false, reason: 'signature_missing', message: 'no sign parameter' }
  if (!verifyBankSignature(params, key)) return { ok: false, reason: 'signature_invalid', message: 'the signature does not verify' }
  const { merchant_id, order_no, bank_order_id, status, amount, currency } = params
  if (merchant_id === undefined || order_no === undefined || bank_order_id === undefined) return { ok: false, reason: 'malformed', message: 'merchant_id, order_no and bank_order_id are required' }
  if (!bankOrderStatuses.includes(status as BankOrderStatus)) return { ok: false, reason: 'malformed', message: `unknown status ${String(status)}` }
  const amountMinor = parseAmountMinor(amount)
  if (amountMinor === undefined) return { ok: false, reason: 'malformed', message: 'amount is not a positive integer of minor units' }
  const found = currency === undefined ? undefined : findCurrency(currency)
  if (found === undefined) return { ok: false, reason: 'malformed', message: 'currency is not an ISO 4217 code' }
  return {
    ok: true,
    report: { merchant_id, order_no, bank_order_id, status: status as BankOrderStatus, amount_minor: amountMinor, currency: found.code, paid_at: params.paid_at, failure_reason: params.failure_reason },
  }
}
