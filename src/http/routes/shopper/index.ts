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
      shopperOf(request)
      return sendJson(reply, await deps.delivery.resolveCode(request.body.payload))
    },
  )

  app.post<{ Body: { payload: string } }>(
    '/codes/pay',
    { schema: { tags: ['shopper'], summary: 'Pay a scanned parcel code from the wallet balance', body: payloadBody } },
    async (request, reply) => sendJson(reply, await deps.delivery.payCode(shopperOf(request), request.body.payload)),
  )

  app.post('/payment_tokens', { schema: { tags: ['shopper'], summary: "A one-time token that lets a merchant's checkout charge this wallet once (payment_method.token)" } }, async (request, reply) => {
    const token = await deps.delivery.issuePaymentToken(shopperOf(request))
    return sendJson(reply, token)
  })

  app.post('/cpm', { schema: { tags: ['shopper'], summary: 'A one-time consumer-presented code for the courier to scan' } }, async (request, reply) => {
    return sendJson(reply, await deps.delivery.issueShopperCode(shopperOf(request)))
  })
}
