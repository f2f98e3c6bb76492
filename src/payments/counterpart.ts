import { createHmac } from 'node:crypto'
import type { Logger } from 'pino'
import { assertAttemptMove, judgeReport, unstartedAttempt } from '../channels/attempt.js'
import { isQuickpayProvider, type CreatedOrder, type Provider, type ProviderOrderReport, type ProviderResult, type RawNotification } from '../channels/provider.js'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { recordEvent } from '../events/outbox.js'
import { accountId } from '../ledger/accounts.js'
import { ensureAccount, postTransfer } from '../ledger/journal.js'
import type { TransferRequest } from '../ledger/transfer.js'
import { PerMinuteBudget } from '../security/per-minute.js'
import { unseal, type MasterKey } from '../security/secrets.js'
import type { Updateable } from 'kysely'
import type { ChannelAttemptRow, ChannelAttemptsTable, RefundRow } from '../store/schema.js'
import type { Store } from '../store/store.js'
import type { Tx } from '../store/writer.js'
import {
  decideCounterpartCanceled,
  decideCounterpartFailed,
  decideCounterpartPaid,
  decideRefundRefused,
  lateFundsTransfer,
  type Payment,
} from './decide.js'
import type { CardPayments } from './card.js'
import { unavailableFor } from '../channels/config.js'
import { recordAudit, type Actor } from '../audit/log.js'
import type { CurrencyCode } from '../domain/currency.js'
import type { DoorAttemptInput } from '../delivery/service.js'
import type { DeliveryPaidEvent } from '../delivery/live.js'
import type { PaymentService } from './service.js'
import { refundView, type RefundRecord } from './view.js'

export type CounterpartOptions = {
  readonly store: Store
  readonly clock: Clock
  readonly payments: PaymentService
  readonly masterKey: MasterKey
  readonly logger: Logger
  /** Where counterparts reach Kassa (notifications) and send shoppers back to; known once listening. */
  readonly publicUrl: () => string
  readonly notifyCommitted?: () => void
  /** How long after creation Kassa first asks a counterpart about an order no notification settled. */
  readonly queryAfterMs?: number
  /** An unpaid order is closed at the counterpart this long after creation. */
  readonly orderTtlMs?: number
  /** How often the worker looks for due checks. */
  readonly checkEveryMs?: number
}

/** The answer to a notification; `unverified` when it is not known to come from the counterpart (no such channel, a bad signature). */
export type Acknowledgement = { readonly status: number; readonly body: string; readonly content_type: string; readonly unverified?: boolean }

type Applied = 'applied' | 'duplicate' | 'rejected'
type AppliedReport = { outcome: Applied; reason: string | null; refundId: string | null; doorEvent?: DeliveryPaidEvent }

/** What door payments need of the delivery side (src/delivery/service.ts). */
export interface DoorSettlement {
  /** Books a door attempt's money to its parcel; undefined when the parcel can no longer take it. */
  settleFromAttempt(tx: Tx, attempt: ChannelAttemptRow, feeBasisPoints: number, transferId: string, nowMs: number): Promise<DeliveryPaidEvent | undefined>
  /** A door attempt ended unpaid: its code can be paid again. */
  releaseCode(tx: Tx, attempt: ChannelAttemptRow, nowMs: number): Promise<void>
  /** Tells the courier's page, after COMMIT. */
  publish(event: DeliveryPaidEvent): void
}

const unknownAttemptsMax = 8

/** How long after a counterpart's order would have expired a closed attempt is asked about once more. */
const closedRecheckMarginMs = 10 * 60_000

/** Checkout links: an HMAC of the payment id under the master key, so a link opens only its payment. */
export function checkoutToken(masterKey: MasterKey, paymentId: string): string {
  return createHmac('sha256', masterKey.key).update(`checkout:${paymentId}`).digest('base64url').slice(0, 32)
}

/**
 * Payments whose money a counterpart collects (netbank, quick pay, third-party wallets): the
 * attempt at the counterpart, its answer, its notification, its query, its refunds.
 *
 * Every counterpart call is made outside a transaction and is idempotent there by Kassa's own
 * numbers (attempt id, refund id); every answer, from whichever path (the call's reply, the signed
 * notification, the shopper's return, the query), is applied through `applyReport`, which judges it
 * against the attempt's state table, so duplicates and stale reports change nothing. Money lands in
 * the ledger only when the counterpart says paid: the counterpart then owes Kassa the amount.
 */
export class CounterpartPayments {
  private readonly providers = new Map<string, Provider>()
  private readonly refusalBudget = new PerMinuteBudget(refusalsRecordedPerMinuteMax)
  private readonly queryAfterMs: number
  private readonly orderTtlMs: number
  private readonly checkEveryMs: number
  private cards: CardPayments | undefined
  private door: DoorSettlement | undefined
  private capturesCheckedAtMs = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | undefined
  /** The worker's read of what is due, while it runs. */
  private scanning: Promise<void> | undefined
  /** Counterparts with checks running, and those checks, one lane each. */
  private readonly busyCounterparts = new Set<string>()
  private readonly lanes = new Set<Promise<void>>()

  constructor(private readonly options: CounterpartOptions) {
    this.queryAfterMs = options.queryAfterMs ?? 15_000
    this.orderTtlMs = options.orderTtlMs ?? 30 * 60_000
    this.checkEveryMs = options.checkEveryMs ?? 2_000
  }

  /** Card attempts are sent by the acquirer (src/payments/card.ts) instead of a provider. */
  attachCards(cards: CardPayments): void {
    this.cards = cards
  }

  /** Parcels paid at the door with a saved method settle through the delivery side. */
  attachDoor(door: DoorSettlement): void {
    this.door = door
  }

  /** Registers a counterpart as the provider of one channel (`netbank.icbc-sim`). */
  register(channelId: string, provider: Provider): void {
    this.providers.set(channelId, provider)
  }

  provider(channelId: string): Provider | undefined {
    return this.providers.get(channelId)
  }

