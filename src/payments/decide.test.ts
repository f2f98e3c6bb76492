import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { KassaError, type ErrorCode } from '../domain/errors.js'
import type { AccountRef } from '../ledger/accounts.js'
import { assertBalanced, type Posting, type TransferRequest } from '../ledger/transfer.js'
import {
  decideCancel,
  decideCapture,
  decideConfirm,
  decideDecline,
  decideRefund,
  feeFor,
  type CaptureInput,
  type ConfirmInput,
  type Decided,
  type Payment,
} from './decide.js'
import { canTransition, paymentStatuses, type PaymentStatus } from './state.js'

const merchantId = 'mch_01jz0000000000000000000000'
const shopperId = 'shp_01jz0000000000000000000000'
const wallet = `acc_shopper_balance_${shopperId}_CNY`
const payable = `acc_merchant_payable_${merchantId}_CNY`
const revenue = 'acc_fee_revenue_platform_CNY'
const nowMs = Date.UTC(2026, 0, 2)

function payment(changes: Partial<Payment> = {}): Payment {
  return {
    id: 'pay_01jz0000000000000000000000',
    merchant_id: merchantId,
    status: 'requires_payment_method',
    amount: 10_000n,
    currency: 'CNY',
    capture_method: 'automatic',
    order_reference: 'order-1',
    description: null,
    metadata: '{}',
    shopper_id: null,
    payment_method_type: null,
    channel: null,
    amount_capturable: 0n,
    amount_received: 0n,
    amount_refunded: 0n,
    fee_amount: 0n,
    hold_transfer_id: null,
    last_error_code: null,
    last_error_message: null,
    cancellation_reason: null,
    version: 3n,
    created_at: BigInt(Date.UTC(2026, 0, 1)),
    updated_at: BigInt(Date.UTC(2026, 0, 1)),
    ...changes,
  }
}

const funding: AccountRef = { code: 'shopper_balance', owner_id: shopperId, currency: 'CNY' }

function confirmInput(changes: Partial<ConfirmInput> = {}): ConfirmInput {
  return {
    payment_method_type: 'wallet_balance',
    channel: 'wallet_balance',
    shopper_id: shopperId,
    funding,
    fee_basis_points: 60,
    transfer_id: 'txf_confirm',
    ...changes,
  }
}

/** A payment with a hold of `amount` on the wallet, as a manual confirmation leaves it. */
function authorized(amount = 10_000n): Payment {
  return payment({
    status: 'requires_capture',
    capture_method: 'manual',
    amount,
    amount_capturable: amount,
    shopper_id: shopperId,
    payment_method_type: 'wallet_balance',
    channel: 'wallet_balance',
    hold_transfer_id: 'txf_hold',
  })
}

/** A payment that was captured for `received` with this fee. */
function captured(received = 10_000n, fee = 60n, refunded = 0n): Payment {
  return payment({
    status: 'succeeded',
    amount_received: received,
    fee_amount: fee,
    amount_refunded: refunded,
    shopper_id: shopperId,
    payment_method_type: 'wallet_balance',
    channel: 'wallet_balance',
  })
}

function captureInput(amount: bigint | undefined, fee_basis_points = 60): CaptureInput {
  return { amount_to_capture: amount, fee_basis_points, capture_transfer_id: 'txf_capture', fee_transfer_id: 'txf_fee' }
}

function ok<T>(decided: Decided<T>): T {
  if (!decided.ok) assert.fail(`expected a decision, got ${decided.error.code}`)
  return decided.value
}

function failed<T>(decided: Decided<T>, code: ErrorCode, param?: string): KassaError {
  assert.equal(decided.ok, false, `expected ${code}`)
  if (decided.ok) throw new Error('unreachable')
  assert.ok(decided.error instanceof KassaError)
  assert.equal(decided.error.code, code)
  if (param !== undefined) assert.equal(decided.error.param, param)
  return decided.error
}

function postingsOf(transfer: TransferRequest | undefined): readonly Posting[] {
  assert.ok(transfer !== undefined)
  assert.ok(transfer.kind === 'single_phase' || transfer.kind === 'pending', `${transfer.kind} has no postings of its own`)
  return transfer.postings
}

