import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../../domain/assert.js'
import { luhnCheckDigit, luhnValid, maskPan, maskTrack2 } from './pan.js'

describe('maskPan', () => {
  it('shows the first 6 and last 4 digits', () => {
    assert.equal(maskPan('6212345678901234'), '621234******1234')
    assert.equal(maskPan('6212345678901234567'), '621234*********4567')
    assert.equal(maskPan('4111111111111'), '411111***1111')
  })

  it('masks strings too short to be a PAN completely', () => {
    assert.equal(maskPan('123456789012'), '************')
    assert.equal(maskPan('1234'), '****')
    assert.equal(maskPan(''), '')
  })

  it('keeps the length and never shows more than 10 characters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{0,19}$/), (pan) => {
        const masked = maskPan(pan)
        assert.equal(masked.length, pan.length)
        assert.ok(masked.replaceAll('*', '').length <= 10)
      }),
    )
  })
})

describe('maskTrack2', () => {
  it('masks the PAN and the discretionary data, keeping expiry and service code', () => {
    assert.equal(maskTrack2('6212345678901234=25122011234567890'), '621234******1234=2512201**********')
    assert.equal(maskTrack2('4761739001010119D22122011758928889'), '476173******0119D2212201**********')
  })

  it('treats a value without separator as a PAN', () => {
    assert.equal(maskTrack2('6212345678901234'), '621234******1234')
  })
})

describe('Luhn', () => {
  it('knows the classic examples', () => {
    assert.equal(luhnCheckDigit('7992739871'), '3')
    assert.ok(luhnValid('79927398713'))
    assert.ok(luhnValid('4242424242424242'))
    assert.ok(luhnValid('378282246310005'))
    assert.ok(!luhnValid('4242424242424241'))
  })

  it('refuses non-digits and single digits', () => {
    assert.ok(!luhnValid('4242 4242 4242 4242'))
    assert.ok(!luhnValid('0'))
    assert.ok(!luhnValid(''))
  })

  it('appending the check digit always makes a valid number, and changing any one digit breaks it', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,18}$/), fc.nat(), fc.integer({ min: 1, max: 9 }), (partial, positionSeed, delta) => {
        const pan = partial + luhnCheckDigit(partial)
        assert.ok(luhnValid(pan))
        const position = positionSeed % pan.length
        const changed = pan.slice(0, position) + String((Number(pan[position]) + delta) % 10) + pan.slice(position + 1)
        assert.ok(!luhnValid(changed))
      }),
    )
  })

  it('treats a non-digit partial number as a programmer error', () => {
    assert.throws(() => luhnCheckDigit('12a'), AssertionError)
    assert.throws(() => luhnCheckDigit(''), AssertionError)
  })
})
