import { isId } from '../../domain/ids.js'
import type { Channel } from '../channel.js'

export type QuickpayMethod = { readonly type: 'quickpay'; readonly saved_method: string }

/**
 * Quick pay: the shopper binds a bank account once (the bank checks it with an SMS code); the
 * binding is a saved method (`pm_…`), and each payment on it is confirmed with a fresh SMS code.
 * The channel is the binding's bank: `quickpay.icbc-sim`.
 */
export const quickpayChannel: Channel<QuickpayMethod> = {
  kind: 'quickpay',
  capabilities: { manual_capture: false, partial_capture: false, refunds: true, partial_refunds: true, funds_held_by: 'counterpart', currencies: ['CNY'] },
  collector: 'provider',
  parseMethod(input) {
    const saved = input['saved_method']
    if (typeof saved !== 'string' || !isId('saved_method', saved)) {
      return { ok: false, param: 'payment_method.saved_method', message: "payment_method.saved_method is the shopper's quick-pay binding (pm_…)." }
    }
    return { ok: true, method: { type: 'quickpay', saved_method: saved } }
  },
  // The binding's row says which bank.
  configId: () => undefined,
}
