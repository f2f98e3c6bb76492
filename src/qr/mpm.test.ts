import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { crc16Hex } from './crc.js'
import { decodeMpm, encodeMpm } from './mpm.js'
import { encodableMpmFields, validMpmFields } from './mpm-arbitraries.js'
import type { MpmFields } from './mpm-types.js'

const promptPay = '00020101021129370016A000000677010111011300668012345675802TH530376463046197'

/** Replaces the CRC with the right one for whatever precedes it. */
function withCrc(payloadWithoutCrcValue: string): string {
  return payloadWithoutCrcValue + crc16Hex(payloadWithoutCrcValue)
}

function codes(issues: readonly { id: string; code: string }[]): string[] {
  return issues.map((found) => `${found.id}:${found.code}`)
}

describe('decodeMpm', () => {
  it('reads every data object, templates as objects of their sub-IDs', () => {
    const result = decodeMpm(promptPay)
    assert.equal(result.valid, true)
    assert.equal(result.mode, 'mpm')
    assert.deepEqual(result.fields, {
      '00': '01',
      '01': '11',
      '29': { '00': 'A000000677010111', '01': '0066801234567' },
      '58': 'TH',
      '53': '764',
      '63': '6197',
    })
  })

  it('is valid by default when only rules are broken, and invalid in strict mode', () => {
    const lenient = decodeMpm(promptPay)
    assert.equal(lenient.valid, true)
    assert.deepEqual(lenient.errors, [])
    assert.deepEqual(codes(lenient.warnings), ['52:mandatory_missing', '59:mandatory_missing', '60:mandatory_missing'])
    const strict = decodeMpm(promptPay, { strict: true })
    assert.equal(strict.valid, false)
    assert.deepEqual(codes(strict.errors), ['52:mandatory_missing', '59:mandatory_missing', '60:mandatory_missing'])
    assert.deepEqual(strict.warnings, [])
  })

  it('counts lengths in characters, also outside the Basic Multilingual Plane', () => {
    // "😀商店" is three characters but four UTF-16 units; its length field must say 03.
    const language = '0002zh' + '0103😀商店'
    const payload = withCrc('000201' + '0204M001' + '52045411' + '5303156' + '5802CN' + '5904SHOP' + '6004CITY' + '6413' + language + '6304')
    const result = decodeMpm(payload, { strict: true })
    assert.deepEqual(result.errors, [])
    assert.deepEqual(result.fields['64'], { '00': 'zh', '01': '😀商店' })
  })

  it('accepts a right CRC written in lowercase hex, with a warning', () => {
    const pix =
      '00020126510014br.gov.bcb.pix0115thalesog@me.com0210Pedido 123520400005303986540510.005802BR5914THALES OGLIARI6015SAO MIGUEL DO O62070503***63040DC6'
    const result = decodeMpm(pix.slice(0, -4) + '0dc6')
    assert.equal(result.valid, true)
    assert.ok(codes(result.warnings).includes('63:format_invalid'))
  })
})

describe('tampered payloads', () => {
  const base = encodeMpm({
    '00': '01',
    '01': '12',
    '26': { '00': 'com.kassa.cod', '01': 'M000123' },
    '52': '5399',
    '53': '156',
    '54': '23.72',
    '58': 'CN',
    '59': 'KASSA MARKET',
    '60': 'BEIJING',
    '62': { '05': 'PCL-000042' },
  })
  assert.ok(base.ok)
  const payload = base.payload

  it('a wrong CRC is an error', () => {
    const tampered = payload.slice(0, -4) + (payload.endsWith('0000') ? '1111' : '0000')
    const result = decodeMpm(tampered)
    assert.equal(result.valid, false)
    assert.deepEqual(codes(result.errors), ['63:crc_mismatch'])
  })

  it('an edited amount is caught by the CRC', () => {
    const tampered = payload.replace('540523.72', '540513.72')
    assert.deepEqual(codes(decodeMpm(tampered).errors), ['63:crc_mismatch'])
  })

  it('an edited amount with the CRC recomputed decodes valid: the CRC is no signature, the server must check the amount', () => {
    const forged = withCrc(payload.replace('540523.72', '540501.00').slice(0, -4))
    const result = decodeMpm(forged, { strict: true })
    assert.equal(result.valid, true)
    assert.equal(result.fields['54'], '01.00')
  })

  it('a length running past the end is an error naming the object', () => {
    // Cut inside the additional data template (62) and its CRC.
    const result = decodeMpm(payload.slice(0, -10))
    assert.deepEqual(codes(result.errors), ['62:length_past_end'])
    assert.equal(result.valid, false)
  })

  it('63 not last is an error', () => {
    const result = decodeMpm(payload + '610510000')
    assert.deepEqual(codes(result.errors), ['63:misplaced_id'])
  })

  it('a duplicate ID is an error', () => {
    const body = payload.slice(0, -8) + '5802CN6304'
    const result = decodeMpm(withCrc(body))
    assert.deepEqual(codes(result.errors), ['58:duplicate_id'])
    assert.equal(result.fields['58'], 'CN')
  })
})