  paysAtDoor(channelId: string): boolean {
    const provider = this.providers.get(channelId)
    return provider !== undefined && isQuickpayProvider(provider)
  }

  channelIds(): string[] {
    return [...this.providers.keys()]
  }

  private get store() {
    return this.options.store
  }

  private now(): number {
    return this.options.clock.now()
  }

  /** A request about an attempt on a channel this node no longer has a counterpart for: a clear 503, not a crash. */
  private providerHere(channelId: string): Provider {
    const provider = this.providers.get(channelId)
    if (provider === undefined) throw new KassaError('channel_unavailable', { message: `${channelId} has no counterpart configured on this node; try again later.` })
    return provider
  }

  private requireProvider(channelId: string): Provider {
    const provider = this.providers.get(channelId)
    if (provider === undefined) throw new Error(`no provider is registered for channel ${channelId}`)
    return provider
  }

  checkoutUrl(paymentId: string): string {
    return `${this.options.publicUrl()}/pay/${paymentId}?t=${checkoutToken(this.options.masterKey, paymentId)}`
  }

  private returnUrl(attempt: ChannelAttemptRow): string {
    return `${this.options.publicUrl()}/pay/${attempt.payment_id}/return?t=${checkoutToken(this.options.masterKey, attempt.payment_id)}&attempt=${attempt.id}`
  }

  private notifyUrl(channelId: string): string {
    return `${this.options.publicUrl()}/hooks/channels/${channelId}`
  }

  async attempt(id: string): Promise<ChannelAttemptRow | undefined> {
    return this.store.db.selectFrom('channel_attempts').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** The payment's own latest attempt (checkout); a parcel's door attempts are the shopper's, never shown or acted on here. */
  async latestAttempt(paymentId: string): Promise<ChannelAttemptRow | undefined> {
    return this.store.db
      .selectFrom('channel_attempts')
      .selectAll()
      .where('payment_id', '=', paymentId)
      .where('delivery_code', 'is', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst()
  }

  /**
   * Records an attempt that pays a parcel code at the door with a saved quick-pay account, in the
   * caller's transaction (which holds the code); `start` then asks the bank after COMMIT.
   */
  async openDoorAttempt(tx: Tx, input: DoorAttemptInput, nowMs: number): Promise<void> {
    const config = await this.options.payments.channelConfig(tx, input.channel_id)
    if (config === undefined) throw new KassaError('channel_unavailable', { param: 'saved_method', message: `No such channel: ${input.channel_id}` })
    const unavailable = unavailableFor(config, { merchant_id: input.merchant_id, amount: input.amount, currency: input.currency as CurrencyCode })
    if (unavailable !== undefined) throw new KassaError(unavailable.reason, { param: 'saved_method', message: unavailable.message })
    if (!this.paysAtDoor(input.channel_id)) {
      throw new KassaError('channel_unavailable', { param: 'saved_method', message: `${config.display_name} has no counterpart configured on this node.` })
    }
    await tx.execute(tx.builder.insertInto('channel_attempts').values({ ...input, ...unstartedAttempt(nowMs) }))
  }

  // ——— creating the order at the counterpart ———

  /** Asks the counterpart to create the attempt's order, if it is still waiting for that. */
  async start(attemptId: string): Promise<void> {
    const attempt = await this.attempt(attemptId)
    if (attempt === undefined || attempt.status !== 'creating') return
    if (attempt.channel_id === 'card') return this.cards?.start(attempt)
    const provider = this.requireProvider(attempt.channel_id)
    const payment = await this.store.db.selectFrom('payments').select(['order_reference', 'description']).where('id', '=', attempt.payment_id).executeTakeFirstOrThrow()
    const order = {
      order_no: attempt.id,
      amount: attempt.amount,
      currency: attempt.currency as never,
      subject: (payment.description ?? `Order ${payment.order_reference}`).slice(0, 120),
      return_url: this.returnUrl(attempt),
      notify_url: this.notifyUrl(attempt.channel_id),
    }
    let result: ProviderResult<CreatedOrder>
    if (isQuickpayProvider(provider)) {
      const binding = await this.bindingToken(attempt.saved_method_id)
      result = await provider.startPayment({ ...order, binding_id: binding })
    } else {
      result = await provider.createOrder(order)
    }
    await this.applyCreation(attempt.id, result)
  }

  private async bindingToken(savedMethodId: string | null): Promise<string> {
    if (savedMethodId === null) throw new Error('a quick-pay attempt without its saved method')
    const row = await this.store.db.selectFrom('saved_methods').select('token_sealed').where('id', '=', savedMethodId).executeTakeFirstOrThrow()
    return unseal(this.options.masterKey, row.token_sealed)
  }

  private async applyCreation(attemptId: string, result: ProviderResult<CreatedOrder>): Promise<void> {
    await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const attempt = await this.loadAttempt(tx, attemptId)
      // Created after the attempt closed (the close crossed it): checked now, and closed there if still open.
      if (attempt.status === 'closed' && result.outcome === 'ok' && attempt.next_check_at !== null) {
        await this.updateAttempt(tx, attempt, { provider_order_id: result.provider_order_id, next_check_at: nowMs })
        return
      }
      if (attempt.status !== 'creating') return
      if (result.outcome === 'ok') {
        await this.updateAttempt(tx, attempt, {
          status: 'pending',
          provider_order_id: result.provider_order_id,
          next_action: JSON.stringify(result.next_action),
          next_check_at: nowMs + this.queryAfterMs,
        })
        return
      }
      if (result.outcome === 'rejected') {
        await this.failAttempt(tx, attempt, 'failed', `counterpart_${result.code}`, result.message, nowMs)
        return
      }
      // No answer: ask again (the same order number, so at most one order exists there).
      const tries = Number(attempt.queries) + 1
      if (tries >= unknownAttemptsMax) {
        await this.failAttempt(tx, attempt, 'failed', 'counterpart_unavailable', `The counterpart did not answer: ${result.message}`, nowMs)
        return
      }
      await this.updateAttempt(tx, attempt, { queries: tries, next_check_at: nowMs + backoff(tries) })
    })
  }

