import type { Clock } from '../domain/clock.js'
import type { CurrencyCode } from '../domain/currency.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { findChannel } from '../channels/registry.js'
import { consumeSession } from '../delivery/sessions.js'
import { recordEvent } from '../events/outbox.js'
import { ensureAccount, postTransfer } from '../ledger/journal.js'
import type { TransferRequest } from '../ledger/transfer.js'
import type { AccountRef } from '../ledger/accounts.js'
import { param, prepare, preparedQueries } from '../store/prepared.js'
import type { Store } from '../store/store.js'
import type { Tx } from '../store/writer.js'
import { submitIdempotent, type IdempotentRequest, type StoredResponse } from '../store/idempotency.js'
import {
  decideCancel,
  decideCapture,
  decideConfirm,
  decideDecline,
  decideRefund,
  type ConfirmInput,
  type Decision,
  type Payment,
} from './decide.js'
import { paymentView, refundView, type RefundRecord } from './view.js'

const paymentColumns = [
  'id', 'merchant_id', 'status', 'amount', 'currency', 'capture_method', 'order_reference', 'description', 'metadata',
  'shopper_id', 'payment_method_type', 'channel', 'amount_capturable', 'amount_received', 'amount_refunded',
  'fee_amount', 'hold_transfer_id', 'last_error_code', 'last_error_message', 'cancellation_reason', 'version',
  'created_at', 'updated_at',
] as const

const queries = preparedQueries((db, dialect) => {
  const select = db
    .selectFrom('payments')
    .select(paymentColumns)
    .where('id', '=', param('id'))
    .where('merchant_id', '=', param('merchant_id'))
  const values = Object.fromEntries(paymentColumns.map((column) => [column, param(column)]))
  return {
    // On PostgreSQL the row lock makes concurrent commands on one payment take turns.
    selectPayment: prepare(db, () => (dialect.rowLocks ? select.forUpdate() : select)),
    insertPayment: prepare(db, (db) => db.insertInto('payments').values(values as never)),
    updatePayment: prepare(db, (db) =>
      db
        .updateTable('payments')
        .set(
          Object.fromEntries(
            paymentColumns.filter((c) => c !== 'id' && c !== 'merchant_id' && c !== 'created_at').map((c) => [c, param(c)]),
          ) as never,
        )
        .where('id', '=', param('id'))
        .where('version', '=', param('expected_version'))
        .returning('id'),
    ),
    selectShopper: prepare(db, (db) => db.selectFrom('shoppers').select('id').where('id', '=', param('id'))),
    insertRefund: prepare(db, (db) =>
      db.insertInto('refunds').values({
        id: param('id'),
        merchant_id: param('merchant_id'),
        payment_id: param('payment_id'),
        amount: param('amount'),
        currency: param('currency'),
        status: param('status'),
        reason: param('reason'),
        transfer_id: param('transfer_id'),
        metadata: param('metadata'),
        created_at: param('now'),
      }),
    ),
  }
})

/** Who is calling: the merchant behind the API key, with what the payment path needs of it. */
export type MerchantContext = { readonly id: string; readonly fee_basis_points: number; readonly merchant_kind: 'self_operated' | 'third_party' }

export type CreatePaymentInput = {
  readonly amount: bigint
  readonly currency: CurrencyCode
  readonly order_reference: string
  readonly description: string | null
  readonly capture_method: 'automatic' | 'manual'
  readonly metadata: Readonly<Record<string, string>>
  readonly shopper_id: string | null
  readonly confirm: boolean
  readonly payment_method: Readonly<Record<string, unknown>> | undefined
}

type Response = { status: number; body: unknown }

/**
 * The payments use cases: each loads, lets the pure core decide, and writes the payment, its
 * ledger transfers, its events and the idempotency record in one transaction of the writer.
 */
