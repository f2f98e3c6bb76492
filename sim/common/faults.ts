/**
 * Fault knobs shared by the bank and wallet simulators: what goes wrong, for which orders, how
 * often. A decision point (a notification about to be sent, a query, any API request, a close)
 * asks for the first rule that matches it; a rule matches when its action is one the point accepts,
 * its filters match, it has been applied fewer than `timesMax` times and a seeded draw falls under
 * `ratio`. Pure apart from the seeded generator it is given.
 */
import { assert } from '../../src/domain/assert.js'

/** Which notification a rule is about: the order's new status. */
export type NotifiedStatus = 'paid' | 'failed' | 'closed'

/** How a forged notification is wrong. */
export type Forgery =
  /** The genuine fields with a signature made with another key. */
  | 'bad_signature'
  /** Correctly signed (as if the key had leaked or the provider had a bug), the amount one minor unit higher. */
  | 'wrong_amount'
  /** Correctly signed, for an order number nobody created. */
  | 'unknown_order'

/**
 * The operations a `server_error` rule can name. The bank's API has all of them; the wallets have
 * `create`, `query`, `refund`, `refund_query`, `close`.
 */
export type Operation =
  | 'create'
  | 'query'
  | 'refund'
  | 'refund_query'
  | 'close'
  | 'binding'
  | 'binding_confirm'
  | 'unbind'
  | 'payment'
  | 'payment_confirm'

type Common = {
  /** Only for this order (Kassa's order number: `order_no` at the bank, `out_trade_no` at the wallets). */
  readonly order_no?: string
  /** 0 to 1; defaults to 1 (every matching occasion). Draws come from the simulator's seed. */
  readonly ratio?: number
  /** Applied at most this many times (≥ 1); unlimited when absent. */
  readonly timesMax?: number
}

type NotificationCommon = Common & {
  /** Only notifications announcing this status. */
  readonly status?: NotifiedStatus
}

export type FaultRule =
  /** The notification is never sent (the order still changes; only a query tells). */
  | (NotificationCommon & { readonly action: 'notify_drop' })
  /** The notification is delivered twice, each copy retried on its own until answered `success`. */
  | (NotificationCommon & { readonly action: 'notify_duplicate' })
  /** The first attempt is made `delayMs` late. */
  | (NotificationCommon & { readonly action: 'notify_delay'; readonly delayMs: number })
  /**
   * The notification is held back until the order's next notification has had its first answer, so
   * it arrives after a newer one (at most `delayMs` later, default 5,000 ms, when no newer one comes).
   */
  | (NotificationCommon & { readonly action: 'notify_out_of_order'; readonly delayMs?: number })
  /** A forged notification is sent (once, never retried) just before the genuine one. */
  | (NotificationCommon & { readonly action: 'notify_forge'; readonly forgery: Forgery })
  /** The query endpoint answers only after `delayMs` (past any sensible client timeout). */
  | (Common & { readonly action: 'query_hang'; readonly delayMs: number })
  /**
   * The request is answered with a 5xx from a "proxy" (HTML body, unsigned). With `afterProcessing`
   * the request was carried out first and only its answer is lost, as a gateway timeout does.
   */
  | (Common & {
      readonly action: 'server_error'
      /** Only this operation; every operation when absent. */
      readonly operation?: Operation
      /** Defaults to 502. */
      readonly httpStatus?: 500 | 502 | 503 | 504
      readonly afterProcessing?: boolean
    })
  /**
   * The request is carried out only after `delayMs`, as by a bank whose back end is slow: a later
   * request of the client's (a close) may be carried out first. Bank simulator only.
   */
  | (Common & { readonly action: 'request_delay'; readonly delayMs: number; readonly operation?: Operation })
  /**
   * The provider answers a close of this order as closed (and notifies `closed`), yet a payer who
   * already had its page open can still pay it: the order goes from closed to paid and a `paid`
   * notification follows the `closed` one. The race a real provider has between close and pay.
   */
  | (Common & { readonly action: 'pay_after_close' })
  /**
   * The provider refuses every refund of the order as exceeding what is refundable, as a bank does
   * when the merchant already refunded it outside the API (its own portal, a branch).
   */
  | (Common & { readonly action: 'refund_refuse' })

