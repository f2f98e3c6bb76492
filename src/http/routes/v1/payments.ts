import type { FastifyInstance } from 'fastify'
import type { CurrencyCode } from '../../../domain/currency.js'
import { KassaError } from '../../../domain/errors.js'
import { paymentStatuses } from '../../../payments/state.js'
import { getPayment, listPayments } from '../../../payments/reads.js'
import { paymentView } from '../../../payments/view.js'
import { idempotentRequest, merchantOf, sendJson, sendStored, type AppDeps } from '../../app.js'
import { answerAfterConfirm, livePaymentView, offeredHere } from '../../payment-answers.js'
import { paymentMethodsFor } from '../../../channels/directory.js'
import { amountSchema, currencySchema, idempotencyHeader, idParams, idSchema, listQuery, metadataSchema, textSchema } from '../../schemas.js'

const paymentMethodSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      enum: ['wallet_balance', 'cod', 'netbank', 'quickpay', 'wallet', 'card'],
      description: 'The channel kind: the shop wallet, pay on delivery, online banking, quick pay (a saved binding), a third-party wallet.',
    },
    bank: { type: 'string', maxLength: 40, description: 'netbank: the bank, e.g. icbc-sim (GET /v1/payments/{id}/payment_methods lists them).' },
    provider: { type: 'string', maxLength: 40, description: 'wallet: the wallet provider, e.g. alipay-like.' },
    saved_method: { ...idSchema('saved_method'), description: "quickpay: the shopper's saved binding (pm_…)." },
    card: { ...idSchema('card'), description: 'card: a card in the vault (card_…), from POST /v1/cards or the hosted checkout.' },
    token: { type: 'string', maxLength: 64, description: "wallet_balance: the one-time token from the shopper's app (cpm_…); any merchant." },
    shopper: { ...idSchema('shopper'), description: 'wallet_balance, for the shop itself (self-operated merchants) only: the shopper whose balance pays.' },
  },
  additionalProperties: false,
} as const

type CreateBody = {
  amount: number
  currency: CurrencyCode
  order_reference: string
  description?: string
  capture_method?: 'automatic' | 'manual'
  metadata?: Record<string, string>
  shopper?: string
  confirm?: boolean
  payment_method?: Record<string, unknown>
}

