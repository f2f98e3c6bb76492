import type { Clock } from '../domain/clock.js'
import { currency as currencyOf, type CurrencyCode } from '../domain/currency.js'
import { KassaError } from '../domain/errors.js'
import { assert } from '../domain/assert.js'
import { newId } from '../domain/ids.js'
import { accountId, type AccountRef } from '../ledger/accounts.js'
import { ensureAccount, postTransfer } from '../ledger/journal.js'
import type { Posting, TransferRequest } from '../ledger/transfer.js'
import { feeFor } from '../payments/decide.js'
import type { MasterKey } from '../security/secrets.js'
import { param, params, prepare, preparedQueries } from '../store/prepared.js'
import type { CardTransactionKind, CardTransactionRow, CardTransactionStatus, CardTransactionsTable } from '../store/schema.js'
import type { Store } from '../store/store.js'
import type { Tx } from '../store/writer.js'
import { luhnValid, maskPan, parseMti, type Iso8583Message } from './iso8583/index.js'
import { originalDataElements, type SchemeLink } from './scheme-link/index.js'
import { revealCard, vaultCard } from './vault.js'

/** Every column of a card transaction, checked complete by the compiler: the insert names them all. */
const cardTransactionColumns = Object.keys({
  id: true, merchant_id: true, original_id: true, kind: true, status: true, card_id: true, masked_pan: true, amount: true,
  amount_captured: true, amount_refunded: true, currency: true, terminal_id: true, entry_mode: true, stan: true, rrn: true,
  transmitted_at: true, auth_code: true, response_code: true, transfer_id: true, reference_id: true, version: true,
  created_at: true, updated_at: true,
} satisfies Record<keyof CardTransactionsTable, true>) as (keyof CardTransactionsTable)[]

/** The two writes every card sale makes, prepared once: the pending row, and the scheme's answer landing on it. */
const queries = preparedQueries((db) => ({
  insertTransaction: prepare(db, (db) => db.insertInto('card_transactions').values(params(...cardTransactionColumns))),
  landAnswer: prepare(db, (db) =>
    db
      .updateTable('card_transactions')
      .set((eb) => ({
        ...params('stan', 'rrn', 'transmitted_at', 'response_code', 'auth_code', 'status', 'transfer_id'),
        version: eb('version', '+', param<bigint>('one')),
        updated_at: param('now'),
      }))
      .where('id', '=', param('id'))
      .where('status', '=', param('pending'))
      .returningAll(),
  ),
}))

/** The fields of a scheme's answer: the trace of the request that left, and the response and approval codes. */
type AnswerFields = Pick<CardTransactionRow, 'stan' | 'rrn' | 'transmitted_at' | 'response_code' | 'auth_code'>

function isAnswer(fields: Partial<CardTransactionRow>): fields is AnswerFields {
  return fields.stan !== undefined && fields.rrn !== undefined && fields.transmitted_at !== undefined && fields.response_code !== undefined && fields.auth_code !== undefined
}

/** What a scheme's field 39 means for the shopper, as Kassa names it. */
export const declineReasons: Readonly<Record<string, string>> = {
  '05': 'do_not_honour',
  '12': 'invalid_transaction',
  '13': 'invalid_amount',
  '14': 'card_number_invalid',
  '51': 'insufficient_funds',
  '54': 'card_expired',
  '55': 'incorrect_pin',
  '61': 'amount_limit_exceeded',
  '63': 'security_violation',
  '91': 'issuer_unavailable',
  '94': 'duplicate_transmission',
  '96': 'system_malfunction',
}

export type CardPresentment = {
  readonly pan: string
  /** YYMM. */
  readonly expiry: string
  /** 022 keyed in a browser (e-commerce: 012), 051 chip, 071 contactless, 901 magnetic stripe. */
  readonly entry_mode: string
  readonly pin_block?: string | undefined
  /** Field 55 (EMV TLV, hex): a contactless token payment's counter and cryptogram. */
  readonly icc_hex?: string | undefined
  readonly kind?: 'pan' | 'token'
  /** The card is in the vault already (the checkout put it there): this card_… id, not a second copy. */
  readonly vaulted_id?: string
}

