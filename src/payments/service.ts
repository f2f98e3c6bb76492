import { unstartedAttempt } from '../channels/attempt.js'
import { assert } from '../domain/assert.js'
import type { Clock } from '../domain/clock.js'
import type { CurrencyCode } from '../domain/currency.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { channelConfigKey, configFromRow, unavailableFor, type ChannelConfig } from '../channels/config.js'
import { findChannel } from '../channels/registry.js'
import { consumeSession } from '../delivery/sessions.js'
import { recordEvent } from '../events/outbox.js'
import { accountsReadAhead, ensureAccount, postTransfer } from '../ledger/journal.js'
import type { TransferRequest } from '../ledger/transfer.js'
import type { AccountRef } from '../ledger/accounts.js'
import { param, prepare, preparedQueries } from '../store/prepared.js'
import type { Store } from '../store/store.js'
import type { ReadAhead, Tx } from '../store/writer.js'
import { submitIdempotent, type IdempotentRequest, type StoredResponse } from '../store/idempotency.js'
import {
  decideCancel,
  decideCapture,
  decideConfirm,
  decideCounterpartRefund,
  decideDecline,
  decideRefund,
  type ConfirmInput,
  type Decision,
  type Payment,
} from './decide.js'
import type { Channel } from '../channels/channel.js'
import type { CardPayments } from './card.js'
import type { CounterpartPayments } from './counterpart.js'
import { paymentColumns } from './reads.js'
import { paymentView, refundView, type RefundRecord } from './view.js'

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
        .where('version', '=', param('expected_version')),
    ),
    selectShopper: prepare(db, (db) => db.selectFrom('shoppers').select('id').where('id', '=', param('id'))),
    selectChannelConfig: prepare(db, (db) => db.selectFrom('channel_configs').selectAll().where('id', '=', param('id'))),
    // A capture's channel is the payment's: read with the payment, in the same round trip.
    selectChannelFeeOfPayment: prepare(db, (db) =>
      db
        .selectFrom('channel_configs')
        .select('fee_basis_points')
        .where('id', '=', (eb) => eb.selectFrom('payments').select('channel').where('id', '=', param('payment_id'))),
    ),
    insertAttempt: prepare(db, (db) =>
      db.insertInto('channel_attempts').values(
        Object.fromEntries(
          [
            'id', 'merchant_id', 'payment_id', 'channel_id', 'amount', 'currency', 'status', 'provider_order_id', 'next_action',
            'saved_method_id', 'failure_code', 'failure_message', 'late', 'transfer_id', 'queries', 'next_check_at', 'version',
            'created_at', 'updated_at',
          ].map((column) => [column, param(column)]),
        ) as never,
      ),
    ),
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
        attempt_id: param('attempt_id'),
        provider_refund_id: param('provider_refund_id'),
        failure_code: param('failure_code'),
        next_check_at: param('next_check_at'),
        updated_at: param('now'),
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

/** Whether a payment's row is in the database yet: a create with confirm writes it once, at the end. */
type PaymentRow = 'written' | 'not_written'

/** Card declines one payment may have before it takes no more cards. */
const cardDeclinesMax = 5

/**
 * The payments use cases: each loads, lets the pure core decide, and writes the payment, its
 * ledger transfers, its events and the idempotency record in one transaction of the writer.
 */