export type FaultAction = FaultRule['action']
export type NotificationFaultRule = Extract<FaultRule, { action: `notify_${string}` }>

/** Delays and holds are bounded: at most one minute. */
export const faultDelayMsMax = 60_000
export const outOfOrderHoldMsDefault = 5_000

type ActiveRule = { readonly rule: FaultRule; applied: number }

/** The rules in force, with how often each was applied. */
export class FaultBook {
  private rules: ActiveRule[] = []
  constructor(
    rules: readonly FaultRule[],
    private readonly random: () => number,
  ) {
    this.replace(rules)
  }

  /** Replaces every rule (counts start again at 0). */
  replace(rules: readonly FaultRule[]): void {
    for (const rule of rules) validateRule(rule)
    this.rules = rules.map((rule) => ({ rule, applied: 0 }))
  }

  list(): readonly FaultRule[] {
    return this.rules.map((active) => active.rule)
  }

  /** The notification fault for a notification about `status` of `orderNo`, if any. */
  notification(orderNo: string, status: NotifiedStatus): NotificationFaultRule | undefined {
    return this.pick((rule): rule is NotificationFaultRule => rule.action.startsWith('notify_') && (!('status' in rule) || rule.status === undefined || rule.status === status), orderNo)
  }

  /** The `query_hang` rule for a query of `orderNo`, if any. */
  queryHang(orderNo: string | undefined): Extract<FaultRule, { action: 'query_hang' }> | undefined {
    return this.pick((rule): rule is Extract<FaultRule, { action: 'query_hang' }> => rule.action === 'query_hang', orderNo)
  }

  /** The `server_error` rule for a request, if any. */
  serverError(operation: Operation, orderNo: string | undefined): Extract<FaultRule, { action: 'server_error' }> | undefined {
    return this.pick(
      (rule): rule is Extract<FaultRule, { action: 'server_error' }> => rule.action === 'server_error' && (rule.operation === undefined || rule.operation === operation),
      orderNo,
    )
  }

  /** The `request_delay` rule for a request, if any. */
  requestDelay(operation: Operation, orderNo: string | undefined): Extract<FaultRule, { action: 'request_delay' }> | undefined {
    return this.pick(
      (rule): rule is Extract<FaultRule, { action: 'request_delay' }> => rule.action === 'request_delay' && (rule.operation === undefined || rule.operation === operation),
      orderNo,
    )
  }

  /** Whether closing `orderNo` races with a payment. */
  payAfterClose(orderNo: string): boolean {
    return this.pick((rule): rule is Extract<FaultRule, { action: 'pay_after_close' }> => rule.action === 'pay_after_close', orderNo) !== undefined
  }

  /** Whether refunds of `orderNo` are refused. */
  refundRefused(orderNo: string): boolean {
    return this.pick((rule): rule is Extract<FaultRule, { action: 'refund_refuse' }> => rule.action === 'refund_refuse', orderNo) !== undefined
  }

  private pick<R extends FaultRule>(accepts: (rule: FaultRule) => rule is R, orderNo: string | undefined): R | undefined {
    for (const active of this.rules) {
      const rule = active.rule
      if (!accepts(rule)) continue
      if (rule.order_no !== undefined && rule.order_no !== orderNo) continue
      if (rule.timesMax !== undefined && active.applied >= rule.timesMax) continue
      if (rule.ratio !== undefined && rule.ratio < 1 && this.random() >= rule.ratio) continue
      active.applied++
      return rule
    }
    return undefined
  }
}

function validateRule(rule: FaultRule): void {
  assert(rule.ratio === undefined || (rule.ratio >= 0 && rule.ratio <= 1), 'a fault ratio is 0 to 1')
  assert(rule.timesMax === undefined || (Number.isSafeInteger(rule.timesMax) && rule.timesMax >= 1), 'timesMax is a positive integer')
  if ('delayMs' in rule && rule.delayMs !== undefined) {
    assert(Number.isSafeInteger(rule.delayMs) && rule.delayMs >= 0 && rule.delayMs <= faultDelayMsMax, `delayMs is 0 to ${faultDelayMsMax}`)
  }
}
