import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeCpm, encodeCpm, type CpmFields, type CpmTemplate } from './cpm.js'
import { decodeQr } from './index.js'

/** The EMVCo CPM specification's example, as mvallim/emv-qrcode's DecoderCpmTest carries it. */
const specificationExample =
  'hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw=='

describe('decodeCpm', () => {
  it('reads the application templates as a list and nested templates as objects, multi-byte tags included', () => {
    const result = decodeCpm(specificationExample, { strict: true })
    assert.deepEqual(result.errors, [])
    assert.equal(result.valid, true)
    assert.equal(result.mode, 'cpm')
    assert.deepEqual(result.fields, {
      '85': 'CPV01',
      '61': [
        { '4F': 'A0000000555555', '50': 'Product1' },
        { '4F': 'A0000000666666', '50': 'Product2' },
      ],
      '62': {
        '5A': '1234567890123458',
        '5F20': 'CARDHOLDER/EMV',
        '5F2D': 'ruesdeen',
        '64': { '9F10': '06010A03000000', '9F26': '584FD385FA234BCC', '9F36': '0001', '9F37': '6D58EF13' },
      },
    })
  })

  it('is what decodeQr answers for base64 beginning with tag 85', () => {
    assert.equal(decodeQr(specificationExample).mode, 'cpm')
    assert.deepEqual(decodeQr(specificationExample), decodeCpm(specificationExample))
  })

  it('reads two-byte long-form lengths (0x82) and three-byte tags', () => {
    const value = 'AB'.repeat(300)
    const hex =
      '8505' + Buffer.from('CPV01').toString('hex') + '610D4F07A00000005555555A021234' + '62' + '820135' + '64' + '820131' + '9F7C' + '82012C' + value
    const result = decodeCpm(Buffer.from(hex, 'hex').toString('base64'))
    assert.deepEqual(result.errors, [])
    assert.deepEqual(result.fields['62'], { '64': { '9F7C': value } })
    const threeByteTag = '8505' + Buffer.from('CPV01').toString('hex') + '610D4F07A00000005555555A021234' + '5F81010112'
    assert.deepEqual(decodeCpm(Buffer.from(threeByteTag, 'hex').toString('base64')).fields['5F8101'], '12')
  })
})

describe('encodeCpm', () => {
  it('reproduces published payloads byte for byte from their decoded fields', () => {
    for (const payload of [specificationExample, 'hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=']) {
      const result = encodeCpm(decodeCpm(payload).fields)
      assert.ok(result.ok, JSON.stringify(result))
      assert.equal(result.payload, payload)
    }
  })

  it('puts 85 first whatever order the fields come in', () => {
    const result = encodeCpm({ '62': { '5A': '1234' }, '61': [{ '4F': 'A0000000555555' }], '85': 'CPV01' })
    assert.ok(result.ok)
    assert.ok(result.payload.startsWith('hQVDUFYwM'))
  })
})

const hexBytes = (minLength: number, maxLength: number) =>
  fc.uint8Array({ minLength, maxLength }).map((bytes) => Buffer.from(bytes).toString('hex').toUpperCase())
const printable = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength, maxLength })
const panDigits = fc.integer({ min: 1, max: 10 }).chain((bytes) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: bytes * 2, maxLength: bytes * 2 }))

function optional(entries: Record<string, fc.Arbitrary<string | CpmTemplate>>): fc.Arbitrary<CpmTemplate> {
  return fc.record(entries, { requiredKeys: [], noNullPrototype: true }) as fc.Arbitrary<CpmTemplate>
}

const applicationTemplate = fc
  .tuple(
    hexBytes(5, 16),
    optional({
      '50': printable(1, 16),
      '57': hexBytes(1, 19),
      '9F08': hexBytes(2, 2),
      '9F19': hexBytes(6, 6),
      '9F25': hexBytes(2, 2),
      '63': optional({ '9F26': hexBytes(8, 8), '9F27': hexBytes(1, 1), '9F36': hexBytes(2, 2), '9F37': hexBytes(4, 4) }),
    }),
  )
  .map(([adfName, rest]): CpmTemplate => ({ ...rest, '4F': adfName }))

const validCpmFields: fc.Arbitrary<CpmFields> = fc
  .record({
    applications: fc.array(applicationTemplate, { minLength: 1, maxLength: 3 }),
    pan: panDigits,
    common: fc.option(
      optional({
        '5F20': printable(2, 26),
        '5F2D': printable(2, 8),
        '5F50': printable(1, 40),
        '9F24': printable(29, 29),
        '64': optional({ '9F10': hexBytes(1, 32), '9F7C': hexBytes(0, 300) }),
      }),
    ),
  })
  .map(({ applications, pan, common }) => {
    const [first, ...others] = applications
    const fields: CpmFields = { '85': 'CPV01', '61': [{ ...first, '5A': pan }, ...others] }
    if (common !== null) fields['62'] = common
    return fields
  })

describe('CPM round trip', () => {
  it('any fields that keep the rules: encode → decode (strict) gives the same fields', () => {
    fc.assert(
      fc.property(validCpmFields, (fields) => {
        const encoded = encodeCpm(fields, { strict: true })
        assert.ok(encoded.ok, JSON.stringify(encoded))
        const decoded = decodeCpm(encoded.payload, { strict: true })
        assert.deepEqual(decoded.errors, [])
        assert.deepEqual(decoded.warnings, [])
        assert.deepEqual(decoded.fields, fields)
      }),
      { numRuns: 200 },
    )
  })

  it('decoding never throws, whatever the base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const withIndicator = Buffer.concat([Buffer.from('8505435056303161', 'hex'), Buffer.from(bytes)])
        for (const payload of [Buffer.from(bytes).toString('base64'), withIndicator.toString('base64')]) {
          const result = decodeCpm(payload)
          assert.equal(result.valid, result.errors.length === 0)
        }
      }),
      { numRuns: 500 },
    )
  })
})
