import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AssertionError } from '../domain/assert.js'
import { assertTransition, canTransition, isTerminal, paymentStatuses, paymentTransitions, type PaymentStatus } from './state.js'

/**
 * The table written out again by hand: a change to the state machine must change this test too,
 * on purpose. `succeeded → succeeded` is a refund (the status stays, amount_refunded grows);
 * `requires_payment_method → requires_payment_method` is a declined confirmation;
 * `processing → processing` is a pay-on-delivery order collecting parcel by parcel.
 */
const expected: Record<PaymentStatus, readonly PaymentStatus[]> = {
  requires_payment_method: ['requires_payment_method', 'processing', 'requires_capture', 'succeeded', 'canceled'],
  processing: ['processing', 'requires_capture', 'succeeded', 'failed', 'requires_payment_method', 'canceled'],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: ['succeeded'],
  failed: [],
  canceled: [],
}

describe('payments: state table', () => {
  it('lists every status once, and the table has a row for each', () => {
    assert.deepEqual([...paymentStatuses].sort(), ['canceled', 'failed', 'processing', 'requires_capture', 'requires_payment_method', 'succeeded'])
    assert.deepEqual(Object.keys(paymentTransitions).sort(), [...paymentStatuses].sort())
  })

  it('names only known statuses as targets', () => {
    for (const targets of Object.values(paymentTransitions)) {
      for (const target of targets) assert.ok((paymentStatuses as readonly string[]).includes(target), target)
    }
  })

  for (const from of paymentStatuses) {
    for (const to of paymentStatuses) {
      const allowed = expected[from].includes(to)
      it(`${from} → ${to}: ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(canTransition(from, to), allowed)
        if (allowed) assertTransition(from, to)
        else assert.throws(() => assertTransition(from, to), { name: 'AssertionError', message: `payment cannot go from ${from} to ${to}` })
      })
    }
  }

  it('throws an AssertionError, a programmer error, off the table', () => {
    assert.throws(() => assertTransition('canceled', 'succeeded'), AssertionError)
  })

  it('calls succeeded, failed and canceled terminal, and nothing else', () => {
    const terminal = paymentStatuses.filter(isTerminal)
    assert.deepEqual([...terminal].sort(), ['canceled', 'failed', 'succeeded'])
  })

  it('lets no terminal status move to another status', () => {
    for (const from of paymentStatuses.filter(isTerminal)) {
      for (const to of paymentStatuses) if (to !== from) assert.equal(canTransition(from, to), false, `${from} → ${to}`)
    }
  })

  it('reaches every status from requires_payment_method', () => {
    const reached = new Set<PaymentStatus>(['requires_payment_method'])
    for (let changed = true; changed; ) {
      changed = false
      for (const from of [...reached]) {
        for (const to of paymentTransitions[from]) {
          if (!reached.has(to)) {
            reached.add(to)
            changed = true
          }
        }
      }
    }
    assert.deepEqual([...reached].sort(), [...paymentStatuses].sort())
  })

  it('goes nowhere back into processing once past it, nor back to requires_capture from a terminal status', () => {
    for (const from of ['requires_capture', 'succeeded', 'failed', 'canceled'] as const) {
      assert.equal(canTransition(from, 'processing'), false, from)
      assert.equal(canTransition(from, 'requires_payment_method'), false, from)
    }
  })
})