export async function paymentRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: CreateBody }>(
    '/payments',
    {
      schema: {
        tags: ['payments'],
        summary: 'Create a payment for an order (and confirm it at once with confirm: true)',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['amount', 'currency', 'order_reference'],
          properties: {
            amount: amountSchema,
            currency: currencySchema,
            order_reference: textSchema(64, "The merchant's order number."),
            description: { type: 'string', maxLength: 500 },
            capture_method: { type: 'string', enum: ['automatic', 'manual'], default: 'automatic' },
            metadata: metadataSchema,
            shopper: idSchema('shopper'),
            confirm: { type: 'boolean', default: false },
            payment_method: paymentMethodSchema,
          },
        },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const body = request.body
      if (body.confirm !== true && body.payment_method !== undefined) {
        throw new KassaError('parameter_invalid', { param: 'payment_method', message: 'payment_method is taken only with confirm: true, or on /confirm.' })
      }
      const stored = await deps.payments.create(
        merchant,
        {
          amount: BigInt(body.amount),
          currency: body.currency,
          order_reference: body.order_reference,
          description: body.description ?? null,
          capture_method: body.capture_method ?? 'automatic',
          metadata: body.metadata ?? {},
          shopper_id: body.shopper ?? null,
          confirm: body.confirm === true,
          payment_method: body.payment_method,
        },
        idempotentRequest(request),
      )
      return sendStored(reply, await answerAfterConfirm(deps, merchant.id, stored))
    },
  )

  app.get<{
    Querystring: { limit: number; starting_after?: string; ending_before?: string; status?: string; order_reference?: string; shopper?: string; created_gte?: string; created_lt?: string }
  }>(
    '/payments',
    {
      schema: {
        tags: ['payments'],
        summary: 'List payments, newest first',
        querystring: listQuery('payment', {
          status: { type: 'string', enum: paymentStatuses },
          order_reference: { type: 'string', maxLength: 64 },
          shopper: idSchema('shopper'),
          created_gte: { type: 'string', format: 'date-time', description: 'ISO 8601 time, inclusive' },
          created_lt: { type: 'string', format: 'date-time', description: 'ISO 8601 time, exclusive' },
        }),
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const q = request.query
      const page = await listPayments(
        deps.store.db,
        merchant.id,
        {
          status: q.status,
          order_reference: q.order_reference,
          shopper: q.shopper,
          created_gte: parseTime(q.created_gte, 'created_gte'),
          created_lt: parseTime(q.created_lt, 'created_lt'),
        },
        q,
      )
      return sendJson(reply, { object: 'list', data: page.data.map(paymentView), has_more: page.has_more })
    },
  )

  app.get<{ Params: { id: string } }>(
    '/payments/:id',
    { schema: { tags: ['payments'], summary: 'Retrieve a payment', params: idParams('payment') } },
    async (request, reply) => {
      const view = await livePaymentView(deps, merchantOf(request).id, request.params.id)
      if (view === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such payment: ${request.params.id}` })
      return sendJson(reply, view)
    },
  )

  app.get<{ Params: { id: string } }>(
    '/payments/:id/payment_methods',
    {
      schema: {
        tags: ['payments'],
        summary: "What this payment can be paid with right now: enabled channels allowed for you, its currency and amount, and the shopper's saved methods on them",
        params: idParams('payment'),
      },
    },
    async (request, reply) => {
      const payment = await getPayment(deps.store.db, merchantOf(request).id, request.params.id)
      if (payment === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such payment: ${request.params.id}` })
      const merchant = merchantOf(request)
      const methods = await paymentMethodsFor(deps.store, payment, (config) => offeredHere(deps, config))
      // A shopper's saved accounts are the platform's to show: a third-party seller sees the channels only.
      return sendJson(reply, merchant.merchant_kind === 'self_operated' ? methods : { ...methods, saved_methods: [], unavailable_saved_methods: [] })
    },
  )

  app.post<{ Params: { id: string }; Body: { sms_code: string } }>(
    '/payments/:id/sms_code',
    {
      schema: {
        tags: ['payments'],
        summary: 'Quick pay: confirm the payment with the SMS code the bank sent the shopper',
        params: idParams('payment'),
        body: { type: 'object', additionalProperties: false, required: ['sms_code'], properties: { sms_code: { type: 'string', pattern: '^[0-9]{4,8}$' } } },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      await deps.counterparts.confirmSmsCode(merchant.id, request.params.id, request.body.sms_code)
      return sendJson(reply, await livePaymentView(deps, merchant.id, request.params.id))
    },
  )

  app.post<{ Params: { id: string }; Body: { payment_method: Record<string, unknown> } }>(
    '/payments/:id/confirm',
    {
      schema: {
        tags: ['payments'],
        summary: 'Confirm a payment with a payment method',
        headers: idempotencyHeader,
        params: idParams('payment'),
        body: { type: 'object', additionalProperties: false, required: ['payment_method'], properties: { payment_method: paymentMethodSchema } },
      },
    },
    async (request, reply) => {
      const merchant = merchantOf(request)
      const stored = await deps.payments.confirm(merchant, request.params.id, request.body.payment_method, idempotentRequest(request))
      return sendStored(reply, await answerAfterConfirm(deps, merchant.id, stored))
    },
  )

  app.post<{ Params: { id: string }; Body: { amount_to_capture?: number } | undefined }>(
    '/payments/:id/capture',
    {
      schema: {
        tags: ['payments'],
        summary: 'Capture an authorized payment, fully or partly (the rest is released)',
        headers: idempotencyHeader,
        params: idParams('payment'),
        body: { type: 'object', additionalProperties: false, properties: { amount_to_capture: amountSchema } },
      },
    },
    async (request, reply) => {
      const amount = request.body?.amount_to_capture
      const stored = await deps.payments.capture(merchantOf(request), request.params.id, amount === undefined ? undefined : BigInt(amount), idempotentRequest(request))
      return sendStored(reply, stored)
    },
  )

  app.post<{ Params: { id: string }; Body: { cancellation_reason?: string } | undefined }>(
    '/payments/:id/cancel',
    {
      schema: {
        tags: ['payments'],
        summary: 'Cancel a payment that is not captured; a hold is released',
        headers: idempotencyHeader,
        params: idParams('payment'),
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { cancellation_reason: { type: 'string', enum: ['requested_by_customer', 'duplicate', 'fraudulent', 'abandoned', 'other'] } },
        },
      },
    },
    async (request, reply) => {
      const stored = await deps.payments.cancel(merchantOf(request), request.params.id, request.body?.cancellation_reason ?? null, idempotentRequest(request))
      return sendStored(reply, stored)
    },
  )
}

function parseTime(text: string | undefined, param: string): number | undefined {
  if (text === undefined) return undefined
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new KassaError('parameter_invalid', { param, message: `${param} must be an ISO 8601 time.` })
  return ms
}
