import type { Kysely } from 'kysely'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { newSecret, seal, type MasterKey } from '../security/secrets.js'
import type { Database, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../store/schema.js'
import type { Tx } from '../store/writer.js'

function iso(ms: bigint | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString()
}

export function endpointView(row: WebhookEndpointRow) {
  return {
    id: row.id,
    object: 'webhook_endpoint' as const,
    url: row.url,
    description: row.description,
    enabled_events: JSON.parse(row.enabled_events) as string[],
    status: row.status,
    created_at: iso(row.created_at),
  }
}

export function deliveryView(row: WebhookDeliveryRow, attempts: WebhookAttemptRow[]) {
  return {
    id: row.id,
    object: 'webhook_delivery' as const,
    endpoint: row.endpoint_id,
    event: row.event_id,
    status: row.status,
    attempt_count: Number(row.attempt_count),
    next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    last_attempt_at: iso(row.last_attempt_at),
    created_at: iso(row.created_at),
    attempts: attempts.map((attempt) => ({
      id: attempt.id,
      attempted_at: iso(attempt.attempted_at),
      duration_ms: Number(attempt.duration_ms),
      response_status: attempt.response_status === null ? null : Number(attempt.response_status),
      error: attempt.error,
    })),
  }
}

export function checkWebhookUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new KassaError('webhook_url_invalid', { param: 'url' })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new KassaError('webhook_url_invalid', { param: 'url' })
  if (parsed.username !== '' || parsed.password !== '') {
    throw new KassaError('webhook_url_invalid', { param: 'url', message: 'Webhook URLs may not carry credentials.' })
  }
}

/** Creates an endpoint; its signing secret is in this answer only, and sealed in the database. */
export async function createEndpoint(
  tx: Tx,
  master: MasterKey,
  merchantId: string,
  input: { url: string; enabled_events: string[]; description: string | null },
  nowMs: number,
) {
  checkWebhookUrl(input.url)
  const secret = newSecret('whsec')
  const row: WebhookEndpointRow = {
    id: newId('webhook_endpoint', nowMs),
    merchant_id: merchantId,
    url: input.url,
    description: input.description,
    secret_sealed: seal(master, secret),
    enabled_events: JSON.stringify(input.enabled_events),
    status: 'enabled',
    created_at: BigInt(nowMs),
  }
  await tx.execute(tx.builder.insertInto('webhook_endpoints').values(row))
  return { ...endpointView(row), secret }
}

export async function updateEndpoint(
  tx: Tx,
  merchantId: string,
  endpointId: string,
  changes: { url?: string | undefined; enabled_events?: string[] | undefined; description?: string | undefined; status?: 'enabled' | 'disabled' | undefined },
) {
  if (changes.url !== undefined) checkWebhookUrl(changes.url)
  const [row] = await tx.execute(
    tx.builder
      .updateTable('webhook_endpoints')
      .set({
        ...(changes.url === undefined ? {} : { url: changes.url }),
        ...(changes.enabled_events === undefined ? {} : { enabled_events: JSON.stringify(changes.enabled_events) }),
        ...(changes.description === undefined ? {} : { description: changes.description }),
        ...(changes.status === undefined ? {} : { status: changes.status }),
      })
      .where('id', '=', endpointId)
      .where('merchant_id', '=', merchantId)
      .returningAll(),
  )
  if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such webhook endpoint: ${endpointId}` })
  return endpointView(row)
}

export async function listDeliveries(
  db: Kysely<Database>,
  merchantId: string,
  filter: { endpoint_id?: string; event_id?: string },
  limit: number,
) {
  let query = db.selectFrom('webhook_deliveries').selectAll().where('merchant_id', '=', merchantId)
  if (filter.endpoint_id !== undefined) query = query.where('endpoint_id', '=', filter.endpoint_id)
  if (filter.event_id !== undefined) query = query.where('event_id', '=', filter.event_id)
  const deliveries = await query.orderBy('id', 'desc').limit(limit).execute()
  if (deliveries.length === 0) return []
  const attempts = await db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveries.map((d) => d.id))
    .orderBy('id')
    .execute()
  return deliveries.map((delivery) => deliveryView(delivery, attempts.filter((a) => a.delivery_id === delivery.id)))
}

export type { Clock }
