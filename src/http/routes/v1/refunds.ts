import type { FastifyInstance } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { getRefund, listRefunds } from '../../../payments/reads.js'
import { refundView } from '../../../payments/view.js'
import { toJson } from '../../../domain/json.js'
import type { StoredResponse } from '../../../store/idempotency.js'
import { idempotentRequest, merchantOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { amountSchema, idempotencyHeader, idParams, idSchema, listQuery, metadataSchema } from '../../schemas.js'

/** A refund through a counterpart answers `pending` from its transaction; it is sent now, and answered as it stands after. */
async function sendPendingRefund(deps: AppDeps, merchantId: string, stored: StoredResponse): Promise<StoredResponse> {
  if (stored.status !== 200 || !stored.body.includes('"status":"pending"')) return stored
  const id = /"id":"(rfd_[0-9a-z]+)"/.exec(stored.body)?.[1]
  if (id === undefined) return stored
  await deps.counterparts.sendRefund(id)
  const refund = await getRefund(deps.store.db, merchantId, id)
  return refund === undefined ? stored : { ...stored, body: toJson(refundView(refund)) }
}

export async function refundRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: { payment: string; amount?: number; reason?: string; metadata?: Record<string, string> } }>(
    '/refunds',
    {
      schema: {
        tags: ['refunds'],
        summary: 'Refund a captured payment, fully or partly; repeated refunds never exceed what was captured',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['payment'],
          properties: {
            payment: idSchema('payment'),
            amount: { ...amountSchema, description: 'Defaults to everything still refundable.' },
            reason: { type: 'string', enum: ['requested_by_customer', 'duplicate', 'fraudulent', 'item_returned', 'other'] },
            metadata: metadataSchema,
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      const stored = await deps.payments.refund(
        merchantOf(request),
        { payment_id: body.payment, amount: body.amount === undefined ? undefined : BigInt(body.amount), reason: body.reason ?? null, metadata: body.metadata ?? {} },
        idempotentRequest(request),
      )
      return sendStored(reply, await sendPendingRefund(deps, merchantOf(request).id, stored))
    },
  )

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string; payment?: string } }>(
    '/refunds',
    { schema: { tags: ['refunds'], summary: 'List refunds, newest first', querystring: listQuery('refund', { payment: idSchema('payment') }) } },
    async (request, reply) => {
      const page = await listRefunds(deps.store.db, merchantOf(request).id, request.query.payment, request.query)
      return sendJson(reply, { object: 'list', data: page.data.map(refundView), has_more: page.has_more })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/refunds/:id',
    { schema: { tags: ['refunds'], summary: 'Retrieve a refund', params: idParams('refund') } },
    async (request, reply) => {
      const refund = await getRefund(deps.store.db, merchantOf(request).id, request.params.id)
      if (refund === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such refund: ${request.params.id}` })
      return sendJson(reply, refundView(refund))
    },
  )
}
