import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../scheme/random.js'
import { FaultBook } from './faults.js'

describe('fault knobs', () => {
  it('picks the first matching rule, by action, order and status, until timesMax', () => {
    const faults = new FaultBook(
      [
        { action: 'notify_drop', order_no: 'A', status: 'paid', timesMax: 1 },
        { action: 'notify_delay', delayMs: 10 },
        { action: 'query_hang', order_no: 'B', delayMs: 100 },
        { action: 'server_error', operation: 'refund' },
        { action: 'pay_after_close', order_no: 'C' },
      ],
      seededRandom(1),
    )
    assert.equal(faults.notification('A', 'closed')?.action, 'notify_delay', 'status filter')
    assert.equal(faults.notification('A', 'paid')?.action, 'notify_drop')
    assert.equal(faults.notification('A', 'paid')?.action, 'notify_delay', 'timesMax 1 used up')
    assert.equal(faults.queryHang('A'), undefined)
    assert.equal(faults.queryHang('B')?.delayMs, 100)
    assert.equal(faults.serverError('create', 'A'), undefined)
    assert.equal(faults.serverError('refund', 'A')?.action, 'server_error')
    assert.equal(faults.payAfterClose('A'), false)
    assert.equal(faults.payAfterClose('C'), true)
  })

  it('draws ratios from the seed: the same seed, the same picks', () => {
    const picks = (seed: number): boolean[] => {
      const faults = new FaultBook([{ action: 'notify_drop', ratio: 0.3 }], seededRandom(seed))
      return Array.from({ length: 50 }, (_, i) => faults.notification(`O${i}`, 'paid') !== undefined)
    }
    assert.deepEqual(picks(7), picks(7))
    const count = picks(7).filter(Boolean).length
    assert.ok(count > 5 && count < 30, `about 30 % picked: ${count}`)
  })

  it('refuses rules outside their bounds', () => {
    assert.throws(() => new FaultBook([{ action: 'notify_drop', ratio: 1.5 }], seededRandom(1)))
    assert.throws(() => new FaultBook([{ action: 'notify_delay', delayMs: 60_001 }], seededRandom(1)))
    assert.throws(() => new FaultBook([{ action: 'query_hang', delayMs: 10, timesMax: 0 }], seededRandom(1)))
  })
})
