/**
 * The money inside a simulated provider: payer accounts with real balances, the merchants'
 * accounts, orders with their status, and refunds. Every payment moves the amount from a payer to
 * the merchant; every refund moves it back; nothing else moves money, so the total never changes
 * (`totalMinor`). Synchronous and free of I/O: the HTTP shells call it and send notifications for the
 * transitions it reports.
 */
import { assert } from '../../src/domain/assert.js'
import type { Clock } from '../../src/domain/clock.js'
import type { CurrencyCode } from '../../src/domain/currency.js'

/** The provider-neutral status of an order; each provider names them its own way on the wire. */
export type OrderStatus = 'waiting' | 'paid' | 'failed' | 'closed'

/**
 * Which status may follow which. `closed → paid` happens only under the `pay_after_close` fault
 * (a close racing a payment), which is exactly the case a merchant must reconcile.
 */
export const orderTransitions = {
  waiting: ['paid', 'failed', 'closed'],
  paid: [],
  failed: [],
  closed: ['paid'],
} as const satisfies Record<OrderStatus, readonly OrderStatus[]>

export type PayerAccount = {
  /** How the payer logs in (the bank's username, the wallet's login). */
  readonly id: string
  readonly currency: CurrencyCode
  readonly balance_minor: bigint
  readonly blocked: boolean
}

export type AccountView = PayerAccount

export type OrderKind = 'netbank' | 'quickpay' | 'wallet'

export type NewOrder = {
  readonly merchant_id: string
  readonly order_no: string
  readonly provider_order_id: string
  readonly kind: OrderKind
  readonly amount_minor: bigint
  readonly currency: CurrencyCode
  readonly subject: string
  readonly notify_url: string | undefined
  readonly return_url: string | undefined
  /** What makes a repeated creation "the same request": a canonical form of its parameters. */
  readonly fingerprint: string
  /** Anything the provider wants to keep with the order (a quick-pay binding id). */
  readonly extra?: Readonly<Record<string, string>>
}

export type Order = NewOrder & {
  readonly created_at_ms: number
  readonly expires_at_ms: number
  readonly status: OrderStatus
  readonly payer_id: string | undefined
  readonly paid_at_ms: number | undefined
  readonly closed_at_ms: number | undefined
  /** Who closed it: the merchant's close request, or its own time running out. */
  readonly closed_by: 'merchant' | 'expiry' | undefined
  readonly failure_reason: string | undefined
  readonly refunded_minor: bigint
  /** Set by the `pay_after_close` fault when the order was closed: it can still be paid. */
  readonly late_payment_allowed: boolean
  /** The answer given to its creation, replayed to an identical repeat. */
  readonly create_answer: unknown
}

type MutableOrder = { -readonly [K in keyof Order]: Order[K] }

export type Refund = {
  readonly refund_key: string
  readonly refund_no: string
  readonly provider_refund_id: string
  readonly merchant_id: string
  readonly order_no: string
  readonly amount_minor: bigint
  readonly currency: CurrencyCode
  readonly created_at_ms: number
  readonly fingerprint: string
  /** The order's refunded total just after this refund. */
  readonly refunded_total_minor: bigint
}

export type Transition = { readonly order: Order; readonly from: OrderStatus; readonly to: OrderStatus }

export type CreateOutcome =
  | { readonly outcome: 'created'; readonly order: Order }
  | { readonly outcome: 'replayed'; readonly order: Order }
  | { readonly outcome: 'order_no_reused'; readonly order: Order }
  | { readonly outcome: 'capacity' }

export type PayOutcome =
  | { readonly outcome: 'paid'; readonly order: Order }
  | { readonly outcome: 'already_paid' | 'not_payable' | 'expired'; readonly order: Order }
  | { readonly outcome: 'account_unknown' | 'account_blocked' | 'insufficient_balance' | 'currency_mismatch'; readonly order: Order }

export type CloseOutcome = { readonly outcome: 'closed' | 'already_closed' | 'paid' | 'failed'; readonly order: Order }

