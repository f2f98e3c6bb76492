import { createHmac } from 'node:crypto'
import { constantTimeEqual } from '../security/secrets.js'

/**
 * `Kassa-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Receivers recompute it
 * with their endpoint secret and refuse stale timestamps, which stops replays of old deliveries.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmacHex(secret, `${unixSeconds}.${body}`)}`
}

function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex')
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' }

/**
 * Checks a delivery the way a merchant's receiver should.
 * @example verifySignature(process.env.WHSEC, request.headers['kassa-signature'], rawBody, Date.now() / 1000)
 */
export function verifySignature(secret: string, header: string | undefined, body: string, nowSeconds: number, toleranceSeconds = 300): SignatureCheck {
  if (header === undefined) return { ok: false, reason: 'malformed' }
  const parts = new Map<string, string[]>()
  for (const item of header.split(',')) {
    const [key, value] = item.split('=', 2)
    if (key === undefined || value === undefined) return { ok: false, reason: 'malformed' }
    parts.set(key.trim(), [...(parts.get(key.trim()) ?? []), value.trim()])
  }
  const timestamp = Number(parts.get('t')?.[0])
  const signatures = parts.get('v1') ?? []
  if (!Number.isSafeInteger(timestamp) || signatures.length === 0) return { ok: false, reason: 'malformed' }
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: 'stale' }
  const expected = hmacHex(secret, `${timestamp}.${body}`)
  return signatures.some((signature) => constantTimeEqual(signature, expected)) ? { ok: true } : { ok: false, reason: 'mismatch' }
}
