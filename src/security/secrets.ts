import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { assert } from '../domain/assert.js'

/**
 * Secrets Kassa hands out (API keys) are stored only as SHA-256 hashes: they are 256-bit random,
 * so a fast hash is enough and lookups stay one index probe. Secrets Kassa must use later
 * (webhook signing secrets) are sealed with AES-256-GCM under a master key, with its key id.
 */
export function newSecret(prefix: 'sk' | 'ok' | 'whsec'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

export function lastFour(secret: string): string {
  return secret.slice(-4)
}

export type MasterKey = { readonly id: string; readonly key: Buffer }

export function masterKeyFrom(base64: string): MasterKey {
  const key = Buffer.from(base64, 'base64')
  if (key.length !== 32) throw new Error('KASSA_MASTER_KEY must be 32 bytes, base64-encoded')
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key }
}

/** `v1.<key id>.<iv>.<tag>.<ciphertext>`, all base64url. */
export function seal(master: MasterKey, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', master.key, iv)
  cipher.setAAD(Buffer.from(master.id))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', master.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.')
}

export function unseal(master: MasterKey, sealed: string): string {
  const [version, keyId, iv, tag, ciphertext] = sealed.split('.')
  assert(version === 'v1' && iv !== undefined && tag !== undefined && ciphertext !== undefined, 'sealed secret is malformed')
  if (keyId !== master.id) throw new Error(`secret sealed under key ${keyId}, master key is ${master.id}`)
  const decipher = createDecipheriv('aes-256-gcm', master.key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(keyId))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}
