import type { Channel } from '../channel.js'
import { isId } from '../../domain/ids.js'

export type WalletBalanceMethod = { readonly type: 'wallet_balance'; readonly shopper: string }

/**
 * The shop's own wallet: the shopper's balance is an account in Kassa's ledger, so a payment is
 * held, captured and refunded by transfers on it, and the ledger's limit rule is the decline.
 */
export const walletBalanceChannel: Channel<WalletBalanceMethod> = {
  kind: 'wallet_balance',
  capabilities: {
    manual_capture: true,
    partial_capture: true,
    refunds: true,
    partial_refunds: true,
    funds_held_by: 'ledger',
    currencies: 'any',
  },
  parseMethod(input) {
    const shopper = input['shopper']
    if (typeof shopper !== 'string' || !isId('shopper', shopper)) {
      return { ok: false, param: 'payment_method.shopper', message: 'payment_method.shopper must be a shopper id (shp_…).' }
    }
    return { ok: true, method: { type: 'wallet_balance', shopper } }
  },
  fundingAccount(payment, method) {
    return { code: 'shopper_balance', owner_id: method.shopper, currency: payment.currency }
  },
}
