import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { seededRandom } from '../scheme/random.js'
import { QuickPayState } from './quickpay.js'

function state(clock = new SimulatedClock()): QuickPayState {
  return new QuickPayState({ clock, random: seededRandom(3), smsCodeTtlMs: 300_000, smsAttemptsMax: 3, entriesMax: 100 })
}

describe('quick pay state', () => {
  it('sends six-digit codes from the seed, the same on every run', () => {
    const first = state().requestBinding('M', 'alice', '13800000001', 'ICBC')
    const second = state().requestBinding('M', 'alice', '13800000001', 'ICBC')
    assert.match(first?.code ?? '', /^\d{6}$/)
    assert.equal(first?.code, second?.code)
  })

  it('binds with the right code, counting wrong ones, and reuses an active binding of the same account', () => {
    const quickpay = state()
    const request = quickpay.requestBinding('M', 'alice', '13800000001', 'ICBC')
    assert.ok(request !== undefined)
    const wrong = request.code === '000000' ? '111111' : '000000'
    assert.deepEqual(quickpay.confirmBinding(request, wrong), { outcome: 'wrong', tries_left: 2 })
    const bound = quickpay.confirmBinding(request, request.code)
    assert.equal(bound.outcome, 'right')
    const again = quickpay.requestBinding('M', 'alice', '13800000001', 'ICBC')
    assert.ok(again !== undefined)
    assert.equal(quickpay.confirmBinding(again, again.code).binding?.binding_id, bound.binding?.binding_id)
    assert.equal(quickpay.binding('OTHER', bound.binding?.binding_id ?? ''), undefined, 'a binding belongs to its merchant')
  })

  it('fails after the last wrong code and when the code has expired', () => {
    const clock = new SimulatedClock()
    const quickpay = state(clock)
    const request = quickpay.requestBinding('M', 'bob', '13800000002', 'ICBC')
    assert.ok(request !== undefined)
    const wrong = request.code === '000000' ? '111111' : '000000'
    quickpay.confirmBinding(request, wrong)
    quickpay.confirmBinding(request, wrong)
    assert.deepEqual(quickpay.confirmBinding(request, wrong), { outcome: 'attempts_exceeded' })
    assert.equal(request.status, 'failed')

    quickpay.challenge('M\nA', '13800000002', 'ICBC1')
    const code = quickpay.lastMessage('13800000002')?.code ?? ''
    clock.advance(300_000)
    assert.deepEqual(quickpay.checkPayment('M\nA', code), { outcome: 'expired' })
  })

  it('keeps the last ten messages per phone', () => {
    const quickpay = state()
    for (let i = 0; i < 12; i++) quickpay.challenge(`M\n${i}`, '13800000001', `R${i}`)
    assert.equal(quickpay.lastMessage('13800000001')?.reference, 'R11')
  })
})
