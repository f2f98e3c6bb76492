import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../../domain/assert.js'
import { decodeTlv, encodeTlv, tlvValue } from './emv-tlv.js'

describe('EMV TLV', () => {
  it('encodes one- and two-byte tags with short lengths', () => {
    assert.equal(encodeTlv([{ tag: '9F36', value: '0001' }, { tag: '5F2A', value: '0156' }, { tag: '82', value: '' }]), '9F360200015F2A020156' + '8200')
  })

  it('uses the 0x81 and 0x82 length forms for 128 bytes and more', () => {
    assert.equal(encodeTlv([{ tag: '9F10', value: 'AB'.repeat(128) }]).slice(0, 8), '9F108180')
    assert.equal(encodeTlv([{ tag: '9F10', value: 'AB'.repeat(300) }]).slice(0, 10), '9F1082012C')
  })

  it('decodes what it encodes, and reads a value by tag', () => {
    const items = [{ tag: '9F02', value: '000000010000' }, { tag: '9F26', value: '0123456789ABCDEF' }]
    const decoded = decodeTlv(encodeTlv(items))
    assert.deepEqual(decoded, { ok: true, value: items })
    assert.equal(decoded.ok && tlvValue(decoded.value, '9f26'), '0123456789ABCDEF')
    assert.equal(decoded.ok && tlvValue(decoded.value, '9F36'), undefined)
  })

  it('reads a real contactless field 55 (tags from an EMV kernel trace)', () => {
    const field55 = '9F2608C2A9E6D1B4F3A5179F2701809F100706010A03A000009F3704B6E2A1C99F36020023950500000000009A032601019C01009F02060000000100005F2A020156820200209F1A0201569F03060000000000009F3303E0F8C8'
    const decoded = decodeTlv(field55)
    assert.ok(decoded.ok)
    assert.deepEqual(decoded.value.map((item) => item.tag), ['9F26', '9F27', '9F10', '9F37', '9F36', '95', '9A', '9C', '9F02', '5F2A', '82', '9F1A', '9F03', '9F33'])
    assert.equal(tlvValue(decoded.value, '9F36'), '0023')
    assert.equal(tlvValue(decoded.value, '9F02'), '000000010000')
  })

  it('names what is malformed', () => {
    assert.deepEqual(decodeTlv('9F3602000'), { ok: false, error: 'TLV data is not an even number of hex characters' })
    assert.deepEqual(decodeTlv('9F360300'), { ok: false, error: 'TLV 9F36: 3 bytes announced, 1 present' })
    assert.deepEqual(decodeTlv('9F'), { ok: false, error: 'TLV tag at byte 0 is truncated or longer than 3 bytes' })
    assert.deepEqual(decodeTlv('9F36'), { ok: false, error: 'TLV 9F36: no length' })
    assert.deepEqual(decodeTlv('9F3683000001'), { ok: false, error: 'TLV 9F36: length form 0x83 is not supported' })
  })

  it('asserts well-formed tags and hex values when encoding', () => {
    assert.throws(() => encodeTlv([{ tag: '9F', value: '00' }]), AssertionError)
    assert.throws(() => encodeTlv([{ tag: '5A', value: 'XYZ' }]), AssertionError)
  })

  it('round-trips arbitrary items', () => {
    const tag = fc.oneof(
      fc.integer({ min: 0, max: 0xff }).filter((byte) => (byte & 0x1f) !== 0x1f).map((byte) => byte.toString(16).padStart(2, '0').toUpperCase()),
      fc.integer({ min: 0, max: 0x7f }).map((second) => `9F${second.toString(16).padStart(2, '0').toUpperCase()}`),
    )
    const value = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('hex').toUpperCase())
    fc.assert(
      fc.property(fc.array(fc.tuple(tag, value).map(([t, v]) => ({ tag: t, value: v })), { maxLength: 3 }), (items) => {
        assert.deepEqual(decodeTlv(encodeTlv(items)), { ok: true, value: items })
      }),
    )
  })
})
