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
  // Statements per number of accounts or legs, built on first use: one round trip for all of a transfer's rows.
  const accountsByCount = new Map<number, ReturnType<typeof prepareAccounts>>()
  const prepareAccounts = (count: number) =>
    prepare(db, (db) => {
      const ids = Array.from({ length: count }, (_, index) => param<string>(`id${index}`))
      const query = db
        .selectFrom('ledger_accounts')
        .select(['id', 'currency', 'limit_rule', 'debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'])
        .where('id', 'in', ids)
        .orderBy('id')
      // Row locks keep two nodes from deciding on the same balance at once (PostgreSQL only); taken in id order.
      return dialect.rowLocks ? query.forUpdate() : query
    })
  const postingsByCount = new Map<number, ReturnType<typeof preparePostings>>()
  const preparePostings = (count: number) =>
    prepare(db, (db) =>
      db.insertInto('ledger_postings').values(
        Array.from({ length: count }, (_, leg) => ({
          transfer_id: param('transfer_id'),
          leg: param(`leg${leg}`),
          account_id: param(`account_id${leg}`),
          side: param(`side${leg}`),
          phase: param(`phase${leg}`),
          amount: param(`amount${leg}`),
          currency: param(`currency${leg}`),
          merchant_id: param('merchant_id'),
          created_at: param('now'),
        })),
      ),
    )
  const counters = ['debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'] as const
  const balancesByCount = new Map<number, ReturnType<typeof prepareBalances>>()
  // Every account of a transfer in one UPDATE: each counter moves by its account's own delta.
  const prepareBalances = (count: number) =>
    prepare(db, (db) => {
      const delta = (counter: (typeof counters)[number]) =>
        sql<bigint>`${sql.ref(counter)} + case ${sql.ref('id')} ${sql.join(
          Array.from({ length: count }, (_, index) => sql`when ${param(`id${index}`)} then cast(${param(`${counter}${index}`)} as bigint)`),
          sql` `,
        )} else 0 end`
      return db
        .updateTable('ledger_accounts')
        .set({ debits_pending: delta('debits_pending'), debits_posted: delta('debits_posted'), credits_pending: delta('credits_pending'), credits_posted: delta('credits_posted') })
        .where('id', 'in', Array.from({ length: count }, (_, index) => param<string>(`id${index}`)))
        .returning(['id', ...counters])
    })
  const cached = <Q>(cache: Map<number, Q>, make: (count: number) => Q) => (count: number): Q => {
    let query = cache.get(count)
    if (query === undefined) {
      query = make(count)
      cache.set(count, query)
    }
    return query
  }
  return {
    selectAccounts: cached(accountsByCount, prepareAccounts),
    insertPostings: cached(postingsByCount, preparePostings),
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
    updateBalances: cached(balancesByCount, prepareBalances),
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
  const ids = [...accountIds].sort()
  if (ids.length > 0) {
    const rows = await tx.run(q.selectAccounts(ids.length), Object.fromEntries(ids.map((id, index) => [`id${index}`, id])))
    for (const row of rows) accounts.set(row.id, row as LedgerAccount)
  }
  for (const id of ids) assert(accounts.has(id), `account ${id} does not exist; ensureAccount() it first`)
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
  const legs: Record<string, unknown> = { transfer_id: request.id, merchant_id: request.merchant_id ?? null, now: nowMs }
  plan.postings.forEach((posting, leg) => {
    legs[`leg${leg}`] = leg
    legs[`account_id${leg}`] = posting.account_id
    legs[`side${leg}`] = posting.side
    legs[`phase${leg}`] = posting.phase
    legs[`amount${leg}`] = posting.amount
    legs[`currency${leg}`] = posting.currency
  })
  if (plan.postings.length > 0) await tx.run(q.insertPostings(plan.postings.length), legs)
  const deltas = [...plan.deltas]
  const moves: Record<string, unknown> = {}
  deltas.forEach(([id, delta], index) => {
    moves[`id${index}`] = id
    for (const counter of ['debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'] as const) moves[`${counter}${index}`] = delta[counter]
  })
  const updated = deltas.length === 0 ? [] : await tx.run(q.updateBalances(deltas.length), moves)
  const readBack = new Map(updated.map((row) => [row.id, row]))
  for (const [id, delta] of deltas) {
    const after = readBack.get(id)
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
