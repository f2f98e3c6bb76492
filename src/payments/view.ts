import type { Payment } from './decide.js'

// The last time written: a payment's created and updated times, and the batch's payments, mostly share one.
let lastMs: bigint | undefined
let lastIso = ''

function iso(ms: bigint): string {
  if (ms !== lastMs) {
    lastIso = new Date(Number(ms)).toISOString()
    lastMs = ms
  }
  return lastIso
}

/** The payment as the API shows it (and as webhook events carry it). */
export function paymentView(payment: Payment) {
  return {
    id: payment.id,
    object: 'payment' as const,
    merchant: payment.merchant_id,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    capture_method: payment.capture_method,
    order_reference: payment.order_reference,
    description: payment.description,
    metadata: JSON.parse(payment.metadata) as Record<string, string>,
    shopper: payment.shopper_id,
    payment_method_type: payment.payment_method_type,
    channel: payment.channel,
    amount_capturable: payment.amount_capturable,
    amount_received: payment.amount_received,
    amount_refunded: payment.amount_refunded,
    fee_amount: payment.fee_amount,
    last_payment_error:
      payment.last_error_code === null ? null : { code: payment.last_error_code, message: payment.last_error_message },
    cancellation_reason: payment.cancellation_reason,
    created_at: iso(payment.created_at),
    updated_at: iso(payment.updated_at),
  }
}

export type RefundRecord = {
  readonly id: string
  readonly merchant_id: string
  readonly payment_id: string
  readonly amount: bigint
  readonly currency: string
  readonly status: 'succeeded' | 'pending' | 'failed'
  readonly reason: string | null
  readonly metadata: string
  readonly created_at: bigint
}

export function refundView(refund: RefundRecord) {
  return {
    id: refund.id,
    object: 'refund' as const,
    payment: refund.payment_id,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status,
    reason: refund.reason,
    metadata: JSON.parse(refund.metadata) as Record<string, string>,
    created_at: iso(refund.created_at),
  }
}
