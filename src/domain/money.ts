import { assert } from './assert.js'
import { currency as currencyOf, type CurrencyCode } from './currency.js'

/**
 * Money is an integer count of minor units with its currency. Never a float, never major units.
 * `bigint` throughout: parse to it at the edges (HTTP after Number.isSafeInteger, drivers natively).
 */
export type Money<C extends CurrencyCode = CurrencyCode> = {
  readonly amount_minor: bigint
  readonly currency: C
}

/**
 * The largest amount one payment may carry: twelve digits, the width of ISO 8583 field 4, which
 * also keeps sums of many payments far inside int64 columns.
 */
export const AMOUNT_MINOR_MAX = 999_999_999_999n

export function money<C extends CurrencyCode>(amount_minor: bigint, currency: C): Money<C> {
  assert(typeof amount_minor === 'bigint', 'amount_minor must be a bigint')
  return { amount_minor, currency }
}

export function add<C extends CurrencyCode>(a: Money<C>, b: Money<NoInfer<C>>): Money<C> {
  assert(a.currency === b.currency, `currencies differ: ${a.currency} and ${b.currency}`)
  return { amount_minor: a.amount_minor + b.amount_minor, currency: a.currency }
}

export function subtract<C extends CurrencyCode>(a: Money<C>, b: Money<NoInfer<C>>): Money<C> {
  assert(a.currency === b.currency, `currencies differ: ${a.currency} and ${b.currency}`)
  return { amount_minor: a.amount_minor - b.amount_minor, currency: a.currency }
}

export type Rounding = 'half_up' | 'half_even' | 'down'

/** Divides two non-negative bigints with a named rounding rule. */
export function divideRounded(numerator: bigint, denominator: bigint, rounding: Rounding): bigint {
  assert(numerator >= 0n && denominator > 0n, 'divideRounded takes a non-negative numerator and positive denominator')
  const quotient = numerator / denominator
  const remainder = numerator % denominator
  switch (rounding) {
    case 'down':
      return quotient
    case 'half_up':
      return remainder * 2n >= denominator ? quotient + 1n : quotient
    case 'half_even': {
      const twice = remainder * 2n
      if (twice > denominator) return quotient + 1n
      if (twice < denominator) return quotient
      return quotient % 2n === 0n ? quotient : quotient + 1n
    }
  }
}

/**
 * A fee in basis points (1 bp = 0.01 %), integer arithmetic with a named rounding.
 * @example feeBasisPoints(10_000n, 60, 'half_up') // 60n: 0.60 % of 100.00 is 0.60
 */
export function feeBasisPoints(amount_minor: bigint, basis_points: number, rounding: Rounding): bigint {
  assert(Number.isSafeInteger(basis_points) && basis_points >= 0 && basis_points <= 10_000, 'basis points out of range')
  return divideRounded(amount_minor * BigInt(basis_points), 10_000n, rounding)
}

/**
 * Splits an amount by integer weights; the remainder goes one minor unit at a time to the first
 * shares, so the parts always add up to the whole and no cent disappears.
 * @example allocate(100n, [1, 1, 1]) // [34n, 33n, 33n]
 */
export function allocate(amount_minor: bigint, weights: readonly number[]): bigint[] {
  assert(weights.length > 0, 'allocate needs at least one weight')
  // A negative amount (a reversal) is split like its opposite, so both splits mirror each other.
  if (amount_minor < 0n) return allocate(-amount_minor, weights).map((share) => -share)
  assert(weights.every((w) => Number.isSafeInteger(w) && w >= 0), 'weights are non-negative integers')
  const total = weights.reduce((sum, w) => sum + BigInt(w), 0n)
  assert(total > 0n, 'weights must not all be zero')
  const shares = weights.map((w) => (amount_minor * BigInt(w)) / total)
  let remainder = amount_minor - shares.reduce((sum, s) => sum + s, 0n)
  for (let i = 0; remainder > 0n; i = (i + 1) % shares.length) {
    if (weights[i] === 0) continue
    shares[i] = (shares[i] ?? 0n) + 1n
    remainder -= 1n
  }
  assert(shares.reduce((sum, s) => sum + s, 0n) === amount_minor, 'allocation lost a minor unit')
  return shares
}

/**
 * Renders minor units as a decimal string for display only: formatMinor(12345n, 'CNY') → "123.45".
 * Never parse the result back into arithmetic.
 */
export function formatMinor(amount_minor: bigint, code: CurrencyCode): string {
  const exponent = currencyOf(code).exponent
  const negative = amount_minor < 0n
  const digits = (negative ? -amount_minor : amount_minor).toString().padStart(exponent + 1, '0')
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent)
  const fraction = exponent === 0 ? '' : `.${digits.slice(-exponent)}`
  return `${negative ? '-' : ''}${whole}${fraction}`
}

/**
 * Parses a decimal major-unit string ("123.45") into minor units, exactly, for the currency's
 * exponent. Returns undefined for anything that is not such a number (too many decimals, signs, exponents).
 */
export function parseMajor(text: string, code: CurrencyCode): bigint | undefined {
  const exponent = currencyOf(code).exponent
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(text)
  if (match === null) return undefined
  const whole = match[1] ?? '0'
  const fraction = match[2] ?? ''
  if (fraction.length > exponent) return undefined
  return BigInt(whole + fraction.padEnd(exponent, '0'))
}
