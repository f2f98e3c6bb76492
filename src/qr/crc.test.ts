import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { crc16CcittFalse, crc16Hex } from './crc.js'

/** The textbook bit-by-bit CRC-16/CCITT-FALSE, to check the table-driven one against. */
function referenceCrc(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

describe('CRC-16/CCITT-FALSE', () => {
  it('gives the catalogue check value 29B1 for "123456789"', () => {
    assert.equal(crc16Hex('123456789'), '29B1')
    assert.equal(crc16CcittFalse(new TextEncoder().encode('123456789')), 0x29b1)
  })

  it('is FFFF (the initial value) for no input', () => {
    assert.equal(crc16Hex(''), 'FFFF')
  })

  it('matches the published CRC of an EMVCo payload whose language template is Chinese (UTF-8 bytes)', () => {
    const covered =
      '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304'
    assert.equal(crc16Hex(covered), 'A13A')
  })

  it('agrees with the bitwise reference on any text, ASCII or not', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const expected = referenceCrc(new TextEncoder().encode(text)).toString(16).toUpperCase().padStart(4, '0')
        assert.equal(crc16Hex(text), expected)
      }),
    )
  })
})