const legs = (postings: readonly Posting[]) => postings.map((p) => [p.account_id, p.side, p.amount])

describe('payments: feeFor', () => {
  it('rounds the merchant discount half-up to the minor unit', () => {
    assert.equal(feeFor(10_000n, 60), 60n)
    assert.equal(feeFor(12_345n, 60), 74n) // 74.07
    assert.equal(feeFor(100n, 50), 1n) // 0.5 → 1
    assert.equal(feeFor(500n, 50), 3n) // 2.5 → 3, where half-even would say 2
    assert.equal(feeFor(1n, 60), 0n)
    assert.equal(feeFor(10_000n, 0), 0n)
  })
})

describe('payments: decideConfirm', () => {
  it('automatic capture: succeeded, one balanced transfer funding → merchant + fee', () => {
    const decision = ok(decideConfirm(payment(), confirmInput(), nowMs))
    assert.equal(decision.next.status, 'succeeded')
    assert.equal(decision.next.amount_received, 10_000n)
    assert.equal(decision.next.amount_capturable, 0n)
    assert.equal(decision.next.fee_amount, 60n)
    assert.equal(decision.next.shopper_id, shopperId)
    assert.equal(decision.next.channel, 'wallet_balance')
    assert.equal(decision.next.version, 4n)
    assert.equal(decision.next.updated_at, BigInt(nowMs))
    assert.deepEqual(decision.events, ['payment.succeeded'])
    assert.equal(decision.transfers.length, 1)
    const [transfer] = decision.transfers
    assert.equal(transfer?.kind, 'single_phase')
    assert.equal(transfer?.id, 'txf_confirm')
    assert.equal(transfer?.code, 'payment_capture')
    assert.equal(transfer?.reference_id, 'pay_01jz0000000000000000000000')
    assert.equal(transfer?.merchant_id, merchantId)
    assert.deepEqual(legs(postingsOf(transfer)), [
      [wallet, 'debit', 10_000n],
      [payable, 'credit', 9_940n],
      [revenue, 'credit', 60n],
    ])
    assertBalanced(postingsOf(transfer))
  })

  it('automatic capture without a fee: two legs, no fee leg', () => {
    const decision = ok(decideConfirm(payment({ amount: 1n }), confirmInput(), nowMs))
    assert.equal(decision.next.fee_amount, 0n)
    assert.deepEqual(legs(postingsOf(decision.transfers[0])), [
      [wallet, 'debit', 1n],
      [payable, 'credit', 1n],
    ])
  })

  it('manual capture: requires_capture, a two-leg pending hold, nothing received yet', () => {
    const decision = ok(decideConfirm(payment({ capture_method: 'manual' }), confirmInput(), nowMs))
    assert.equal(decision.next.status, 'requires_capture')
    assert.equal(decision.next.amount_capturable, 10_000n)
    assert.equal(decision.next.amount_received, 0n)
    assert.equal(decision.next.fee_amount, 0n)
    assert.equal(decision.next.hold_transfer_id, 'txf_confirm')
    assert.deepEqual(decision.events, ['payment.requires_capture'])
    const [transfer] = decision.transfers
    assert.equal(transfer?.kind, 'pending')
    assert.equal(transfer?.code, 'payment_authorization')
    assert.deepEqual(legs(postingsOf(transfer)), [
      [wallet, 'debit', 10_000n],
      [payable, 'credit', 10_000n],
    ])
  })

  it('clears the error a declined attempt left', () => {
    const declined = payment({ last_error_code: 'insufficient_funds', last_error_message: 'too low' })
    const decision = ok(decideConfirm(declined, confirmInput(), nowMs))
    assert.equal(decision.next.last_error_code, null)
    assert.equal(decision.next.last_error_message, null)
  })

  for (const status of paymentStatuses.filter((s) => s !== 'requires_payment_method')) {
    it(`refuses a payment in ${status}: payment_not_confirmable`, () => {
      failed(decideConfirm(payment({ status }), confirmInput(), nowMs), 'payment_not_confirmable')
    })
  }

  it('refuses funding in another currency: currency_mismatch on payment_method', () => {
    failed(decideConfirm(payment(), confirmInput({ funding: { ...funding, currency: 'JPY' } }), nowMs), 'currency_mismatch', 'payment_method')
  })

  it('ranks the status above the currency', () => {
    failed(decideConfirm(payment({ status: 'canceled' }), confirmInput({ funding: { ...funding, currency: 'JPY' } }), nowMs), 'payment_not_confirmable')
  })

  it('posts only positive, balanced legs, even when the fee takes the whole amount', () => {
    // A merchant may be given any fee from 0 to 10 000 bp (the console's schema allows it); at 100 %,
    // or for 1 fen at 50 % and up, the fee is the whole amount and the merchant's leg would be 0.
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 999_999_999_999n }), fc.integer({ min: 0, max: 10_000 }), (amount, basisPoints) => {
        const decision = ok(decideConfirm(payment({ amount }), confirmInput({ fee_basis_points: basisPoints }), nowMs))
        const postings = postingsOf(decision.transfers[0])
        assertBalanced(postings)
        assert.equal(decision.next.fee_amount, feeFor(amount, basisPoints))
      }),
      { examples: [[1n, 5_000], [10_000n, 10_000]] },
    )
  })
})