describe('encodeMpm', () => {
  it('orders data objects by ID with 00 first and the CRC last, and ignores a given 63', () => {
    const result = encodeMpm({
      '60': 'BEIJING',
      '63': 'FFFF',
      '59': 'KASSA',
      '26': { '01': 'M1', '00': 'com.kassa' },
      '01': '11',
      '00': '01',
      '58': 'CN',
      '53': '156',
      '52': '5399',
    })
    assert.ok(result.ok)
    assert.equal(
      result.payload,
      withCrc('000201010211' + '26190009com.kassa0102M1' + '52045399' + '5303156' + '5802CN' + '5905KASSA' + '6007BEIJING' + '6304'),
    )
  })

  it('re-encodes decoded fields into a payload with the same fields', () => {
    const decoded = decodeMpm(promptPay)
    const reordered: MpmFields = { ...decoded.fields }
    const result = encodeMpm(reordered)
    assert.ok(result.ok)
    // PromptPay writes 58 before 53; ID order puts 53 first, so the CRC changes and the fields stay.
    assert.deepEqual(decodeMpm(result.payload).fields, { ...decoded.fields, '63': result.payload.slice(-4) })
  })

  it('in strict mode refuses what the default mode only warns about', () => {
    const fields: MpmFields = { '00': '01', '26': { '00': 'com.kassa' }, '52': '0000', '53': '156', '58': 'CN', '59': 'KASSA', '60': 'BEIJING' }
    const lenient = encodeMpm(fields)
    assert.ok(lenient.ok)
    assert.deepEqual(codes(lenient.warnings), ['52:value_invalid'])
    const strict = encodeMpm(fields, { strict: true })
    assert.equal(strict.ok, false)
    assert.deepEqual(codes(strict.ok ? [] : strict.errors), ['52:value_invalid'])
  })
})

describe('round trips', () => {
  it('any fields that keep the rules: encode → decode (strict) gives the same fields and a correct CRC', () => {
    fc.assert(
      fc.property(validMpmFields(), (fields) => {
        const encoded = encodeMpm(fields, { strict: true })
        assert.ok(encoded.ok, JSON.stringify(encoded))
        assert.deepEqual(encoded.warnings, [])
        const decoded = decodeMpm(encoded.payload, { strict: true })
        assert.deepEqual(decoded.errors, [])
        assert.deepEqual(decoded.warnings, [])
        assert.equal(decoded.valid, true)
        assert.deepEqual(decoded.fields, { ...fields, '63': crc16Hex(encoded.payload.slice(0, -4)) })
      }),
      { numRuns: 300 },
    )
  })

  it('any encodable fields, rules kept or not: encode → decode gives the same fields, valid by default', () => {
    fc.assert(
      fc.property(encodableMpmFields(), (fields) => {
        const encoded = encodeMpm(fields)
        assert.ok(encoded.ok, JSON.stringify(encoded))
        const decoded = decodeMpm(encoded.payload)
        assert.deepEqual(decoded.errors, [])
        assert.equal(decoded.valid, true)
        assert.deepEqual(decoded.fields, { ...fields, '63': crc16Hex(encoded.payload.slice(0, -4)) })
      }),
      { numRuns: 300 },
    )
  })

  it('decoding never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '6', '3', '4', 'A'), maxLength: 120 })), (text) => {
        const result = decodeMpm(text)
        assert.equal(result.valid, result.errors.length === 0)
      }),
      { numRuns: 500 },
    )
  })
})
