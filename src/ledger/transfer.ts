import { assert, unreachable } from '../domain/assert.js'
import type { LimitRule } from './accounts.js'

/**
 * The journal's pure core (TigerBeetle's model): transfers are immutable; a hold is a `pending`
 * transfer; capture and release are new `post_pending` / `void_pending` transfers naming it;
 * a correction is a new transfer. validateTransfer decides, applyTransfer computes the new balances;
 * the shell (journal.ts) only loads and writes.
 */
export type Side = 'debit' | 'credit'

export type Posting = { readonly account_id: string; readonly side: Side; readonly amount: bigint; readonly currency: string }

export type Balances = {
  debits_pending: bigint
  debits_posted: bigint
  credits_pending: bigint
  credits_posted: bigint
}

export type LedgerAccount = Balances & { readonly id: string; readonly currency: string; readonly limit_rule: LimitRule }

type TransferCommon = {
  readonly id: string
  /** What the movement is, e.g. `payment_capture`, `top_up`; docs/ledger.md lists them. */
  readonly code: string
  readonly reference_id: string | undefined
  readonly merchant_id: string | undefined
}

export type TransferRequest =
  | (TransferCommon & { readonly kind: 'single_phase'; readonly postings: readonly Posting[] })
  | (TransferCommon & { readonly kind: 'pending'; readonly postings: readonly Posting[] })
  | (TransferCommon & { readonly kind: 'post_pending'; readonly pending_id: string; readonly amount: bigint })
  | (TransferCommon & { readonly kind: 'void_pending'; readonly pending_id: string })

/** A pending transfer as the journal recorded it, with whether something already resolved it. */
export type PendingTransfer = {
  readonly id: string
  readonly postings: readonly Posting[]
  readonly resolved: boolean
}

/** Outcomes a caller must handle, in order of precedence. Anything else is a bug and throws. */
export type TransferResult =
  | 'ok'
  | 'pending_transfer_not_found'
  | 'pending_transfer_already_resolved'
  | 'pending_amount_exceeded'
  | 'exceeds_credits'
  | 'exceeds_debits'

export type TransferPlan = {
  /** The postings to write for this transfer, phase included. */
  readonly postings: readonly (Posting & { readonly phase: 'pending' | 'posted' })[]
  /** Balance changes per account id. */
  readonly deltas: ReadonlyMap<string, Balances>
  readonly amount: bigint
  readonly currency: string
}

function zero(): Balances {
  return { debits_pending: 0n, debits_posted: 0n, credits_pending: 0n, credits_posted: 0n }
}

/** Asserts the postings of a transfer balance per currency: a transfer that does not balance is a bug. */
export function assertBalanced(postings: readonly Posting[]): void {
  assert(postings.length >= 2, 'a transfer has at least two postings')
  const net = new Map<string, bigint>()
  for (const posting of postings) {
    assert(typeof posting.amount === 'bigint' && posting.amount > 0n, `posting amount must be a positive bigint: ${posting.amount}`)
    const signed = posting.side === 'debit' ? posting.amount : -posting.amount
    net.set(posting.currency, (net.get(posting.currency) ?? 0n) + signed)
  }
  for (const [currency, sum] of net) assert(sum === 0n, `transfer does not balance in ${currency}: debits - credits = ${sum}`)
}

function addDelta(deltas: Map<string, Balances>, posting: Posting, phase: 'pending' | 'posted', sign: 1n | -1n): void {
  const delta = deltas.get(posting.account_id) ?? zero()
  const amount = posting.amount * sign
  if (posting.side === 'debit') {
    if (phase === 'pending') delta.debits_pending += amount
    else delta.debits_posted += amount
  } else if (phase === 'pending') delta.credits_pending += amount
  else delta.credits_posted += amount
  deltas.set(posting.account_id, delta)
}

/**
 * Decides a transfer against the current state of its accounts (and its pending transfer).
 * Pure: no I/O. Returns the plan to write, or the named reason it cannot be made.
 */