  // ——— reports: notifications, returns, queries, SMS confirmations ———

  /** A notification as received on `/hooks/channels/{channel}`: verified, judged, applied, answered. */
  async notification(channelId: string, raw: RawNotification): Promise<Acknowledgement> {
    const provider = this.providers.get(channelId)
    if (provider === undefined) return { status: 404, body: 'unknown channel', content_type: 'text/plain', unverified: true }
    const verified = await provider.verifyNotification(raw)
    if (!verified.ok) {
      this.options.logger.warn({ channel: channelId, reason: verified.reason, detail: verified.message }, 'counterpart notification refused')
      await this.recordNotification(channelId, null, null, null, 'rejected', verified.reason)
      return { ...verified.nack, unverified: true }
    }
    const report = verified.report
    const attempt = await this.attempt(report.order_no)
    if (attempt === undefined || attempt.channel_id !== channelId) {
      this.options.logger.warn({ channel: channelId, order_no: report.order_no }, 'counterpart notification for an order Kassa never created')
      await this.recordNotification(channelId, verified.notification_id, report.order_no, null, 'rejected', 'unknown_order')
      return { status: 400, body: 'unknown order', content_type: 'text/plain' }
    }
    const applied = await this.applyReport(attempt.id, report)
    await this.recordNotification(channelId, verified.notification_id, report.order_no, attempt.merchant_id, applied.outcome, applied.reason)
    if (applied.outcome === 'rejected') {
      this.options.logger.warn({ channel: channelId, order_no: report.order_no, reason: applied.reason }, 'counterpart notification refused')
      return { status: 400, body: 'refused', content_type: 'text/plain' }
    }
    await this.afterApplied(applied)
    return verified.ack
  }

  /** The shopper's browser back from the counterpart: a signed report if it carries one, else a query. */
  async returned(attemptId: string, query: Readonly<Record<string, string>>): Promise<void> {
    const attempt = await this.attempt(attemptId)
    if (attempt === undefined) return
    const provider = this.requireProvider(attempt.channel_id)
    const report = provider.verifyReturn(query)
    if (report !== undefined && report.order_no === attempt.id) {
      await this.afterApplied(await this.applyReport(attempt.id, report))
      return
    }
    await this.check(attempt.id)
  }

  /** Asks the counterpart about an attempt now, and applies what it says. */
  async check(attemptId: string): Promise<void> {
    const attempt = await this.attempt(attemptId)
    if (attempt === undefined) return
    if (attempt.status === 'creating') return this.start(attempt.id)
    if (attempt.status !== 'pending') return
    const provider = this.requireProvider(attempt.channel_id)
    const expired = this.now() >= Number(attempt.created_at) + this.orderTtlMs
    const answer = expired ? await this.closeAtCounterpart(provider, attempt.id) : await provider.queryOrder(attempt.id)
    if (answer.outcome === 'ok' && answer.report !== null) {
      const applied = await this.applyReport(attempt.id, answer.report)
      await this.afterApplied(applied)
      // "Still pending" moves nothing: ask again later, and let other attempts have their turn.
      if (applied.outcome === 'applied') return
    }
    await this.store.writer.submit(async (tx) => {
      const fresh = await this.loadAttempt(tx, attempt.id)
      if (fresh.status !== 'pending') return
      const tries = Number(fresh.queries) + 1
      const nowMs = this.now()
      if (answer.outcome === 'rejected' && answer.code === 'order_not_found') {
        await this.failAttempt(tx, fresh, 'failed', 'counterpart_order_missing', 'The counterpart has no such order.', nowMs)
        return
      }
      await this.updateAttempt(tx, fresh, { queries: tries, next_check_at: nowMs + backoff(tries) })
    })
  }

  private async closeAtCounterpart(provider: Provider, orderNo: string): Promise<ProviderResult<{ report: ProviderOrderReport | null }>> {
    const closed = await provider.closeOrder(orderNo)
    if (closed.outcome === 'rejected' && closed.code === 'order_paid') return provider.queryOrder(orderNo)
    if (closed.outcome === 'ok' && closed.report === null) return provider.queryOrder(orderNo)
    return closed
  }

