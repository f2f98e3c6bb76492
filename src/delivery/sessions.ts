import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { Kysely } from 'kysely'
import { hashSecret } from '../security/secrets.js'
import type { Database } from '../store/schema.js'
import type { Tx } from '../store/writer.js'

/**
 * scrypt on libuv's thread pool. Its ~40 ms of CPU (slow on purpose) run on the event loop would
 * stall every payment in flight for as long, at each courier's login.
 */
function scryptOffLoop(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, length, options, (error, key) => (error === null ? resolve(key) : reject(error))))
}

/** Couriers log in with a password: stored as scrypt (slow on purpose: people choose passwords). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptOffLoop(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return `scrypt$16384$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, n, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || n === undefined || salt === undefined || hash === undefined) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scryptOffLoop(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: 8, p: 1 })
  return timingSafeEqual(actual, expected)
}

/** A courier's handheld login, a shopper's app login, and a shopper's one-time consumer-presented code. */
export type SessionKind = 'courier' | 'shopper' | 'cpm'

const lifetimesMs: Record<SessionKind, number> = { courier: 12 * 60 * 60 * 1000, shopper: 30 * 24 * 60 * 60 * 1000, cpm: 5 * 60 * 1000 }
const prefixes: Record<SessionKind, string> = { courier: 'cs', shopper: 'st', cpm: 'cpm' }

/** Opens a session; the token is in the answer only, its hash in the database. */
export async function openSession(tx: Tx, kind: SessionKind, subjectId: string, nowMs: number): Promise<{ token: string; expires_at: number }> {
  const token = `${prefixes[kind]}_${randomBytes(18).toString('base64url')}`
  const expiresAt = nowMs + lifetimesMs[kind]
  await tx.execute(
    tx.builder.insertInto('sessions').values({ token_hash: hashSecret(token), subject_id: subjectId, kind, expires_at: expiresAt, created_at: nowMs }),
  )
  return { token, expires_at: expiresAt }
}

/** The subject of a live session of this kind, or undefined. */
export async function sessionSubject(db: Kysely<Database>, kind: SessionKind, token: string, nowMs: number): Promise<string | undefined> {
  if (!token.startsWith(`${prefixes[kind]}_`)) return undefined
  const row = await db.selectFrom('sessions').select(['subject_id', 'expires_at', 'kind']).where('token_hash', '=', hashSecret(token)).executeTakeFirst()
  if (row === undefined || row.kind !== kind || row.expires_at <= BigInt(nowMs)) return undefined
  return row.subject_id
}

/** Uses up a one-time token: answers its subject once, then never again. */
export async function consumeSession(tx: Tx, kind: SessionKind, token: string, nowMs: number): Promise<string | undefined> {
  const rows = await tx.execute(
    tx.builder.deleteFrom('sessions').where('token_hash', '=', hashSecret(token)).where('kind', '=', kind).returning(['subject_id', 'expires_at']),
  )
  const row = rows[0]
  if (row === undefined || row.expires_at <= BigInt(nowMs)) return undefined
  return row.subject_id
}
