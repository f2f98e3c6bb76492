import type { FastifyInstance } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { merchantOf, sendJson, type AppDeps } from '../../app.js'

export const cardBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['number', 'exp_month', 'exp_year'],
  properties: {
    number: { type: 'string', minLength: 12, maxLength: 23, pattern: '^[0-9 -]+$', description: 'The card number (PAN); stored only sealed in the vault.' },
    exp_month: { type: 'integer', minimum: 1, maximum: 12 },
    exp_year: { type: 'integer', minimum: 2000, maximum: 2099 },
    cvc: { type: 'string', pattern: '^[0-9]{3,4}$', description: 'Checked by the issuer in production; never stored.' },
  },
} as const

export type CardBody = { number: string; exp_month: number; exp_year: number; cvc?: string }

/**
 * Card tokenization for merchants certified to handle card data (the payment company's own shop):
 * the number is sealed in the vault at once and known by its `card_…` id from then on. Everyone
 * else sends shoppers to the hosted checkout, which tokenizes in Kassa's own page.
 */
export async function cardRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: CardBody }>(
    '/cards',
    { schema: { tags: ['payments'], summary: 'Put a card in the vault (certified merchants only); pay with payment_method {type: card, card: card_…}', body: cardBodySchema } },
    async (request, reply) => {
      const merchant = merchantOf(request)
      if (merchant.merchant_kind !== 'self_operated') {
        throw new KassaError('permission_denied', { message: 'Only merchants certified to handle card data may send card numbers; use the hosted checkout (checkout_url).' })
      }
      const { number, exp_month, exp_year } = request.body
      return sendJson(reply, await deps.payments.cardPayments().tokenize(merchant.id, { number, exp_month, exp_year }))
    },
  )
}
