/**
 * Reversing an approved card sale or authorization on request (a POS terminal that timed out on its
 * sale reverses it), through the scheme, with the ledger corrected.
 *
 * This belongs in `Acquirer` (as `acquirer.reverse(merchantId, transactionId)`), which owns the link,
 * the vault and the card transaction rows; it lives here until it moves, written against the same
 * tables and the link's public API so the move is a cut and paste. The steps:
 *
 * 1. In one transaction: load the card transaction (locked); decide. Only a `sale` or
 *    `authorization` that is `approved` (nothing refunded or captured of it), or one already
 *    `reversal_pending`, or a `refund` owed a reversal (`reversal_pending`: its answer was lost), is sent; an approved one becomes `reversal_pending` first (intent before the
 *    message), so a crash leaves a row that says a reversal is owed.
 * 2. `link.reverse(original)`: 0400 with field 90 naming the original as it was sent (fields 7, 11,
 *    32), repeated as 0401 until the scheme answers 0410.
 * 3. Acknowledged: in one transaction, `reversal_pending → reversed` (the update checks the status, so
 *    it happens once) and, if the original had posted a transfer, the correcting transfer: the
 *    mirror of a sale's postings (`card_reversal`: scheme receivable credited, merchant payable and
 *    fee revenue debited by what they got), or the void of an authorization's hold
 *    (`card_authorization_void`). Not acknowledged: it stays `reversal_pending`; calling again retries.
 */
import type { Clock } from '../../domain/clock.js'
import { currency as currencyOf, type CurrencyCode } from '../../domain/currency.js'
import { KassaError } from '../../domain/errors.js'
import { newId } from '../../domain/ids.js'
import { postTransfer } from '../../ledger/journal.js'
import type { Posting, TransferRequest } from '../../ledger/transfer.js'
import type { MasterKey } from '../../security/secrets.js'
import type { CardTransactionRow } from '../../store/schema.js'
import type { Store } from '../../store/store.js'
import type { Tx } from '../../store/writer.js'
import { cardAcceptorId, releaseRefundReservation } from '../acquirer.js'
import type { Iso8583Message } from '../iso8583/index.js'
import type { SchemeLink } from '../scheme-link/index.js'
import { revealCard } from '../vault.js'

export type CardReversalOutcome =
  /** The scheme acknowledged the reversal; the ledger is corrected. */
  | { readonly outcome: 'reversed'; readonly transaction: CardTransactionRow }
  /** Nothing moved, or it was undone already: declined, never sent, reversed before. */
  | { readonly outcome: 'nothing_to_reverse'; readonly transaction: CardTransactionRow }
  /** Sent, not acknowledged yet: the row says `reversal_pending`; call again to retry. */
  | { readonly outcome: 'reversal_pending'; readonly transaction: CardTransactionRow }
  /** The original still awaits the scheme's answer (another process is sending it): call again later. */
  | { readonly outcome: 'in_flight'; readonly transaction: CardTransactionRow }
  /** Not something a reversal undoes: refund it instead. */
  | { readonly outcome: 'not_reversible'; readonly transaction: CardTransactionRow; readonly reason: 'refunded' | 'captured' | 'not_a_payment' }

/** Reverses the merchant's card transaction `transactionId`; throws `resource_missing` if it has none. */
export type CardReverser = (merchantId: string, transactionId: string) => Promise<CardReversalOutcome>

export type CardReverserOptions = {
  readonly store: Store
  readonly clock: Clock
  readonly masterKey: MasterKey
  readonly link: SchemeLink
  /** Field 32 exactly as the link sent the original, so field 90 names it (the link's `acquirerId`). */
  readonly acquirerId: string
  /** Per attempt; 10,000 ms by default. */
  readonly timeoutMs?: number
  /** 0400 then 0401 repeats, at most this many (1 to 20); 5 by default. */
  readonly reversalAttemptsMax?: number
  readonly logger?: { warn(details: object, message: string): void }
}

type Decision = { readonly done: CardReversalOutcome } | { readonly send: { readonly row: CardTransactionRow; readonly original: Iso8583Message } }

/**
 * @example
 * const reverse = cardReverser({ store, clock, masterKey, link, acquirerId: '12345678' })
 * const result = await reverse(merchantId, sale.transaction.id)
 * result.outcome // 'reversed': the issuer gave the money back and the ledger says so
 */
