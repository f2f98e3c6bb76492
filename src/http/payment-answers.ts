import type { ChannelConfig } from '../channels/config.js'
import { toJson } from '../domain/json.js'
import { getPayment } from '../payments/reads.js'
import { paymentView } from '../payments/view.js'
import type { StoredResponse } from '../store/idempotency.js'
import type { AppDeps } from './app.js'

/**
 * The payment as the merchant API answers it: the stored view, plus what only the live system knows
 * — the hosted checkout link, and the next action at a counterpart (a bank page, a wallet's QR
 * code, an SMS code) once the counterpart has answered.
 */
export async function livePaymentView(deps: AppDeps, merchantId: string, paymentId: string) {
  const payment = await getPayment(deps.store.db, merchantId, paymentId)
  if (payment === undefined) return undefined
  const attempt = payment.status === 'processing' ? await deps.counterparts.latestAttempt(payment.id) : undefined
  const nextAction = attempt?.status === 'pending' && attempt.next_action !== null ? (JSON.parse(attempt.next_action) as unknown) : null
  const open = payment.status === 'requires_payment_method' || payment.status === 'processing'
  // Only present when they mean something, so a settled payment reads the same everywhere.
  return {
    ...paymentView(payment),
    ...(open ? { checkout_url: deps.counterparts.checkoutUrl(payment.id) } : {}),
    ...(nextAction === null ? {} : { next_action: nextAction }),
  }
}

/**
 * After a create or confirm: a payment that went to a counterpart has its order created there now
 * (after COMMIT, outside any transaction), and the answer carries the next action. A replay of the
 * same request does the same, so a lost answer is recovered by retrying with the same key.
 */
export async function answerAfterConfirm(deps: AppDeps, merchantId: string, stored: StoredResponse): Promise<StoredResponse> {
  if (stored.status !== 200) return stored
  if (stored.body.includes('"status":"requires_payment_method"')) {
    const id = /"id":"(pay_[0-9a-z]+)"/.exec(stored.body)?.[1]
    if (id === undefined) return stored
    return { ...stored, body: `${stored.body.slice(0, -1)},"checkout_url":${JSON.stringify(deps.counterparts.checkoutUrl(id))}}` }
  }
  if (!stored.body.includes('"status":"processing"')) return stored
  const id = /"id":"(pay_[0-9a-z]+)"/.exec(stored.body)?.[1]
  if (id === undefined) return stored
  const attempt = await deps.counterparts.latestAttempt(id)
  if (attempt === undefined) return stored
  if (attempt.status === 'creating') await deps.counterparts.start(attempt.id)
  const view = await livePaymentView(deps, merchantId, id)
  return view === undefined ? stored : { ...stored, body: toJson(view) }
}

/** Whether this node can run a channel now: its counterpart or acquirer is configured here. */
export function offeredHere(deps: AppDeps, config: ChannelConfig): boolean {
  if (config.kind === 'card') return deps.payments.acquiresCards()
  return config.provider === null || deps.counterparts.provider(config.id) !== undefined
}
