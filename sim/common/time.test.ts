import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { luhnCheckDigit, maskAccountNumber, maskPhone } from './mask.js'
import { beijingCompact, beijingDate, beijingDateTime, parseBeijingDateTime, rfc3339Beijing } from './time.js'

describe('provider dates and masks', () => {
  it('writes Beijing time (UTC+8) in each layout and reads one back', () => {
    const ms = Date.UTC(2026, 11, 31, 16, 30, 5)
    assert.equal(beijingCompact(ms), '20270101003005')
    assert.equal(beijingDateTime(ms), '2027-01-01 00:30:05')
    assert.equal(rfc3339Beijing(ms), '2027-01-01T00:30:05+08:00')
    assert.equal(beijingDate(ms), '20270101')
    assert.equal(parseBeijingDateTime('2027-01-01 00:30:05'), ms)
    assert.equal(parseBeijingDateTime('2027-02-30 00:00:00'), undefined)
    assert.equal(parseBeijingDateTime('2027-01-01T00:30:05'), undefined)
  })

  it('masks account numbers and phones', () => {
    assert.equal(maskAccountNumber('6222021000000000018'), '622202*********0018')
    assert.equal(maskAccountNumber('12345678'), '****5678')
    assert.equal(maskPhone('13800000001'), '138****0001')
  })

  it('computes Luhn check digits', () => {
    assert.equal(luhnCheckDigit('7992739871'), '3')
    assert.equal(luhnCheckDigit('4992739871'), '6')
  })
})
