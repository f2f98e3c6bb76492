import type { FastifyInstance } from 'fastify'
import { recordAudit } from '../../../audit/log.js'
import type { CurrencyCode } from '../../../domain/currency.js'
import { KassaError } from '../../../domain/errors.js'
import { newId } from '../../../domain/ids.js'
import { verifyLedger } from '../../../ledger/verify.js'
import { createApiKey, createMerchant, merchantView, revokeApiKey, type MerchantKind } from '../../../merchants/service.js'
import { listPayments } from '../../../payments/reads.js'
import { paymentView } from '../../../payments/view.js'
import { createShopper, shopperBalances, shopperView, topUp } from '../../../shoppers/service.js'
import { submitIdempotent } from '../../../store/idempotency.js'
import { idempotentRequest, operatorOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { consoleChannelRoutes } from './channels.js'
import { consoleDeliveryRoutes } from './delivery.js'
import { amountSchema, currencySchema, idempotencyHeader, idParams, idSchema, listQuery, textSchema } from '../../schemas.js'

/**
 * The operator console's API: staff of the payment company. Every change is audited with the
 * operator's id; only admins create merchants and keys, finance and admins move money.
 */
export async function consoleRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await consoleDeliveryRoutes(app, deps)
  await consoleChannelRoutes(app, deps)
  const actorOf = (request: Parameters<typeof operatorOf>[0]) => ({ type: 'operator' as const, id: operatorOf(request).id })
  const requireRole = (request: Parameters<typeof operatorOf>[0], roles: readonly string[]) => {
    const operator = operatorOf(request)
    if (!roles.includes(operator.role)) throw new KassaError('permission_denied', { message: `This needs the role ${roles.join(' or ')}.` })
  }

  app.post<{ Body: { name: string; kind: MerchantKind; fee_basis_points?: number } }>(
    '/merchants',
    {
      schema: {
        tags: ['console'],
        summary: 'Create a merchant and its first secret key (shown once)',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'kind'],
          properties: {
            name: textSchema(100),
            kind: { type: 'string', enum: ['self_operated', 'third_party'] },
            fee_basis_points: { type: 'integer', minimum: 0, maximum: 10000, description: 'MDR in basis points; 60 = 0.60 %.' },
          },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin'])
      // Merchant creation hands out a secret that is never stored in clear, so a replay cannot show it again: no idempotency key here.
      const created = await createMerchant(deps.store, deps.clock, actorOf(request), request.body)
      return sendJson(reply, created)
    },
  )

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string } }>(
    '/merchants',
    {
      schema: {
        tags: ['console'],
        summary: 'List merchants, newest first',
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, starting_after: idSchema('merchant') } },
      },
    },
    async (request, reply) => {
      const q = request.query
      let query = deps.store.db.selectFrom('merchants').selectAll()
      if (q.starting_after !== undefined) query = query.where('id', '<', q.starting_after)
      const rows = await query.orderBy('id', 'desc').limit(q.limit + 1).execute()
      return sendJson(reply, { object: 'list', data: rows.slice(0, q.limit).map(merchantView), has_more: rows.length > q.limit })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/merchants/:id',
    { schema: { tags: ['console'], summary: 'Retrieve a merchant', params: idParams('merchant') } },
    async (request, reply) => {
      const row = await deps.store.db.selectFrom('merchants').selectAll().where('id', '=', request.params.id).executeTakeFirst()
      if (row === undefined) throw new KassaError('resource_missing', { param: 'id' })
      return sendJson(reply, merchantView(row))
    },
  )

  app.post<{ Params: { id: string } }>(
    '/merchants/:id/api_keys',
    { schema: { tags: ['console'], summary: 'Create another secret key for a merchant (shown once)', params: idParams('merchant') } },
    async (request, reply) => {
      requireRole(request, ['admin'])
      return sendJson(reply, await createApiKey(deps.store, deps.clock, actorOf(request), request.params.id))
    },
  )

  app.post<{ Params: { id: string } }>(
    '/api_keys/:id/revoke',
    { schema: { tags: ['console'], summary: 'Revoke a secret key', params: idParams('api_key') } },
    async (request, reply) => {
      requireRole(request, ['admin'])
      await revokeApiKey(deps.store, deps.clock, actorOf(request), request.params.id)
      deps.authenticator.forget()
      return sendJson(reply, { id: request.params.id, object: 'api_key', revoked: true })
    },
  )

  app.post<{ Body: { external_reference?: string; name?: string; email?: string; phone?: string } }>(
    '/shoppers',
    {
      schema: {
        tags: ['console'],
        summary: 'Register a shopper (a customer of the shop)',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            external_reference: textSchema(64, "The shop's own customer id."),
            name: { type: 'string', maxLength: 100 },
            email: { type: 'string', format: 'email', maxLength: 200 },
            phone: { type: 'string', pattern: '^\\+?[0-9 ]{4,20}$' },
          },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin', 'support'])
      const actor = actorOf(request)
      const b = request.body
      const stored = await submitIdempotent(deps.store.writer, deps.clock, idempotentRequest(request), async (tx, nowMs) => ({
        status: 200,
        body: await createShopper(tx, actor, { external_reference: b.external_reference ?? null, name: b.name ?? null, email: b.email ?? null, phone: b.phone ?? null }, nowMs),
      }))
      return sendStored(reply, stored)
    },
  )

  app.get<{ Params: { id: string } }>(
    '/shoppers/:id',
    { schema: { tags: ['console'], summary: 'Retrieve a shopper with wallet balances', params: idParams('shopper') } },
    async (request, reply) => {
      const row = await deps.store.db.selectFrom('shoppers').selectAll().where('id', '=', request.params.id).executeTakeFirst()
      if (row === undefined) throw new KassaError('resource_missing', { param: 'id' })
      return sendJson(reply, shopperView(row, await shopperBalances(deps.store.db, row.id)))
    },
  )

  app.get<{ Params: { id: string }; Querystring: { limit: number; starting_after?: string; ending_before?: string } }>(
    '/shoppers/:id/payments',
    { schema: { tags: ['console'], summary: "A shopper's payments across merchants", params: idParams('shopper'), querystring: listQuery('payment') } },
    async (request, reply) => {
      const page = await listPayments(deps.store.db, undefined, { shopper: request.params.id }, request.query)
      return sendJson(reply, { object: 'list', data: page.data.map(paymentView), has_more: page.has_more })
    },
  )

  app.post<{ Params: { id: string }; Body: { amount: number; currency: CurrencyCode; reference?: string } }>(
    '/shoppers/:id/top_ups',
    {
      schema: {
        tags: ['console'],
        summary: "Add money to a shopper's wallet balance (received at the platform's bank)",
        headers: idempotencyHeader,
        params: idParams('shopper'),
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['amount', 'currency'],
          properties: { amount: amountSchema, currency: currencySchema, reference: { type: 'string', maxLength: 100 } },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin', 'finance'])
      const actor = actorOf(request)
      const topUpId = newId('top_up', deps.clock.now())
      const transferId = newId('transfer', deps.clock.now())
      const b = request.body
      const stored = await submitIdempotent(deps.store.writer, deps.clock, idempotentRequest(request), async (tx, nowMs) => ({
        status: 200,
        body: await topUp(tx, actor, { shopper_id: request.params.id, amount: BigInt(b.amount), currency: b.currency, reference: b.reference ?? null, top_up_id: topUpId, transfer_id: transferId }, nowMs),
      }))
      return sendStored(reply, stored)
    },
  )

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string; merchant?: string; status?: string } }>(
    '/payments',
    {
      schema: {
        tags: ['console'],
        summary: 'Search payments across merchants',
        querystring: listQuery('payment', { merchant: idSchema('merchant'), status: { type: 'string' } }),
      },
    },
    async (request, reply) => {
      const q = request.query
      const page = await listPayments(deps.store.db, q.merchant, { status: q.status }, q)
      return sendJson(reply, { object: 'list', data: page.data.map(paymentView), has_more: page.has_more })
    },
  )

  app.get(
    '/late_funds',
    { schema: { tags: ['console'], summary: 'Money that arrived after its payment ended and that the bank or wallet refused to return: owed to the payer, in unapplied_funds' } },
    async (request, reply) => {
      requireRole(request, ['admin', 'finance', 'support'])
      const rows = await deps.counterparts.unreturnedLateFunds()
      return sendJson(reply, { object: 'list', data: rows, has_more: false })
    },
  )

  app.post<{ Params: { id: string } }>(
    '/refunds/:id/retry',
    { schema: { tags: ['console'], summary: 'Send refused late money back to the payer again (finance or admin); audited', params: idParams('refund') } },
    async (request, reply) => {
      requireRole(request, ['admin', 'finance'])
      return sendJson(reply, await deps.counterparts.retryLateFundsRefund(actorOf(request), request.params.id))
    },
  )

  app.get('/ledger/verify', { schema: { tags: ['console'], summary: 'Check every ledger invariant now' } }, async (request, reply) => {
    const result = await verifyLedger(deps.store.db)
    await deps.store.writer.submit((tx) => recordAudit(tx, actorOf(request), 'ledger.verify', { id: null, merchant_id: null }, { ok: result.ok }, deps.clock.now()))
    return sendJson(reply, result)
  })

  app.get<{ Querystring: { owner?: string; code?: string; limit: number } }>(
    '/ledger/accounts',
    {
      schema: {
        tags: ['console'],
        summary: 'Ledger accounts with their balances',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { owner: { type: 'string', maxLength: 64 }, code: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
        },
      },
    },
    async (request, reply) => {
      let query = deps.store.db.selectFrom('ledger_accounts').selectAll()
      if (request.query.owner !== undefined) query = query.where('owner_id', '=', request.query.owner)
      if (request.query.code !== undefined) query = query.where('code', '=', request.query.code)
      const rows = await query.orderBy('id').limit(request.query.limit + 1).execute()
      return sendJson(reply, { object: 'list', data: rows.slice(0, request.query.limit), has_more: rows.length > request.query.limit })
    },
  )

  app.get<{ Querystring: { limit: number; target?: string } }>(
    '/audit_log',
    {
      schema: {
        tags: ['console'],
        summary: 'Who did what, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { target: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin'])
      let query = deps.store.db.selectFrom('audit_log').selectAll()
      if (request.query.target !== undefined) query = query.where('target_id', '=', request.query.target)
      const rows = await query.orderBy('id', 'desc').limit(request.query.limit + 1).execute()
      return sendJson(reply, { object: 'list', data: rows.slice(0, request.query.limit).map((row) => ({ ...row, details: JSON.parse(row.details) as unknown })), has_more: rows.length > request.query.limit })
    },
  )
}
