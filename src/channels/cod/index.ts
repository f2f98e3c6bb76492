import type { Channel } from '../channel.js'

export type CodMethod = { readonly type: 'cod' }

/**
 * Pay on delivery: confirming only says "the shopper pays at the door". The payment waits in
 * `processing` while its parcels are out; each parcel is then paid by the courier's QR code (from
 * the shopper's wallet), by the shopper's own code, or in cash, and posts its own transfer
 * (src/delivery). Refunds of delivered parcels are not offered yet: the capability says so.
 */
export const codChannel: Channel<CodMethod> = {
  kind: 'cod',
  capabilities: {
    manual_capture: false,
    partial_capture: false,
    refunds: false,
    partial_refunds: false,
    funds_held_by: 'counterpart',
    currencies: 'any',
  },
  collector: 'courier',
  configId: () => 'cod',
  parseMethod() {
    return { ok: true, method: { type: 'cod' } }
  },
}
