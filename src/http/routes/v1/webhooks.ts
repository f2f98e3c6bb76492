import type { FastifyInstance } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { createEndpoint, endpointView, listDeliveries, updateEndpoint } from '../../../events/webhooks.js'
import { submitIdempotent } from '../../../store/idempotency.js'
import { idempotentRequest, merchantOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { idempotencyHeader, idParams, idSchema, listQuery } from '../../schemas.js'

export const eventTypes = [
  'payment.created',
  'payment.processing',
  'payment.requires_capture',
  'payment.succeeded',
  'payment.payment_failed',
  'payment.canceled',
  'payment.refunded',
  'refund.succeeded',
  'delivery.paid',
] as const

const enabledEventsSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  items: { type: 'string', enum: ['*', ...eventTypes] },
  description: 'Event types to send, or ["*"] for all.',
} as const

const urlSchema = { type: 'string', minLength: 1, maxLength: 2048 } as const

export async function webhookRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: { url: string; enabled_events: string[]; description?: string } }>(
    '/webhook_endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook endpoint; the answer holds its signing secret, shown this once',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'enabled_events'],
          properties: { url: urlSchema, enabled_events: enabledEventsSchema, description: { type: 'string', maxLength: 500 } },
        },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const body = request.body
      // The answer holds the signing secret, which Kassa keeps only sealed: it is not stored for an
      // idempotent replay (as with merchant keys), so this POST takes no Idempotency-Key.
      const endpoint = await deps.store.writer.submit((tx) =>
        createEndpoint(tx, deps.masterKey, merchant.id, { url: body.url, enabled_events: body.enabled_events, description: body.description ?? null }, deps.clock.now()),
      )
      return sendJson(reply, endpoint)
    },
  )

  app.get('/webhook_endpoints', { schema: { tags: ['webhooks'], summary: 'List webhook endpoints' } }, async (request, reply) => {
    const rows = await deps.store.db.selectFrom('webhook_endpoints').selectAll().where('merchant_id', '=', merchantOf(request).id).orderBy('id', 'desc').limit(100).execute()
    return sendJson(reply, { object: 'list', data: rows.map(endpointView), has_more: false })
  })

  app.get<{ Params: { id: string } }>(
    '/webhook_endpoints/:id',
    { schema: { tags: ['webhooks'], summary: 'Retrieve a webhook endpoint', params: idParams('webhook_endpoint') } },
    async (request, reply) => {
      const row = await deps.store.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', request.params.id).where('merchant_id', '=', merchantOf(request).id).executeTakeFirst()
      if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such webhook endpoint: ${request.params.id}` })
      return sendJson(reply, endpointView(row))
    },
  )

  app.post<{ Params: { id: string }; Body: { url?: string; enabled_events?: string[]; description?: string; status?: 'enabled' | 'disabled' } }>(
    '/webhook_endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Update a webhook endpoint (disable it with status: disabled)',
        headers: idempotencyHeader,
        params: idParams('webhook_endpoint'),
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            url: urlSchema,
            enabled_events: enabledEventsSchema,
            description: { type: 'string', maxLength: 500 },
            status: { type: 'string', enum: ['enabled', 'disabled'] },
          },
        },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const stored = await submitIdempotent(deps.store.writer, deps.clock, idempotentRequest(request), async (tx) => ({
        status: 200,
        body: await updateEndpoint(tx, merchant.id, request.params.id, request.body),
      }))
      return sendStored(reply, stored)
    },
  )

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>(
    '/webhook_endpoints/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "List an endpoint's deliveries with every attempt",
        params: idParams('webhook_endpoint'),
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      // Another merchant's endpoint is as missing as one that never existed, not an empty list.
      const endpoint = await deps.store.db.selectFrom('webhook_endpoints').select('id').where('id', '=', request.params.id).where('merchant_id', '=', merchant.id).executeTakeFirst()
      if (endpoint === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such webhook endpoint: ${request.params.id}` })
      const data = await listDeliveries(deps.store.db, merchant.id, { endpoint_id: request.params.id }, request.query.limit)
      return sendJson(reply, { object: 'list', data, has_more: data.length === request.query.limit })
    },
  )

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string; type?: string; object?: string } }>(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'List events, newest first',
        querystring: listQuery('event', { type: { type: 'string', enum: eventTypes }, object: { type: 'string', maxLength: 64 } }),
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const q = request.query
      const forward = q.ending_before === undefined
      let query = deps.store.db.selectFrom('events').select(['id', 'data']).where('merchant_id', '=', merchant.id)
      if (q.type !== undefined) query = query.where('type', '=', q.type)
      if (q.object !== undefined) query = query.where('object_id', '=', q.object)
      if (q.starting_after !== undefined) query = query.where('id', '<', q.starting_after)
      if (q.ending_before !== undefined) query = query.where('id', '>', q.ending_before)
      const rows = await query.orderBy('id', forward ? 'desc' : 'asc').limit(q.limit + 1).execute()
      const page = rows.slice(0, q.limit)
      if (!forward) page.reverse()
      return sendJson(reply, { object: 'list', data: page.map((row) => JSON.parse(row.data) as unknown), has_more: rows.length > q.limit })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/events/:id',
    { schema: { tags: ['events'], summary: 'Retrieve an event with its webhook deliveries', params: idParams('event') } },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const row = await deps.store.db.selectFrom('events').select('data').where('id', '=', request.params.id).where('merchant_id', '=', merchant.id).executeTakeFirst()
      if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such event: ${request.params.id}` })
      const deliveries = await listDeliveries(deps.store.db, merchant.id, { event_id: request.params.id }, 100)
      return sendJson(reply, { ...(JSON.parse(row.data) as object), deliveries })
    },
  )
}
