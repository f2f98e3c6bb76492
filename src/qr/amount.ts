import { assert } from '../domain/assert.js'
import type { Currency } from '../domain/currency.js'
import { issue, type QrIssue } from './issues.js'
import type { MpmFields } from './mpm-types.js'

/**
 * Amounts in an MPM payload are decimal strings ("98.73", "98.", "98"): digits, at most one ".",
 * no separators or symbols. Kassa reads them into bigint minor units with the currency exponent,
 * never through a float.
 */
const amountPattern = /^([0-9]+)(?:\.([0-9]*))?$/

export type AmountReadResult = { readonly ok: true; readonly amountMinor: bigint } | { readonly ok: false; readonly error: QrIssue }

/** The decimals of an amount string, or undefined when it is not a decimal number. */
export function amountDecimals(text: string): number | undefined {
  const match = amountPattern.exec(text)
  if (match === null) return undefined
  return (match[2] ?? '').length
}

/**
 * Reads a decimal amount string into minor units of a currency with `exponent` decimals.
 *
 * @example parseAmountMinor('98.7', 2, '54') // { ok: true, amountMinor: 9870n }
 */
export function parseAmountMinor(text: string, exponent: number, id: string): AmountReadResult {
  assert(Number.isInteger(exponent) && exponent >= 0 && exponent <= 4, `currency exponent out of range: ${exponent}`)
  const match = amountPattern.exec(text)
  if (match === null) {
    return { ok: false, error: issue(id, 'amount_invalid', `The amount "${text}" is not a decimal number such as "12.34".`) }
  }
  const whole = match[1] ?? ''
  const decimals = match[2] ?? ''
  if (decimals.length > exponent) {
    return {
      ok: false,
      error: issue(id, 'amount_precision_invalid', `The amount "${text}" has ${decimals.length} decimal(s); the currency has ${exponent}.`),
    }
  }
  const amountMinor = BigInt(whole + decimals.padEnd(exponent, '0'))
  if (amountMinor === 0n) {
    return { ok: false, error: issue(id, 'amount_invalid', `The amount "${text}" is zero; a payment amount must be more.`) }
  }
  return { ok: true, amountMinor }
}

/**
 * Formats minor units as the MPM amount string with exactly `exponent` decimals.
 *
 * @example formatAmountMinor(12345n, 2) // '123.45'
 * @example formatAmountMinor(5n, 2) // '0.05'
 * @example formatAmountMinor(500n, 0) // '500'
 */
export function formatAmountMinor(amountMinor: bigint, exponent: number): string {
  assert(amountMinor >= 0n, 'amounts in a QR code are not negative')
  assert(Number.isInteger(exponent) && exponent >= 0 && exponent <= 4, `currency exponent out of range: ${exponent}`)
  const digits = amountMinor.toString().padStart(exponent + 1, '0')
  if (exponent === 0) return digits
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
}

/**
 * Reads the transaction amount (ID 54) of a decoded MPM payload in minor units of `currency`.
 * An error value when the amount is missing, not a decimal number, zero, has more decimals than
 * the currency, or the payload's currency (ID 53) is another one.
 *
 * @example
 * const decoded = decodeMpm(payload)
 * const amount = amountMinorFromMpm(decoded.fields, findCurrency('CNY')!)
 * if (amount.ok) amount.amountMinor // 2372n for "23.72"
 */
export function amountMinorFromMpm(fields: MpmFields, currency: Currency): AmountReadResult {
  const currencyNumeric = fields['53']
  if (typeof currencyNumeric === 'string' && currencyNumeric !== currency.numeric) {
    return {
      ok: false,
      error: issue('53', 'currency_mismatch', `The payload is in currency ${currencyNumeric}, not ${currency.numeric} (${currency.code}).`),
    }
  }
  const amount = fields['54']
  if (amount === undefined) return { ok: false, error: issue('54', 'mandatory_missing', 'The payload has no transaction amount (54).') }
  if (typeof amount !== 'string') return { ok: false, error: issue('54', 'amount_invalid', 'The transaction amount (54) is not a string.') }
  return parseAmountMinor(amount, currency.exponent, '54')
}