export function planTransfer(
  request: TransferRequest,
  accounts: ReadonlyMap<string, LedgerAccount>,
  pending: PendingTransfer | undefined,
): { result: Exclude<TransferResult, 'ok'> } | { result: 'ok'; plan: TransferPlan } {
  const deltas = new Map<string, Balances>()
  let postings: (Posting & { phase: 'pending' | 'posted' })[]
  switch (request.kind) {
    case 'single_phase':
    case 'pending': {
      assertBalanced(request.postings)
      if (request.kind === 'pending') {
        assert(request.postings.length === 2, 'a pending transfer has exactly one debit and one credit')
      }
      const phase = request.kind === 'pending' ? 'pending' : 'posted'
      // Own keys first, the spread last: a literal opening with a spread adds its later keys slowly in V8 (decide.ts, `moved`).
      postings = request.postings.map((posting) => ({ phase, ...posting }))
      for (const posting of request.postings) addDelta(deltas, posting, phase, 1n)
      break
    }
    case 'post_pending':
    case 'void_pending': {
      if (pending === undefined) return { result: 'pending_transfer_not_found' }
      if (pending.resolved) return { result: 'pending_transfer_already_resolved' }
      const pendingAmount = pending.postings[0]?.amount ?? 0n
      for (const posting of pending.postings) addDelta(deltas, posting, 'pending', -1n)
      if (request.kind === 'void_pending') {
        postings = []
        break
      }
      assert(request.amount > 0n, 'a post_pending amount is positive')
      if (request.amount > pendingAmount) return { result: 'pending_amount_exceeded' }
      postings = pending.postings.map((posting) => ({ phase: 'posted' as const, ...posting, amount: request.amount }))
      for (const posting of postings) addDelta(deltas, posting, 'posted', 1n)
      break
    }
    default:
      return unreachable(request, 'transfer kind')
  }

  for (const [accountId, delta] of deltas) {
    const account = accounts.get(accountId)
    assert(account !== undefined, `transfer ${request.id} names an account that does not exist: ${accountId}`)
    for (const posting of postings) {
      if (posting.account_id === accountId) {
        assert(posting.currency === account.currency, `posting in ${posting.currency} to ${accountId} held in ${account.currency}`)
      }
    }
    const after = applyDelta(account, delta)
    const debitsGrew = delta.debits_pending > 0n || delta.debits_posted > 0n
    const creditsGrew = delta.credits_pending > 0n || delta.credits_posted > 0n
    if (account.limit_rule === 'debits_must_not_exceed_credits' && debitsGrew) {
      if (after.debits_pending + after.debits_posted > after.credits_posted) return { result: 'exceeds_credits' }
    }
    if (account.limit_rule === 'credits_must_not_exceed_debits' && creditsGrew) {
      if (after.credits_pending + after.credits_posted > after.debits_posted) return { result: 'exceeds_debits' }
    }
  }
  // A void writes no postings; its amount is the hold it releases.
  const described = postings.length > 0 ? postings : (pending?.postings ?? [])
  const currency = described[0]?.currency
  assert(currency !== undefined, 'transfer has postings')
  const amount = described
    .filter((posting) => posting.side === 'debit' && posting.currency === currency)
    .reduce((sum, posting) => sum + posting.amount, 0n)
  return { result: 'ok', plan: { postings, deltas, amount, currency } }
}

export function applyDelta(balances: Balances, delta: Balances): Balances {
  const after = {
    debits_pending: balances.debits_pending + delta.debits_pending,
    debits_posted: balances.debits_posted + delta.debits_posted,
    credits_pending: balances.credits_pending + delta.credits_pending,
    credits_posted: balances.credits_posted + delta.credits_posted,
  }
  assert(after.debits_pending >= 0n && after.credits_pending >= 0n, 'pending balances cannot go below zero')
  return after
}

/** The available balance of a credit-normal funded account (a wallet): posted credits less all debits. */
export function availableCredit(balances: Balances): bigint {
  return balances.credits_posted - balances.debits_posted - balances.debits_pending
}
