import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeMessage, type Iso8583Message } from '../iso8583/index.js'
import { computeMac, encodeWithMac, macFieldFor, macKeyFromHex, verifyMac } from './mac.js'

const key = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex')
const echo: Iso8583Message = { mti: '0800', fields: { 11: '000001', 41: 'TERM0001', 70: '301' } }

function signed(message: Iso8583Message): Buffer {
  const result = encodeWithMac(message, key)
  assert.ok(result.ok, result.ok ? '' : result.error.message)
  return result.value
}

function decoded(bytes: Buffer): Iso8583Message {
  const result = decodeMessage(bytes, { encoding: 'ascii' })
  assert.ok(result.ok, result.ok ? '' : result.error.message)
  return result.value
}

describe('terminal MAC', () => {
  it('is the first 8 bytes of HMAC-SHA256 over every byte before the MAC field, bit 64 set', () => {
    const bytes = signed(echo)
    // MTI, primary bitmap (bits 11, 41, 64; a secondary bitmap because of 70: bit 1 too), fields…
    const text = bytes.toString('latin1')
    assert.equal(text.slice(0, 4), '0800')
    const macData = text.slice(0, -16)
    const expected = createHmac('sha256', key).update(macData, 'latin1').digest().subarray(0, 8).toString('hex').toUpperCase()
    assert.equal(text.slice(-16), expected)
    assert.equal(decoded(bytes).fields[128], expected, 'field 70 needs a secondary bitmap, so the MAC is field 128')
  })

  it('goes in field 64 without a secondary bitmap, and the MACed bytes are exactly those before it', () => {
    const message: Iso8583Message = { mti: '0200', fields: { 3: '000000', 4: '000000002500', 11: '000042', 41: 'TERM0001', 49: '156' } }
    const bytes = signed(message)
    assert.equal(bytes.toString('latin1').slice(0, 20), '0200' + '3020000000808001', 'bits 3, 4, 11, 41, 49 and 64')
    assert.equal(decoded(bytes).fields[64], computeMac(key, bytes.subarray(0, bytes.length - 16)))
    assert.equal(macFieldFor(message.fields), 64)
    assert.equal(macFieldFor({ ...message.fields, 90: '0'.repeat(42) }), 128)
  })

  it('verifies what it signed, and nothing else', () => {
    const bytes = signed(echo)
    assert.equal(verifyMac(bytes, decoded(bytes), key), undefined)
    assert.equal(verifyMac(bytes, decoded(bytes), Buffer.alloc(32, 7)), 'mac_mismatch', 'another key')
    const unsigned = { mti: '0800', fields: { 11: '000001', 41: 'TERM0001' } }
    const plain = Buffer.from('08000020000000800000000001TERM0001', 'latin1')
    assert.equal(verifyMac(plain, unsigned, key), 'mac_missing')
    const both = signed({ mti: '0200', fields: { 11: '000001', 41: 'TERM0001', 64: 'AAAAAAAAAAAAAAAA', 90: '0'.repeat(42) } })
    assert.equal(decoded(both).fields[64], undefined, 'a MAC given in the wrong field is replaced')
  })

  it('changes with any byte of the message (property)', () => {
    const bytes = signed({ mti: '0200', fields: { 2: '6220010000000018', 3: '000000', 4: '000000002500', 11: '000042', 41: 'TERM0001', 49: '156' } })
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 17 }), fc.integer({ min: 1, max: 255 }), (index, flip) => {
        const tampered = Buffer.from(bytes)
        tampered[index] = (tampered[index] ?? 0) ^ flip
        const result = decodeMessage(tampered, { encoding: 'ascii' })
        // Either it no longer decodes, or it decodes to a message whose MAC does not verify.
        return !result.ok || result.value.fields[64] === undefined || verifyMac(tampered, result.value, key) !== undefined
      }),
    )
  })

  it('takes keys of 16 to 64 bytes as hex', () => {
    assert.equal(macKeyFromHex('00'.repeat(32))?.length, 32)
    assert.equal(macKeyFromHex('00'.repeat(15)), undefined)
    assert.equal(macKeyFromHex('zz'.repeat(32)), undefined)
  })
})