export type RefundOutcome =
  | { readonly outcome: 'refunded' | 'replayed'; readonly refund: Refund; readonly order: Order }
  | { readonly outcome: 'refund_no_reused'; readonly refund: Refund; readonly order: Order }
  | { readonly outcome: 'not_paid'; readonly order: Order }
  | { readonly outcome: 'exceeds_paid'; readonly order: Order; readonly refundable_minor: bigint }
  | { readonly outcome: 'capacity'; readonly order: Order }

export type OrderBookOptions = {
  readonly clock: Clock
  readonly accounts: readonly PayerAccount[]
  /** An unpaid order closes itself this long after creation (checked when it is next looked at). */
  readonly orderTtlMs: number
  /** Orders kept at once; creating more is refused. */
  readonly ordersMax: number
  /** Refunds kept at once; more are refused. */
  readonly refundsMax: number
  /** Called for every status change, expiry included. */
  readonly onTransition: (transition: Transition) => void
}

export class OrderBook {
  private readonly accounts = new Map<string, { -readonly [K in keyof PayerAccount]: PayerAccount[K] }>()
  private readonly merchantBalances = new Map<string, bigint>()
  private readonly orders = new Map<string, MutableOrder>()
  private readonly ordersByProviderId = new Map<string, MutableOrder>()
  private readonly refunds = new Map<string, Refund>()
  private readonly initialTotal: Map<CurrencyCode, bigint>

  constructor(private readonly options: OrderBookOptions) {
    assert(Number.isSafeInteger(options.orderTtlMs) && options.orderTtlMs > 0, 'orderTtlMs is positive')
    assert(Number.isSafeInteger(options.ordersMax) && options.ordersMax > 0, 'ordersMax is positive')
    assert(Number.isSafeInteger(options.refundsMax) && options.refundsMax > 0, 'refundsMax is positive')
    for (const account of options.accounts) {
      assert(!this.accounts.has(account.id), `account ${account.id} is listed twice`)
      assert(account.balance_minor >= 0n, 'balances start non-negative')
      this.accounts.set(account.id, { ...account })
    }
    this.initialTotal = this.totals()
  }

  account(id: string): AccountView | undefined {
    const account = this.accounts.get(id)
    return account === undefined ? undefined : { ...account }
  }

  accountList(): AccountView[] {
    return [...this.accounts.values()].map((account) => ({ ...account }))
  }

  /** Blocks or unblocks a payer (a test hook: a bank freezing an account). */
  setBlocked(id: string, blocked: boolean): boolean {
    const account = this.accounts.get(id)
    if (account === undefined) return false
    account.blocked = blocked
    return true
  }

  /** What the provider owes a merchant: its payments less its refunds. */
  merchantBalance(merchantId: string, currency: CurrencyCode): bigint {
    return this.merchantBalances.get(`${merchantId}\n${currency}`) ?? 0n
  }

  /** Payers' and merchants' money together, per currency: constant, whatever happens. */
  totalMinor(currency: CurrencyCode): bigint {
    return this.totals().get(currency) ?? 0n
  }

  /** Checks that no money appeared or vanished and that no balance is negative. */
  assertConserved(): void {
    const now = this.totals()
    for (const [currency, total] of this.initialTotal) assert(now.get(currency) === total, `money of ${currency} is not conserved`)
    for (const account of this.accounts.values()) assert(account.balance_minor >= 0n, `account ${account.id} went negative`)
    for (const [key, balance] of this.merchantBalances) assert(balance >= 0n, `merchant ${key} went negative`)
  }

  create(input: NewOrder): CreateOutcome {
    assert(input.amount_minor > 0n, 'an order amount is positive')
    const key = orderKey(input.merchant_id, input.order_no)
    const existing = this.orders.get(key)
    if (existing !== undefined) {
      return existing.fingerprint === input.fingerprint ? { outcome: 'replayed', order: this.view(existing) } : { outcome: 'order_no_reused', order: this.view(existing) }
    }
    if (this.orders.size >= this.options.ordersMax) return { outcome: 'capacity' }
    assert(!this.ordersByProviderId.has(input.provider_order_id), 'provider order ids are unique')
    const now = this.options.clock.now()
    const order: MutableOrder = {
      ...input,
      created_at_ms: now,
      expires_at_ms: now + this.options.orderTtlMs,
      status: 'waiting',
      payer_id: undefined,
      paid_at_ms: undefined,
      closed_at_ms: undefined,
      closed_by: undefined,
      failure_reason: undefined,
      refunded_minor: 0n,
      late_payment_allowed: false,
      create_answer: undefined,
    }
    this.orders.set(key, order)
    this.ordersByProviderId.set(order.provider_order_id, order)
    return { outcome: 'created', order: this.view(order) }
  }