export function cardReverser(options: CardReverserOptions): CardReverser {
  const { store, clock, masterKey, link, acquirerId } = options
  const timeoutMs = options.timeoutMs ?? 10_000
  const attemptsMax = options.reversalAttemptsMax ?? 5

  const decide = (merchantId: string, transactionId: string): Promise<Decision> =>
    store.writer.submit(async (tx): Promise<Decision> => {
      const nowMs = clock.now()
      const row = await load(tx, merchantId, transactionId)
      // A refund is reversed only when it is owed: its answer was lost (a timeout, a stopped process).
      const owedRefund = row.kind === 'refund' && row.status === 'reversal_pending'
      if (row.kind !== 'sale' && row.kind !== 'authorization' && !owedRefund) return { done: { outcome: 'not_reversible', transaction: row, reason: 'not_a_payment' } }
      switch (row.status) {
        case 'declined':
        case 'not_sent':
        case 'reversed':
          return { done: { outcome: 'nothing_to_reverse', transaction: row } }
        case 'pending':
          return { done: { outcome: 'in_flight', transaction: row } }
        case 'approved':
        case 'reversal_pending':
          break
      }
      if (row.amount_refunded > 0n) return { done: { outcome: 'not_reversible', transaction: row, reason: 'refunded' } }
      if (row.amount_captured > 0n) return { done: { outcome: 'not_reversible', transaction: row, reason: 'captured' } }
      // A capture or refund on its way to the scheme decides first; reversing under it would undo what it books.
      const [child] = await tx.execute(tx.builder.selectFrom('card_transactions').select('id').where('original_id', '=', row.id).where('status', '=', 'pending').limit(1))
      if (child !== undefined) return { done: { outcome: 'in_flight', transaction: row } }
      if (row.stan === null || row.transmitted_at === null) return { done: { outcome: 'nothing_to_reverse', transaction: row } }
      let current = row
      if (row.status === 'approved') {
        const [updated] = await tx.execute(
          tx.builder
            .updateTable('card_transactions')
            .set({ status: 'reversal_pending', version: row.version + 1n, updated_at: nowMs })
            .where('id', '=', row.id)
            .where('version', '=', row.version)
            .returningAll(),
        )
        if (updated === undefined) throw new Error(`card transaction ${row.id} changed while it was being reversed`)
        current = updated
      }
      const card = await revealCard(tx, masterKey, row.card_id)
      const fields: Record<number, string> = {
        2: card.pan,
        3: row.kind === 'refund' ? '200000' : '000000',
        4: row.amount.toString().padStart(12, '0'),
        7: row.transmitted_at,
        11: row.stan,
        14: card.expiry,
        22: row.entry_mode,
        41: row.terminal_id,
        42: cardAcceptorId(row.merchant_id),
        49: currencyOf(row.currency as CurrencyCode).numeric,
      }
      if (acquirerId !== '') fields[32] = acquirerId
      if (row.rrn !== null) fields[37] = row.rrn
      return { send: { row: current, original: { mti: row.kind === 'authorization' ? '0100' : '0200', fields } } }
    })

  return async (merchantId, transactionId) => {
    const decision = await decide(merchantId, transactionId)
    if ('done' in decision) return decision.done
    const { row, original } = decision.send
    const reversal = await link.reverse(original, { attemptsMax, timeoutMs })
    if (!reversal.acknowledged) return { outcome: 'reversal_pending', transaction: row }
    if (reversal.message.fields[39] !== '00') {
      // 25: the scheme has no record of the original. Acknowledged all the same (the link's contract),
      // but an approved sale the scheme never saw is for reconciliation to look at.
      options.logger?.warn({ card_transaction_id: row.id, response_code: reversal.message.fields[39] }, 'card reversal acknowledged without 00')
    }
    const transaction = await store.writer.submit(async (tx) => {
      const nowMs = clock.now()
      const [reversed] = await tx.execute(
        tx.builder
          .updateTable('card_transactions')
          .set({ status: 'reversed', version: row.version + 1n, updated_at: nowMs })
          .where('id', '=', row.id)
          .where('status', '=', 'reversal_pending')
          .returningAll(),
      )
      // Another caller finished the same reversal first: its correction stands, post nothing more.
      if (reversed === undefined) return load(tx, merchantId, transactionId)
      if (reversed.transfer_id !== null) await postCorrection(tx, reversed, reversed.transfer_id, nowMs)
      // A refund undone at the card: its amount is refundable again.
      await releaseRefundReservation(tx, reversed, nowMs)
      return reversed
    })
    return { outcome: 'reversed', transaction }
  }
}

/** The transfer that undoes `transferId`: the mirror of a posted transfer, or the void of a hold. */
async function postCorrection(tx: Tx, transaction: CardTransactionRow, transferId: string, nowMs: number): Promise<void> {
  const [original] = await tx.execute(tx.builder.selectFrom('ledger_transfers').select(['id', 'kind']).where('id', '=', transferId))
  if (original === undefined) throw new Error(`card transaction ${transaction.id} names transfer ${transferId}, which is not in the journal`)
  const common = { id: newId('transfer', nowMs), reference_id: transaction.id, merchant_id: transaction.merchant_id }
  let request: TransferRequest
  if (original.kind === 'pending') {
    request = { ...common, kind: 'void_pending', code: 'card_authorization_void', pending_id: original.id }
  } else {
    const postings = await tx.execute(
      tx.builder.selectFrom('ledger_postings').select(['account_id', 'side', 'amount', 'currency']).where('transfer_id', '=', original.id).where('phase', '=', 'posted').orderBy('leg'),
    )
    const mirrored: Posting[] = postings.map((posting) => ({ account_id: posting.account_id, side: posting.side === 'debit' ? 'credit' : 'debit', amount: posting.amount, currency: posting.currency }))
    request = { ...common, kind: 'single_phase', code: 'card_reversal', postings: mirrored }
  }
  const result = await postTransfer(tx, request, nowMs)
  if (result !== 'ok') throw new Error(`card reversal of ${transaction.id} could not be posted: ${result}`)
}

async function load(tx: Tx, merchantId: string, id: string): Promise<CardTransactionRow> {
  let query = tx.builder.selectFrom('card_transactions').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId)
  if (tx.dialect.rowLocks) query = query.forUpdate()
  const [row] = await tx.execute(query)
  if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such card transaction: ${id}` })
  return row
}
