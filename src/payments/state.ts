import { assert } from '../domain/assert.js'

/**
 * A payment's status and the only moves it can make. The table is data; every write of a status
 * goes through assertTransition and through an UPDATE guarded by the row's version.
 *
 * requires_payment_method → confirm → requires_capture (manual) | succeeded (automatic)
 *                                   → processing (a counterpart answers later) → … | failed
 * a declined confirmation stays in requires_payment_method with last_payment_error set;
 * requires_capture → capture → succeeded; → cancel → canceled (the hold is released).
 * Refunds do not move the status: amount_refunded grows beside it.
 */
export const paymentStatuses = [
  'requires_payment_method',
  'processing',
  'requires_capture',
  'succeeded',
  'failed',
  'canceled',
] as const

export type PaymentStatus = (typeof paymentStatuses)[number]

export const paymentTransitions = {
  requires_payment_method: ['requires_payment_method', 'processing', 'requires_capture', 'succeeded', 'canceled'],
  // processing → processing: a pay-on-delivery order collects parcel by parcel before it completes.
  processing: ['processing', 'requires_capture', 'succeeded', 'failed', 'requires_payment_method', 'canceled'],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: ['succeeded'],
  failed: [],
  canceled: [],
} as const satisfies Record<PaymentStatus, readonly PaymentStatus[]>

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return (paymentTransitions[from] as readonly PaymentStatus[]).includes(to)
}

/** A move outside the table is a bug in the code that asked for it. */
export function assertTransition(from: PaymentStatus, to: PaymentStatus): void {
  assert(canTransition(from, to), `payment cannot go from ${from} to ${to}`)
}

export function isTerminal(status: PaymentStatus): boolean {
  return paymentTransitions[status].length === 0 || status === 'succeeded'
}
