/**
 * The parameter handling shared by the signature schemes of the Chinese-style gateways the
 * simulators stand in for (the bank gateway and the alipay-like wallet): flat `key=value`
 * parameters, a canonical string of them sorted by key, an HMAC-SHA256 over it, and the form
 * encoding they travel in. Pure: no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { assert } from '../../src/domain/assert.js'

/** Flat request or notification parameters: every value is text on the wire. */
export type WireParams = Readonly<Record<string, string>>

/** Keys a gateway accepts: lower-case ASCII letters, digits and underscores, starting with a letter. */
export const paramKeyPattern = /^[a-z][a-z0-9_]*$/

/** At most this many parameters in one request, notification or redirect. */
export const paramCountMax = 64

/** At most this many characters in one parameter value. */
export const paramValueLengthMax = 8_192

/**
 * The canonical string: every parameter except those named in `exclude` and those whose value is
 * empty, sorted by key in ascending byte order, each written `key=value` with the value as sent (no
 * percent-encoding), joined with `&`.
 *
 * @example
 * canonicalString({ b: '2', a: '1', sign: 'x', c: '' }, ['sign']) // 'a=1&b=2'
 */
export function canonicalString(params: WireParams, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((key) => !exclude.includes(key) && (params[key] ?? '') !== '')
    .sort(compareBytes)
    .map((key) => `${key}=${params[key] ?? ''}`)
    .join('&')
}

/** Orders ASCII keys by their bytes (what `Array.prototype.sort` does for ASCII, said explicitly). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * HMAC-SHA256 of the UTF-8 bytes of `text` under the UTF-8 bytes of `key`.
 * @example hmacSha256('key', 'a=1', 'hex') // 64 lower-case hex digits
 */
export function hmacSha256(key: string, text: string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(text, 'utf8')).digest(encoding)
}

/** Compares two signatures in constant time for equal lengths (a length difference is not secret). */
export function signaturesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8')
  const right = Buffer.from(b, 'utf8')
  return left.length === right.length && timingSafeEqual(left, right)
}

export type ParamsResult = { readonly ok: true; readonly params: WireParams } | { readonly ok: false; readonly field: string | undefined; readonly message: string }

/**
 * Parses an `application/x-www-form-urlencoded` body (or query string) into flat parameters.
 * Refuses repeated keys, keys outside `paramKeyPattern`, too many parameters and too long values.
 *
 * @example parseFormParams('a=1&b=x+y') // { ok: true, params: { a: '1', b: 'x y' } }
 */
export function parseFormParams(text: string): ParamsResult {
  const params: Record<string, string> = Object.create(null) as Record<string, string>
  let count = 0
  for (const [key, value] of new URLSearchParams(text)) {
    count++
    if (count > paramCountMax) return { ok: false, field: undefined, message: `more than ${paramCountMax} parameters` }
    const problem = keyAndValueProblem(key, value)
    if (problem !== undefined) return { ok: false, field: key, message: problem }
    if (Object.hasOwn(params, key)) return { ok: false, field: key, message: `${key} is repeated` }
    params[key] = value
  }
  return { ok: true, params }
}

/**
 * Reads a JSON object whose members are all strings or integers as flat parameters (integers
 * written in decimal). `null` members count as absent. Anything else (nested objects, arrays,
 * booleans, fractions) is refused with the member's name.
 *
 * @example flatParamsFromJson({ amount: 100, order_no: 'A1' }) // { ok: true, params: { amount: '100', order_no: 'A1' } }
 */
export function flatParamsFromJson(value: unknown): ParamsResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, field: undefined, message: 'the body is not a JSON object' }
  const params: Record<string, string> = Object.create(null) as Record<string, string>
  const entries = Object.entries(value)
  if (entries.length > paramCountMax) return { ok: false, field: undefined, message: `more than ${paramCountMax} parameters` }
  for (const [key, member] of entries) {
    if (member === null) continue
    let text: string
    if (typeof member === 'string') text = member
    else if (typeof member === 'number' && Number.isSafeInteger(member)) text = String(member)
    else return { ok: false, field: key, message: `${key} must be a string or an integer` }
    const problem = keyAndValueProblem(key, text)
    if (problem !== undefined) return { ok: false, field: key, message: problem }
    params[key] = text
  }
  return { ok: true, params }
}

function keyAndValueProblem(key: string, value: string): string | undefined {
  if (!paramKeyPattern.test(key)) return `parameter name ${JSON.stringify(key.slice(0, 40))} is not allowed`
  if (value.length > paramValueLengthMax) return `${key} is longer than ${paramValueLengthMax} characters`
  return undefined
}

/**
 * Encodes parameters as `application/x-www-form-urlencoded`, keys sorted (the order does not
 * matter to a signature; sorting makes bodies comparable in tests and logs).
 * @example encodeForm({ b: '2', a: 'x y' }) // 'a=x+y&b=2'
 */
export function encodeForm(params: WireParams): string {
  const search = new URLSearchParams()
  for (const key of Object.keys(params).sort(compareBytes)) search.append(key, params[key] ?? '')
  return search.toString()
}

/** Parameters with their `undefined` members left out and numbers and bigints written in decimal. */
export function definedParams(params: Readonly<Record<string, string | number | bigint | undefined>>): WireParams {
  const result: Record<string, string> = {}
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue
    assert(typeof value !== 'number' || Number.isSafeInteger(value), `${key} must be an integer`)
    result[key] = typeof value === 'string' ? value : value.toString()
  }
  return result
}
