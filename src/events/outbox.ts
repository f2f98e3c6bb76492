import { sql } from 'kysely'
import { newId } from '../domain/ids.js'
import { toJson } from '../domain/json.js'
import { param, prepare, preparedQueries } from '../store/prepared.js'
import type { Tx } from '../store/writer.js'

const queries = preparedQueries((db) => ({
  insertEvent: prepare(db, (db) =>
    db.insertInto('events').values({
      id: param('id'),
      merchant_id: param('merchant_id'),
      type: param('type'),
      object_id: param('object_id'),
      data: param('data'),
      created_at: param('now'),
    }),
  ),
  // Fan out to the merchant's endpoints in the same transaction: an event is never without its deliveries.
  insertDeliveries: prepare(db, (db) =>
    db.insertInto('webhook_deliveries').columns([
      'id', 'merchant_id', 'endpoint_id', 'event_id', 'status', 'attempt_count', 'next_attempt_at', 'created_at',
    ]).expression((eb) =>
      eb
        .selectFrom('webhook_endpoints')
        .select((eb) => [
          // Typed casts: PostgreSQL cannot infer the type of a bare parameter in a select list.
          sql<string>`cast(${param('delivery_prefix')} as text) || webhook_endpoints.id`.as('id'),
          'merchant_id',
          'id as endpoint_id',
          sql<string>`cast(${param('event_id')} as text)`.as('event_id'),
          sql<string>`cast(${param('pending')} as text)`.as('status'),
          sql<bigint>`cast(${param('zero')} as bigint)`.as('attempt_count'),
          sql<bigint>`cast(${param('now')} as bigint)`.as('next_attempt_at'),
          sql<bigint>`cast(${param('now2')} as bigint)`.as('created_at'),
        ])
        .where('merchant_id', '=', param('merchant_id'))
        .where('status', '=', param('enabled'))
        // The patterns are cast, not bare parameters: SQLite re-plans a statement whose LIKE pattern is
        // a bare parameter each time it is bound (its LIKE optimization), which made this INSERT cost
        // ~18 µs instead of ~3 µs, twice per payment. A cast of text to text changes nothing else.
        .where((eb) =>
          eb.or([
            eb('enabled_events', 'like', sql<string>`cast(${param('any_pattern')} as text)`),
            eb('enabled_events', 'like', sql<string>`cast(${param('type_pattern')} as text)`),
          ]),
        ),
    ),
  ),
}))

export type OutboxEvent = {
  readonly merchant_id: string
  readonly type: string
  readonly object_id: string
  /** The object as the API shows it at this moment. */
  readonly data: unknown
}

/**
 * Records an event in the caller's transaction (the outbox) and queues one delivery per webhook
 * endpoint of the merchant that listens to its type. The delivery worker sends them after commit.
 */
export async function recordEvent(tx: Tx, event: OutboxEvent, nowMs: number, onDeliveriesQueued?: () => void): Promise<string> {
  const q = queries(tx)
  const id = newId('event', nowMs)
  tx.defer(q.insertEvent, {
    id,
    merchant_id: event.merchant_id,
    type: event.type,
    object_id: event.object_id,
    data: toJson({ id, object: 'event', type: event.type, created_at: new Date(nowMs).toISOString(), data: { object: event.data } }),
    now: nowMs,
  })
  tx.defer(q.insertDeliveries, {
    // Delivery ids are the event's time-ordered suffix per endpoint: unique, and sortable like other ids.
    delivery_prefix: `whd_${id.slice(4)}_`,
    event_id: id,
    pending: 'pending',
    zero: 0n,
    now: nowMs,
    now2: nowMs,
    merchant_id: event.merchant_id,
    enabled: 'enabled',
    any_pattern: '%"*"%',
    type_pattern: `%"${event.type}"%`,
  }, (queued) => {
    // Only a queued delivery needs the worker woken; an event no endpoint listens to leaves it asleep.
    if (onDeliveriesQueued !== undefined && queued > 0) tx.afterCommit(onDeliveriesQueued)
  })
  return id
}
