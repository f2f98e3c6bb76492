import type { Channel, ChannelKind } from './channel.js'
import { codChannel } from './cod/index.js'
import { walletBalanceChannel } from './wallet-balance/index.js'

/**
 * The channels this build offers, by payment method type. Later issues add card, netbank,
 * quickpay, third-party wallets and cash/QR on delivery here, with a live enabled/draining/disabled
 * state per channel.
 */
const channels: ReadonlyMap<string, Channel> = new Map<string, Channel>([
  ['wallet_balance', walletBalanceChannel as Channel],
  ['cod', codChannel as Channel],
])

export function findChannel(paymentMethodType: string): Channel | undefined {
  return channels.get(paymentMethodType)
}

export function channelKinds(): ChannelKind[] {
  return [...channels.values()].map((channel) => channel.kind)
}
