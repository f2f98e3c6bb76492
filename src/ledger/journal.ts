import { sql } from 'kysely'
import { assert } from '../domain/assert.js'
import { param, prepare, preparedQueries } from '../store/prepared.js'
import type { Tx } from '../store/writer.js'
import { accountId, chartOfAccounts, type AccountRef } from './accounts.js'
import {
  applyDelta,
  planTransfer,
  type LedgerAccount,
  type PendingTransfer,
  type Posting,
  type TransferRequest,
  type TransferResult,
} from './transfer.js'

const queries = preparedQueries((db, dialect) => {
  const selectAccount = db
    .selectFrom('ledger_accounts')
    .select(['id', 'currency', 'limit_rule', 'debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'])
    .where('id', '=', param('id'))
  return {
    insertAccount: prepare(db, (db) =>
      db
        .insertInto('ledger_accounts')
        .values({
          id: param('id'),
          code: param('code'),
          type: param('type'),
          currency: param('currency'),
          owner_id: param('owner_id'),
          merchant_id: param('merchant_id'),
          limit_rule: param('limit_rule'),
          debits_pending: param('zero'),
          debits_posted: param('zero'),
          credits_pending: param('zero'),
          credits_posted: param('zero'),
          created_at: param('now'),
        })
        .onConflict((conflict) => conflict.column('id').doNothing()),
    ),
    // Row locks keep two nodes from deciding on the same balance at once (PostgreSQL only).
    selectAccount: prepare(db, () => (dialect.rowLocks ? selectAccount.forUpdate() : selectAccount)),
    selectPostings: prepare(db, (db) =>
      db
        .selectFrom('ledger_postings')
        .select(['account_id', 'side', 'amount', 'currency', 'phase'])
        .where('transfer_id', '=', param('transfer_id'))
        .orderBy('leg'),
    ),
    selectResolution: prepare(db, (db) => db.selectFrom('ledger_transfers').select('id').where('pending_id', '=', param('pending_id'))),
    insertTransfer: prepare(db, (db) =>
      db.insertInto('ledger_transfers').values({
        id: param('id'),
        kind: param('kind'),
        pending_id: param('pending_id'),
        code: param('code'),
        amount: param('amount'),
        currency: param('currency'),
        reference_id: param('reference_id'),
        merchant_id: param('merchant_id'),
        created_at: param('now'),
      }),
    ),
    insertPosting: prepare(db, (db) =>
      db.insertInto('ledger_postings').values({
        transfer_id: param('transfer_id'),
        leg: param('leg'),
        account_id: param('account_id'),
        side: param('side'),
        phase: param('phase'),
        amount: param('amount'),
        currency: param('currency'),
        merchant_id: param('merchant_id'),
        created_at: param('now'),
      }),
    ),
    updateBalances: prepare(db, (db) =>
      db
        .updateTable('ledger_accounts')
        .set({
          debits_pending: sql`debits_pending + ${param('debits_pending')}`,
          debits_posted: sql`debits_posted + ${param('debits_posted')}`,
          credits_pending: sql`credits_pending + ${param('credits_pending')}`,
          credits_posted: sql`credits_posted + ${param('credits_posted')}`,
        })
        .where('id', '=', param('id'))
        .returning(['debits_pending', 'debits_posted', 'credits_pending', 'credits_posted']),
    ),
  }
})

/** Account ids known to be committed, per database: creating an account is then free. */
const committedAccounts = new WeakMap<object, Set<string>>()

/**
 * Makes sure the account exists (accounts are created on first use) and answers its id.
 * @example await ensureAccount(tx, { code: 'shopper_balance', owner_id: shopperId, currency: 'CNY' }, now)
 */
