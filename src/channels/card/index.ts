import { isId } from '../../domain/ids.js'
import type { Channel } from '../channel.js'

export type CardMethod = { readonly type: 'card'; readonly card: string }

/**
 * Cards, acquired by Kassa itself through the scheme (src/acquiring). A payment names a card
 * already in the vault (`card_…`): the checkout page tokenizes what the shopper types, and
 * certified merchants tokenize with `POST /v1/cards`, so a card number never travels in a payment
 * request, an idempotency record or a log. Automatic capture is a sale (0200); manual capture an
 * authorization (0100) captured later by advice (0220).
 */
export const cardChannel: Channel<CardMethod> = {
  kind: 'card',
  capabilities: { manual_capture: true, partial_capture: true, refunds: true, partial_refunds: true, funds_held_by: 'counterpart', currencies: 'any' },
  collector: 'acquirer',
  parseMethod(input) {
    const card = input['card']
    if (typeof card !== 'string' || !isId('card', card)) {
      return { ok: false, param: 'payment_method.card', message: 'payment_method.card is a card from the vault (card_…): tokenize it first with POST /v1/cards.' }
    }
    return { ok: true, method: { type: 'card', card } }
  },
  configId: () => 'card',
}