describe('payments: decideDecline', () => {
  it('stays in requires_payment_method with the error, moving no money', () => {
    const decision = decideDecline(payment(), confirmInput(), 'insufficient_funds', 'The wallet balance is too low.', nowMs)
    assert.equal(decision.next.status, 'requires_payment_method')
    assert.equal(decision.next.last_error_code, 'insufficient_funds')
    assert.equal(decision.next.last_error_message, 'The wallet balance is too low.')
    assert.equal(decision.next.shopper_id, shopperId)
    assert.equal(decision.next.amount_received, 0n)
    assert.deepEqual(decision.transfers, [])
    assert.deepEqual(decision.events, ['payment.payment_failed'])
  })

  it('throws (a bug) for a payment that is not waiting for a method', () => {
    assert.throws(() => decideDecline(captured(), confirmInput(), 'insufficient_funds', 'x', nowMs), { name: 'AssertionError' })
  })
})

describe('payments: decideCapture', () => {
  it('captures the whole hold by default, with the fee as its own transfer', () => {
    const decision = ok(decideCapture(authorized(), captureInput(undefined), nowMs))
    assert.equal(decision.next.status, 'succeeded')
    assert.equal(decision.next.amount_received, 10_000n)
    assert.equal(decision.next.amount_capturable, 0n)
    assert.equal(decision.next.fee_amount, 60n)
    assert.deepEqual(decision.events, ['payment.succeeded'])
    const [capture, fee] = decision.transfers
    assert.deepEqual(capture, {
      id: 'txf_capture',
      kind: 'post_pending',
      code: 'payment_capture',
      pending_id: 'txf_hold',
      amount: 10_000n,
      reference_id: 'pay_01jz0000000000000000000000',
      merchant_id: merchantId,
    })
    assert.equal(fee?.id, 'txf_fee')
    assert.equal(fee?.code, 'payment_fee')
    assert.deepEqual(legs(postingsOf(fee)), [
      [payable, 'debit', 60n],
      [revenue, 'credit', 60n],
    ])
  })

  it('captures part of the hold; the fee is on the part, rounded half-up', () => {
    // 50 bp of 5.00 is 0.025 → 0.03 half-up (half-even would give 0.02).
    const decision = ok(decideCapture(authorized(), captureInput(500n, 50), nowMs))
    assert.equal(decision.next.amount_received, 500n)
    assert.equal(decision.next.amount_capturable, 0n, 'the rest of the hold is released by the same post')
    assert.equal(decision.next.fee_amount, 3n)
    const [capture, fee] = decision.transfers
    assert.equal(capture?.kind === 'post_pending' ? capture.amount : undefined, 500n)
    assert.deepEqual(legs(postingsOf(fee)), [
      [payable, 'debit', 3n],
      [revenue, 'credit', 3n],
    ])
  })

  it('writes no fee transfer when the fee rounds to nothing', () => {
    const decision = ok(decideCapture(authorized(), captureInput(50n, 50), nowMs)) // 0.25 → 0
    assert.equal(decision.next.fee_amount, 0n)
    assert.equal(decision.transfers.length, 1)
  })

  it('captures exactly the authorized amount', () => {
    ok(decideCapture(authorized(), captureInput(10_000n), nowMs))
  })

  it('refuses one minor unit more than authorized: capture_exceeds_authorized', () => {
    failed(decideCapture(authorized(), captureInput(10_001n), nowMs), 'capture_exceeds_authorized', 'amount_to_capture')
  })

  it('refuses a zero or negative amount: amount_invalid', () => {
    failed(decideCapture(authorized(), captureInput(0n), nowMs), 'amount_invalid', 'amount_to_capture')
    failed(decideCapture(authorized(), captureInput(-1n), nowMs), 'amount_invalid', 'amount_to_capture')
  })

  for (const status of paymentStatuses.filter((s) => s !== 'requires_capture')) {
    it(`refuses a payment in ${status}: payment_not_capturable, before looking at the amount`, () => {
      failed(decideCapture({ ...authorized(), status }, captureInput(99_999n), nowMs), 'payment_not_capturable')
    })
  }

  it('throws (a bug) when a payment requires capture without a hold', () => {
    assert.throws(() => decideCapture({ ...authorized(), hold_transfer_id: null }, captureInput(undefined), nowMs), /without a hold/)
  })

  it('fee of a partial capture is feeFor(part) for every part and rate', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1_000_000n }), fc.bigInt({ min: 1n, max: 1_000_000n }), fc.integer({ min: 0, max: 10_000 }), (held, part, basisPoints) => {
        const decided = decideCapture(authorized(held), captureInput(part, basisPoints), nowMs)
        if (part > held) {
          failed(decided, 'capture_exceeds_authorized')
          return
        }
        const decision = ok(decided)
        assert.equal(decision.next.fee_amount, feeFor(part, basisPoints))
        assert.equal(decision.next.amount_received, part)
        for (const transfer of decision.transfers) if (transfer.kind === 'single_phase') assertBalanced(transfer.postings)
      }),
    )
  })
})

