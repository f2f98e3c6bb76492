import type { CurrencyCode } from '../domain/currency.js'

/**
 * The port a counterpart (a bank, a wallet provider) implements for Kassa's checkout channels.
 * Adapters live beside their channel kind (`src/channels/netbank`, `quickpay`, `wallet`) and speak
 * the counterpart's own HTTP API and signature scheme; everything above this port speaks Kassa.
 *
 * Every call is made outside any database transaction. Every call is idempotent at the counterpart
 * by Kassa's own numbers (`order_no`, `refund_no`), so a call whose answer was lost is simply made
 * again. An adapter never throws for what the counterpart said or failed to say: it answers
 * `unknown` for a timeout, a 5xx, an unsigned or badly signed answer, and `rejected` for a
 * definitive "no", so the caller can tell "try again later" from "this will never work".
 */

export type ProviderKind = 'netbank' | 'quickpay' | 'wallet'

/** What Kassa asks a counterpart to collect: one attempt of one payment. */
export type ProviderOrder = {
  /** Kassa's attempt id (`att_…`): the counterpart's merchant order number. */
  readonly order_no: string
  readonly amount: bigint
  readonly currency: CurrencyCode
  /** Shown to the payer at the counterpart (order reference and description). */
  readonly subject: string
  /** Where the counterpart sends the payer's browser back to. */
  readonly return_url: string
  /** Where the counterpart POSTs its asynchronous notification. */
  readonly notify_url: string
}

/** The order as the counterpart reports it, after its signature has been verified. */
export type ProviderOrderReport = {
  readonly order_no: string
  readonly provider_order_id: string | null
  /** `pending`: the payer has not paid yet; `failed`: the counterpart declined; `closed`: unpaid and closed. */
  readonly status: 'pending' | 'paid' | 'failed' | 'closed'
  readonly amount: bigint
  readonly currency: string
  /** What the counterpart has refunded on it so far, when it says. */
  readonly refunded_amount: bigint | null
  /** The counterpart's own reason for a failure, e.g. `insufficient_balance`. */
  readonly failure_reason: string | null
}

/** What the shopper must do next to pay at the counterpart. */
export type NextAction =
  | { readonly type: 'redirect_to_url'; readonly url: string }
  | { readonly type: 'display_qr_code'; readonly qr_code: string; readonly url: string }
  | { readonly type: 'enter_sms_code'; readonly phone_masked: string }

/** An answer of a counterpart: `unknown` means "no answer we can trust"; ask again later. */
export type ProviderResult<T> =
  | ({ readonly outcome: 'ok' } & T)
  | { readonly outcome: 'rejected'; readonly code: string; readonly message: string }
  | { readonly outcome: 'unknown'; readonly message: string }

export type CreatedOrder = { readonly provider_order_id: string | null; readonly next_action: NextAction }

export type ProviderRefund = {
  readonly order_no: string
  /** Kassa's refund id (`re_…`): the counterpart's refund number, its idempotency key. */
  readonly refund_no: string
  readonly amount: bigint
  readonly currency: CurrencyCode
  /** The order's whole amount (some counterparts want it with every refund). */
  readonly order_amount: bigint
  readonly reason: string | null
}

export type RefundDone = { readonly provider_refund_id: string | null; readonly amount: bigint }

/** A notification as it arrived on Kassa's endpoint, untouched. */
export type RawNotification = {
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The body exactly as received (signatures are over these bytes). */
  readonly body: string
  readonly content_type: string | undefined
}

export type VerifiedNotification =
  | {
      readonly ok: true
      /** The counterpart's notification id: every retry and duplicate of one notification carries it. */
      readonly notification_id: string
      readonly report: ProviderOrderReport
      /** What to answer so the counterpart stops retrying. */
      readonly ack: { readonly status: number; readonly body: string; readonly content_type: string }
    }
  | {
      readonly ok: false
      /** `bad_signature`, `malformed`: why it was refused. Unknown orders and wrong amounts are refused above the port. */
      readonly reason: 'bad_signature' | 'malformed'
      readonly message: string
      /** What to answer: anything but the acknowledgement, so a genuine one is sent again. */
      readonly nack: { readonly status: number; readonly body: string; readonly content_type: string }
    }

export interface Provider {
  /** The counterpart's id, e.g. `icbc-sim`, `alipay-like`. */
  readonly id: string
  readonly kind: ProviderKind
  /** Shown to shoppers, e.g. "ICBC Simulated Bank". */
  readonly display_name: string
  readonly currencies: readonly CurrencyCode[]
  /** Netbank and wallet: creates the order and says where to send the shopper. Quick pay: see QuickpayProvider. */
  createOrder(order: ProviderOrder): Promise<ProviderResult<CreatedOrder>>
  /** `rejected` with code `order_not_found` when the counterpart never saw the order. */
  queryOrder(orderNo: string): Promise<ProviderResult<{ readonly report: ProviderOrderReport }>>
  /** Closes an unpaid order. A paid one answers `rejected` with code `order_paid`. */
  closeOrder(orderNo: string): Promise<ProviderResult<{ readonly report: ProviderOrderReport | null }>>
  refund(refund: ProviderRefund): Promise<ProviderResult<RefundDone>>
  /** `rejected` with code `refund_not_found` when the counterpart never saw the refund. */
  queryRefund(orderNo: string, refundNo: string): Promise<ProviderResult<RefundDone>>
  /** May need the counterpart itself (a wallet fetching a rotated platform key), hence a promise where it does. */
  verifyNotification(notification: RawNotification): VerifiedNotification | Promise<VerifiedNotification>
  /**
   * The payer's browser coming back with the counterpart's signed report in the query string, when
   * the counterpart signs one; undefined otherwise (Kassa then queries).
   */
  verifyReturn(query: Readonly<Record<string, string>>): ProviderOrderReport | undefined
}

/** Quick pay: a bank account bound once (with an SMS code), then payments confirmed by SMS code. */
export interface QuickpayProvider extends Provider {
  readonly kind: 'quickpay'
  /** Sends an SMS code to the phone the bank has for the account. `rejected` codes: `account_mismatch`, `account_blocked`, … */
  startBinding(input: { readonly account_no: string; readonly holder_name: string; readonly phone: string }): Promise<
    ProviderResult<{ readonly binding_request_id: string; readonly phone_masked: string }>
  >
  /** `rejected` codes: `sms_code_wrong` (message says the tries left), `sms_code_expired`, `sms_code_attempts_exceeded`, `binding_request_not_found`. */
  confirmBinding(input: { readonly binding_request_id: string; readonly sms_code: string }): Promise<
    ProviderResult<{ readonly binding_id: string; readonly account_no_masked: string; readonly holder_name: string }>
  >
  unbind(bindingId: string): Promise<ProviderResult<{ readonly binding_id: string }>>
  /** Starts a payment on a binding; the bank sends an SMS code. */
  startPayment(input: { readonly binding_id: string } & ProviderOrder): Promise<ProviderResult<CreatedOrder>>
  /** The payment's outcome: `paid`, or `failed` with `failure_reason`; a wrong code with tries left is `rejected` `sms_code_wrong`. */
  confirmPayment(input: { readonly order_no: string; readonly sms_code: string }): Promise<ProviderResult<{ readonly report: ProviderOrderReport }>>
}

export function isQuickpayProvider(provider: Provider): provider is QuickpayProvider {
  return provider.kind === 'quickpay'
}
