/**
 * What the counterpart adapters share: one HTTP exchange with a deadline, and the flat-parameter
 * signature scheme of Chinese-style gateways (sorted `key=value&…`, HMAC-SHA256). Kassa's own
 * client side, written from the counterparts' specifications (docs/simulators.md), never from the
 * simulators' code.
 */
import { createHmac } from 'node:crypto'

export type WireAnswer =
  | { readonly ok: true; readonly status: number; readonly body: string; readonly headers: Headers }
  | { readonly ok: false; readonly message: string }

/** An answer is read up to this many bytes; a longer one is no answer. */
const answerBytesMax = 1024 * 1024

/** One request; a timeout, a refused connection or an oversized answer is `ok: false`, never a throw. */
export async function exchange(url: string, init: { method: string; headers?: Record<string, string>; body?: string }, timeoutMs: number): Promise<WireAnswer> {
  try {
    const response = await fetch(url, { method: init.method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
    const body = await response.text()
    if (Buffer.byteLength(body) > answerBytesMax) return { ok: false, message: `the answer is longer than ${answerBytesMax} bytes` }
    return { ok: true, status: response.status, body, headers: response.headers }
  } catch (error) {
    const name = (error as Error).name
    return { ok: false, message: name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : `unreachable: ${(error as Error).message}` }
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** Every parameter but the excluded ones and the empty ones, sorted by key, `key=value` joined by `&`. */
export function canonicalParams(params: Readonly<Record<string, string>>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((key) => !exclude.includes(key) && params[key] !== '')
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((key) => `${key}=${params[key]}`)
    .join('&')
}

export function hmacSha256(key: string, text: string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(text, 'utf8').digest(encoding)
}

/** A flat JSON object's members as text (integers in decimal); undefined when it is not flat. */
export function flatText(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const params: Record<string, string> = {}
  for (const [key, member] of Object.entries(value)) {
    if (member === null) continue
    if (typeof member === 'string') params[key] = member
    else if (typeof member === 'number' && Number.isSafeInteger(member)) params[key] = String(member)
    else return undefined
  }
  return params
}

/** Parses a form body or query string; undefined when a key repeats. */
export function formParams(text: string): Record<string, string> | undefined {
  const params: Record<string, string> = {}
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(params, key)) return undefined
    params[key] = value
  }
  return params
}

/** A whole number of minor units written in decimal, or undefined. */
export function minorUnits(text: string | undefined): bigint | undefined {
  return text !== undefined && /^(0|[1-9][0-9]{0,17})$/.test(text) ? BigInt(text) : undefined
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), as the gateways date their requests. */
export function beijingTimestamp(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')
}
