import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AssertionError } from '../../domain/assert.js'
import { SimulatedClock } from '../../domain/clock.js'
import { originalDataElements, parseOriginalDataElements, retrievalReferenceNumber, StanSequence, transmissionDateTime } from './trace.js'

describe('StanSequence', () => {
  it('counts up from 000001', () => {
    const stans = new StanSequence({ clock: new SimulatedClock() })
    assert.deepEqual([stans.next(), stans.next(), stans.next()], ['000001', '000002', '000003'])
  })

  it('starts again at 000001 on a new UTC day', () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1, 23, 59, 59))
    const stans = new StanSequence({ clock, first: 500 })
    assert.equal(stans.next(), '000500')
    clock.advance(1_000)
    assert.equal(stans.next(), '000001')
  })

  it('rolls over after 999999, skipping STANs still in flight, and counts it', () => {
    const stans = new StanSequence({ clock: new SimulatedClock(), first: 999_999 })
    assert.equal(stans.next(), '999999')
    assert.equal(stans.next((stan) => stan === '000001' || stan === '000002'), '000003')
    assert.equal(stans.rolloverCount, 1)
  })

  it('asserts a first STAN in range', () => {
    assert.throws(() => new StanSequence({ clock: new SimulatedClock(), first: 0 }), AssertionError)
    assert.throws(() => new StanSequence({ clock: new SimulatedClock(), first: 1_000_000 }), AssertionError)
  })
})

describe('RRN, transmission time and original data elements', () => {
  it('builds the RRN from the julian date, the hour and the STAN (UTC)', () => {
    assert.equal(retrievalReferenceNumber(Date.UTC(2026, 0, 1, 13), '000042'), '600113000042')
    assert.equal(retrievalReferenceNumber(Date.UTC(2024, 11, 31, 0, 30), '123456'), '436600123456') // leap year: day 366
    assert.equal(retrievalReferenceNumber(Date.UTC(2026, 0, 1, 13), '000042').length, 12)
  })

  it('writes field 7 as MMDDhhmmss in UTC', () => {
    assert.equal(transmissionDateTime(Date.UTC(2026, 0, 1, 13, 5, 9)), '0101130509')
    assert.equal(transmissionDateTime(Date.UTC(2026, 11, 31, 23, 59, 59)), '1231235959')
  })

  it('points at an original with field 90 and reads it back', () => {
    const field90 = originalDataElements({ mti: '0100', fields: { 7: '0101130509', 11: '000042', 32: '12345678' } })
    assert.equal(field90, '0100000042010113050900012345678' + '00000000000')
    assert.equal(field90.length, 42)
    assert.deepEqual(parseOriginalDataElements(field90), {
      mti: '0100', stan: '000042', transmissionDateTime: '0101130509', acquirerId: '00012345678', forwarderId: '00000000000',
    })
    assert.equal(parseOriginalDataElements('123'), undefined)
    assert.equal(parseOriginalDataElements(undefined), undefined)
  })

  it('asserts the original carries its STAN and transmission time', () => {
    assert.throws(() => originalDataElements({ mti: '0100', fields: { 7: '0101130509' } }), AssertionError)
    assert.throws(() => originalDataElements({ mti: '0100', fields: { 11: '000001' } }), AssertionError)
  })
})