export type AcquireInput = {
  readonly merchant_id: string
  readonly fee_basis_points: number
  readonly terminal_id: string
  readonly kind: 'sale' | 'authorization'
  readonly amount: bigint
  readonly currency: CurrencyCode
  readonly card: CardPresentment
  /** The payment or POS request this belongs to. */
  readonly reference_id: string | null
  /**
   * Run in the transaction that records the request, before anything is sent: false means another
   * process already sent this one, and `acquire` throws `AlreadySent` instead of sending it again.
   */
  readonly claim?: (tx: Tx) => Promise<boolean>
  /**
   * Run in the transaction that records the request's last outcome (approved, declined, reversed,
   * …), with the row as that transaction leaves it: for what must be written with it, such as the
   * answer a POS terminal will get again if it repeats the request.
   */
  readonly landed?: (tx: Tx, transaction: CardTransactionRow) => Promise<void>
}

/** `acquire` was asked to send what its `claim` says is sent already. */
export class AlreadySent extends Error {
  constructor(readonly reference_id: string | null) {
    super(`card request ${reference_id ?? '?'} was sent already`)
  }
}

export type CardOutcome =
  | { readonly outcome: 'approved'; readonly transaction: CardTransactionRow }
  | { readonly outcome: 'declined'; readonly transaction: CardTransactionRow; readonly reason: string; readonly response_code: string }
  /** No answer in time: Kassa reversed it; nobody is charged. `reversal_pending` until the scheme acknowledges. */
  | { readonly outcome: 'reversed' | 'reversal_pending'; readonly transaction: CardTransactionRow }
  /** Never sent (the link is down): nothing happened anywhere. */
  | { readonly outcome: 'not_sent'; readonly transaction: CardTransactionRow }
  /**
   * A capture advice the scheme did not answer in time. An advice is never reversed (that would
   * undo a capture the scheme may have booked and kill the authorization): its row stays `pending`
   * and the worker repeats it (0221) until it is answered (CardPayments.recoverCaptures).
   */
  | { readonly outcome: 'unanswered'; readonly transaction: CardTransactionRow }

/** What a card transaction's row says happened; undefined while it still awaits the scheme. */
export function cardOutcomeOf(row: CardTransactionRow): CardOutcome | undefined {
  switch (row.status) {
    case 'pending':
      return undefined
    case 'approved':
      return { outcome: 'approved', transaction: row }
    case 'declined':
      return { outcome: 'declined', transaction: row, reason: declineReasons[row.response_code ?? ''] ?? 'declined', response_code: row.response_code ?? '05' }
    case 'reversed':
    case 'reversal_pending':
    case 'not_sent':
      return { outcome: row.status, transaction: row }
  }
}

export type AcquirerOptions = {
  store: Store
  clock: Clock
  link: SchemeLink
  masterKey: MasterKey
  /** How long to wait for the scheme's answer before reversing. */
  timeoutMs?: number
  reversalAttemptsMax?: number
  /** Field 32 as the link sends it, so field 90 names originals exactly. */
  acquirerId?: string
}

/**
 * A refund reserves its amount on the card transaction it refunds when it is recorded. When the
 * refund is known not to have happened (declined, never sent, or reversed with the scheme's
 * acknowledgement) the reservation goes back, in the transaction of that status change, which
 * happens once. Not while a reversal is only owed: until the scheme acknowledges it, the card may
 * hold the refund, and the same amount must not be refundable again.
 */
export async function releaseRefundReservation(tx: Tx, refund: CardTransactionRow, nowMs: number): Promise<void> {
  if (refund.kind !== 'refund' || refund.original_id === null) return
  const [released] = await tx.execute(
    tx.builder
      .updateTable('card_transactions')
      .set((eb) => ({ amount_refunded: eb('amount_refunded', '-', refund.amount), version: eb('version', '+', 1n), updated_at: nowMs }))
      .where('id', '=', refund.original_id)
      .where('amount_refunded', '>=', refund.amount)
      .returning('id'),
  )
  assert(released !== undefined, `refund ${refund.id}: its original ${refund.original_id} holds less reserved than it`)
}

