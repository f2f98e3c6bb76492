import { assert } from '../domain/assert.js'
import type { AttemptStatus } from '../store/schema.js'
import type { ProviderOrderReport } from './provider.js'

/**
 * An attempt at a counterpart and the only moves it can make. `creating`: Kassa asked (or is about
 * to ask) the counterpart to create the order and has no answer yet; `pending`: the order exists,
 * the payer has not paid. `closed` → `paid` happens: a payer who paid as Kassa closed the order.
 */
export const attemptTransitions = {
  creating: ['pending', 'paid', 'failed', 'closed'],
  pending: ['pending', 'paid', 'failed', 'closed'],
  closed: ['paid'],
  paid: [],
  failed: [],
} as const satisfies Record<AttemptStatus, readonly AttemptStatus[]>

export function attemptCanMove(from: AttemptStatus, to: AttemptStatus): boolean {
  return (attemptTransitions[from] as readonly AttemptStatus[]).includes(to)
}

export function assertAttemptMove(from: AttemptStatus, to: AttemptStatus): void {
  assert(attemptCanMove(from, to), `attempt cannot go from ${from} to ${to}`)
}

export type AttemptFacts = { readonly status: AttemptStatus; readonly amount: bigint; readonly currency: string }

/**
 * What a verified report from the counterpart means for the attempt: `move` to a new status,
 * `same` (a duplicate, or nothing new), or `refuse` when it cannot be about this attempt (another
 * amount or currency: a forgery or a bug at the counterpart; never applied).
 */
export type ReportVerdict =
  | { readonly verdict: 'move'; readonly to: AttemptStatus }
  | { readonly verdict: 'same' }
  | { readonly verdict: 'refuse'; readonly reason: string }

export function judgeReport(attempt: AttemptFacts, report: ProviderOrderReport): ReportVerdict {
  if (report.amount !== attempt.amount) return { verdict: 'refuse', reason: `amount ${report.amount} is not the attempt's ${attempt.amount}` }
  if (report.currency !== attempt.currency) return { verdict: 'refuse', reason: `currency ${report.currency} is not the attempt's ${attempt.currency}` }
  const to: AttemptStatus = report.status
  if (to === attempt.status) return { verdict: 'same' }
  // A stale "pending" or "closed" after "paid" (out of order) changes nothing.
  if (!attemptCanMove(attempt.status, to)) return { verdict: 'same' }
  return { verdict: 'move', to }
}

/** How long after its creation an attempt is picked up by the worker if the call after COMMIT never happened (the process stopped). */
const unstartedAttemptCheckMs = 5_000

/** The columns of an attempt not yet sent to its counterpart: `creating`, nothing heard yet. */
export function unstartedAttempt(nowMs: number) {
  return {
    status: 'creating' as const,
    provider_order_id: null,
    next_action: null,
    failure_code: null,
    failure_message: null,
    late: 0,
    transfer_id: null,
    queries: 0,
    next_check_at: nowMs + unstartedAttemptCheckMs,
    version: 0,
    created_at: nowMs,
    updated_at: nowMs,
  }
}
