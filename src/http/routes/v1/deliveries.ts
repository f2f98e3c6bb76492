import type { FastifyInstance } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { deliveryView } from '../../../delivery/service.js'
import { submitIdempotent } from '../../../store/idempotency.js'
import { idempotentRequest, merchantOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { amountSchema, idempotencyHeader, idParams, idSchema, textSchema } from '../../schemas.js'

/** Merchants hand the parcels of a pay-on-delivery payment to couriers. */
export async function deliveryRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: { payment: string; parcel_number: string; amount: number; courier: string; shopper_phone?: string; delivery_date?: string } }>(
    '/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'Hand a parcel of a pay-on-delivery payment to a courier',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['payment', 'parcel_number', 'amount', 'courier'],
          properties: {
            payment: idSchema('payment'),
            parcel_number: textSchema(40, 'The waybill number.'),
            amount: { ...amountSchema, description: "This parcel's part of the payment, in minor units." },
            courier: idSchema('courier'),
            shopper_phone: { type: 'string', pattern: '^\\+?[0-9 ]{4,20}$' },
            delivery_date: { type: 'string', format: 'date' },
          },
        },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const b = request.body
      const stored = await submitIdempotent(deps.store.writer, deps.clock, idempotentRequest(request), async (tx, nowMs) => ({
        status: 200,
        body: await deps.delivery.createDelivery(
          tx,
          merchant.id,
          { payment: b.payment, parcel_number: b.parcel_number, amount: BigInt(b.amount), courier: b.courier, shopper_phone: b.shopper_phone ?? null, delivery_date: b.delivery_date ?? null },
          nowMs,
        ),
      }))
      return sendStored(reply, stored)
    },
  )

  app.get<{ Querystring: { payment?: string; limit: number } }>(
    '/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'List parcels, newest first',
        querystring: { type: 'object', additionalProperties: false, properties: { payment: idSchema('payment'), limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      let query = deps.store.db.selectFrom('deliveries').innerJoin('merchants', 'merchants.id', 'deliveries.merchant_id').selectAll('deliveries').select('merchants.name as merchant_name').where('deliveries.merchant_id', '=', merchant.id)
      if (request.query.payment !== undefined) query = query.where('deliveries.payment_id', '=', request.query.payment)
      const rows = await query.orderBy('deliveries.id', 'desc').limit(request.query.limit + 1).execute()
      const page = rows.slice(0, request.query.limit)
      return sendJson(reply, { object: 'list', data: page.map((row) => deliveryView(row, row.merchant_name, null)), has_more: rows.length > request.query.limit })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/deliveries/:id',
    { schema: { tags: ['deliveries'], summary: 'Retrieve a parcel', params: idParams('delivery') } },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const row = await deps.store.db
        .selectFrom('deliveries')
        .innerJoin('merchants', 'merchants.id', 'deliveries.merchant_id')
        .selectAll('deliveries')
        .select('merchants.name as merchant_name')
        .where('deliveries.id', '=', request.params.id)
        .where('deliveries.merchant_id', '=', merchant.id)
        .executeTakeFirst()
      if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such delivery: ${request.params.id}` })
      return sendJson(reply, deliveryView(row, row.merchant_name, null))
    },
  )
}
