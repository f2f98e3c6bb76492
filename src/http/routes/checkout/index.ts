import type { FastifyInstance, FastifyRequest } from 'fastify'
import { paymentMethodsFor } from '../../../channels/directory.js'
import { isQuickpayProvider, type NextAction } from '../../../channels/provider.js'
import { confirmBinding, startBinding, unbind, type BindingDeps } from '../../../channels/quickpay/bindings.js'
import { KassaError } from '../../../domain/errors.js'
import { checkoutToken } from '../../../payments/counterpart.js'
import type { Payment } from '../../../payments/decide.js'
import type { MerchantContext } from '../../../payments/service.js'
import { constantTimeEqual } from '../../../security/secrets.js'
import { shopperBalances } from '../../../shoppers/service.js'
import { requestHash } from '../../../store/idempotency.js'
import { sendJson, sendStored, type AppDeps } from '../../app.js'
import { answerAfterConfirm, livePaymentView, offeredHere } from '../../payment-answers.js'
import { idParams, idSchema, textSchema } from '../../schemas.js'
import { cardBodySchema, type CardBody } from '../v1/cards.js'
import { qrPictureDataUrl } from '../../../qr/picture.js'

type Checkout = { payment: Payment; merchant: MerchantContext & { name: string } }

/** A checkout route's schema: the payment id in the path, the link's token in the query, no API key. */
function checkoutSchema<Extra extends Record<string, unknown>>(summary: string, extra?: Extra) {
  return { tags: ['checkout'], summary, params: idParams('payment'), querystring: tokenQuery, security: [], ...extra }
}

const tokenQuery = { type: 'object', required: ['t'], properties: { t: { type: 'string', maxLength: 64 }, refresh: { type: 'string', enum: ['0', '1'] } } } as const

/**
 * The hosted checkout's own API, behind the signed link (`/pay/{id}?t=…`): the link is the
 * shopper's only credential and opens only its payment. The page (web/checkout) calls these; every
 * payment step goes through the same services as the merchant API.
 */
