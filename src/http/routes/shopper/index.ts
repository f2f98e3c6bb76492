import type { FastifyInstance, FastifyRequest } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { formatMinor } from '../../../domain/money.js'
import type { CurrencyCode } from '../../../domain/currency.js'
import { sessionSubject } from '../../../delivery/sessions.js'
import { shopperBalances } from '../../../shoppers/service.js'
import { sendJson, type AppDeps } from '../../app.js'

declare module 'fastify' {
  interface FastifyRequest {
    shopperId: string | undefined
  }
}

const payloadBody = {
  type: 'object',
  additionalProperties: false,
  required: ['payload'],
  properties: { payload: { type: 'string', minLength: 1, maxLength: 512, description: 'The text of the scanned EMVCo QR code.' } },
} as const

const payBody = {
  type: 'object',
  additionalProperties: false,
  required: ['payload'],
  properties: {
    ...payloadBody.properties,
    saved_method: { type: 'string', minLength: 1, maxLength: 80, description: "One of the shopper's saved methods (a quick-pay account, `sm_…`); without it the wallet balance pays." },
  },
} as const

const attemptParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } } as const

/** The shop app's side of pay-on-delivery (a web page stands in for the app): resolve, pay, show my code. */
export async function shopperRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.decorateRequest('shopperId', undefined)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    const token = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined
    if (token === undefined) throw new KassaError('authentication_required', { message: 'Send the shopper token as "Authorization: Bearer st_…".' })
    const shopperId = await sessionSubject(deps.store.db, 'shopper', token, deps.clock.now())
    if (shopperId === undefined) throw new KassaError('session_invalid')
    request.shopperId = shopperId
  })
  const shopperOf = (request: FastifyRequest): string => {
    if (request.shopperId === undefined) throw new KassaError('session_invalid')
    return request.shopperId
  }

  app.get('/me', { schema: { tags: ['shopper'], summary: 'The shopper and wallet balances' } }, async (request, reply) => {
    const id = shopperOf(request)
    const row = await deps.store.db.selectFrom('shoppers').select(['id', 'name']).where('id', '=', id).executeTakeFirstOrThrow()
    const balances = await shopperBalances(deps.store.db, id)
    return sendJson(reply, {
      id: row.id,
      name: row.name,
      balances: balances.map((b) => ({ currency: b.currency, available: b.available, available_display: formatMinor(b.available, b.currency as CurrencyCode) })),
    })
  })

  app.post<{ Body: { payload: string } }>(
    '/codes/resolve',
    { schema: { tags: ['shopper'], summary: 'What a scanned parcel code is for: merchant, parcel and amount from Kassa', body: payloadBody } },
    async (request, reply) => {
      return sendJson(reply, await deps.delivery.resolveCode(request.body.payload, shopperOf(request)))
    },
  )

  app.post<{ Body: { payload: string; saved_method?: string } }>(
    '/codes/pay',
    {
      schema: {
        tags: ['shopper'],
        summary: 'Pay a scanned parcel code: from the wallet balance (paid at once), or with a saved quick-pay account (then the SMS code the bank sends)',
        body: payBody,
      },
    },
    async (request, reply) => {
      const shopperId = shopperOf(request)
      const { payload, saved_method: savedMethod } = request.body
      if (savedMethod === undefined) return sendJson(reply, await deps.delivery.payCode(shopperId, payload))
      return sendJson(reply, await deps.delivery.payCodeWithSavedMethod(shopperId, payload, savedMethod))
    },
  )

  app.get<{ Params: { id: string } }>(
    '/door_payments/:id',
    { schema: { tags: ['shopper'], summary: 'Where a parcel payment through a bank stands', params: attemptParams } },
    async (request, reply) => sendJson(reply, await deps.delivery.doorAttemptAnswer(shopperOf(request), request.params.id)),
  )

  app.post<{ Params: { id: string }; Body: { sms_code: string } }>(
    '/door_payments/:id/sms_code',
    {
      schema: {
        tags: ['shopper'],
        summary: 'The SMS code the bank sent for a parcel payment',
        params: attemptParams,
        body: { type: 'object', additionalProperties: false, required: ['sms_code'], properties: { sms_code: { type: 'string', pattern: '^[0-9]{4,8}$' } } },
      },
    },
    async (request, reply) => sendJson(reply, await deps.delivery.confirmDoorSmsCode(shopperOf(request), request.params.id, request.body.sms_code)),
  )

  app.post<{ Params: { id: string } }>(
    '/door_payments/:id/cancel',
    { schema: { tags: ['shopper'], summary: 'Give up a parcel payment at the bank; the code can then be paid another way', params: attemptParams } },
    async (request, reply) => sendJson(reply, await deps.delivery.cancelDoorAttempt(shopperOf(request), request.params.id)),
  )

  app.post('/payment_tokens', { schema: { tags: ['shopper'], summary: "A one-time token that lets a merchant's checkout charge this wallet once (payment_method.token)" } }, async (request, reply) => {
    const token = await deps.delivery.issuePaymentToken(shopperOf(request))
    return sendJson(reply, token)
  })

  app.post('/cpm', { schema: { tags: ['shopper'], summary: 'A one-time consumer-presented code for the courier to scan' } }, async (request, reply) => {
    return sendJson(reply, await deps.delivery.issueShopperCode(shopperOf(request)))
  })
}
