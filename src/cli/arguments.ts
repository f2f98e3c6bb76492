import { InvalidArgumentError } from 'commander'
import { isCurrencyCode } from '../domain/currency.js'
import { AMOUNT_MINOR_MAX } from '../domain/money.js'

/**
 * Parsers for the CLI's option values: the same bounds the API's JSON schemas set, because the CLI
 * writes through the services directly and no schema stands in between. Each throws commander's
 * InvalidArgumentError, which `kassa` prints as one line naming the option.
 */

export function minorUnits(text: string): bigint {
  if (!/^[0-9]{1,12}$/.test(text) || BigInt(text) <= 0n || BigInt(text) > AMOUNT_MINOR_MAX) {
    throw new InvalidArgumentError('amounts are positive integers in minor units (fen, cents), at most 999999999999')
  }
  return BigInt(text)
}

export function currencyCode(text: string): string {
  if (!isCurrencyCode(text)) throw new InvalidArgumentError('not an active ISO 4217 currency code (e.g. CNY)')
  return text
}

/** Digits only: `Number` would also take " 5", "1e3" and "0x10". */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text)
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) throw new InvalidArgumentError(`an integer from ${min} to ${max}`)
    return value
  }
}

/** Text of at most `max` characters; `required` also refuses text that is empty or only spaces. */
export function textOf(max: number, { required }: { required: boolean }): (text: string) => string {
  return (text) => {
    if (required && text.trim() === '') throw new InvalidArgumentError('must not be empty or blank')
    if (text.length > max) throw new InvalidArgumentError(`at most ${max} characters (got ${text.length})`)
    return text
  }
}

/** A real calendar day as YYYY-MM-DD: `Date.parse` alone takes 2026-02-31 as 3 March. */
export function calendarDay(text: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) throw new InvalidArgumentError('a day that exists, as YYYY-MM-DD')
  return text
}
