import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { SimulatedClock } from '../../src/domain/clock.js'
import { OrderBook, orderTransitions, type OrderStatus, type Transition } from './book.js'

function newBook(clock = new SimulatedClock(), transitions: Transition[] = []): OrderBook {
  return new OrderBook({
    clock,
    accounts: [
      { id: 'rich', currency: 'CNY', balance_minor: 1_000_000n, blocked: false },
      { id: 'poor', currency: 'CNY', balance_minor: 500n, blocked: false },
      { id: 'blocked', currency: 'CNY', balance_minor: 1_000_000n, blocked: true },
    ],
    orderTtlMs: 60_000,
    ordersMax: 1_000,
    refundsMax: 1_000,
    onTransition: (transition) => transitions.push(transition),
  })
}

const order = (no: string, amount: bigint, fingerprint = 'f'): Parameters<OrderBook['create']>[0] => ({
  merchant_id: 'M',
  order_no: no,
  provider_order_id: `P${no}`,
  kind: 'netbank',
  amount_minor: amount,
  currency: 'CNY',
  subject: 's',
  notify_url: undefined,
  return_url: undefined,
  fingerprint,
})

describe('order book', () => {
  it('replays an identical creation and refuses the same number with another fingerprint', () => {
    const book = newBook()
    assert.equal(book.create(order('A', 100n)).outcome, 'created')
    assert.equal(book.create(order('A', 100n)).outcome, 'replayed')
    assert.equal(book.create(order('A', 100n, 'other')).outcome, 'order_no_reused')
  })

  it('pays from the payer to the merchant, refuses the poor and the blocked without moving money', () => {
    const book = newBook()
    book.create(order('A', 600n))
    assert.equal(book.pay('M', 'A', 'poor').outcome, 'insufficient_balance')
    assert.equal(book.pay('M', 'A', 'blocked').outcome, 'account_blocked')
    assert.equal(book.pay('M', 'A', 'nobody').outcome, 'account_unknown')
    assert.equal(book.pay('M', 'A', 'rich').outcome, 'paid')
    assert.equal(book.pay('M', 'A', 'rich').outcome, 'already_paid')
    assert.equal(book.account('rich')?.balance_minor, 999_400n)
    assert.equal(book.merchantBalance('M', 'CNY'), 600n)
  })

  it('expires an unpaid order when it is next looked at, and reports the transition', () => {
    const clock = new SimulatedClock()
    const transitions: Transition[] = []
    const book = newBook(clock, transitions)
    book.create(order('A', 100n))
    clock.advance(59_999)
    assert.equal(book.find('M', 'A')?.status, 'waiting')
    clock.advance(1)
    assert.equal(book.find('M', 'A')?.closed_by, 'expiry')
    assert.deepEqual(transitions.map((t) => [t.from, t.to]), [['waiting', 'closed']])
    assert.equal(book.pay('M', 'A', 'rich').outcome, 'expired')
  })

  it('lets a closed order be paid only when the close raced a payment', () => {
    const book = newBook()
    book.create(order('A', 100n))
    book.create(order('B', 100n))
    book.close('M', 'A')
    book.close('M', 'B', true)
    assert.equal(book.pay('M', 'A', 'rich').outcome, 'not_payable')
    assert.equal(book.pay('M', 'B', 'rich').outcome, 'paid')
  })

  it('keeps money conserved and refunds within the paid amount, whatever the sequence (model-based)', () => {
    const command = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), order: fc.nat(5), amount: fc.bigInt({ min: 1n, max: 2_000n }) }),
      fc.record({ kind: fc.constant('pay' as const), order: fc.nat(5), payer: fc.constantFrom('rich', 'poor', 'blocked') }),
      fc.record({ kind: fc.constant('close' as const), order: fc.nat(5), late: fc.boolean() }),
      fc.record({ kind: fc.constant('fail' as const), order: fc.nat(5) }),
      fc.record({ kind: fc.constant('refund' as const), order: fc.nat(5), refund: fc.nat(8), amount: fc.bigInt({ min: 1n, max: 1_500n }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(40_000) }),
    )
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const clock = new SimulatedClock()
        const transitions: Transition[] = []
        const book = newBook(clock, transitions)
        const total = book.totalMinor('CNY')
        const refundAmounts = new Map<string, bigint>()
        for (const step of commands) {
          const no = `O${'order' in step ? step.order : 0}`
          const exists = book.find('M', no) !== undefined
          switch (step.kind) {
            case 'create':
              book.create(order(no, step.amount, String(step.amount)))
              break
            case 'pay':
              if (exists) book.pay('M', no, step.payer)
              break
            case 'close':
              if (exists) book.close('M', no, step.late)
              break
            case 'fail':
              if (exists) book.fail('M', no, 'test')
              break
            case 'refund': {
              if (!exists) break
              const key = `${no}/R${step.refund}`
              const result = book.refund('M', no, { refund_key: key, refund_no: key, provider_refund_id: key, amount_minor: step.amount, fingerprint: String(step.amount) })
              if (result.outcome === 'refunded') refundAmounts.set(key, step.amount)
              if (result.outcome === 'replayed') assert.equal(refundAmounts.get(key), step.amount, 'a replay is the same refund')
              break
            }
            case 'advance':
              clock.advance(step.ms)
              break
          }
          book.assertConserved()
          assert.equal(book.totalMinor('CNY'), total)
        }
        for (const current of book.orderList()) {
          assert.ok(current.refunded_minor <= (current.status === 'paid' ? current.amount_minor : 0n), `${current.order_no} refunded beyond paid`)
          const refunded = [...refundAmounts].filter(([key]) => key.startsWith(`${current.order_no}/`)).reduce((sum, [, amount]) => sum + amount, 0n)
          assert.equal(current.refunded_minor, refunded)
        }
        for (const transition of transitions) assert.ok((orderTransitions[transition.from] as readonly OrderStatus[]).includes(transition.to))
      }),
      { numRuns: 200 },
    )
  })
})