export async function checkoutRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const bindingDeps: BindingDeps = {
    store: deps.store,
    clock: deps.clock,
    masterKey: deps.masterKey,
    provider: (channelId) => {
      const provider = deps.counterparts.provider(channelId)
      return provider !== undefined && isQuickpayProvider(provider) ? provider : undefined
    },
  }

  async function open(request: FastifyRequest<{ Params: { id: string }; Querystring: { t: string } }>): Promise<Checkout> {
    const id = request.params.id
    if (!constantTimeEqual(request.query.t, checkoutToken(deps.masterKey, id))) throw new KassaError('checkout_link_invalid', { param: 't' })
    const payment = (await deps.store.db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst()) as Payment | undefined
    if (payment === undefined) throw new KassaError('resource_missing', { param: 'id' })
    const merchant = await deps.store.db.selectFrom('merchants').select(['id', 'name', 'fee_basis_points', 'kind']).where('id', '=', payment.merchant_id).executeTakeFirstOrThrow()
    return { payment, merchant: { id: merchant.id, name: merchant.name, fee_basis_points: Number(merchant.fee_basis_points), merchant_kind: merchant.kind } }
  }

  /** The shop's own wallet is offered on its own checkout, for the shopper it named. */
  function walletBalanceOffered(checkout: Checkout): boolean {
    return checkout.payment.shopper_id !== null && checkout.merchant.merchant_kind === 'self_operated'
  }

  async function state(checkout: Checkout) {
    const view = await livePaymentView(deps, checkout.payment.merchant_id, checkout.payment.id)
    const offered = await paymentMethodsFor(deps.store, checkout.payment, (config) => {
      if (config.kind === 'wallet_balance') return walletBalanceOffered(checkout)
      if (config.kind === 'cod') return false
      return offeredHere(deps, config)
    })
    // A seller holds its checkout links too: a shopper's saved accounts appear only on the shop's own checkout.
    const methods = checkout.merchant.merchant_kind === 'self_operated' ? offered : { ...offered, saved_methods: [], unavailable_saved_methods: [] }
    const balances = checkout.payment.shopper_id === null || !walletBalanceOffered(checkout) ? [] : await shopperBalances(deps.store.db, checkout.payment.shopper_id)
    const attempt = await deps.counterparts.latestAttempt(checkout.payment.id)
    const nextAction = (view?.next_action ?? null) as NextAction | null
    return {
      object: 'checkout',
      merchant_name: checkout.merchant.name,
      payment: view,
      attempt: attempt === undefined ? null : { channel: attempt.channel_id, status: attempt.status, failure_message: attempt.failure_message },
      methods,
      // A shopper who never topped up has no balance row: that is a balance of zero, not none.
      wallet_balance: walletBalanceOffered(checkout) ? (balances.find((balance) => balance.currency === checkout.payment.currency)?.available ?? 0n) : null,
      // The wallet's code as a picture (PNG data URL, one pixel per module: the page enlarges it by whole multiples), so the page needs no QR library.
      qr_image: nextAction?.type === 'display_qr_code' ? qrPictureDataUrl(nextAction.qr_code, { scale: 1, remember: true }) : null,
    }
  }

  app.get<{ Params: { id: string }; Querystring: { t: string; refresh?: '0' | '1' } }>(
    '/:id/api/state',
    { schema: checkoutSchema('The checkout: payment, methods available now, next action') },
    async (request, reply) => {
      const checkout = await open(request)
      if (request.query.refresh === '1' && checkout.payment.status === 'processing') {
        const attempt = await deps.counterparts.latestAttempt(checkout.payment.id)
        if (attempt !== undefined) await deps.counterparts.check(attempt.id)
        return sendJson(reply, await state(await open(request)))
      }
      return sendJson(reply, await state(checkout))
    },
  )

  app.post<{ Params: { id: string }; Querystring: { t: string }; Body: { payment_method: Record<string, unknown> } }>(
    '/:id/api/confirm',
    {
      schema: checkoutSchema('Pay with the chosen method', {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['payment_method'],
          properties: {
            payment_method: {
              type: 'object',
              additionalProperties: false,
              required: ['type'],
              properties: {
                type: { type: 'string', enum: ['wallet_balance', 'netbank', 'quickpay', 'wallet', 'card'] },
                bank: { type: 'string', maxLength: 40 },
                provider: { type: 'string', maxLength: 40 },
                saved_method: idSchema('saved_method'),
                card: idSchema('card'),
              },
            },
          },
        },
      }),
    },
    async (request, reply) => {
      const checkout = await open(request)
      const method: Record<string, unknown> = { ...request.body.payment_method }
      if (method['type'] === 'wallet_balance') {
        if (!walletBalanceOffered(checkout)) throw new KassaError('payment_method_unsupported', { param: 'payment_method.type' })
        method['shopper'] = checkout.payment.shopper_id
      }
      // A card id is the merchant's; this page charges only a card typed on it, never one learned elsewhere.
      if (method['type'] === 'card' && typeof method['card'] === 'string' && !(await deps.payments.cardPayments().typedOnCheckout(checkout.payment.id, method['card']))) {
        throw new KassaError('parameter_invalid', { param: 'payment_method.card', message: `No such card: ${method['card']}` })
      }
      const header = request.headers['idempotency-key']
      const key = Array.isArray(header) ? header[0] : header
      const stored = await deps.payments.confirm(checkout.merchant, checkout.payment.id, method, {
        principal_id: `checkout:${checkout.payment.id}`,
        key,
        request_hash: requestHash('POST', `/pay/${checkout.payment.id}/api/confirm`, request.body),
      })
      return sendStored(reply, await answerAfterConfirm(deps, checkout.payment.merchant_id, stored))
    },
  )

  app.post<{ Params: { id: string }; Querystring: { t: string }; Body: { sms_code: string } }>(
    '/:id/api/sms_code',
    {
      schema: checkoutSchema('Quick pay: the SMS code the bank sent for this payment', {
        body: { type: 'object', additionalProperties: false, required: ['sms_code'], properties: { sms_code: { type: 'string', pattern: '^[0-9]{4,8}$' } } },
      }),
    },
    async (request, reply) => {
      const checkout = await open(request)
      await deps.counterparts.confirmSmsCode(checkout.payment.merchant_id, checkout.payment.id, request.body.sms_code)
      return sendJson(reply, await state(await open(request)))
    },
  )

  app.post<{ Params: { id: string }; Querystring: { t: string }; Body: { channel: string; account_no: string; holder_name: string; phone: string } }>(
    '/:id/api/quickpay/bindings',
    {
      schema: checkoutSchema('Quick pay: bind a bank account (the bank sends an SMS code)', {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['channel', 'account_no', 'holder_name', 'phone'],
          properties: {
            channel: { type: 'string', maxLength: 80 },
            account_no: { type: 'string', maxLength: 19 },
            holder_name: textSchema(60),
            phone: { type: 'string', maxLength: 11 },
          },
        },
      }),
    },
    async (request, reply) => {
      const checkout = await open(request)
      if (checkout.payment.shopper_id === null) throw new KassaError('parameter_invalid', { param: 'shopper', message: 'Saving an account needs a payment made for a known shopper.' })
      return sendJson(reply, await startBinding(bindingDeps, { channel_id: request.body.channel, account_no: request.body.account_no, holder_name: request.body.holder_name, phone: request.body.phone }))
    },
  )

  app.post<{ Params: { id: string }; Querystring: { t: string }; Body: { channel: string; binding_request_id: string; sms_code: string } }>(
    '/:id/api/quickpay/bindings/confirm',
    {
      schema: checkoutSchema('Quick pay: confirm a binding with its SMS code; it becomes a saved method', {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['channel', 'binding_request_id', 'sms_code'],
          properties: { channel: { type: 'string', maxLength: 80 }, binding_request_id: { type: 'string', maxLength: 80 }, sms_code: { type: 'string', maxLength: 8 } },
        },
      }),
    },
    async (request, reply) => {
      const checkout = await open(request)
      if (checkout.payment.shopper_id === null) throw new KassaError('parameter_invalid', { param: 'shopper', message: 'Saving an account needs a payment made for a known shopper.' })
      return sendJson(reply, await confirmBinding(bindingDeps, { shopper_id: checkout.payment.shopper_id, channel_id: request.body.channel, binding_request_id: request.body.binding_request_id, sms_code: request.body.sms_code }))
    },
  )

  app.delete<{ Params: { id: string; method: string }; Querystring: { t: string } }>(
    '/:id/api/saved_methods/:method',
    {
      schema: checkoutSchema('Remove a saved method (quick pay: unbound at the bank)', {
        params: { type: 'object', required: ['id', 'method'], properties: { id: idSchema('payment'), method: idSchema('saved_method') } },
      }),
    },
    async (request, reply) => {
      const checkout = await open(request)
      if (checkout.payment.shopper_id === null) throw new KassaError('saved_method_missing', { param: 'method' })
      // A seller holds its own payments' checkout links: only the shop's own checkout may remove a shopper's account.
      if (checkout.merchant.merchant_kind !== 'self_operated') throw new KassaError('permission_denied', { message: "Saved accounts are managed in the shop's own app." })
      await unbind(bindingDeps, checkout.payment.shopper_id, request.params.method)
      return sendJson(reply, await state(checkout))
    },
  )

  app.post<{ Params: { id: string }; Querystring: { t: string }; Body: CardBody }>(
    '/:id/api/cards',
    { schema: checkoutSchema('The card the shopper typed, into the vault; answers its card_… id', { body: cardBodySchema }) },
    async (request, reply) => {
      const checkout = await open(request)
      const { number, exp_month, exp_year } = request.body
      return sendJson(reply, await deps.payments.cardPayments().tokenize(checkout.payment.merchant_id, { number, exp_month, exp_year }, { payment_id: checkout.payment.id }))
    },
  )

  /** The shopper's browser back from the bank or wallet. */
  app.get<{ Params: { id: string }; Querystring: Record<string, string> & { t: string; attempt?: string } }>(
    '/:id/return',
    { schema: { hide: true, params: idParams('payment'), querystring: { type: 'object', required: ['t'], properties: { t: { type: 'string', maxLength: 64 }, attempt: { type: 'string', maxLength: 64 } } } } },
    async (request, reply) => {
      const checkout = await open(request)
      const attemptId = request.query.attempt
      if (attemptId !== undefined) {
        const attempt = await deps.counterparts.attempt(attemptId)
        if (attempt !== undefined && attempt.payment_id === checkout.payment.id) await deps.counterparts.returned(attempt.id, request.query)
      }
      return reply.redirect(`/pay/${checkout.payment.id}?t=${encodeURIComponent(request.query.t)}`, 303)
    },
  )
}
