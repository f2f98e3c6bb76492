import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../../domain/assert.js'
import { bitmapOf, fieldNumbersIn, hasSecondaryBitmap } from './bitmap.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase()

describe('bitmaps', () => {
  // pyiso8583 tests/test_decode.py, test_primary_bitmap_decoding and test_secondary_bitmap_decoding.
  it('reads the pyiso8583 primary bitmap vector', () => {
    assert.deepEqual(fieldNumbersIn(Buffer.from('7010001102C04804', 'hex')), [2, 3, 4, 12, 28, 32, 39, 41, 42, 50, 53, 62])
  })

  it('reads the pyiso8583 secondary bitmap vector', () => {
    const bitmap = Buffer.from('F010001102C04804' + '7010001102C04804', 'hex')
    assert.ok(hasSecondaryBitmap(bitmap))
    assert.deepEqual(
      fieldNumbersIn(bitmap),
      [2, 3, 4, 12, 28, 32, 39, 41, 42, 50, 53, 62, 66, 67, 68, 76, 92, 96, 103, 105, 106, 114, 117, 126],
    )
  })

  it('writes only a primary bitmap while every field is 64 or below', () => {
    assert.equal(hex(bitmapOf([2, 3, 4])), '7000000000000000')
    assert.equal(hex(bitmapOf([64])), '0000000000000001')
    assert.equal(hex(bitmapOf([])), '0000000000000000')
  })

  it('sets bit 1 and writes a secondary bitmap when any field 65–128 is present', () => {
    assert.equal(hex(bitmapOf([65])), '8000000000000000' + '8000000000000000')
    assert.equal(hex(bitmapOf([3, 128])), 'A000000000000000' + '0000000000000001')
  })

  it('round-trips any set of data elements', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 2, max: 128 })), (fieldNumbers) => {
        const bitmap = bitmapOf(fieldNumbers)
        assert.equal(bitmap.length, fieldNumbers.some((fieldNumber) => fieldNumber > 64) ? 16 : 8)
        assert.equal(hasSecondaryBitmap(bitmap), bitmap.length === 16)
        assert.deepEqual(fieldNumbersIn(bitmap), [...fieldNumbers].sort((left, right) => left - right))
      }),
    )
  })

  it('treats field numbers outside 2–128 and odd bitmap sizes as programmer errors', () => {
    assert.throws(() => bitmapOf([1]), AssertionError)
    assert.throws(() => bitmapOf([129]), AssertionError)
    assert.throws(() => fieldNumbersIn(new Uint8Array(7)), AssertionError)
  })
})