  /** Keeps the answer given to a creation, for identical repeats. */
  setCreateAnswer(merchantId: string, orderNo: string, answer: unknown): void {
    const order = this.orders.get(orderKey(merchantId, orderNo))
    assert(order !== undefined, 'the answer belongs to an order')
    order.create_answer = answer
  }

  /** The order, after closing it if its time ran out. */
  find(merchantId: string, orderNo: string): Order | undefined {
    const order = this.orders.get(orderKey(merchantId, orderNo))
    if (order === undefined) return undefined
    this.expireIfDue(order)
    return this.view(order)
  }

  findByProviderId(providerOrderId: string): Order | undefined {
    const order = this.ordersByProviderId.get(providerOrderId)
    if (order === undefined) return undefined
    this.expireIfDue(order)
    return this.view(order)
  }

  orderList(): Order[] {
    return [...this.orders.values()].map((order) => this.view(order))
  }

  /** Whether a payer could pay the order now (the page shows its confirm step only then). */
  payable(order: Order): boolean {
    return order.status === 'waiting' || (order.status === 'closed' && order.late_payment_allowed)
  }

  /** Debits the payer and credits the merchant, if the payer can pay and the order is payable. */
  pay(merchantId: string, orderNo: string, payerId: string): PayOutcome {
    const order = this.mustFind(merchantId, orderNo)
    this.expireIfDue(order)
    if (order.status === 'paid') return { outcome: 'already_paid', order: this.view(order) }
    if (!this.payable(order)) return { outcome: order.closed_by === 'expiry' ? 'expired' : 'not_payable', order: this.view(order) }
    const account = this.accounts.get(payerId)
    if (account === undefined) return { outcome: 'account_unknown', order: this.view(order) }
    if (account.blocked) return { outcome: 'account_blocked', order: this.view(order) }
    if (account.currency !== order.currency) return { outcome: 'currency_mismatch', order: this.view(order) }
    if (account.balance_minor < order.amount_minor) return { outcome: 'insufficient_balance', order: this.view(order) }
    account.balance_minor -= order.amount_minor
    this.creditMerchant(order.merchant_id, order.currency, order.amount_minor)
    order.payer_id = payerId
    order.paid_at_ms = this.options.clock.now()
    this.transition(order, 'paid')
    return { outcome: 'paid', order: this.view(order) }
  }

  /** Ends an unpaid order as failed (a decline the provider does not let the payer retry). */
  fail(merchantId: string, orderNo: string, reason: string): Order {
    const order = this.mustFind(merchantId, orderNo)
    if (order.status === 'waiting') {
      order.failure_reason = reason
      this.transition(order, 'failed')
    }
    return this.view(order)
  }

  /** Closes an unpaid order; `latePaymentAllowed` is the `pay_after_close` fault. */
  close(merchantId: string, orderNo: string, latePaymentAllowed = false): CloseOutcome {
    const order = this.mustFind(merchantId, orderNo)
    this.expireIfDue(order)
    switch (order.status) {
      case 'waiting':
        order.closed_at_ms = this.options.clock.now()
        order.closed_by = 'merchant'
        order.late_payment_allowed = latePaymentAllowed
        this.transition(order, 'closed')
        return { outcome: 'closed', order: this.view(order) }
      case 'closed':
        return { outcome: 'already_closed', order: this.view(order) }
      case 'paid':
        return { outcome: 'paid', order: this.view(order) }
      case 'failed':
        return { outcome: 'failed', order: this.view(order) }
    }
  }

  refundByKey(refundKey: string): Refund | undefined {
    return this.refunds.get(refundKey)
  }

  refundList(): Refund[] {
    return [...this.refunds.values()]
  }

