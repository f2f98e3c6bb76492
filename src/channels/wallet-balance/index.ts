import type { Channel } from '../channel.js'
import { isId } from '../../domain/ids.js'

/**
 * How a wallet payment names its shopper: the one-time token the shopper's own app issued
 * (`token`, any merchant), or the shopper id (`shopper`, only the shop itself, which logs its
 * shoppers in before it confirms). A bare shopper id from a third-party seller would let any seller
 * spend any wallet.
 */
export type WalletBalanceMethod = { readonly type: 'wallet_balance'; readonly shopper?: string; readonly token?: string }

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
    const token = input['token']
    if (token !== undefined && shopper !== undefined) {
      return { ok: false, param: 'payment_method.token', message: 'Send either payment_method.token or payment_method.shopper, not both.' }
    }
    if (typeof token === 'string') {
      if (!/^cpm_[A-Za-z0-9_-]{10,40}$/.test(token)) return { ok: false, param: 'payment_method.token', message: "payment_method.token is the one-time token from the shopper's app (cpm_…)." }
      return { ok: true, method: { type: 'wallet_balance', token } }
    }
    if (typeof shopper !== 'string' || !isId('shopper', shopper)) {
      return { ok: false, param: 'payment_method.shopper', message: "payment_method.token (from the shopper's app) or payment_method.shopper (shp_…) is required." }
    }
    return { ok: true, method: { type: 'wallet_balance', shopper } }
  },
  collector: 'ledger',
  configId: () => 'wallet_balance',
  fundingAccount(payment, method) {
    if (method.shopper === undefined) throw new Error('a wallet method reaches fundingAccount with its shopper resolved')
    return { code: 'shopper_balance', owner_id: method.shopper, currency: payment.currency }
  },
}