export class PaymentService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly notifyCommitted: () => void = () => undefined,
  ) {}

  private submit(request: IdempotentRequest, command: (tx: Tx, nowMs: number) => Promise<Response>): Promise<StoredResponse> {
    return submitIdempotent(this.store.writer, this.clock, request, command)
  }

  create(merchant: MerchantContext, input: CreatePaymentInput, request: IdempotentRequest): Promise<StoredResponse> {
    const id = newId('payment', this.clock.now())
    const transferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      if (input.shopper_id !== null) await this.requireShopper(tx, input.shopper_id, 'shopper')
      const payment: Payment = {
        id,
        merchant_id: merchant.id,
        status: 'requires_payment_method',
        amount: input.amount,
        currency: input.currency,
        capture_method: input.capture_method,
        order_reference: input.order_reference,
        description: input.description,
        metadata: JSON.stringify(input.metadata),
        shopper_id: input.shopper_id,
        payment_method_type: null,
        channel: null,
        amount_capturable: 0n,
        amount_received: 0n,
        amount_refunded: 0n,
        fee_amount: 0n,
        hold_transfer_id: null,
        last_error_code: null,
        last_error_message: null,
        cancellation_reason: null,
        version: 0n,
        created_at: BigInt(nowMs),
        updated_at: BigInt(nowMs),
      }
      // Validate the method before anything is written, so a bad one leaves no payment behind.
      const confirmInput = input.confirm ? await this.confirmInput(tx, merchant, payment, input.payment_method, transferId) : undefined
      await tx.run(queries(tx).insertPayment, payment)
      await this.event(tx, payment, 'payment.created', nowMs)
      if (confirmInput === undefined) return { status: 200, body: paymentView(payment) }
      return this.confirmWith(tx, payment, confirmInput, nowMs)
    })
  }

  confirm(merchant: MerchantContext, paymentId: string, method: Readonly<Record<string, unknown>> | undefined, request: IdempotentRequest) {
    const transferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      if (payment.status !== 'requires_payment_method') throw new KassaError('payment_not_confirmable')
      const confirmInput = await this.confirmInput(tx, merchant, payment, method, transferId)
      return this.confirmWith(tx, payment, confirmInput, nowMs)
    })
  }

  capture(merchant: MerchantContext, paymentId: string, amountToCapture: bigint | undefined, request: IdempotentRequest) {
    const captureTransferId = newId('transfer', this.clock.now())
    const feeTransferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      const decided = decideCapture(
        payment,
        { amount_to_capture: amountToCapture, fee_basis_points: merchant.fee_basis_points, capture_transfer_id: captureTransferId, fee_transfer_id: feeTransferId },
        nowMs,
      )
      if (!decided.ok) throw decided.error
      await this.ensureAccounts(tx, payment)
      await this.apply(tx, payment, decided.value, nowMs)
      return { status: 200, body: paymentView(decided.value.next) }
    })
  }

  cancel(merchant: MerchantContext, paymentId: string, reason: string | null, request: IdempotentRequest) {
    const releaseTransferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      const decided = decideCancel(payment, { reason, release_transfer_id: releaseTransferId }, nowMs)
      if (!decided.ok) throw decided.error
      await this.apply(tx, payment, decided.value, nowMs)
      return { status: 200, body: paymentView(decided.value.next) }
    })
  }

  refund(
    merchant: MerchantContext,
    input: { payment_id: string; amount: bigint | undefined; reason: string | null; metadata: Readonly<Record<string, string>> },
    request: IdempotentRequest,
  ) {
    const refundId = newId('refund', this.clock.now())
    const transferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, input.payment_id, 'payment')
      const funding = this.fundingOf(payment)
      const decided = decideRefund(payment, { amount: input.amount, funding, transfer_id: transferId }, nowMs)
      if (!decided.ok) throw decided.error
      await this.ensureAccounts(tx, payment, funding)
      await this.apply(tx, payment, decided.value, nowMs)
      const refund: RefundRecord = {
        id: refundId,
        merchant_id: merchant.id,
        payment_id: payment.id,
        amount: decided.value.amount,
        currency: payment.currency,
        status: 'succeeded',
        reason: input.reason,
        metadata: JSON.stringify(input.metadata),
        created_at: BigInt(nowMs),
      }
      await tx.run(queries(tx).insertRefund, { ...refund, transfer_id: transferId, now: nowMs })
      await recordEvent(tx, { merchant_id: merchant.id, type: 'refund.succeeded', object_id: refund.id, data: refundView(refund) }, nowMs, this.notifyCommitted)
      return { status: 200, body: refundView(refund) }
    })
  }

  private async load(tx: Tx, merchantId: string, paymentId: string, param_ = 'id'): Promise<Payment> {
    const [row] = await tx.run(queries(tx).selectPayment, { id: paymentId, merchant_id: merchantId })
    // Another merchant's payment is as missing as one that never existed.
    if (row === undefined) throw new KassaError('resource_missing', { param: param_, message: `No such payment: ${paymentId}` })
    return row as Payment
  }

  private async requireShopper(tx: Tx, shopperId: string, param_: string): Promise<void> {
    const [row] = await tx.run(queries(tx).selectShopper, { id: shopperId })
    if (row === undefined) throw new KassaError('shopper_missing', { param: param_, message: `No such shopper: ${shopperId}` })
  }

  private async confirmInput(
    tx: Tx,
    merchant: MerchantContext,
    payment: Payment,
    method: Readonly<Record<string, unknown>> | undefined,
    transferId: string,
  ): Promise<ConfirmInput> {
    if (method === undefined) throw new KassaError('parameter_missing', { param: 'payment_method', message: 'Confirming needs a payment_method.' })
    const type = method['type']
    const channel = typeof type === 'string' ? findChannel(type) : undefined
    if (channel === undefined) throw new KassaError('payment_method_unsupported', { param: 'payment_method.type' })
    if (payment.capture_method === 'manual' && !channel.capabilities.manual_capture) {
      throw new KassaError('channel_capability_unsupported', { param: 'capture_method', message: `${channel.kind} does not support manual capture.` })
    }
    const parsed = channel.parseMethod(method)
    if (!parsed.ok) throw new KassaError('parameter_invalid', { param: parsed.param, message: parsed.message })
    const resolved = await this.resolveShopperConsent(tx, merchant, parsed.method)
    const funding = channel.fundingAccount?.(payment, resolved)
    const shopperId = funding?.code === 'shopper_balance' ? (funding.owner_id ?? null) : payment.shopper_id
    if (shopperId !== null && shopperId !== payment.shopper_id) {
      if (payment.shopper_id !== null) {
        throw new KassaError('parameter_invalid', { param: 'payment_method.shopper', message: 'The wallet belongs to another shopper than the payment.' })
      }
      await this.requireShopper(tx, shopperId, 'payment_method.shopper')
    }
    return {
      payment_method_type: channel.kind,
      channel: channel.kind,
      shopper_id: shopperId,
      funding,
      fee_basis_points: merchant.fee_basis_points,
      transfer_id: transferId,
    }
  }

  /**
   * A wallet is spent only with its shopper's consent: the one-time token the shopper's app issued
   * (used up here, in the payment's own transaction), or, for the shop itself, the shopper id.
   */
  private async resolveShopperConsent(tx: Tx, merchant: MerchantContext, method: unknown): Promise<unknown> {
    const wallet = method as { type?: string; shopper?: string; token?: string }
    if (wallet.type !== 'wallet_balance') return method
    if (wallet.token !== undefined) {
      const shopper = await consumeSession(tx, 'cpm', wallet.token, this.clock.now())
      if (shopper === undefined) throw new KassaError('payment_token_invalid', { param: 'payment_method.token' })
      return { type: 'wallet_balance', shopper }
    }
    if (merchant.merchant_kind !== 'self_operated') throw new KassaError('wallet_consent_required', { param: 'payment_method.shopper' })
    return method
  }

  private async confirmWith(tx: Tx, payment: Payment, input: ConfirmInput, nowMs: number): Promise<Response> {
    const decided = decideConfirm(payment, input, nowMs)
    if (!decided.ok) throw decided.error
    if (input.funding !== undefined) await this.ensureAccounts(tx, payment, input.funding)
    const [transfer] = decided.value.transfers
    const result = transfer === undefined ? 'ok' : await postTransfer(tx, transfer, nowMs)
    if (result === 'exceeds_credits') {
      const declined = decideDecline(payment, input, 'insufficient_funds', 'The wallet balance is too low for this payment.', nowMs)
      await this.apply(tx, payment, declined, nowMs)
      const error = new KassaError('insufficient_funds').toJSON()
      return { status: 402, body: { error: { ...error.error, payment: paymentView(declined.next) } } }
    }
    if (result !== 'ok') throw new Error(`confirm transfer failed: ${result}`)
    await this.apply(tx, payment, { ...decided.value, transfers: [] }, nowMs)
    return { status: 200, body: paymentView(decided.value.next) }
  }

  /** Where a payment's money came from, for refunds: the channel says. */
  private fundingOf(payment: Payment): AccountRef {
    if (payment.channel === null) throw new KassaError('payment_not_refundable')
    const channel = findChannel(payment.channel)
    if (channel === undefined) throw new Error(`payment ${payment.id} names an unknown channel ${payment.channel}`)
    if (!channel.capabilities.refunds || channel.fundingAccount === undefined) {
      throw new KassaError('channel_capability_unsupported', { message: `${channel.kind} payments cannot be refunded through Kassa yet.` })
    }
    const parsed = channel.parseMethod({ type: payment.payment_method_type, shopper: payment.shopper_id })
    if (!parsed.ok) throw new Error(`payment ${payment.id} has a method its channel cannot read: ${parsed.message}`)
    return channel.fundingAccount(payment, parsed.method)
  }

  private async ensureAccounts(tx: Tx, payment: Payment, funding?: AccountRef): Promise<void> {
    const nowMs = this.clock.now()
    await ensureAccount(tx, { code: 'merchant_payable', owner_id: payment.merchant_id, currency: payment.currency }, nowMs)
    await ensureAccount(tx, { code: 'fee_revenue', owner_id: undefined, currency: payment.currency }, nowMs)
    if (funding !== undefined) await ensureAccount(tx, funding, nowMs)
  }

  /** Writes a decision: its transfers, the payment (guarded by version), its events. */
  private async apply(tx: Tx, before: Payment, decision: Decision, nowMs: number): Promise<void> {
    for (const transfer of decision.transfers) {
      const result = await postTransfer(tx, transfer as TransferRequest, nowMs)
      // Only the confirm path can meet a limit, and it handles that itself; anything else here is a bug.
      if (result !== 'ok') throw new Error(`transfer ${transfer.id} (${transfer.code}) failed: ${result}`)
    }
    const updated = await tx.run(queries(tx).updatePayment, { ...decision.next, expected_version: before.version })
    if (updated.length !== 1) throw new Error(`payment ${before.id} changed under us (version ${before.version})`)
    for (const type of decision.events) await this.event(tx, decision.next, type, nowMs)
  }

  private event(tx: Tx, payment: Payment, type: string, nowMs: number): Promise<string> {
    return recordEvent(tx, { merchant_id: payment.merchant_id, type, object_id: payment.id, data: paymentView(payment) }, nowMs, this.notifyCommitted)
  }
}
