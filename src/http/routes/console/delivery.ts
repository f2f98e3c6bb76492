import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { CurrencyCode } from '../../../domain/currency.js'
import { KassaError } from '../../../domain/errors.js'
import { newId } from '../../../domain/ids.js'
import { submitIdempotent } from '../../../store/idempotency.js'
import { idempotentRequest, operatorOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { amountSchema, currencySchema, idempotencyHeader, idParams, idSchema, textSchema } from '../../schemas.js'

/** Operators set up stations and couriers, count the cash couriers hand in, and read the day's COD report. */
export async function consoleDeliveryRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const actorOf = (request: FastifyRequest) => ({ type: 'operator' as const, id: operatorOf(request).id })
  const requireRole = (request: FastifyRequest, roles: readonly string[]) => {
    if (!roles.includes(operatorOf(request).role)) throw new KassaError('permission_denied', { message: `This needs the role ${roles.join(' or ')}.` })
  }

  app.post<{ Body: { name: string; city: string } }>(
    '/stations',
    {
      schema: {
        tags: ['console'],
        summary: 'Create a delivery station',
        body: { type: 'object', additionalProperties: false, required: ['name', 'city'], properties: { name: textSchema(100), city: textSchema(15) } },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin'])
      return sendJson(reply, await deps.delivery.createStation(actorOf(request), request.body))
    },
  )

  app.post<{ Body: { station: string; name: string; username: string; password: string } }>(
    '/couriers',
    {
      schema: {
        tags: ['console'],
        summary: 'Create a courier account',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['station', 'name', 'username', 'password'],
          properties: {
            station: idSchema('station'),
            name: textSchema(100),
            username: { type: 'string', pattern: '^[a-z0-9._-]{3,64}$' },
            password: { type: 'string', minLength: 8, maxLength: 200 },
          },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin'])
      return sendJson(reply, await deps.delivery.createCourier(actorOf(request), request.body))
    },
  )

  app.post<{ Params: { id: string } }>(
    '/shoppers/:id/sessions',
    { schema: { tags: ['console'], summary: "A login token for the shopper's app (stands in for the shop's own login)", params: idParams('shopper') } },
    async (request, reply) => {
      // A shopper login can spend the wallet: admins only, and audited.
      requireRole(request, ['admin'])
      return sendJson(reply, await deps.delivery.openShopperSession(actorOf(request), request.params.id))
    },
  )

  app.post<{ Body: { courier: string; amount_counted: number; currency: CurrencyCode } }>(
    '/remittances',
    {
      schema: {
        tags: ['console'],
        summary: 'Record the cash a courier handed in at the station, as counted; differences are posted',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['courier', 'amount_counted', 'currency'],
          properties: { courier: idSchema('courier'), amount_counted: { ...amountSchema, minimum: 0 }, currency: currencySchema },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin', 'finance'])
      const actor = actorOf(request)
      const transferId = newId('transfer', deps.clock.now())
      const input = { courier: request.body.courier, amount_counted: BigInt(request.body.amount_counted), currency: request.body.currency }
      const stored = await submitIdempotent(deps.store.writer, deps.clock, idempotentRequest(request), async (tx, nowMs) => ({
        status: 200,
        body: await deps.delivery.remitIn(tx, actor, input, transferId, nowMs),
      }))
      return sendStored(reply, stored)
    },
  )

  app.get<{ Querystring: { date: string } }>(
    '/cod/report',
    {
      schema: {
        tags: ['console'],
        summary: 'Per courier and station: parcels, QR-paid, cash-paid, remitted, difference',
        querystring: { type: 'object', additionalProperties: false, required: ['date'], properties: { date: { type: 'string', format: 'date' } } },
      },
    },
    async (request, reply) => sendJson(reply, await deps.delivery.codReport(request.query.date)),
  )
}