describe('payments: decideCancel', () => {
  it('cancels a payment without a method: no money moves', () => {
    const decision = ok(decideCancel(payment(), { reason: 'abandoned', release_transfer_id: 'txf_release' }, nowMs))
    assert.equal(decision.next.status, 'canceled')
    assert.equal(decision.next.cancellation_reason, 'abandoned')
    assert.deepEqual(decision.transfers, [])
    assert.deepEqual(decision.events, ['payment.canceled'])
  })

  it('cancels an authorized payment by voiding its hold', () => {
    const decision = ok(decideCancel(authorized(), { reason: null, release_transfer_id: 'txf_release' }, nowMs))
    assert.equal(decision.next.status, 'canceled')
    assert.equal(decision.next.amount_capturable, 0n)
    assert.equal(decision.next.cancellation_reason, null)
    assert.deepEqual(decision.transfers, [
      {
        id: 'txf_release',
        kind: 'void_pending',
        code: 'payment_authorization_release',
        pending_id: 'txf_hold',
        reference_id: 'pay_01jz0000000000000000000000',
        merchant_id: merchantId,
      },
    ])
  })

  for (const status of ['processing', 'succeeded', 'failed', 'canceled'] as const) {
    it(`refuses a payment in ${status}: payment_not_cancelable`, () => {
      failed(decideCancel(payment({ status }), { reason: null, release_transfer_id: 'txf_release' }, nowMs), 'payment_not_cancelable')
    })
  }
})