export async function ensureAccount(tx: Tx, ref: AccountRef, nowMs: number, merchantId?: string): Promise<string> {
  const id = accountId(ref)
  let known = committedAccounts.get(tx.builder)
  if (known === undefined) {
    known = new Set()
    committedAccounts.set(tx.builder, known)
  }
  if (known.has(id)) return id
  const definition = chartOfAccounts[ref.code]
  assert((ref.owner_id === undefined) === (definition.owner === 'platform'), `account ${ref.code} owner mismatch`)
  await tx.run(queries(tx).insertAccount, {
    id,
    code: ref.code,
    type: definition.type,
    currency: ref.currency,
    owner_id: ref.owner_id ?? null,
    merchant_id: merchantId ?? (definition.owner === 'merchant' ? ref.owner_id : null) ?? null,
    limit_rule: definition.limit,
    zero: 0n,
    now: nowMs,
  })
  const set = known
  tx.afterCommit(() => set.add(id))
  return id
}

async function loadPending(tx: Tx, pendingId: string): Promise<PendingTransfer | undefined> {
  const rows = await tx.run(queries(tx).selectPostings, { transfer_id: pendingId })
  if (rows.length === 0) return undefined
  const resolution = await tx.run(queries(tx).selectResolution, { pending_id: pendingId })
  const postings: Posting[] = []
  for (const row of rows) {
    // Only a pending transfer's postings are pending; posting or voiding anything else is a bug.
    assert(row.phase === 'pending', `transfer ${pendingId} is not a pending transfer`)
    postings.push({ account_id: row.account_id, side: row.side, amount: row.amount, currency: row.currency })
  }
  return { id: pendingId, postings, resolved: resolution.length > 0 }
}

/**
 * Posts one transfer inside the caller's transaction: loads what it needs, lets the pure core
 * decide, writes the transfer, its postings and the new balances, and checks the balances it
 * reads back are the ones it computed. Answers the named outcome; writes nothing unless 'ok'.
 */
export async function postTransfer(tx: Tx, request: TransferRequest, nowMs: number): Promise<TransferResult> {
  const q = queries(tx)
  const pending =
    request.kind === 'post_pending' || request.kind === 'void_pending' ? await loadPending(tx, request.pending_id) : undefined
  const accountIds = new Set<string>()
  for (const posting of request.kind === 'single_phase' || request.kind === 'pending' ? request.postings : (pending?.postings ?? [])) {
    accountIds.add(posting.account_id)
  }
  const accounts = new Map<string, LedgerAccount>()
  // Sorted, so two writers always lock accounts in the same order and cannot deadlock on them.
  for (const id of [...accountIds].sort()) {
    const [row] = await tx.run(q.selectAccount, { id })
    assert(row !== undefined, `account ${id} does not exist; ensureAccount() it first`)
    accounts.set(id, row as LedgerAccount)
  }
  const decision = planTransfer(request, accounts, pending)
  if (decision.result !== 'ok') return decision.result
  const { plan } = decision

  await tx.run(q.insertTransfer, {
    id: request.id,
    kind: request.kind,
    pending_id: request.kind === 'post_pending' || request.kind === 'void_pending' ? request.pending_id : null,
    code: request.code,
    amount: plan.amount,
    currency: plan.currency,
    reference_id: request.reference_id ?? null,
    merchant_id: request.merchant_id ?? null,
    now: nowMs,
  })
  let leg = 0
  for (const posting of plan.postings) {
    await tx.run(q.insertPosting, {
      transfer_id: request.id,
      leg: leg++,
      account_id: posting.account_id,
      side: posting.side,
      phase: posting.phase,
      amount: posting.amount,
      currency: posting.currency,
      merchant_id: request.merchant_id ?? null,
      now: nowMs,
    })
  }
  for (const [id, delta] of plan.deltas) {
    const [after] = await tx.run(q.updateBalances, { id, ...delta })
    const expected = applyDelta(accounts.get(id) as LedgerAccount, delta)
    assert(
      after !== undefined &&
        after.debits_pending === expected.debits_pending &&
        after.debits_posted === expected.debits_posted &&
        after.credits_pending === expected.credits_pending &&
        after.credits_posted === expected.credits_posted,
      `account ${id} balances read back differ from the ones computed`,
    )
  }
  return 'ok'
}

/** Reads an account's balances inside a transaction (zero when it was never used). */
export async function readBalances(tx: Tx, id: string): Promise<LedgerAccount | undefined> {
  const [row] = await tx.run(queries(tx).selectAccount, { id })
  return row as LedgerAccount | undefined
}
