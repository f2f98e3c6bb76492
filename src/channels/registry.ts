import type { Channel, ChannelKind } from './channel.js'
import { cardChannel } from './card/index.js'
import { codChannel } from './cod/index.js'
import { netbankChannel } from './netbank/index.js'
import { quickpayChannel } from './quickpay/index.js'
import { thirdPartyWalletChannel } from './wallet/index.js'
import { walletBalanceChannel } from './wallet-balance/index.js'

/**
 * The channels this build offers, by payment method type. Whether each one takes payments right
 * now, for whom and for how much, is data (`channel_configs`, src/channels/config.ts).
 */
const channels: ReadonlyMap<string, Channel> = new Map<string, Channel>([
  ['wallet_balance', walletBalanceChannel as Channel],
  ['cod', codChannel as Channel],
  ['card', cardChannel as Channel],
  ['netbank', netbankChannel as Channel],
  ['quickpay', quickpayChannel as Channel],
  ['wallet', thirdPartyWalletChannel as Channel],
])

export function findChannel(paymentMethodType: string): Channel | undefined {
  return channels.get(paymentMethodType)
}

export function channelKinds(): ChannelKind[] {
  return [...channels.values()].map((channel) => channel.kind)
}
