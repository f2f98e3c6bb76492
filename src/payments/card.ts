import type { Logger } from 'pino'
import { AlreadySent, cardOutcomeOf, type Acquirer, type CardOutcome } from '../acquiring/acquirer.js'
import { luhnValid, maskPan } from '../acquiring/iso8583/index.js'
import type { CardReverser } from '../acquiring/pos-host/reversal.js'
import { revealCard, vaultCard } from '../acquiring/vault.js'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { toJson } from '../domain/json.js'
import { recordEvent } from '../events/outbox.js'
import type { MasterKey } from '../security/secrets.js'
import type { CardTransactionRow, ChannelAttemptRow, RefundRow } from '../store/schema.js'
import type { Store } from '../store/store.js'
import type { Tx } from '../store/writer.js'
import { storedResponse, submitIdempotent, type IdempotentRequest, type StoredResponse } from '../store/idempotency.js'
import { decideCancel, decideCardRefund, decideRefundRefused, feeFor, moved, type Payment } from './decide.js'
import type { MerchantContext, PaymentService } from './service.js'
import { paymentView, refundView, type RefundRecord } from './view.js'

export type CardPaymentsOptions = {
  readonly store: Store
  readonly clock: Clock
  readonly payments: PaymentService
  readonly acquirer: Acquirer
  readonly masterKey: MasterKey
  readonly logger: Logger
  readonly notifyCommitted?: () => void
  /** Reverses an authorization at the scheme when its payment is canceled (0400); without it only the ledger's hold is voided. */
  readonly reverse?: CardReverser
}

/** Field 41 for e-commerce: the online "terminal" of every merchant. */
export const ecommerceTerminalId = 'KASSAWEB'

/**
 * A capture advice still pending this long got no answer, or was sent by a process that stopped:
 * an exchange times out after 10 s. It is repeated then, and again each time this long passes
 * without an answer, as a store-and-forward queue does; the scheme books a repeat once.
 */
const captureRecoveryAfterMs = 60_000

/** A card refund still `sending` this long after its claim was claimed by a process that stopped (an exchange takes far less). */
const refundRecoveryAfterMs = 10 * 60_000
/** A refund whose card request is still in flight (or left so by a stopped process) is looked at again this much later. */
const refundLookAgainMs = 60_000

/** What the shopper is told when the card network gave no usable answer (nothing was charged). */
const networkTrouble: Readonly<Record<string, { code: string; message: string }>> = {
  reversed: { code: 'card_network_timeout', message: 'The card network did not answer in time; the request was reversed and nothing was charged. Try again.' },
  reversal_pending: { code: 'card_network_timeout', message: 'The card network did not answer in time; Kassa is reversing the request, nothing will be charged. Try again.' },
  not_sent: { code: 'card_network_unavailable', message: 'The card network cannot be reached right now; nothing was charged. Try again later.' },
}

export type TokenizeInput = { readonly number: string; readonly exp_month: number; readonly exp_year: number }

/**
 * Card payments of the checkout: tokenized into the vault at once, then sent by Kassa's own
 * acquirer (sale, or authorization captured later by advice). The acquirer writes each card
 * transaction and its ledger transfer in one transaction (src/acquiring/acquirer.ts); this moves
 * the payment to match, so the payment never posts a second time what the acquirer posted.
 */
export class CardPayments {
  constructor(private readonly options: CardPaymentsOptions) {}

  private now(): number {
    return this.options.clock.now()
  }