  /**
   * Moves `amountMinor` back from the merchant to the payer. `refundKey` is the provider's idempotency
   * scope for the merchant's refund number; an identical repeat answers the first refund, a different
   * request under the same key is refused, and the refunded total never exceeds the paid amount.
   */
  refund(merchantId: string, orderNo: string, request: { readonly refund_key: string; readonly refund_no: string; readonly provider_refund_id: string; readonly amount_minor: bigint; readonly fingerprint: string }): RefundOutcome {
    const order = this.mustFind(merchantId, orderNo)
    const existing = this.refunds.get(request.refund_key)
    if (existing !== undefined) {
      return existing.fingerprint === request.fingerprint && existing.order_no === orderNo
        ? { outcome: 'replayed', refund: existing, order: this.view(order) }
        : { outcome: 'refund_no_reused', refund: existing, order: this.view(order) }
    }
    assert(request.amount_minor > 0n, 'a refund amount is positive')
    if (order.status !== 'paid') return { outcome: 'not_paid', order: this.view(order) }
    const refundable = order.amount_minor - order.refunded_minor
    if (request.amount_minor > refundable) return { outcome: 'exceeds_paid', order: this.view(order), refundable_minor: refundable }
    if (this.refunds.size >= this.options.refundsMax) return { outcome: 'capacity', order: this.view(order) }
    const payer = order.payer_id === undefined ? undefined : this.accounts.get(order.payer_id)
    assert(payer !== undefined, 'a paid order has its payer')
    this.creditMerchant(order.merchant_id, order.currency, -request.amount_minor)
    payer.balance_minor += request.amount_minor
    order.refunded_minor += request.amount_minor
    assert(order.refunded_minor <= order.amount_minor, 'refunds never exceed the paid amount')
    const refund: Refund = {
      refund_key: request.refund_key,
      refund_no: request.refund_no,
      provider_refund_id: request.provider_refund_id,
      merchant_id: merchantId,
      order_no: orderNo,
      amount_minor: request.amount_minor,
      currency: order.currency,
      created_at_ms: this.options.clock.now(),
      fingerprint: request.fingerprint,
      refunded_total_minor: order.refunded_minor,
    }
    this.refunds.set(request.refund_key, refund)
    return { outcome: 'refunded', refund, order: this.view(order) }
  }

  private mustFind(merchantId: string, orderNo: string): MutableOrder {
    const order = this.orders.get(orderKey(merchantId, orderNo))
    assert(order !== undefined, `order ${orderNo} exists`)
    return order
  }

  private expireIfDue(order: MutableOrder): void {
    if (order.status !== 'waiting' || this.options.clock.now() < order.expires_at_ms) return
    order.closed_at_ms = order.expires_at_ms
    order.closed_by = 'expiry'
    this.transition(order, 'closed')
  }

  private transition(order: MutableOrder, to: OrderStatus): void {
    const from = order.status
    assert((orderTransitions[from] as readonly OrderStatus[]).includes(to), `order ${order.order_no}: ${from} → ${to} is not a transition`)
    order.status = to
    this.options.onTransition({ order: this.view(order), from, to })
  }

  private creditMerchant(merchantId: string, currency: CurrencyCode, amountMinor: bigint): void {
    const key = `${merchantId}\n${currency}`
    const balance = (this.merchantBalances.get(key) ?? 0n) + amountMinor
    assert(balance >= 0n, 'a merchant balance never goes negative')
    this.merchantBalances.set(key, balance)
  }

  private totals(): Map<CurrencyCode, bigint> {
    const totals = new Map<CurrencyCode, bigint>()
    for (const account of this.accounts.values()) totals.set(account.currency, (totals.get(account.currency) ?? 0n) + account.balance_minor)
    for (const [key, balance] of this.merchantBalances) {
      const currency = key.slice(key.indexOf('\n') + 1) as CurrencyCode
      totals.set(currency, (totals.get(currency) ?? 0n) + balance)
    }
    return totals
  }

  private view(order: MutableOrder): Order {
    return { ...order }
  }
}

function orderKey(merchantId: string, orderNo: string): string {
  return `${merchantId}\n${orderNo}`
}
