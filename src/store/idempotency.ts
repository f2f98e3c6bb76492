import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import { KassaError } from '../domain/errors.js'
import { toJson } from '../domain/json.js'
import { param, prepare, preparedQueries } from './prepared.js'
import type { Database } from './schema.js'
import type { ReadAhead, Tx } from './writer.js'

const queries = preparedQueries((db) => ({
  select: prepare(db, (db) =>
    db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status', 'response_status', 'response_body'])
      .where('principal_id', '=', param('principal_id'))
      .where('key', '=', param('key')),
  ),
  insert: prepare(db, (db) =>
    db.insertInto('idempotency_keys').values({
      principal_id: param('principal_id'),
      key: param('key'),
      request_hash: param('request_hash'),
      status: param('status'),
      response_status: param('response_status'),
      response_body: param('response_body'),
      created_at: param('now'),
    }),
  ),
}))

export type StoredResponse = { status: number; body: string; replayed: boolean }

export type IdempotentRequest = {
  /** The merchant or operator the key belongs to: keys of different callers never meet. */
  readonly principal_id: string
  readonly key: string | undefined
  /** Hash of method, route and canonical body: the same key with another request is refused. */
  readonly request_hash: string
}

const keyPattern = /^[\x21-\x7e]{1,255}$/

export function checkIdempotencyKey(key: string | undefined): void {
  if (key !== undefined && !keyPattern.test(key)) throw new KassaError('idempotency_key_invalid', { param: 'Idempotency-Key' })
}

/** JSON with sorted keys: two bodies that mean the same hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    // Default sort: by UTF-16 code units, the same order for every body.
    const keys = Object.keys(record).sort()
    let text = ''
    for (const key of keys) {
      const item = record[key]
      if (item === undefined) continue
      text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`
    }
    return `{${text}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function requestHash(method: string, route: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${route}\n${canonicalJson(body ?? null)}`).digest('base64url')
}

/**
 * Runs a command at most once per idempotency key, inside the caller's transaction: the stored
 * response commits with the command's effects, so a retry after any failure either finds both
 * or neither. A KassaError from the command (raised before it writes anything) is stored too, so
 * a replay answers the same. Any other error rolls the unit back and leaves the key free.
 * `readsAhead` names reads the command is about to make: where statements are round trips, they go
 * with the key's lookup (Tx.prefetch); elsewhere it is not even asked.
 */
export async function runIdempotent(
  tx: Tx,
  request: IdempotentRequest,
  nowMs: number,
  command: () => Promise<{ status: number; body: unknown }>,
  readsAhead?: () => readonly ReadAhead[],
): Promise<StoredResponse> {
  const q = queries(tx)
  const lookup = request.key === undefined ? undefined : { query: q.select, values: { principal_id: request.principal_id, key: request.key } }
  if (readsAhead !== undefined && tx.dialect.roundTrips) {
    const reads = readsAhead()
    await tx.prefetch(lookup === undefined ? reads : [lookup, ...reads])
  }
  if (lookup !== undefined) {
    const [existing] = await tx.run(lookup.query, lookup.values)
    if (existing !== undefined) return replayOf(existing, request)
  }
  let status: number
  let body: string
  try {
    const result = await command()
    status = result.status
    body = toJson(result.body)
  } catch (error) {
    if (!(error instanceof KassaError)) throw error
    status = error.status
    body = JSON.stringify(error.toJSON())
  }
  if (request.key !== undefined) {
    tx.defer(q.insert, {
      principal_id: request.principal_id,
      key: request.key,
      request_hash: request.request_hash,
      status: 'completed',
      response_status: status,
      response_body: body,
      now: nowMs,
    })
  }
  return { status, body, replayed: false }
}

type StoredKey = { request_hash: string; status: string; response_status: number | bigint | null; response_body: string | null }

function replayOf(existing: StoredKey, request: IdempotentRequest): StoredResponse {
  if (existing.request_hash !== request.request_hash) throw new KassaError('idempotency_key_reused', { param: 'Idempotency-Key' })
  if (existing.status !== 'completed' || existing.response_body === null || existing.response_status === null) {
    throw new KassaError('idempotency_key_in_use', { param: 'Idempotency-Key' })
  }
  return { status: Number(existing.response_status), body: existing.response_body, replayed: true }
}

/**
 * The stored answer for the request's key, if it has one, read before any work: for a command that
 * talks to a counterpart before its transaction, so a replay never reaches the counterpart again.
 */
export async function storedResponse(db: Kysely<Database>, request: IdempotentRequest): Promise<StoredResponse | undefined> {
  if (request.key === undefined) return undefined
  const existing = await db.selectFrom('idempotency_keys').select(['request_hash', 'status', 'response_status', 'response_body']).where('principal_id', '=', request.principal_id).where('key', '=', request.key).executeTakeFirst()
  return existing === undefined ? undefined : replayOf(existing, request)
}

/**
 * Submits a command to the writer under an idempotency key: the usual shape of every POST.
 * @example submitIdempotent(store.writer, clock, request, async (tx, nowMs) => ({ status: 200, body }))
 */
export function submitIdempotent(
  writer: { submit<T>(work: (tx: Tx) => Promise<T>): Promise<T> },
  clock: { now(): number },
  request: IdempotentRequest,
  command: (tx: Tx, nowMs: number) => Promise<{ status: number; body: unknown }>,
  readsAhead?: (tx: Tx) => readonly ReadAhead[],
): Promise<StoredResponse> {
  return writer.submit((tx) => {
    const nowMs = clock.now()
    return runIdempotent(tx, request, nowMs, () => command(tx, nowMs), readsAhead === undefined ? undefined : () => readsAhead(tx))
  })
}
