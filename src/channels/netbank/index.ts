import type { Channel } from '../channel.js'
import { providerChannelId } from '../config.js'

export type NetbankMethod = { readonly type: 'netbank'; readonly bank: string }

const providerIdPattern = /^[a-z][a-z0-9-]{1,39}$/

/**
 * Online banking: Kassa creates an order at the shopper's bank and sends the shopper to the bank's
 * own pages; the bank notifies (signed, asynchronously) and redirects back, and Kassa queries the
 * orders whose notification never came. Each bank is a provider: `netbank.icbc-sim`, `netbank.cmb-sim`.
 */
export const netbankChannel: Channel<NetbankMethod> = {
  kind: 'netbank',
  capabilities: { manual_capture: false, partial_capture: false, refunds: true, partial_refunds: true, funds_held_by: 'counterpart', currencies: ['CNY'] },
  collector: 'provider',
  parseMethod(input) {
    const bank = input['bank']
    if (typeof bank !== 'string' || !providerIdPattern.test(bank)) return { ok: false, param: 'payment_method.bank', message: 'payment_method.bank names the bank, e.g. icbc-sim.' }
    return { ok: true, method: { type: 'netbank', bank } }
  },
  configId: (method) => providerChannelId('netbank', method.bank),
}

export { providerIdPattern }
