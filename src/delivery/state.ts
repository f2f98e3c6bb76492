import { assert } from '../domain/assert.js'

/**
 * A parcel paid at the door: out for delivery until paid (QR, cash, or the shopper's code) or refused.
 * Its one-time QR code is active until used, expired, or replaced by a newer code; `held` while the
 * shopper pays it through a counterpart (a bank asking for an SMS code), and active again if that fails.
 */
export type DeliveryStatus = 'out_for_delivery' | 'paid' | 'refused'
export type CodeStatus = 'active' | 'held' | 'used' | 'expired' | 'replaced'

export const deliveryTransitions = {
  out_for_delivery: ['out_for_delivery', 'paid', 'refused'],
  paid: [],
  refused: [],
} as const satisfies Record<DeliveryStatus, readonly DeliveryStatus[]>

export function assertDeliveryTransition(from: DeliveryStatus, to: DeliveryStatus): void {
  assert((deliveryTransitions[from] as readonly DeliveryStatus[]).includes(to), `delivery cannot go from ${from} to ${to}`)
}

export type StoredCode = { status: CodeStatus; expires_at: bigint; amount: bigint; payload: string }

/** What a scanned code means now: the stored code decides, never the text of the code itself. */
export function codeStanding(code: StoredCode, deliveryStatus: DeliveryStatus, nowMs: number): 'payable' | 'paying' | 'paid' | 'expired' | 'replaced' {
  if (code.status === 'used' || deliveryStatus === 'paid') return 'paid'
  if (code.status === 'replaced') return 'replaced'
  // A bank payment under way ends by itself (paid, failed or closed at the bank's deadline), whatever the code's own expiry.
  if (code.status === 'held') return 'paying'
  if (code.status === 'expired' || BigInt(nowMs) >= code.expires_at) return 'expired'
  if (deliveryStatus !== 'out_for_delivery') return 'replaced'
  return 'payable'
}