function amountField(amount: bigint): string {
  return amount.toString().padStart(12, '0')
}

/** Field 42, the card acceptor: 15 characters derived from the merchant id. */
export function cardAcceptorId(merchantId: string): string {
  return merchantId.replace(/^mch_/, '').slice(0, 15).toUpperCase().padEnd(15, '0')
}

/**
 * Kassa as a card acquirer: sends a card payment to the scheme and lands its outcome in the ledger.
 * Intent first (a `pending` card transaction), then the message, then the outcome in one
 * transaction with its transfer. No answer → reversal (0400, repeated as 0401) and nothing posted:
 * the shopper is never charged twice and the merchant never paid for money not taken.
 */
export class Acquirer {
  private readonly timeoutMs: number
  private readonly reversalAttemptsMax: number
  private readonly acquirerId: string

  constructor(private readonly options: AcquirerOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.reversalAttemptsMax = options.reversalAttemptsMax ?? 5
    this.acquirerId = options.acquirerId ?? ''
  }

  private get store() {
    return this.options.store
  }

  private now(): number {
    return this.options.clock.now()
  }

  /** An authorization (0100, a hold) or a sale (0200) for a card. */
  async acquire(input: AcquireInput): Promise<CardOutcome> {
    if (!/^[0-9]{12,19}$/.test(input.card.pan) || !luhnValid(input.card.pan)) {
      throw new KassaError('parameter_invalid', { param: 'card.number', message: 'The card number is not valid (Luhn check).' })
    }
    if (!/^[0-9]{4}$/.test(input.card.expiry)) throw new KassaError('parameter_invalid', { param: 'card.expiry', message: 'Expiry is YYMM.' })
    const id = newId('card_transaction', this.now())
    const fields: Record<number, string> = {
      2: input.card.pan,
      3: '000000',
      4: amountField(input.amount),
      14: input.card.expiry,
      22: input.card.entry_mode,
      41: input.terminal_id,
      42: cardAcceptorId(input.merchant_id),
      49: currencyOf(input.currency).numeric,
    }
    if (input.card.pin_block !== undefined) fields[52] = input.card.pin_block
    if (input.card.icc_hex !== undefined) fields[55] = input.card.icc_hex
    const unstamped: Iso8583Message = { mti: input.kind === 'sale' ? '0200' : '0100', fields }
    const { transaction, message } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      if (input.claim !== undefined && !(await input.claim(tx))) throw new AlreadySent(input.reference_id)
      const card =
        input.card.vaulted_id === undefined
          ? await vaultCard(tx, this.options.masterKey, input.merchant_id, { pan: input.card.pan, expiry: input.card.expiry }, input.card.kind ?? 'pan', nowMs)
          : { id: input.card.vaulted_id, masked: maskPan(input.card.pan) }
      // STAN, time and RRN are written with the row before the request leaves: a crash after sending
      // leaves a pending row that names the request exactly, for the sweeper to reverse.
      const stamped = this.options.link.stamp(unstamped)
      tx.onDiscard(() => this.options.link.release(stamped))
      const created = await this.insertTransaction(tx, {
        id,
        merchant_id: input.merchant_id,
        original_id: null,
        kind: input.kind,
        card_id: card.id,
        masked_pan: card.masked,
        amount: input.amount,
        currency: input.currency,
        terminal_id: input.terminal_id,
        entry_mode: input.card.entry_mode,
        reference_id: input.reference_id,
        stan: stamped.fields[11] ?? null,
        rrn: stamped.fields[37] ?? null,
        transmitted_at: stamped.fields[7] ?? null,
      }, nowMs)
      return { transaction: created, message: stamped }
    })
    return this.exchange(transaction, message, input.fee_basis_points, input.landed)
  }

  /** Captures an approved authorization, fully or partly, by advice (0220); the rest of the hold is released. */
  async capture(merchantId: string, authorizationId: string, amount: bigint | undefined, feeBasisPoints: number): Promise<CardOutcome> {
    const id = newId('card_transaction', this.now())
    const { transaction, message } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const original = await this.load(tx, merchantId, authorizationId)
      if (original.kind !== 'authorization' || original.status !== 'approved' || original.amount_captured > 0n) throw new KassaError('payment_not_capturable')
      // One capture per authorization: a second request while the first awaits the scheme is refused, not sent.
      const [earlier] = await tx.execute(tx.builder.selectFrom('card_transactions').select('status').where('original_id', '=', original.id).where('kind', '=', 'capture').where('status', 'in', ['pending', 'approved']).limit(1))
      if (earlier !== undefined) throw new KassaError('payment_not_capturable', { message: earlier.status === 'pending' ? 'This authorization is being captured already; retry in a moment.' : 'This authorization is captured already.' })
      const captureAmount = amount ?? original.amount
      if (captureAmount <= 0n || captureAmount > original.amount) throw new KassaError('capture_exceeds_authorized', { param: 'amount' })
      const card = await revealCard(tx, this.options.masterKey, original.card_id)
      // Stamped and recorded before it leaves, as a sale is: a stopped process's advice can be repeated (repeatAdvice).
      const stamped = this.options.link.stamp(this.followUp(original, card.pan, '0220', '000000', captureAmount, true))
      tx.onDiscard(() => this.options.link.release(stamped))
      const created = await this.insertTransaction(
        tx,
        { ...this.childOf(original, id, 'capture'), amount: captureAmount, stan: stamped.fields[11] ?? null, rrn: stamped.fields[37] ?? null, transmitted_at: stamped.fields[7] ?? null },
        nowMs,
      )
      return { transaction: created, message: stamped }
    })
    return this.exchange(transaction, message, feeBasisPoints)
  }

  /**
   * A capture advice a stopped process sent without recording the answer: sent again as a repeat
   * (0221) under the same STAN and time. The scheme answers a repeat as it answered the first, or
   * processes it now if the first never arrived; either way the capture is booked once.
   */
  async repeatAdvice(merchantId: string, captureId: string, feeBasisPoints: number): Promise<CardOutcome> {
    const { row, message } = await this.store.writer.submit(async (tx) => {
      const capture = await this.load(tx, merchantId, captureId)
      if (capture.kind !== 'capture' || capture.status !== 'pending' || capture.stan === null || capture.transmitted_at === null || capture.original_id === null) {
        throw new KassaError('payment_not_capturable', { message: 'Only a capture advice left pending with its STAN is repeated.' })
      }
      const original = await this.load(tx, merchantId, capture.original_id)
      const card = await revealCard(tx, this.options.masterKey, original.card_id)
      const advice = this.followUp(original, card.pan, '0221', '000000', capture.amount, true)
      const fields: Record<number, string> = { ...advice.fields, 7: capture.transmitted_at, 11: capture.stan }
      if (this.acquirerId !== '') fields[32] = this.acquirerId
      return { row: capture, message: { mti: '0221', fields } }
    })
    return this.exchange(row, message, feeBasisPoints)
  }

  /** Refunds part or all of an approved sale or capture (0200 with processing code 20). */
  /** `referenceId`: the caller's refund, recorded on the refund's row so a stopped process's refund can be found again. */
  async refund(merchantId: string, originalId: string, amount: bigint | undefined, referenceId?: string): Promise<CardOutcome> {
    const id = newId('card_transaction', this.now())
    const { transaction, message } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const original = await this.load(tx, merchantId, originalId)
      if ((original.kind !== 'sale' && original.kind !== 'capture') || original.status !== 'approved') throw new KassaError('payment_not_refundable')
      const refundable = original.amount - original.amount_refunded
      const refundAmount = amount ?? refundable
      if (refundAmount <= 0n || refundAmount > refundable) throw new KassaError('refund_exceeds_captured', { param: 'amount', message: `At most ${refundable} can still be refunded.` })
      const card = await revealCard(tx, this.options.masterKey, original.card_id)
      // The refund's amount is reserved on the original now, so two refunds at once cannot both pass.
      await tx.execute(tx.builder.updateTable('card_transactions').set({ amount_refunded: original.amount_refunded + refundAmount, version: original.version + 1n, updated_at: nowMs }).where('id', '=', original.id).where('version', '=', original.version))
      // Stamped and recorded before it leaves: one a stopped process sent is reversed by the sweeper.
      const stamped = this.options.link.stamp(this.followUp(original, card.pan, '0200', '200000', refundAmount, false))
      tx.onDiscard(() => this.options.link.release(stamped))
      const trace = { stan: stamped.fields[11] ?? null, rrn: stamped.fields[37] ?? null, transmitted_at: stamped.fields[7] ?? null }
      // A refund names only its own caller's refund (one card row each, 0008), never its sale's reference.
      const created = await this.insertTransaction(tx, { ...this.childOf(original, id, 'refund'), amount: refundAmount, ...trace, reference_id: referenceId ?? null }, nowMs)
      return { transaction: created, message: stamped }
    })
    // Not refunded after all (declined, not sent, reversed): finish gives the reserved amount back.
    return this.exchange(transaction, message, 0)
  }

  async transaction(merchantId: string, id: string): Promise<CardTransactionRow | undefined> {
    return this.store.db.selectFrom('card_transactions').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst()
  }

  /** Sends, then lands the outcome: the heart of acquiring. */
  private async exchange(transaction: CardTransactionRow, message: Iso8583Message, feeBasisPoints: number, landed?: AcquireInput['landed']): Promise<CardOutcome> {
    const outcome = await this.exchangeOnce(transaction, message, feeBasisPoints, landed)
    // The sweeper adopted the row while this answer was on its way: the row says what holds.
    if (outcome.transaction.status === outcome.outcome) return outcome
    return cardOutcomeOf(outcome.transaction) ?? outcome
  }

  /** Sends and lands the answer; `landed` runs in the transaction of the last landing only. */
  private async exchangeOnce(transaction: CardTransactionRow, message: Iso8583Message, feeBasisPoints: number, landed?: AcquireInput['landed']): Promise<CardOutcome> {
    const sent = message.fields[11] === undefined ? await this.options.link.send(message, { timeoutMs: this.timeoutMs }) : await this.options.link.sendStamped(message, { timeoutMs: this.timeoutMs })
    const mti = parseMti(message.mti)
    if (sent.outcome === 'link_down' || sent.outcome === 'not_sent') {
      // A repeat that did not leave says nothing of its original, which did: the row stays pending.
      if (mti?.repeat === true) return { outcome: 'not_sent', transaction }
      return { outcome: 'not_sent', transaction: await this.finish(transaction, 'not_sent', {}, undefined, landed) }
    }
    const trace = { stan: sent.request.fields[11] ?? null, rrn: sent.request.fields[37] ?? null, transmitted_at: sent.request.fields[7] ?? null }
    if (sent.outcome === 'timeout') {
      // An advice tells the scheme of what happened: it is repeated until answered, never reversed.
      if (mti?.messageFunction === 'advice') return { outcome: 'unanswered', transaction: await this.finish(transaction, 'pending', trace, undefined, landed) }
      await this.finish(transaction, 'pending', trace, undefined)
      const reversal = await this.options.link.reverse(sent.request, { attemptsMax: this.reversalAttemptsMax, timeoutMs: this.timeoutMs })
      const status = reversal.acknowledged ? 'reversed' : 'reversal_pending'
      return { outcome: status, transaction: await this.finish(transaction, status, trace, undefined, landed) }
    }
    const responseCode = sent.message.fields[39] ?? '96'
    const answered = { ...trace, response_code: responseCode, auth_code: sent.message.fields[38] ?? null }
    if (responseCode !== '00') {
      return { outcome: 'declined', transaction: await this.finish(transaction, 'declined', answered, undefined, landed), reason: declineReasons[responseCode] ?? 'declined', response_code: responseCode }
    }
    return { outcome: 'approved', transaction: await this.finish(transaction, 'approved', answered, feeBasisPoints, landed) }
  }

  /** Records the outcome and, when approved, its ledger transfer, in one transaction; `landed` runs in it last. */
  private finish(
    transaction: CardTransactionRow,
    status: CardTransactionStatus,
    fields: Partial<CardTransactionRow>,
    feeBasisPoints: number | undefined,
    landed?: AcquireInput['landed'],
  ): Promise<CardTransactionRow> {
    const transferId = newId('transfer', this.now())
    const feeTransferId = newId('transfer', this.now())
    return this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const posts = status === 'approved' && feeBasisPoints !== undefined
      const transferIdAfter = posts ? transferId : transaction.transfer_id
      // Only a row still waiting for this answer: the sweeper may have adopted one whose answer
      // came too late (it is reversed, or being reversed), and that stays as the sweeper left it.
      const [row] = isAnswer(fields)
        ? await tx.run(queries(tx).landAnswer, {
            stan: fields.stan,
            rrn: fields.rrn,
            transmitted_at: fields.transmitted_at,
            response_code: fields.response_code,
            auth_code: fields.auth_code,
            status,
            transfer_id: transferIdAfter,
            one: 1n,
            now: nowMs,
            id: transaction.id,
            pending: 'pending',
          })
        : await tx.execute(
            tx.builder
              .updateTable('card_transactions')
              .set((eb) => ({ ...fields, status, transfer_id: transferIdAfter, version: eb('version', '+', 1n), updated_at: nowMs }))
              .where('id', '=', transaction.id)
              .where('status', '=', 'pending')
              .returningAll(),
          )
      if (row === undefined) {
        const [now] = await tx.execute(tx.builder.selectFrom('card_transactions').selectAll().where('id', '=', transaction.id))
        if (now === undefined) throw new Error(`card transaction ${transaction.id} vanished`)
        await landed?.(tx, now)
        return now
      }
      if (posts) await this.post(tx, row, transferId, feeTransferId, feeBasisPoints, nowMs)
      if (status === 'declined' || status === 'not_sent' || status === 'reversed') await releaseRefundReservation(tx, row, nowMs)
      await landed?.(tx, row)
      return row
    })
  }

  private async post(tx: Tx, transaction: CardTransactionRow, transferId: string, feeTransferId: string, feeBasisPoints: number, nowMs: number): Promise<void> {
    const currency = transaction.currency as CurrencyCode
    const receivable: AccountRef = { code: 'scheme_receivable', owner_id: undefined, currency }
    const payable: AccountRef = { code: 'merchant_payable', owner_id: transaction.merchant_id, currency }
    const revenue: AccountRef = { code: 'fee_revenue', owner_id: undefined, currency }
    for (const ref of [receivable, payable, revenue]) await ensureAccount(tx, ref, nowMs)
    const leg = (ref: AccountRef, side: Posting['side'], amount: bigint): Posting[] => (amount > 0n ? [{ account_id: accountId(ref), side, amount, currency }] : [])
    // Spread last: a literal that opens with one adds its later keys slowly in V8 (payments/decide.ts, `moved`).
    const common = { reference_id: transaction.id, merchant_id: transaction.merchant_id }
    const amount = transaction.amount
    const fee = feeFor(amount, feeBasisPoints)
    const transfers: TransferRequest[] = []
    switch (transaction.kind) {
      case 'sale':
        transfers.push({ id: transferId, kind: 'single_phase', code: 'card_sale', postings: [...leg(receivable, 'debit', amount), ...leg(payable, 'credit', amount - fee), ...leg(revenue, 'credit', fee)], ...common })
        break
      case 'authorization':
        transfers.push({ id: transferId, kind: 'pending', code: 'card_authorization', postings: [...leg(receivable, 'debit', amount), ...leg(payable, 'credit', amount)], ...common })
        break
      case 'capture': {
        const [original] = await tx.execute(tx.builder.selectFrom('card_transactions').selectAll().where('id', '=', transaction.original_id ?? ''))
        if (original?.transfer_id == null) throw new Error(`capture ${transaction.id} has no authorization hold`)
        transfers.push({ id: transferId, kind: 'post_pending', code: 'card_capture', pending_id: original.transfer_id, amount, ...common })
        if (fee > 0n) transfers.push({ id: feeTransferId, kind: 'single_phase', code: 'card_fee', postings: [...leg(payable, 'debit', fee), ...leg(revenue, 'credit', fee)], ...common })
        await tx.execute(tx.builder.updateTable('card_transactions').set({ amount_captured: amount, version: original.version + 1n, updated_at: nowMs }).where('id', '=', original.id))
        break
      }
      case 'refund':
        transfers.push({ id: transferId, kind: 'single_phase', code: 'card_refund', postings: [...leg(payable, 'debit', amount), ...leg(receivable, 'credit', amount)], ...common })
        break
    }
    for (const transfer of transfers) {
      const result = await postTransfer(tx, transfer, nowMs)
      if (result !== 'ok') throw new Error(`card transfer ${transfer.code} failed: ${result}`)
    }
  }

  private async insertTransaction(
    tx: Tx,
    row: Pick<CardTransactionRow, 'id' | 'merchant_id' | 'original_id' | 'kind' | 'card_id' | 'masked_pan' | 'amount' | 'currency' | 'terminal_id' | 'entry_mode' | 'reference_id'> &
      Partial<Pick<CardTransactionRow, 'stan' | 'rrn' | 'transmitted_at'>>,
    nowMs: number,
  ): Promise<CardTransactionRow> {
    const full: CardTransactionRow = {
      stan: null,
      rrn: null,
      transmitted_at: null,
      ...row,
      status: 'pending',
      amount_captured: 0n,
      amount_refunded: 0n,
      auth_code: null,
      response_code: null,
      transfer_id: null,
      version: 0n,
      created_at: BigInt(nowMs),
      updated_at: BigInt(nowMs),
    }
    await tx.run(queries(tx).insertTransaction, full)
    return full
  }

  private childOf(original: CardTransactionRow, id: string, kind: CardTransactionKind) {
    return {
      id,
      merchant_id: original.merchant_id,
      original_id: original.id,
      kind,
      card_id: original.card_id,
      masked_pan: original.masked_pan,
      amount: original.amount,
      currency: original.currency,
      terminal_id: original.terminal_id,
      entry_mode: original.entry_mode,
      reference_id: original.reference_id,
    }
  }

  /** A message that follows an earlier one: same card, same RRN, field 90 naming the original. */
  private followUp(original: CardTransactionRow, pan: string, mti: string, processingCode: string, amount: bigint, namesOriginal: boolean): Iso8583Message {
    const fields: Record<number, string> = {
      2: pan,
      3: processingCode,
      4: amountField(amount),
      22: original.entry_mode,
      41: original.terminal_id,
      42: cardAcceptorId(original.merchant_id),
      49: currencyOf(original.currency as CurrencyCode).numeric,
    }
    if (original.rrn !== null) fields[37] = original.rrn
    if (namesOriginal && original.stan !== null && original.transmitted_at !== null) {
      fields[90] = originalDataElements({ mti: original.kind === 'authorization' ? '0100' : '0200', fields: { 7: original.transmitted_at, 11: original.stan, 32: this.acquirerId } })
    }
    return { mti, fields }
  }

  private async load(tx: Tx, merchantId: string, id: string): Promise<CardTransactionRow> {
    let query = tx.builder.selectFrom('card_transactions').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId)
    if (tx.dialect.rowLocks) query = query.forUpdate()
    const [row] = await tx.execute(query)
    if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such card transaction: ${id}` })
    return row
  }
}