  /** A card number typed by a shopper (or sent by a certified merchant) becomes a `card_…` id. */
  async tokenize(merchantId: string, input: TokenizeInput, typedOn?: { payment_id: string }) {
    const pan = input.number.replace(/[ -]/g, '')
    if (!/^[0-9]{12,19}$/.test(pan) || !luhnValid(pan)) throw new KassaError('parameter_invalid', { param: 'number', message: 'The card number is not valid.' })
    if (!Number.isInteger(input.exp_month) || input.exp_month < 1 || input.exp_month > 12) throw new KassaError('parameter_invalid', { param: 'exp_month', message: 'exp_month is 1 to 12.' })
    if (!Number.isInteger(input.exp_year) || input.exp_year < 2000 || input.exp_year > 2099) throw new KassaError('parameter_invalid', { param: 'exp_year', message: 'exp_year is four digits, e.g. 2029.' })
    const expiry = `${String(input.exp_year % 100).padStart(2, '0')}${String(input.exp_month).padStart(2, '0')}`
    const card = await this.options.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const vaulted = await vaultCard(tx, this.options.masterKey, merchantId, { pan, expiry }, 'pan', nowMs)
      if (typedOn !== undefined) {
        const grant = { payment_id: typedOn.payment_id, card_id: vaulted.id, merchant_id: merchantId, created_at: nowMs }
        await tx.execute(tx.builder.insertInto('checkout_cards').values(grant).onConflict((oc) => oc.columns(['payment_id', 'card_id']).doNothing()))
      }
      return vaulted
    })
    return { id: card.id, object: 'card' as const, masked: maskPan(pan), last4: card.last4, exp_month: input.exp_month, exp_year: input.exp_year }
  }

  /** Whether the card was typed on this payment's checkout page: the only cards that page may charge. */
  async typedOnCheckout(paymentId: string, cardId: string): Promise<boolean> {
    const row = await this.options.store.db.selectFrom('checkout_cards').select('card_id').where('payment_id', '=', paymentId).where('card_id', '=', cardId).executeTakeFirst()
    return row !== undefined
  }

  async requireVaultedCard(tx: Tx, merchantId: string, cardId: string): Promise<void> {
    const [row] = await tx.execute(tx.builder.selectFrom('vault_cards').select(['id', 'merchant_id']).where('id', '=', cardId))
    // Another merchant's card is as missing as one never vaulted.
    if (row === undefined || row.merchant_id !== merchantId) throw new KassaError('parameter_invalid', { param: 'payment_method.card', message: `No such card: ${cardId}` })
  }

  /** Sends the attempt's sale or authorization to the scheme and moves the payment to its outcome. */
  async start(attempt: ChannelAttemptRow): Promise<void> {
    if (attempt.status !== 'creating' || attempt.saved_method_id === null) return
    // An earlier try (a crash after sending) is found by its reference, never sent twice.
    const earlier = await this.options.store.db.selectFrom('card_transactions').selectAll().where('reference_id', '=', attempt.id).executeTakeFirst()
    const payment = await this.options.store.db.selectFrom('payments').selectAll().where('id', '=', attempt.payment_id).executeTakeFirstOrThrow()
    const fee = await this.feeOf(attempt.merchant_id)
    let outcome: CardOutcome
    if (earlier !== undefined) {
      const known = cardOutcomeOf(earlier)
      if (known === undefined) return
      outcome = known
    } else {
      const card = await this.options.store.writer.submit((tx) => revealCard(tx, this.options.masterKey, attempt.saved_method_id ?? ''))
      try {
        outcome = await this.options.acquirer.acquire({
          merchant_id: attempt.merchant_id,
          fee_basis_points: fee,
          terminal_id: ecommerceTerminalId,
          kind: payment.capture_method === 'manual' ? 'authorization' : 'sale',
          amount: attempt.amount,
          currency: attempt.currency as never,
          card: { pan: card.pan, expiry: card.expiry, entry_mode: '012', vaulted_id: attempt.saved_method_id ?? undefined },
          reference_id: attempt.id,
          claim: (tx) => this.claimAttempt(tx, attempt.id),
        })
      } catch (error) {
        // A retry, a replay or another node's worker started it first: it is theirs to finish.
        if (error instanceof AlreadySent) return
        throw error
      }
    }
    await this.options.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const current = await this.options.payments.loadForUpdate(tx, attempt.merchant_id, attempt.payment_id)
      const [fresh] = await tx.execute(tx.builder.selectFrom('channel_attempts').selectAll().where('id', '=', attempt.id))
      if (fresh === undefined || fresh.status !== 'creating' || current.status !== 'processing') return
      const cardTx = outcome.transaction
      if (outcome.outcome === 'approved') {
        const manual = cardTx.kind === 'authorization'
        const next = manual
          ? moved(current, 'requires_capture', { amount_capturable: current.amount, hold_transfer_id: cardTx.transfer_id }, nowMs)
          : moved(current, 'succeeded', { amount_received: current.amount, fee_amount: feeFor(current.amount, fee) }, nowMs)
        await this.options.payments.applyDecision(tx, current, { next, transfers: [], events: [manual ? 'payment.requires_capture' : 'payment.succeeded'] }, nowMs)
        await this.setAttempt(tx, fresh, { status: 'paid', provider_order_id: cardTx.id, transfer_id: cardTx.transfer_id })
        return
      }
      const trouble = outcome.outcome === 'declined' ? { code: `card_${outcome.reason}`, message: `The card was declined (${outcome.reason.replace(/_/g, ' ')}).` } : networkTrouble[outcome.outcome]
      if (trouble === undefined) throw new Error(`card outcome ${outcome.outcome} has no meaning for a payment`)
      const next = moved(current, 'requires_payment_method', { last_error_code: trouble.code, last_error_message: trouble.message }, nowMs)
      await this.options.payments.applyDecision(tx, current, { next, transfers: [], events: ['payment.payment_failed'] }, nowMs)
      await this.setAttempt(tx, fresh, { status: 'failed', provider_order_id: cardTx.id, failure_code: trouble.code, failure_message: trouble.message })
    })
  }

  /**
   * Captures a card authorization by advice (0220). The acquirer refuses a second capture of the
   * same authorization, so a retried request can only replay the first answer.
   */
  async capture(merchant: MerchantContext, paymentId: string, amount: bigint | undefined, request: IdempotentRequest): Promise<StoredResponse> {
    // A replay answers as the first request did, and never sends another advice.
    const replay = await storedResponse(this.options.store.db, request)
    if (replay !== undefined) return replay
    const attempt = await this.paidAttempt(paymentId, merchant.id)
    const fee = await this.feeOf(merchant.id)
    let captured: CardOutcome | undefined
    if (attempt !== undefined) {
      try {
        captured = await this.options.acquirer.capture(merchant.id, attempt.provider_order_id ?? '', amount, fee)
      } catch (error) {
        // Already captured: a retry replays the first request's stored answer below; and when the
        // process that captured stopped before it moved the payment, the capture it booked finishes it now.
        if (!(error instanceof KassaError) || error.code !== 'payment_not_capturable') throw error
        const earlier = await this.options.store.db
          .selectFrom('card_transactions')
          .selectAll()
          .where('original_id', '=', attempt.provider_order_id ?? '')
          .where('merchant_id', '=', merchant.id)
          .where('kind', '=', 'capture')
          .where('status', 'in', ['approved', 'pending'])
          .executeTakeFirst()
        if (earlier?.status === 'approved') captured = { outcome: 'approved', transaction: earlier }
        else if (earlier?.status === 'pending') {
          // Answered outside the idempotent unit, so nothing is stored: the same key, retried, gets the capture's own answer.
          throw new KassaError('payment_not_capturable', { message: 'A capture of this payment is on its way to the card network; retry with the same idempotency key for its answer.' })
        }
      }
    }
    return submitIdempotent(this.options.store.writer, this.options.clock, request, async (tx, nowMs) => {
      const payment = await this.options.payments.loadForUpdate(tx, merchant.id, paymentId)
      if (payment.status !== 'requires_capture' || captured === undefined || attempt === undefined) throw new KassaError('payment_not_capturable')
      if (captured.outcome === 'unanswered') {
        throw new KassaError('capture_unanswered')
      }
      if (captured.outcome !== 'approved') {
        throw new KassaError('counterpart_declined', { message: `The scheme did not accept the capture (${captured.outcome}); the authorization stands.` })
      }
      return { status: 200, body: paymentView(await this.paymentCaptured(tx, payment, attempt, captured.transaction, fee, nowMs)) }
    })
  }

  /** The payment follows its booked capture: succeeded with what was captured. */
  private async paymentCaptured(tx: Tx, payment: Payment, attempt: ChannelAttemptRow, capture: CardTransactionRow, fee: number, nowMs: number): Promise<Payment> {
    const received = capture.amount
    const next = moved(payment, 'succeeded', { amount_capturable: 0n, amount_received: received, fee_amount: feeFor(received, fee) }, nowMs)
    await this.options.payments.applyDecision(tx, payment, { next, transfers: [], events: ['payment.succeeded'] }, nowMs)
    await tx.execute(tx.builder.updateTable('channel_attempts').set({ provider_order_id: capture.id, updated_at: nowMs }).where('id', '=', attempt.id))
    return next
  }

  /**
   * Capture advices a stopped process sent without recording the answer (older than `staleMs`):
   * repeated (0221), and their payments moved with the answer. Answers how many were resolved.
   */
  async recoverCaptures(staleMs = captureRecoveryAfterMs): Promise<number> {
    const stale = await this.options.store.db
      .selectFrom('card_transactions')
      .select(['id', 'merchant_id', 'original_id'])
      .where('kind', '=', 'capture')
      .where('status', '=', 'pending')
      .where('stan', 'is not', null)
      .where('updated_at', '<', BigInt(this.now() - staleMs))
      .limit(20)
      .execute()
    let resolved = 0
    for (const row of stale) {
      try {
        const fee = await this.feeOf(row.merchant_id)
        const outcome = await this.options.acquirer.repeatAdvice(row.merchant_id, row.id, fee)
        if (outcome.outcome !== 'approved') continue
        if (await this.followBookedCapture(outcome.transaction, fee)) resolved += 1
      } catch (error) {
        this.options.logger.error({ err: error, card_transaction: row.id }, 'repeating a capture advice failed; the next look tries again')
      }
    }
    // Booked at the scheme, the payment never moved (its process stopped, or a retry's answer was stored first).
    const booked = await this.options.store.db
      .selectFrom('card_transactions as capture')
      .innerJoin('channel_attempts as attempt', (join) => join.onRef('attempt.provider_order_id', '=', 'capture.original_id').on('attempt.channel_id', '=', 'card'))
      .innerJoin('payments as payment', 'payment.id', 'attempt.payment_id')
      .selectAll('capture')
      .where('capture.kind', '=', 'capture')
      .where('capture.status', '=', 'approved')
      .where('payment.status', '=', 'requires_capture')
      .where('capture.updated_at', '<', BigInt(this.now() - staleMs))
      .limit(20)
      .execute()
    for (const capture of booked) {
      try {
        if (await this.followBookedCapture(capture, await this.feeOf(capture.merchant_id))) resolved += 1
      } catch (error) {
        this.options.logger.error({ err: error, card_transaction: capture.id }, 'moving a captured payment failed; the next look tries again')
      }
    }
    return resolved
  }

  /** The payment of a capture the scheme booked moves to succeeded, once; answers whether it moved now. */
  private async followBookedCapture(capture: CardTransactionRow, fee: number): Promise<boolean> {
    const attempt = await this.options.store.db.selectFrom('channel_attempts').selectAll().where('channel_id', '=', 'card').where('provider_order_id', '=', capture.original_id ?? '').executeTakeFirst()
    if (attempt === undefined) return false
    return this.options.store.writer.submit(async (tx) => {
      const payment = await this.options.payments.loadForUpdate(tx, capture.merchant_id, attempt.payment_id)
      if (payment.status !== 'requires_capture') return false
      await this.paymentCaptured(tx, payment, attempt, capture, fee, this.now())
      return true
    })
  }

  /**
   * Cancels a card payment. An authorization is reversed at the scheme first (0400), so the issuer
   * releases the shopper's hold; the reverser voids the ledger's hold once the scheme acknowledges
   * (at once, or by the reversal sweeper later), so the cancel itself posts nothing.
   */
  async cancel(merchant: MerchantContext, paymentId: string, reason: string | null, request: IdempotentRequest): Promise<StoredResponse> {
    const releaseTransferId = newId('transfer', this.now())
    const attempt = await this.paidAttempt(paymentId, merchant.id)
    const reverse = this.options.reverse
    let holdWithReverser = false
    if (attempt !== undefined && attempt.provider_order_id !== null && reverse !== undefined) {
      const current = await this.options.store.db.selectFrom('payments').select('status').where('id', '=', paymentId).where('merchant_id', '=', merchant.id).executeTakeFirst()
      if (current?.status === 'requires_capture') {
        const reversal = await reverse(merchant.id, attempt.provider_order_id)
        if (reversal.outcome === 'in_flight') throw new KassaError('counterpart_unavailable', { message: 'The authorization is still on its way to the card network; cancel again in a moment.' })
        if (reversal.outcome === 'not_reversible') throw new KassaError('payment_not_cancelable', { message: `The authorization cannot be reversed (${reversal.reason}).` })
        holdWithReverser = true
      }
    }
    return submitIdempotent(this.options.store.writer, this.options.clock, request, async (tx, nowMs) => {
      const payment = await this.options.payments.loadForUpdate(tx, merchant.id, paymentId)
      const decided = decideCancel(payment, { reason, release_transfer_id: releaseTransferId }, nowMs)
      if (!decided.ok) throw decided.error
      const decision = holdWithReverser ? { ...decided.value, transfers: [] } : decided.value
      await this.options.payments.applyDecision(tx, payment, decision, nowMs)
      return { status: 200, body: paymentView(decision.next) }
    })
  }

  /**
   * Refunds a card payment (0200, processing code 20): the refund is recorded and its amount
   * reserved first (idempotently), then sent once, then settled with the scheme's answer.
   */
  async refund(
    merchant: MerchantContext,
    input: { payment_id: string; amount: bigint | undefined; reason: string | null; metadata: Readonly<Record<string, string>> },
    request: IdempotentRequest,
  ): Promise<StoredResponse> {
    const refundId = newId('refund', this.now())
    const stored = await submitIdempotent(this.options.store.writer, this.options.clock, request, async (tx, nowMs) => {
      const payment = await this.options.payments.loadForUpdate(tx, merchant.id, input.payment_id)
      const decided = decideCardRefund(payment, input.amount, nowMs)
      if (!decided.ok) throw decided.error
      const { next, amount } = decided.value
      const [attempt] = await tx.execute(tx.builder.selectFrom('channel_attempts').select('id').where('payment_id', '=', payment.id).where('status', '=', 'paid'))
      if (attempt === undefined) throw new KassaError('payment_not_refundable')
      this.options.payments.writePayment(tx, payment, next)
      const refund: RefundRecord = { id: refundId, merchant_id: merchant.id, payment_id: payment.id, amount, currency: payment.currency, status: 'pending', reason: input.reason, metadata: JSON.stringify(input.metadata), created_at: BigInt(nowMs) }
      // Looked at by the worker if this process stops before it sends the refund.
      await tx.execute(tx.builder.insertInto('refunds').values({ ...refund, transfer_id: null, attempt_id: attempt.id, provider_refund_id: null, failure_code: null, next_check_at: nowMs + refundRecoveryAfterMs, updated_at: nowMs }))
      return { status: 200, body: refundView(refund) }
    })
    const id = stored.status === 200 ? (JSON.parse(stored.body) as { id?: string }).id : undefined
    if (stored.status === 200 && id !== undefined) await this.sendRefund(merchant.id, id)
    const row = id === undefined ? undefined : await this.options.store.db.selectFrom('refunds').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? stored : { ...stored, body: toJson(refundView(row)) }
  }

  private async sendRefund(merchantId: string, refundId: string): Promise<void> {
    // Claimed by one caller only: a card refund is not idempotent at the scheme, so it is sent at most once.
    const claimed = await this.options.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const [refund] = await tx.execute(
        tx.builder
          .updateTable('refunds')
          // Looked at again by the worker if this process stops before the outcome is recorded.
          .set({ provider_refund_id: 'sending', next_check_at: nowMs + refundRecoveryAfterMs, updated_at: nowMs })
          .where('id', '=', refundId)
          .where('status', '=', 'pending')
          .where('provider_refund_id', 'is', null)
          .returningAll(),
      )
      return refund
    })
    if (claimed === undefined || claimed.attempt_id === null) return
    const attempt = await this.options.store.db.selectFrom('channel_attempts').selectAll().where('id', '=', claimed.attempt_id).executeTakeFirstOrThrow()
    let outcome: CardOutcome | KassaError
    try {
      outcome = await this.options.acquirer.refund(merchantId, attempt.provider_order_id ?? '', claimed.amount, claimed.id)
    } catch (error) {
      if (!(error instanceof KassaError)) throw error
      outcome = error
    }
    // Reversed but not yet acknowledged: the card may still hold the refund, so it is neither made nor failed yet.
    if (!(outcome instanceof KassaError) && outcome.outcome === 'reversal_pending') return this.lookAgainLater(claimed.id)
    await this.settleRefund(merchantId, claimed, outcome)
  }

  /** The worker looks at the refund again a minute from now (`recoverRefund`). */
  private async lookAgainLater(refundId: string): Promise<void> {
    const later = this.now() + refundLookAgainMs
    await this.options.store.writer.submit((tx) => tx.execute(tx.builder.updateTable('refunds').set({ next_check_at: later, updated_at: this.now() }).where('id', '=', refundId)))
  }

  /**
   * A card refund the worker found still `sending` long after it was claimed: the process that
   * claimed it stopped. Never sent (no card row for it): sent now. Answered (its card row says
   * how): settled with that answer. Sent with no answer recorded: never sent again (that could pay
   * it twice); the reversal sweeper reverses it at the scheme, and a look after the scheme
   * acknowledged that settles it as failed, its amount refundable again.
   */
  async recoverRefund(refundId: string): Promise<void> {
    const refund = await this.options.store.db.selectFrom('refunds').selectAll().where('id', '=', refundId).executeTakeFirst()
    if (refund === undefined || refund.status !== 'pending') return
    if (refund.provider_refund_id === null) return this.sendRefund(refund.merchant_id, refund.id)
    if (refund.provider_refund_id !== 'sending') return
    const card = await this.options.store.db.selectFrom('card_transactions').selectAll().where('reference_id', '=', refund.id).where('kind', '=', 'refund').executeTakeFirst()
    if (card === undefined) {
      // Never sent, if the claim is old and still no card row names it, both looked at under the
      // refund's lock: a live sender records its card row moments after claiming. The unique index on
      // a refund's card row (0008) stops a sender that hung longer than that from sending a second.
      const released = await this.options.store.writer.submit(async (tx) => {
        const nowMs = this.now()
        let claim = tx.builder.selectFrom('refunds').select(['provider_refund_id', 'updated_at']).where('id', '=', refund.id)
        if (tx.dialect.rowLocks) claim = claim.forUpdate()
        const [current] = await tx.execute(claim)
        if (current?.provider_refund_id !== 'sending' || (current.updated_at ?? 0n) > BigInt(nowMs - refundRecoveryAfterMs)) return false
        const [sent] = await tx.execute(tx.builder.selectFrom('card_transactions').select('id').where('reference_id', '=', refund.id).where('kind', '=', 'refund'))
        if (sent !== undefined) return false
        await tx.execute(tx.builder.updateTable('refunds').set({ provider_refund_id: null, updated_at: nowMs }).where('id', '=', refund.id))
        return true
      })
      if (released) await this.sendRefund(refund.merchant_id, refund.id)
      return
    }
    const outcome = cardOutcomeOf(card)
    if (outcome === undefined || outcome.outcome === 'reversal_pending') {
      // In flight, or sent by a process that stopped before its answer, or its reversal not yet acknowledged:
      // the reversal sweeper sees to it; the refund is settled once the card row says how it ended.
      this.options.logger.warn({ refund: refund.id, card_transaction: card.id, card_status: card.status }, 'a card refund has no final answer yet: looking again later')
      return this.lookAgainLater(refund.id)
    }
    await this.settleRefund(refund.merchant_id, refund, outcome)
  }

  /** Records a card refund's answer: succeeded, or failed with its amount refundable again. Once. */
  private async settleRefund(merchantId: string, claimed: RefundRow, outcome: CardOutcome | KassaError): Promise<void> {
    await this.options.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const approved = !(outcome instanceof KassaError) && outcome.outcome === 'approved'
      const status = approved ? 'succeeded' : 'failed'
      const code = outcome instanceof KassaError ? outcome.code : outcome.outcome
      const updated = await tx.execute(
        tx.builder
          .updateTable('refunds')
          .set({ status, provider_refund_id: outcome instanceof KassaError ? null : outcome.transaction.id, failure_code: approved ? null : code, next_check_at: null, updated_at: nowMs })
          .where('id', '=', claimed.id)
          .where('status', '=', 'pending')
          .returning('id'),
      )
      if (updated.length !== 1) return
      const payment = await this.options.payments.loadForUpdate(tx, merchantId, claimed.payment_id)
      const view = refundView({ ...claimed, status })
      await recordEvent(tx, { merchant_id: merchantId, type: `refund.${status}`, object_id: claimed.id, data: view }, nowMs, this.options.notifyCommitted)
      if (approved) {
        await this.options.payments.recordEvent(tx, payment, 'payment.refunded', nowMs)
        return
      }
      this.options.logger.warn({ refund: claimed.id, code }, 'card refund refused')
      this.options.payments.writePayment(tx, payment, decideRefundRefused(payment, claimed.amount, nowMs))
    })
  }

  /**
   * In the transaction that records the card request: is this attempt still waiting to be sent?
   * The attempt row is locked (PostgreSQL) so two nodes cannot both answer yes.
   */
  private async claimAttempt(tx: Tx, attemptId: string): Promise<boolean> {
    let query = tx.builder.selectFrom('channel_attempts').select('status').where('id', '=', attemptId)
    if (tx.dialect.rowLocks) query = query.forUpdate()
    const [attempt] = await tx.execute(query)
    if (attempt?.status !== 'creating') return false
    const [sent] = await tx.execute(tx.builder.selectFrom('card_transactions').select('id').where('reference_id', '=', attemptId).where('original_id', 'is', null).limit(1))
    return sent === undefined
  }

  private async paidAttempt(paymentId: string, merchantId: string): Promise<ChannelAttemptRow | undefined> {
    return this.options.store.db.selectFrom('channel_attempts').selectAll().where('payment_id', '=', paymentId).where('merchant_id', '=', merchantId).where('channel_id', '=', 'card').where('status', '=', 'paid').executeTakeFirst()
  }

  /** The card channel's own MDR when the operators set one, else the merchant's. */
  private async feeOf(merchantId: string): Promise<number> {
    const channel = await this.options.store.db.selectFrom('channel_configs').select('fee_basis_points').where('id', '=', 'card').executeTakeFirst()
    if (channel?.fee_basis_points !== undefined && channel.fee_basis_points !== null) return Number(channel.fee_basis_points)
    const row = await this.options.store.db.selectFrom('merchants').select('fee_basis_points').where('id', '=', merchantId).executeTakeFirstOrThrow()
    return Number(row.fee_basis_points)
  }

  private async setAttempt(tx: Tx, attempt: ChannelAttemptRow, changes: { status: 'paid' | 'failed'; provider_order_id: string; transfer_id?: string | null; failure_code?: string; failure_message?: string }): Promise<void> {
    await tx.execute(tx.builder.updateTable('channel_attempts').set({ ...changes, next_check_at: null, version: attempt.version + 1n, updated_at: this.now() }).where('id', '=', attempt.id).where('version', '=', attempt.version))
  }
}