export class PaymentService {
  private counterparts: CounterpartPayments | undefined
  private cards: CardPayments | undefined

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly notifyCommitted: () => void = () => undefined,
  ) {}

  /** The counterpart flows (netbank, quick pay, wallets), wired after both exist. */
  attachCounterparts(counterparts: CounterpartPayments): void {
    this.counterparts = counterparts
  }

  /** Card payments through Kassa's own acquiring, when this node has a scheme link. */
  attachCards(cards: CardPayments): void {
    this.cards = cards
  }

  acquiresCards(): boolean {
    return this.cards !== undefined
  }

  /** The card flows, or a clear refusal when this node acquires no cards. */
  cardPayments(): CardPayments {
    if (this.cards === undefined) throw new KassaError('channel_unavailable', { param: 'payment_method', message: 'Card acquiring is not configured on this node.' })
    return this.cards
  }

  private submit(request: IdempotentRequest, command: (tx: Tx, nowMs: number) => Promise<Response>, readsAhead?: (tx: Tx) => readonly ReadAhead[]): Promise<StoredResponse> {
    return submitIdempotent(this.store.writer, this.clock, request, command, readsAhead)
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
      if (confirmInput === undefined) {
        tx.defer(queries(tx).insertPayment, payment)
        await this.event(tx, payment, 'payment.created', nowMs)
        return { status: 200, body: paymentView(payment) }
      }
      // Created and confirmed in one unit: the row is written once, in the state the confirm leaves
      // it in (the same row an insert then an update would leave), one statement fewer per payment.
      await this.event(tx, payment, 'payment.created', nowMs)
      return this.confirmWith(tx, payment, confirmInput, nowMs, 'not_written')
    }, (tx) => this.readsAheadOfCreate(tx, merchant, id, input))
  }

  /**
   * What a create is about to read, as far as the request tells: its shopper, and for a confirm its
   * channel's configuration and the accounts its transfer moves (Tx.prefetch: one round trip on
   * PostgreSQL instead of one each). A guess that misses costs nothing but a read made where it is.
   */
  private readsAheadOfCreate(tx: Tx, merchant: MerchantContext, paymentId: string, input: CreatePaymentInput): ReadAhead[] {
    const reads: ReadAhead[] = []
    if (input.shopper_id !== null) reads.push({ query: queries(tx).selectShopper, values: { id: input.shopper_id } })
    if (!input.confirm) return reads
    const { reads: methodReads, channel, method, shopper } = this.methodReadsAhead(tx, input.payment_method, input.shopper_id ?? undefined)
    reads.push(...methodReads)
    if (channel?.fundingAccount === undefined || method === undefined || shopper === undefined) return reads
    const funding = channel.fundingAccount({ id: paymentId, merchant_id: merchant.id, amount: input.amount, currency: input.currency, shopper_id: input.shopper_id }, method)
    const payable = { code: 'merchant_payable', owner_id: merchant.id, currency: input.currency } as const
    // Automatic capture moves the money and the fee (decideConfirm); manual capture holds it for the merchant.
    const accounts = input.capture_method === 'manual' ? [funding, payable] : [funding, payable, { code: 'fee_revenue', owner_id: undefined, currency: input.currency } as const]
    reads.push(accountsReadAhead(tx, accounts))
    return reads
  }

  /**
   * What confirming with `method` reads that the method itself names: its channel's configuration,
   * and the shopper a balance pays from, unless the payment's own shopper (`shopperRead`) is read
   * already. The accounts need the payment's currency: only a create, which carries it, reads
   * those ahead too.
   */
  private methodReadsAhead(tx: Tx, methodInput: Readonly<Record<string, unknown>> | undefined, shopperRead?: string) {
    const q = queries(tx)
    const reads: ReadAhead[] = []
    const channel = typeof methodInput?.['type'] === 'string' ? findChannel(methodInput['type']) : undefined
    const parsed = methodInput === undefined ? undefined : channel?.parseMethod(methodInput)
    if (channel === undefined || parsed === undefined || !parsed.ok) return { reads, channel: undefined, method: undefined, shopper: undefined }
    const configId = channel.configId(parsed.method)
    if (configId !== undefined) reads.push({ query: q.selectChannelConfig, values: { id: configId } })
    const shopper = (parsed.method as { shopper?: string }).shopper
    // `confirmInput` reads the shopper a balance pays from when the payment names none.
    if (channel.fundingAccount !== undefined && shopper !== undefined && shopperRead === undefined) reads.push({ query: q.selectShopper, values: { id: shopper } })
    return { reads, channel, method: parsed.method, shopper }
  }

  /** The payment a unit loads first (`load`), to travel with the idempotency key's read. */
  private paymentReadAhead(tx: Tx, merchantId: string, paymentId: string): ReadAhead {
    return { query: queries(tx).selectPayment, values: { id: paymentId, merchant_id: merchantId } }
  }

  confirm(merchant: MerchantContext, paymentId: string, method: Readonly<Record<string, unknown>> | undefined, request: IdempotentRequest) {
    const transferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      if (payment.status !== 'requires_payment_method') throw new KassaError('payment_not_confirmable')
      const confirmInput = await this.confirmInput(tx, merchant, payment, method, transferId)
      return this.confirmWith(tx, payment, confirmInput, nowMs, 'written')
    }, (tx) => [this.paymentReadAhead(tx, merchant.id, paymentId), ...this.methodReadsAhead(tx, method).reads])
  }

  async capture(merchant: MerchantContext, paymentId: string, amountToCapture: bigint | undefined, request: IdempotentRequest) {
    if (await this.isCardPayment(merchant.id, paymentId)) return this.cardsHere().capture(merchant, paymentId, amountToCapture, request)
    const captureTransferId = newId('transfer', this.clock.now())
    const feeTransferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      // The channel's own MDR, as an automatic capture takes it at confirm; else the merchant's.
      const [channel] = await tx.run(queries(tx).selectChannelFeeOfPayment, { payment_id: paymentId })
      const feeBasisPoints = channel?.fee_basis_points === null || channel?.fee_basis_points === undefined ? merchant.fee_basis_points : Number(channel.fee_basis_points)
      const decided = decideCapture(
        payment,
        { amount_to_capture: amountToCapture, fee_basis_points: feeBasisPoints, capture_transfer_id: captureTransferId, fee_transfer_id: feeTransferId },
        nowMs,
      )
      if (!decided.ok) throw decided.error
      await this.ensureAccounts(tx, payment)
      await this.apply(tx, payment, decided.value, nowMs)
      return { status: 200, body: paymentView(decided.value.next) }
    }, (tx) => [this.paymentReadAhead(tx, merchant.id, paymentId), { query: queries(tx).selectChannelFeeOfPayment, values: { payment_id: paymentId } }])
  }

  async cancel(merchant: MerchantContext, paymentId: string, reason: string | null, request: IdempotentRequest) {
    if (await this.isCardPayment(merchant.id, paymentId)) return this.cardsHere().cancel(merchant, paymentId, reason, request)
    const releaseTransferId = newId('transfer', this.clock.now())
    // A counterpart's open order is closed first, outside any transaction, so it can no longer be paid.
    await this.counterparts?.closeBeforeCancel(merchant.id, paymentId)
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, paymentId)
      if (payment.status === 'processing' && this.viaProvider(payment) && this.counterparts !== undefined) {
        const next = await this.counterparts.cancelInTx(tx, payment, reason, nowMs)
        return { status: 200, body: paymentView(next) }
      }
      const decided = decideCancel(payment, { reason, release_transfer_id: releaseTransferId }, nowMs)
      if (!decided.ok) throw decided.error
      await this.apply(tx, payment, decided.value, nowMs)
      return { status: 200, body: paymentView(decided.value.next) }
    }, (tx) => [this.paymentReadAhead(tx, merchant.id, paymentId)])
  }

  async refund(
    merchant: MerchantContext,
    input: { payment_id: string; amount: bigint | undefined; reason: string | null; metadata: Readonly<Record<string, string>> },
    request: IdempotentRequest,
  ) {
    if (await this.isCardPayment(merchant.id, input.payment_id)) return this.cardsHere().refund(merchant, input, request)
    const refundId = newId('refund', this.clock.now())
    const transferId = newId('transfer', this.clock.now())
    return this.submit(request, async (tx, nowMs) => {
      const payment = await this.load(tx, merchant.id, input.payment_id, 'payment')
      if (this.viaProvider(payment)) return this.refundThroughCounterpart(tx, payment, input, refundId, transferId, nowMs)
      const funding = this.fundingOf(payment)
      const decided = decideRefund(payment, { amount: input.amount, funding, transfer_id: transferId }, nowMs)
      if (!decided.ok) throw decided.error
      await this.ensureAccounts(tx, payment, funding)
      await this.apply(tx, payment, decided.value, nowMs)
      const refund = refundRecord(refundId, payment, decided.value.amount, 'succeeded', input, nowMs)
      tx.defer(queries(tx).insertRefund, { transfer_id: transferId, now: nowMs, attempt_id: null, next_check_at: null, provider_refund_id: null, failure_code: null, ...refund })
      await recordEvent(tx, { merchant_id: merchant.id, type: 'refund.succeeded', object_id: refund.id, data: refundView(refund) }, nowMs, this.notifyCommitted)
      return { status: 200, body: refundView(refund) }
    }, (tx) => [this.paymentReadAhead(tx, merchant.id, input.payment_id)])
  }

  /**
   * A refund of money a counterpart holds, first half: reserved and held in the ledger here; the
   * counterpart is called after COMMIT (`CounterpartPayments.sendRefund`), and its answer posts or
   * voids the hold. The refund shows `pending` until then.
   */
  private async refundThroughCounterpart(
    tx: Tx,
    payment: Payment,
    input: { amount: bigint | undefined; reason: string | null; metadata: Readonly<Record<string, string>> },
    refundId: string,
    transferId: string,
    nowMs: number,
  ): Promise<Response> {
    const [attempt] = await tx.execute(
      tx.builder.selectFrom('channel_attempts').select(['id', 'channel_id']).where('payment_id', '=', payment.id).where('status', '=', 'paid').where('late', '=', 0),
    )
    if (attempt === undefined) throw new KassaError('payment_not_refundable')
    const decided = decideCounterpartRefund(payment, { amount: input.amount, channel_id: attempt.channel_id, transfer_id: transferId }, nowMs)
    if (!decided.ok) throw decided.error
    await this.ensureAccounts(tx, payment, { code: 'provider_receivable', owner_id: attempt.channel_id, currency: payment.currency })
    await this.apply(tx, payment, decided.value, nowMs)
    const refund = refundRecord(refundId, payment, decided.value.amount, 'pending', input, nowMs)
    // Checked again soon if the counterpart's answer is lost.
    tx.defer(queries(tx).insertRefund, { transfer_id: transferId, now: nowMs, attempt_id: attempt.id, next_check_at: nowMs + 15_000, provider_refund_id: null, failure_code: null, ...refund })
    await recordEvent(tx, { merchant_id: payment.merchant_id, type: 'refund.created', object_id: refund.id, data: refundView(refund) }, nowMs, this.notifyCommitted)
    return { status: 200, body: refundView(refund) }
  }

  /** A card payment is captured, canceled and refunded only through the scheme, never in the ledger alone. */
  private cardsHere(): CardPayments {
    if (this.cards === undefined) throw new KassaError('channel_unavailable', { message: 'Card payments need the link to the card scheme, which this node does not have; try again on another node.' })
    return this.cards
  }

  private async isCardPayment(merchantId: string, paymentId: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('payments').select('payment_method_type').where('id', '=', paymentId).where('merchant_id', '=', merchantId).executeTakeFirst()
    return row?.payment_method_type === 'card'
  }

  private viaProvider(payment: Payment): boolean {
    return this.collectorOf(payment) === 'provider'
  }

  private collectorOf(payment: Payment): Channel['collector'] | undefined {
    return payment.payment_method_type === null ? undefined : findChannel(payment.payment_method_type)?.collector
  }

  /** The payment, row-locked on PostgreSQL, for use cases that run inside a transaction of their own. */
  loadForUpdate(tx: Tx, merchantId: string, paymentId: string): Promise<Payment> {
    return this.load(tx, merchantId, paymentId)
  }

  applyDecision(tx: Tx, before: Payment, decision: Decision, nowMs: number): Promise<void> {
    return this.apply(tx, before, decision, nowMs)
  }

  /** Writes a payment whose move records no event of its own (a refused refund's amount given back). */
  writePayment(tx: Tx, before: Payment, next: Payment): void {
    queuePaymentUpdate(tx, before, next)
  }

  recordEvent(tx: Tx, payment: Payment, type: string, nowMs: number): Promise<string> {
    return this.event(tx, payment, type, nowMs)
  }

  async channelConfig(tx: Tx, channelId: string): Promise<ChannelConfig | undefined> {
    return tx.remembered(channelConfigKey(channelId), async () => {
      const [row] = await tx.run(queries(tx).selectChannelConfig, { id: channelId })
      return row === undefined ? undefined : configFromRow(row as never)
    })
  }

  /** The channel's own fee (MDR) when operators set one, else the merchant's: every channel alike. */
  async channelFee(tx: Tx, channelId: string, merchantId: string): Promise<number> {
    const config = await this.channelConfig(tx, channelId)
    return config?.fee_basis_points ?? (await this.merchantFee(tx, merchantId))
  }

  async merchantFee(tx: Tx, merchantId: string): Promise<number> {
    const [row] = await tx.execute(tx.builder.selectFrom('merchants').select('fee_basis_points').where('id', '=', merchantId))
    if (row === undefined) throw new Error(`no merchant ${merchantId}`)
    return Number(row.fee_basis_points)
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
    const savedMethod = await this.resolveSavedMethod(tx, payment, parsed.method)
    const configId = savedMethod?.channel_id ?? channel.configId(parsed.method)
    const config = configId === undefined ? undefined : await this.channelConfig(tx, configId)
    if (config === undefined || config.state === 'disabled') throw new KassaError('payment_method_unsupported', { param: 'payment_method.type', message: `No such channel: ${configId ?? String(type)}.` })
    const unavailable = unavailableFor(config, payment)
    if (unavailable !== undefined) throw new KassaError(unavailable.reason, { param: 'payment_method', message: unavailable.message })
    if (channel.collector === 'provider' && this.counterparts?.provider(config.id) === undefined) {
      throw new KassaError('channel_unavailable', { param: 'payment_method', message: `${config.display_name} has no counterpart configured on this node.` })
    }
    if (channel.collector === 'acquirer') {
      if (this.cards === undefined) throw new KassaError('channel_unavailable', { param: 'payment_method', message: 'Card acquiring is not configured on this node.' })
      await this.cards.requireVaultedCard(tx, payment.merchant_id, (parsed.method as { card: string }).card)
      // Card testers try stolen numbers in a loop on one checkout: a few declines, then no more cards here.
      const declined = await tx.execute(tx.builder.selectFrom('channel_attempts').select('id').where('payment_id', '=', payment.id).where('channel_id', '=', 'card').where('status', '=', 'failed').limit(cardDeclinesMax))
      if (declined.length >= cardDeclinesMax) throw new KassaError('card_attempts_exceeded', { param: 'payment_method' })
    }
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
      channel: config.id,
      shopper_id: shopperId,
      funding,
      fee_basis_points: config.fee_basis_points ?? merchant.fee_basis_points,
      transfer_id: transferId,
      attempt:
        channel.collector === 'provider' || channel.collector === 'acquirer'
          ? { id: newId('payment_attempt', this.clock.now()), saved_method_id: savedMethod?.id ?? (parsed.method as { card?: string }).card ?? null }
          : undefined,
    }
  }

  /** A quick-pay method names a saved binding: it must be the payment's shopper's, and still active. */
  private async resolveSavedMethod(tx: Tx, payment: Payment, method: unknown): Promise<{ id: string; channel_id: string } | undefined> {
    const saved = (method as { saved_method?: string }).saved_method
    if (saved === undefined) return undefined
    const [row] = await tx.execute(tx.builder.selectFrom('saved_methods').select(['id', 'channel_id', 'shopper_id', 'status']).where('id', '=', saved))
    if (row === undefined || row.status !== 'active' || payment.shopper_id === null || row.shopper_id !== payment.shopper_id) {
      throw new KassaError('saved_method_missing', { param: 'payment_method.saved_method' })
    }
    return row
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

  /**
   * Confirms `payment` with a validated method. `row` says whether the payment's row is already in
   * the database ('written': it is updated, guarded by its version) or not yet ('not_written': a
   * create with confirm, whose row is inserted once, in the state this decides).
   */
  private async confirmWith(tx: Tx, payment: Payment, input: ConfirmInput, nowMs: number, row: PaymentRow): Promise<Response> {
    const decided = decideConfirm(payment, input, nowMs)
    if (!decided.ok) throw decided.error
    if (input.funding !== undefined) await this.ensureAccounts(tx, payment, input.funding)
    const [transfer] = decided.value.transfers
    const result = transfer === undefined ? 'ok' : await postTransfer(tx, transfer, nowMs)
    if (result === 'exceeds_credits') {
      const declined = decideDecline(payment, input, 'insufficient_funds', 'The wallet balance is too low for this payment.', nowMs)
      await this.apply(tx, payment, declined, nowMs, row)
      const error = new KassaError('insufficient_funds').toJSON()
      return { status: 402, body: { error: { ...error.error, payment: paymentView(declined.next) } } }
    }
    if (result !== 'ok') throw new Error(`confirm transfer failed: ${result}`)
    // The payment is written before its attempt, which refers to it.
    await this.apply(tx, payment, { ...decided.value, transfers: [] }, nowMs, row)
    if (input.attempt !== undefined) {
      await tx.run(queries(tx).insertAttempt, {
        id: input.attempt.id,
        merchant_id: payment.merchant_id,
        payment_id: payment.id,
        channel_id: input.channel,
        amount: payment.amount,
        currency: payment.currency,
        saved_method_id: input.attempt.saved_method_id,
        ...unstartedAttempt(nowMs),
      })
    }
    return { status: 200, body: paymentView(decided.value.next) }
  }

  /** Where a payment's money came from, for refunds: the channel says. */
  private fundingOf(payment: Payment): AccountRef {
    if (payment.payment_method_type === null) throw new KassaError('payment_not_refundable')
    const channel = findChannel(payment.payment_method_type)
    if (channel === undefined) throw new Error(`payment ${payment.id} names an unknown channel ${payment.payment_method_type}`)
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

  /**
   * Writes a decision: its transfers, the payment (updated, guarded by version; or inserted in its
   * next state when its row is 'not_written' yet), its events.
   */
  private async apply(tx: Tx, before: Payment, decision: Decision, nowMs: number, row: PaymentRow = 'written'): Promise<void> {
    for (const transfer of decision.transfers) {
      const result = await postTransfer(tx, transfer as TransferRequest, nowMs)
      // Only the confirm path can meet a limit, and it handles that itself; anything else here is a bug.
      if (result !== 'ok') throw new Error(`transfer ${transfer.id} (${transfer.code}) failed: ${result}`)
    }
    if (row === 'not_written') {
      assert(decision.next.id === before.id && decision.next.version === before.version + 1n, `payment ${before.id}: a first write is one move on from its creation`)
      tx.defer(queries(tx).insertPayment, decision.next)
    } else {
      queuePaymentUpdate(tx, before, decision.next)
    }
    for (const type of decision.events) await this.event(tx, decision.next, type, nowMs)
  }

  private event(tx: Tx, payment: Payment, type: string, nowMs: number): Promise<string> {
    return recordEvent(tx, { merchant_id: payment.merchant_id, type, object_id: payment.id, data: paymentView(payment) }, nowMs, this.notifyCommitted)
  }
}

/**
 * Queues the payment row's move from `before` to `next`, to go with the unit's other writes (one
 * round trip on PostgreSQL). The row must still be at the version read: it is row-locked from the
 * read on PostgreSQL and SQLite has one writer, so a miss is a bug, and fails the unit.
 */
function queuePaymentUpdate(tx: Tx, before: Payment, next: Payment): void {
  tx.defer(queries(tx).updatePayment, { expected_version: before.version, ...next }, (changed) => {
    if (changed !== 1) throw new Error(`payment ${before.id} changed under us (version ${before.version})`)
  })
}

/** A refund of `amount` on the payment, as recorded and shown. */
function refundRecord(
  id: string,
  payment: Payment,
  amount: bigint,
  status: RefundRecord['status'],
  input: { readonly reason: string | null; readonly metadata: Readonly<Record<string, string>> },
  nowMs: number,
): RefundRecord {
  return { id, merchant_id: payment.merchant_id, payment_id: payment.id, amount, currency: payment.currency, status, reason: input.reason, metadata: JSON.stringify(input.metadata), created_at: BigInt(nowMs) }
}
