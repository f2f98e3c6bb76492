import type { CurrencyCode } from '../domain/currency.js'
import type { AccountRef } from '../ledger/accounts.js'

/**
 * The port every payment channel implements (card, online banking, quick pay, wallet balance,
 * third-party wallets, cash or QR on delivery). What a channel can do is data, so the payments
 * service answers `channel_capability_unsupported` instead of guessing.
 */
export type ChannelKind = 'wallet_balance' | 'card' | 'netbank' | 'quickpay' | 'wallet' | 'cod'

export type ChannelCapabilities = {
  readonly manual_capture: boolean
  readonly partial_capture: boolean
  readonly refunds: boolean
  readonly partial_refunds: boolean
  /**
   * Where the money sits while authorized. `ledger`: in an account of Kassa's own ledger (a wallet
   * balance), so authorization is a pending transfer decided inside the payment's transaction.
   * `counterpart`: at a bank, issuer or wallet, so authorization is a call made outside any
   * transaction, with the payment in `processing` until the answer (or a notification) arrives.
   */
  readonly funds_held_by: 'ledger' | 'counterpart'
  readonly currencies: 'any' | readonly CurrencyCode[]
}

/** What a payment needs from its channel, in the payment's own terms. */
export type ChannelPayment = {
  readonly id: string
  readonly merchant_id: string
  readonly amount: bigint
  readonly currency: CurrencyCode
  readonly shopper_id: string | null
}

export interface Channel<Method = unknown> {
  readonly kind: ChannelKind
  readonly capabilities: ChannelCapabilities
  /**
   * Checks the `payment_method` object of a confirm request; answers the method or the name of
   * the offending field. Pure.
   */
  parseMethod(input: Readonly<Record<string, unknown>>): { ok: true; method: Method } | { ok: false; param: string; message: string }
  /**
   * The account the money comes from on capture and goes back to on refund, for channels whose
   * funds Kassa's own ledger holds; the others post when their counterpart (or the door) pays.
   */
  fundingAccount?(payment: ChannelPayment, method: Method): AccountRef
  /**
   * The id of the configuration row (`channel_configs`) a payment with this method runs on:
   * `wallet_balance`, `netbank.icbc-sim`… Undefined when only the store can tell (a saved method).
   */
  configId(method: Method): string | undefined
  /**
   * Who collects the money: Kassa's own `ledger` (wallet balance), a `provider` reached over its
   * HTTP API (netbank, quick pay, wallets: src/channels/provider.ts), the card `acquirer` over the
   * scheme link (src/acquiring), or the `courier` at the door (src/delivery).
   */
  readonly collector: 'ledger' | 'provider' | 'acquirer' | 'courier'
}