  /** Quick pay at checkout: the SMS code the shopper typed for the payment's attempt waiting for one. */
  async confirmSmsCode(merchantId: string, paymentId: string, smsCode: string): Promise<void> {
    const owned = await this.options.store.db.selectFrom('payments').select('id').where('id', '=', paymentId).where('merchant_id', '=', merchantId).executeTakeFirst()
    // Another merchant's payment is as missing as one that never existed.
    if (owned === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such payment: ${paymentId}` })
    const attempt = await this.latestAttempt(paymentId)
    // A parcel's door attempt is the shopper's own to confirm (src/delivery), not the merchant's.
    if (attempt === undefined || attempt.merchant_id !== merchantId || attempt.delivery_code !== null) throw new KassaError('payment_not_awaiting_sms_code')
    await this.confirmSmsCodeOf(attempt.id, smsCode)
  }

  /** Quick pay: the SMS code the shopper typed for one attempt, sent to the bank; its answer applied. */
  async confirmSmsCodeOf(attemptId: string, smsCode: string): Promise<void> {
    let attempt = await this.attempt(attemptId)
    // The bank had not answered the order's creation yet: ask it again now, the shopper has the SMS.
    if (attempt?.status === 'creating') {
      await this.start(attempt.id)
      attempt = await this.attempt(attemptId)
    }
    if (attempt === undefined || attempt.status !== 'pending') throw new KassaError('payment_not_awaiting_sms_code')
    const provider = this.providerHere(attempt.channel_id)
    if (!isQuickpayProvider(provider)) throw new KassaError('payment_not_awaiting_sms_code')
    const answer = await provider.confirmPayment({ order_no: attempt.id, sms_code: smsCode })
    if (answer.outcome === 'ok') {
      await this.afterApplied(await this.applyReport(attempt.id, answer.report))
      return
    }
    if (answer.outcome === 'rejected') {
      if (answer.code === 'sms_code_wrong' || answer.code === 'sms_code_expired') {
        throw new KassaError('sms_code_invalid', { param: 'sms_code', message: answer.message })
      }
      // Anything else ended the bank's payment; the query tells how.
      await this.check(attempt.id)
      return
    }
    throw new KassaError('counterpart_unavailable')
  }

  /** The shopper gave up on a door payment: the bank's order is closed, and its answer applied. */
  async closeDoorAttempt(attemptId: string): Promise<void> {
    const attempt = await this.attempt(attemptId)
    if (attempt === undefined || attempt.delivery_code === null) return
    if (attempt.status !== 'pending' && attempt.status !== 'creating') return
    const answer = await this.closeAtCounterpart(this.providerHere(attempt.channel_id), attempt.id)
    if (answer.outcome === 'unknown') throw new KassaError('counterpart_unavailable')
    if (answer.outcome === 'ok' && answer.report !== null) {
      await this.afterApplied(await this.applyReport(attempt.id, answer.report))
      return
    }
    if (answer.outcome === 'rejected' && answer.code === 'order_not_found') {
      // Not there yet: a creation still on its way may land after this close, so it is asked about
      // again (`recheckClosed`), as after a merchant's cancel, and closed there if it did.
      await this.store.writer.submit(async (tx) => {
        const fresh = await this.loadAttempt(tx, attempt.id)
        const nowMs = this.now()
        if (fresh.status === 'pending' || fresh.status === 'creating') {
          await this.failAttempt(tx, fresh, 'closed', 'canceled', 'Canceled by the shopper.', nowMs, undefined, nowMs + this.queryAfterMs)
        }
      })
    }
  }

  /**
   * Applies a verified report to its attempt and, when the attempt is its payment's current one
   * and the payment still waits, to the payment — in one transaction with the ledger transfer.
   */
  async applyReport(attemptId: string, report: ProviderOrderReport): Promise<AppliedReport> {
    const transferId = newId('transfer', this.now())
    const refundId = newId('refund', this.now())
    const refundTransferId = newId('transfer', this.now())
    return this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const attempt = await this.loadAttempt(tx, attemptId)
      const verdict = judgeReport({ status: attempt.status, amount: attempt.amount, currency: attempt.currency }, report)
      if (verdict.verdict === 'refuse') return { outcome: 'rejected' as const, reason: verdict.reason, refundId: null }
      if (verdict.verdict === 'same') return { outcome: 'duplicate' as const, reason: null, refundId: null }
      const payment = await this.options.payments.loadForUpdate(tx, attempt.merchant_id, attempt.payment_id)
      const current = payment.status === 'processing' && (await this.isLatest(tx, attempt))
      const provider_order_id = report.provider_order_id ?? attempt.provider_order_id
      if (verdict.to === 'pending') {
        await this.updateAttempt(tx, attempt, { status: 'pending', provider_order_id })
        return { outcome: 'applied' as const, reason: null, refundId: null }
      }
      if (verdict.to === 'failed' || verdict.to === 'closed') {
        const code = verdict.to === 'closed' ? 'counterpart_order_closed' : `counterpart_${report.failure_reason ?? 'declined'}`
        await this.failAttempt(tx, { ...attempt, provider_order_id }, verdict.to, code, describeFailure(report), nowMs, current ? payment : undefined)
        return { outcome: 'applied' as const, reason: null, refundId: null }
      }
      // Paid.
      if (attempt.delivery_code !== null) {
        const doorEvent = await this.requireDoor().settleFromAttempt(tx, attempt, await this.feeOf(tx, attempt), transferId, nowMs)
        if (doorEvent !== undefined) {
          await this.updateAttempt(tx, attempt, { status: 'paid', provider_order_id, transfer_id: transferId, next_check_at: null })
          return { outcome: 'applied' as const, reason: null, refundId: null, doorEvent }
        }
      } else if (current) {
        const decision = decideCounterpartPaid(payment, { channel_id: attempt.channel_id, fee_basis_points: await this.feeOf(tx, attempt), transfer_id: transferId }, nowMs)
        await this.ensureCounterpartAccounts(tx, payment, attempt.channel_id)
        await this.options.payments.applyDecision(tx, payment, decision, nowMs)
        await this.updateAttempt(tx, attempt, { status: 'paid', provider_order_id, transfer_id: transferId, next_check_at: null })
        return { outcome: 'applied' as const, reason: null, refundId: null }
      }
      // Paid after the payment ended another way: owed back to the payer, returned by a refund.
      await this.ensureCounterpartAccounts(tx, payment, attempt.channel_id)
      await post(tx, lateFundsTransfer(payment, attempt.channel_id, attempt.amount, transferId), nowMs)
      await this.updateAttempt(tx, attempt, { status: 'paid', provider_order_id, transfer_id: transferId, late: 1, next_check_at: null })
      await this.holdLateFundsRefund(tx, payment, attempt, attempt.amount, refundId, refundTransferId, {}, nowMs)
      this.options.logger.warn({ payment: payment.id, attempt: attempt.id, status: payment.status }, 'money arrived after the payment ended: returning it to the payer')
      await recordEvent(
        tx,
        { merchant_id: payment.merchant_id, type: 'payment.late_funds_returned', object_id: payment.id, data: { payment: payment.id, attempt: attempt.id, amount: attempt.amount, currency: attempt.currency, refund: refundId } },
        nowMs,
        this.options.notifyCommitted,
      )
      return { outcome: 'applied' as const, reason: null, refundId }
    })
  }

  /** The attempt's channel's own fee when operators set one, else its merchant's: checkout and door alike. */
  private feeOf(tx: Tx, attempt: ChannelAttemptRow): Promise<number> {
    return this.options.payments.channelFee(tx, attempt.channel_id, attempt.merchant_id)
  }

  private async afterApplied(applied: AppliedReport): Promise<void> {
    if (applied.doorEvent !== undefined) this.requireDoor().publish(applied.doorEvent)
    if (applied.refundId !== null) await this.sendRefund(applied.refundId)
  }

  private requireDoor(): DoorSettlement {
    if (this.door === undefined) throw new Error('a door attempt on a node without the delivery side')
    return this.door
  }

  private async isLatest(tx: Tx, attempt: ChannelAttemptRow): Promise<boolean> {
    const latest = await tx.execute(
      tx.builder.selectFrom('channel_attempts').select('id').where('payment_id', '=', attempt.payment_id).where('delivery_code', 'is', null).orderBy('id', 'desc').limit(1),
    )
    return latest[0]?.id === attempt.id
  }

  private async failAttempt(
    tx: Tx,
    attempt: ChannelAttemptRow,
    status: 'failed' | 'closed',
    code: string,
    message: string,
    nowMs: number,
    paymentToRelease?: Payment,
    /** When a closed attempt is asked about again (`recheckClosed`); never by default. */
    recheckAt: number | null = null,
  ): Promise<void> {
    await this.updateAttempt(tx, attempt, { status, failure_code: code, failure_message: message, next_check_at: recheckAt, provider_order_id: attempt.provider_order_id })
    // A door attempt pays one parcel code, not its whole payment: only the code is released.
    if (attempt.delivery_code !== null) return this.requireDoor().releaseCode(tx, attempt, nowMs)
    const payment = paymentToRelease ?? (await this.currentPaymentOf(tx, attempt))
    if (payment !== undefined) await this.options.payments.applyDecision(tx, payment, decideCounterpartFailed(payment, code, message, nowMs), nowMs)
  }

  private async currentPaymentOf(tx: Tx, attempt: ChannelAttemptRow): Promise<Payment | undefined> {
    const payment = await this.options.payments.loadForUpdate(tx, attempt.merchant_id, attempt.payment_id)
    return payment.status === 'processing' && (await this.isLatest(tx, attempt)) ? payment : undefined
  }

  private async ensureCounterpartAccounts(tx: Tx, payment: Payment, channelId: string): Promise<void> {
    const nowMs = this.now()
    await ensureAccount(tx, { code: 'merchant_payable', owner_id: payment.merchant_id, currency: payment.currency }, nowMs)
    await ensureAccount(tx, { code: 'fee_revenue', owner_id: undefined, currency: payment.currency }, nowMs)
    await ensureAccount(tx, { code: 'provider_receivable', owner_id: channelId, currency: payment.currency }, nowMs)
    await ensureAccount(tx, { code: 'unapplied_funds', owner_id: channelId, currency: payment.currency }, nowMs)
  }

  // ——— cancel ———

  /**
   * Cancels a payment waiting at a counterpart: the order is closed there first, so the payer can
   * no longer pay it. A counterpart that says "already paid" wins: the payment succeeds instead.
   */
  async closeBeforeCancel(merchantId: string, paymentId: string): Promise<void> {
    const attempt = await this.latestAttempt(paymentId)
    if (attempt === undefined || attempt.merchant_id !== merchantId) return
    if (attempt.status !== 'pending' && attempt.status !== 'creating') return
    const provider = this.requireProvider(attempt.channel_id)
    const closed = await provider.closeOrder(attempt.id)
    if (closed.outcome === 'rejected' && closed.code === 'order_paid') {
      await this.check(attempt.id)
      throw new KassaError('payment_not_cancelable', { message: 'The shopper has just paid this payment at the counterpart.' })
    }
    if (closed.outcome === 'unknown') throw new KassaError('counterpart_unavailable')
    if (closed.outcome === 'rejected' && closed.code !== 'order_not_found') {
      throw new KassaError('counterpart_declined', { message: `The counterpart would not close the order: ${closed.message}` })
    }
  }

  /** The cancel itself, in the payment's transaction: the attempt closes with it. */
  async cancelInTx(tx: Tx, payment: Payment, reason: string | null, nowMs: number): Promise<Payment> {
    const [attempt] = await tx.execute(
      tx.builder.selectFrom('channel_attempts').selectAll().where('payment_id', '=', payment.id).where('delivery_code', 'is', null).orderBy('id', 'desc').limit(1),
    )
    if (attempt !== undefined && (attempt.status === 'pending' || attempt.status === 'creating')) {
      await this.updateAttempt(tx, attempt, { status: 'closed', failure_code: 'canceled', failure_message: 'Canceled by the merchant.', next_check_at: nowMs + this.queryAfterMs })
    }
    const decision = decideCounterpartCanceled(payment, reason, nowMs)
    await this.options.payments.applyDecision(tx, payment, decision, nowMs)
    return decision.next
  }

  // ——— refunds ———

  /**
   * Sends a pending refund to its counterpart and settles it with the answer. A card refund is sent
   * by the card channel itself; only the worker (`chasing`) looks at one, to recover it.
   */
  async sendRefund(refundId: string, chasing = false): Promise<void> {
    const refund = await this.store.db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirst()
    if (refund === undefined || refund.status !== 'pending' || refund.attempt_id === null) return
    const attempt = await this.attempt(refund.attempt_id)
    if (attempt === undefined) throw new Error(`refund ${refund.id} names a missing attempt`)
    // Card refunds go through the acquirer (CardPayments.refund), never a provider; one still due here was left by a stopped process.
    if (attempt.channel_id === 'card') return chasing ? this.cards?.recoverRefund(refund.id) : undefined
    const provider = this.requireProvider(attempt.channel_id)
    let answer = await provider.refund({
      order_no: attempt.id,
      refund_no: refund.id,
      amount: refund.amount,
      currency: refund.currency as never,
      order_amount: attempt.amount,
      reason: refund.reason,
    })
    if (answer.outcome === 'unknown') answer = await provider.queryRefund(attempt.id, refund.id)
    await this.settleRefund(refund, answer)
  }

  private async settleRefund(refund: RefundRow, answer: ProviderResult<{ provider_refund_id: string | null; amount: bigint }>): Promise<void> {
    const settleTransferId = newId('transfer', this.now())
    await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const [fresh] = await tx.execute(tx.builder.selectFrom('refunds').selectAll().where('id', '=', refund.id))
      if (fresh === undefined || fresh.status !== 'pending' || fresh.transfer_id === null) return
      const late = fresh.reason === 'late_funds'
      if (answer.outcome === 'unknown' || (answer.outcome === 'rejected' && answer.code === 'refund_not_found')) {
        await tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: nowMs + this.queryAfterMs, updated_at: nowMs }).where('id', '=', fresh.id))
        return
      }
      if (answer.outcome === 'ok') {
        await post(tx, { id: settleTransferId, kind: 'post_pending', code: 'payment_refund', pending_id: fresh.transfer_id, amount: fresh.amount, reference_id: fresh.payment_id, merchant_id: fresh.merchant_id }, nowMs)
        await tx.execute(
          tx.builder.updateTable('refunds').set({ status: 'succeeded', provider_refund_id: answer.provider_refund_id, next_check_at: null, updated_at: nowMs }).where('id', '=', fresh.id),
        )
        await this.refundEvent(tx, { ...fresh, status: 'succeeded' }, 'refund.succeeded', nowMs)
        if (!late) {
          const payment = await this.options.payments.loadForUpdate(tx, fresh.merchant_id, fresh.payment_id)
          await this.options.payments.recordEvent(tx, payment, 'payment.refunded', nowMs)
        }
        return
      }
      // Refused for good: the hold is voided and, for a merchant's refund, the amount is refundable again.
      await post(tx, { id: settleTransferId, kind: 'void_pending', code: 'payment_refund_release', pending_id: fresh.transfer_id, reference_id: fresh.payment_id, merchant_id: fresh.merchant_id }, nowMs)
      await tx.execute(tx.builder.updateTable('refunds').set({ status: 'failed', failure_code: answer.code, next_check_at: null, updated_at: nowMs }).where('id', '=', fresh.id))
      await this.refundEvent(tx, { ...fresh, status: 'failed' }, 'refund.failed', nowMs)
      if (late) {
        this.options.logger.error({ refund: fresh.id, payment: fresh.payment_id, code: answer.code }, 'late funds could not be returned: left in unapplied_funds for an operator')
        return
      }
      const payment = await this.options.payments.loadForUpdate(tx, fresh.merchant_id, fresh.payment_id)
      this.options.payments.writePayment(tx, payment, decideRefundRefused(payment, fresh.amount, nowMs))
    })
  }

  // ——— operators: late money that could not be returned ———

  /**
   * Money that arrived after its payment had ended and that the counterpart refused to refund for
   * good: it sits in `unapplied_funds` (owed to the payer) until an operator sends it again. One
   * row per attempt whose latest return failed and none is under way or done, oldest first.
   */
  async unreturnedLateFunds(limit = 100) {
    const rows = await this.store.db
      .selectFrom('refunds as r')
      .innerJoin('channel_attempts as a', 'a.id', 'r.attempt_id')
      .select(['r.id', 'r.payment_id', 'r.merchant_id', 'r.attempt_id', 'r.amount', 'r.currency', 'r.failure_code', 'r.created_at', 'r.updated_at', 'a.channel_id'])
      .where('r.reason', '=', 'late_funds')
      .where('r.status', '=', 'failed')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('refunds as later')
              .select('later.id')
              .whereRef('later.attempt_id', '=', 'r.attempt_id')
              .where('later.reason', '=', 'late_funds')
              .where((eb) => eb.or([eb('later.status', 'in', ['pending', 'succeeded']), eb.and([eb('later.status', '=', 'failed'), eb('later.created_at', '>', eb.ref('r.created_at'))])])),
          ),
        ),
      )
      .orderBy('r.created_at')
      .orderBy('r.id')
      .limit(limit)
      .execute()
    return rows.map((refund) => ({
      object: 'unreturned_late_funds' as const,
      refund: refund.id,
      payment: refund.payment_id,
      merchant: refund.merchant_id,
      channel: refund.channel_id,
      attempt: refund.attempt_id,
      amount: refund.amount,
      currency: refund.currency,
      failure_code: refund.failure_code,
      failed_at: new Date(Number(refund.updated_at ?? refund.created_at)).toISOString(),
    }))
  }

  /** An operator sends refused late money back again: a new refund, held and sent like the first. */
  async retryLateFundsRefund(actor: Actor, refundId: string) {
    const retry = await this.recordLateFundsRetry(actor, refundId)
    await this.sendRefund(retry.refundId)
    return this.refundViewOf(retry.refundId)
  }

  /**
   * A new pending refund for a failed late-funds refund, audited; sent by the caller, or else by
   * the counterpart worker of a running Kassa, which chases pending refunds. Answers its id and channel.
   */
  async recordLateFundsRetry(actor: Actor, refundId: string): Promise<{ refundId: string; channelId: string }> {
    const newRefundId = newId('refund', this.now())
    const holdId = newId('transfer', this.now())
    const channelId = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const [failed] = await tx.execute(tx.builder.selectFrom('refunds').selectAll().where('id', '=', refundId))
      if (failed === undefined || failed.reason !== 'late_funds' || failed.attempt_id === null) {
        throw new KassaError('resource_missing', { param: 'id', message: `No late-funds refund ${refundId}.` })
      }
      if (failed.status !== 'failed') throw new KassaError('refund_not_retryable', { message: `Refund ${refundId} is ${failed.status}, not failed.` })
      // The payment's lock first (the order every path takes, then its attempt), and only then the
      // check: two operators retrying at once on two nodes find the other's refund once they hold it.
      const payment = await this.options.payments.loadForUpdate(tx, failed.merchant_id, failed.payment_id)
      if (await this.lateReturnUnderWay(tx, failed.attempt_id, failed.id)) throw new KassaError('refund_not_retryable', { message: 'This money is already being returned, or was returned.' })
      const attempt = await this.loadAttempt(tx, failed.attempt_id)
      await this.holdLateFundsRefund(tx, payment, attempt, failed.amount, newRefundId, holdId, { retry_of: failed.id }, nowMs)
      await recordAudit(tx, actor, 'late_funds.refund_retry', { id: newRefundId, merchant_id: failed.merchant_id }, { retry_of: failed.id, amount: failed.amount.toString() }, nowMs)
      return attempt.channel_id
    })
    return { refundId: newRefundId, channelId }
  }

  async refundViewOf(refundId: string) {
    const refund = await this.store.db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirstOrThrow()
    return refundView({ ...refund, status: refund.status })
  }

  /** Whether this process can reach the channel's counterpart. */
  reaches(channelId: string): boolean {
    return this.providers.has(channelId)
  }

  /** Late money owed back to the payer: held out of `unapplied_funds` and recorded as a pending refund, sent after COMMIT. */
  private async holdLateFundsRefund(
    tx: Tx,
    payment: Payment,
    attempt: ChannelAttemptRow,
    amount: bigint,
    refundId: string,
    holdId: string,
    metadata: Readonly<Record<string, string>>,
    nowMs: number,
  ): Promise<void> {
    await post(tx, lateRefundHold(payment, { ...attempt, amount }, holdId), nowMs)
    await tx.execute(
      tx.builder.insertInto('refunds').values({
        id: refundId,
        merchant_id: payment.merchant_id,
        payment_id: payment.id,
        amount,
        currency: attempt.currency,
        status: 'pending',
        reason: 'late_funds',
        transfer_id: holdId,
        metadata: JSON.stringify({ attempt: attempt.id, ...metadata }),
        created_at: nowMs,
        attempt_id: attempt.id,
        provider_refund_id: null,
        failure_code: null,
        next_check_at: nowMs + this.queryAfterMs,
        updated_at: nowMs,
      }),
    )
  }

  /** Is another return of this attempt's late money pending or done? */
  private async lateReturnUnderWay(tx: Tx, attemptId: string, exceptRefundId: string): Promise<boolean> {
    const rows = await tx.execute(
      tx.builder
        .selectFrom('refunds')
        .select('id')
        .where('attempt_id', '=', attemptId)
        .where('reason', '=', 'late_funds')
        .where('status', 'in', ['pending', 'succeeded'])
        .where('id', '!=', exceptRefundId)
        .limit(1),
    )
    return rows.length > 0
  }

  private refundEvent(tx: Tx, refund: RefundRow, type: string, nowMs: number): Promise<string> {
    const record: RefundRecord = { ...refund, status: refund.status }
    return recordEvent(tx, { merchant_id: refund.merchant_id, type, object_id: refund.id, data: refundView(record) }, nowMs, this.options.notifyCommitted)
  }

  // ——— the worker: what no notification settled ———

  /** One pass: retries creations, queries pending orders, closes expired ones, chases refunds; resolves when they are done. */
  async checkDue(limit = 50): Promise<number> {
    const started = await this.startDue(limit)
    await started.done
    return started.count
  }

  /**
   * Reads what is due and starts it, one lane per counterpart: a counterpart's checks run one
   * after the other, the counterparts' lanes side by side, and a counterpart whose lane is still
   * running (a bank whose answers hang until the client's timeout) is left out of this pass, so
   * it holds back only its own checks, in this pass and the next, never another bank's or wallet's.
   */
  private async startDue(limit: number): Promise<{ count: number; done: Promise<void> }> {
    const nowMs = this.now()
    const busy = [...this.busyCounterparts].filter((channelId) => channelId !== '')
    let attemptsDue = this.store.db
      .selectFrom('channel_attempts')
      .select(['id', 'status', 'channel_id'])
      .where('next_check_at', '<=', BigInt(nowMs))
    if (busy.length > 0) attemptsDue = attemptsDue.where('channel_id', 'not in', busy)
    const attempts = await attemptsDue.orderBy('next_check_at').limit(limit).execute()
    let refundsDue = this.store.db
      .selectFrom('refunds')
      .leftJoin('channel_attempts', 'channel_attempts.id', 'refunds.attempt_id')
      .select(['refunds.id', 'channel_attempts.channel_id'])
      .where('refunds.next_check_at', '<=', BigInt(nowMs))
      .where('refunds.status', '=', 'pending')
    if (busy.length > 0) refundsDue = refundsDue.where((eb) => eb.or([eb('channel_attempts.channel_id', 'is', null), eb('channel_attempts.channel_id', 'not in', busy)]))
    const refunds = await refundsDue.limit(limit).execute()
    const byCounterpart = new Map<string, (() => Promise<void>)[]>()
    const queue = (channelId: string | null, job: () => Promise<void>) => {
      const key = channelId ?? ''
      if (this.busyCounterparts.has(key)) return
      const jobs = byCounterpart.get(key)
      if (jobs === undefined) byCounterpart.set(key, [job])
      else jobs.push(job)
    }
    for (const attempt of attempts) {
      queue(attempt.channel_id, async () => {
        try {
          if (attempt.status === 'closed') await this.recheckClosed(attempt.id)
          else await this.check(attempt.id)
        } catch (error) {
          this.options.logger.error({ err: error, attempt: attempt.id }, 'checking an attempt failed')
        }
      })
    }
    for (const refund of refunds) {
      queue(refund.channel_id, async () => {
        try {
          await this.sendRefund(refund.id, true)
        } catch (error) {
          this.options.logger.error({ err: error, refund: refund.id }, 'chasing a refund failed')
        }
      })
    }
    const lanes = [...byCounterpart].map(([key, jobs]) => this.runLane(key, jobs))
    // Card capture advices a stopped process left unanswered: looked for once a minute.
    if (this.cards !== undefined && nowMs - this.capturesCheckedAtMs >= 60_000) {
      this.capturesCheckedAtMs = nowMs
      lanes.push(this.cards.recoverCaptures().then(() => undefined, (error: unknown) => this.options.logger.error({ err: error }, 'repeating stale capture advices failed')))
    }
    return { count: attempts.length + refunds.length, done: Promise.all(lanes).then(() => undefined) }
  }

  private async runLane(counterpart: string, jobs: readonly (() => Promise<void>)[]): Promise<void> {
    this.busyCounterparts.add(counterpart)
    const lane = (async () => {
      for (const job of jobs) await job()
    })()
    this.lanes.add(lane)
    try {
      await lane
    } finally {
      this.lanes.delete(lane)
      this.busyCounterparts.delete(counterpart)
    }
  }

  /** A canceled attempt is asked once more: a payer who paid as it closed is found and refunded. */
  private async recheckClosed(attemptId: string): Promise<void> {
    const attempt = await this.attempt(attemptId)
    if (attempt === undefined || attempt.status !== 'closed') return
    const answer = await this.requireProvider(attempt.channel_id).queryOrder(attempt.id)
    if (answer.outcome === 'ok' && answer.report.status === 'paid') {
      await this.afterApplied(await this.applyReport(attempt.id, answer.report))
      return
    }
    // Still open there (a close that crossed a creation): close it again.
    if (answer.outcome === 'ok' && answer.report.status === 'pending') await this.requireProvider(attempt.channel_id).closeOrder(attempt.id)
    // A payer can pay "as it closes" and its notification be lost: keep asking, less and less often,
    // until the counterpart's own order would have expired, then once more.
    const lastCheckAt = Number(attempt.created_at) + this.orderTtlMs + closedRecheckMarginMs
    await this.store.writer.submit(async (tx) => {
      const fresh = await this.loadAttempt(tx, attempt.id)
      if (fresh.status !== 'closed') return
      const tries = Number(fresh.queries) + 1
      const nowMs = this.now()
      const next = nowMs < lastCheckAt ? Math.min(nowMs + backoff(tries), lastCheckAt) : answer.outcome === 'unknown' ? nowMs + backoff(tries) : null
      await this.updateAttempt(tx, fresh, { queries: tries, next_check_at: next })
    })
  }

  startWorker(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      // Only the reading waits for the last pass; the checks it started run in their lanes meanwhile.
      if (this.scanning !== undefined) return
      this.scanning = this.startDue(50)
        .then(() => undefined, (error: unknown) => this.options.logger.error({ err: error }, 'counterpart check failed'))
        .finally(() => {
          this.scanning = undefined
        })
    }, this.checkEveryMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.scanning
    await Promise.all(this.lanes)
  }

  // ——— rows ———

  private async loadAttempt(tx: Tx, id: string): Promise<ChannelAttemptRow> {
    if (tx.dialect.rowLocks) {
      // Payment before attempt, always: a cancel locks in that order, and two orders would deadlock.
      const [owner] = await tx.execute(tx.builder.selectFrom('channel_attempts').select('payment_id').where('id', '=', id))
      if (owner !== undefined) await tx.execute(tx.builder.selectFrom('payments').select('id').where('id', '=', owner.payment_id).forUpdate())
    }
    let query = tx.builder.selectFrom('channel_attempts').selectAll().where('id', '=', id)
    if (tx.dialect.rowLocks) query = query.forUpdate()
    const [row] = await tx.execute(query)
    if (row === undefined) throw new Error(`no attempt ${id}`)
    return row
  }

  private async updateAttempt(tx: Tx, attempt: ChannelAttemptRow, changes: Omit<Updateable<ChannelAttemptsTable>, 'id' | 'version' | 'updated_at'>): Promise<void> {
    if (changes.status !== undefined && changes.status !== attempt.status) assertAttemptMove(attempt.status, changes.status)
    const updated = await tx.execute(
      tx.builder
        .updateTable('channel_attempts')
        .set({ ...changes, version: attempt.version + 1n, updated_at: this.now() })
        .where('id', '=', attempt.id)
        .where('version', '=', attempt.version)
        .returning('id'),
    )
    if (updated.length !== 1) throw new Error(`attempt ${attempt.id} changed under us`)
  }

  private async recordNotification(channelId: string, notificationId: string | null, orderNo: string | null, merchantId: string | null, outcome: Applied, reason: string | null): Promise<void> {
    // Anyone can POST to a hook: refusals are recorded up to a budget per channel and minute, so a
    // flood of forgeries cannot fill the table or hold up the writer payments share; the log says the rest.
    if (outcome === 'rejected' && !this.refusalBudget.take(channelId, this.now())) return
    await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      await tx.execute(
        tx.builder.insertInto('channel_notifications').values({
          id: newId('channel_notification', nowMs),
          channel_id: channelId,
          notification_id: notificationId,
          order_no: orderNo,
          merchant_id: merchantId,
          outcome,
          reason,
          created_at: nowMs,
        }),
      )
    })
  }
}

function lateRefundHold(payment: Payment, attempt: ChannelAttemptRow, transferId: string): TransferRequest {
  const currency = payment.currency
  const unapplied = accountId({ code: 'unapplied_funds', owner_id: attempt.channel_id, currency })
  const receivable = accountId({ code: 'provider_receivable', owner_id: attempt.channel_id, currency })
  return {
    id: transferId,
    kind: 'pending',
    code: 'late_funds_refund',
    reference_id: payment.id,
    merchant_id: payment.merchant_id,
    postings: [
      { account_id: unapplied, side: 'debit', amount: attempt.amount, currency },
      { account_id: receivable, side: 'credit', amount: attempt.amount, currency },
    ],
  }
}

async function post(tx: Tx, transfer: TransferRequest, nowMs: number): Promise<void> {
  const result = await postTransfer(tx, transfer, nowMs)
  if (result !== 'ok') throw new Error(`transfer ${transfer.id} (${transfer.code}) failed: ${result}`)
}

function describeFailure(report: ProviderOrderReport): string {
  if (report.status === 'closed') return 'The order was closed at the bank or wallet before it was paid.'
  return `The bank or wallet declined the payment${report.failure_reason === null ? '' : ` (${report.failure_reason})`}.`
}

/** 2 s, 4 s, 8 s … up to 5 minutes between checks of one order. */
function backoff(tries: number): number {
  return Math.min(300_000, 1_000 * 2 ** Math.min(tries, 9))
}

/** Refused notifications recorded per channel and minute; more are only logged. */
const refusalsRecordedPerMinuteMax = 120

