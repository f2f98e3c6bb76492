import type { Channel } from '../channel.js'
import { providerChannelId } from '../config.js'
import { providerIdPattern } from '../netbank/index.js'

export type WalletMethod = { readonly type: 'wallet'; readonly provider: string }

/**
 * Third-party wallets: Kassa creates an order at the wallet provider and shows its QR code (or
 * redirects on a phone); the provider notifies, signed and asynchronously, and Kassa queries on
 * timeout and refunds through the provider. Each provider is its own channel: `wallet.alipay-like`.
 */
export const thirdPartyWalletChannel: Channel<WalletMethod> = {
  kind: 'wallet',
  capabilities: { manual_capture: false, partial_capture: false, refunds: true, partial_refunds: true, funds_held_by: 'counterpart', currencies: ['CNY'] },
  collector: 'provider',
  parseMethod(input) {
    const provider = input['provider']
    if (typeof provider !== 'string' || !providerIdPattern.test(provider)) {
      return { ok: false, param: 'payment_method.provider', message: 'payment_method.provider names the wallet, e.g. alipay-like.' }
    }
    return { ok: true, method: { type: 'wallet', provider } }
  },
  configId: (method) => providerChannelId('wallet', method.provider),
}