describe('payments: decideRefund', () => {
  const refund = (p: Payment, amount: bigint | undefined) => decideRefund(p, { amount, funding, transfer_id: 'txf_refund' }, nowMs)

  it('refunds everything still captured by default, from the merchant back to the wallet', () => {
    const decision = ok(refund(captured(), undefined))
    assert.equal(decision.amount, 10_000n)
    assert.equal(decision.next.status, 'succeeded')
    assert.equal(decision.next.amount_refunded, 10_000n)
    assert.deepEqual(decision.events, ['payment.refunded'])
    const [transfer] = decision.transfers
    assert.equal(transfer?.code, 'payment_refund')
    assert.deepEqual(legs(postingsOf(transfer)), [
      [payable, 'debit', 10_000n],
      [wallet, 'credit', 10_000n],
    ])
  })

  it('refunds a part, then the rest by default', () => {
    const first = ok(refund(captured(), 2_500n))
    assert.equal(first.next.amount_refunded, 2_500n)
    const second = ok(refund(first.next, undefined))
    assert.equal(second.amount, 7_500n)
    assert.equal(second.next.amount_refunded, 10_000n)
    failed(refund(second.next, undefined), 'refund_exceeds_captured', 'amount')
    failed(refund(second.next, 1n), 'refund_exceeds_captured', 'amount')
  })

  it('refunds at most what a partial capture received, not the amount authorized', () => {
    const partly = payment({ ...captured(4_000n), amount: 10_000n })
    failed(refund(partly, 4_001n), 'refund_exceeds_captured', 'amount')
    assert.equal(ok(refund(partly, undefined)).amount, 4_000n)
  })

  it('says how much is left in the refusal', () => {
    const error = failed(refund(captured(10_000n, 60n, 9_000n), 1_001n), 'refund_exceeds_captured')
    assert.match(error.message, /At most 1000 can still be refunded/)
  })

  it('refuses a zero or negative amount: amount_invalid', () => {
    failed(refund(captured(), 0n), 'amount_invalid', 'amount')
    failed(refund(captured(), -5n), 'amount_invalid', 'amount')
  })

  for (const status of paymentStatuses.filter((s) => s !== 'succeeded')) {
    it(`refuses a payment in ${status}: payment_not_refundable`, () => {
      failed(refund({ ...captured(), status }, 1n), 'payment_not_refundable')
    })
  }

  it('refuses a succeeded payment that received nothing: payment_not_refundable', () => {
    failed(refund(captured(0n, 0n), undefined), 'payment_not_refundable')
  })

  it('never refunds beyond what was captured, over any sequence of refund requests', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 100_000n }),
        fc.array(fc.option(fc.bigInt({ min: 1n, max: 60_000n }), { nil: undefined }), { maxLength: 20 }),
        (received, requests) => {
          let current = captured(received, feeFor(received, 60))
          let total = 0n
          for (const amount of requests) {
            const left = received - total
            const decided = refund(current, amount)
            if (left === 0n || (amount !== undefined && amount > left)) {
              failed(decided, 'refund_exceeds_captured')
              continue
            }
            const decision = ok(decided)
            assert.equal(decision.amount, amount ?? left)
            total += decision.amount
            assert.equal(decision.next.amount_refunded, total)
            assertBalanced(postingsOf(decision.transfers[0]))
            current = decision.next
          }
          assert.ok(current.amount_refunded <= received)
        },
      ),
    )
  })
})

describe('payments: every decision follows the state table', () => {
  it('moves only along the table, and bumps the version by one', () => {
    const cases: [string, Payment, () => Decided<{ next: Payment }>][] = [
      ['confirm automatic', payment(), () => decideConfirm(payment(), confirmInput(), nowMs)],
      ['confirm manual', payment({ capture_method: 'manual' }), () => decideConfirm(payment({ capture_method: 'manual' }), confirmInput(), nowMs)],
      ['capture', authorized(), () => decideCapture(authorized(), captureInput(undefined), nowMs)],
      ['cancel', authorized(), () => decideCancel(authorized(), { reason: null, release_transfer_id: 'txf_r' }, nowMs)],
      ['refund', captured(), () => decideRefund(captured(), { amount: 1n, funding, transfer_id: 'txf_r' }, nowMs)],
    ]
    for (const [what, before, decide] of cases) {
      const { next } = ok(decide())
      assert.ok(canTransition(before.status, next.status as PaymentStatus), what)
      assert.equal(next.version, before.version + 1n, what)
      assert.equal(next.id, before.id, what)
      assert.equal(next.amount, before.amount, what)
    }
  })
})
