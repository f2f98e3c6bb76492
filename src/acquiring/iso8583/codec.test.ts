import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeMessage, encodeMessage, type Iso8583CodecOptions, type Iso8583Fields, type Iso8583Message } from './codec.js'
import { encodingNames, encodings, type Iso8583Encoding, type Iso8583EncodingName } from './encodings.js'
import type { Iso8583ErrorCode } from './errors.js'
import { defineMessageSpec, fixed, iso8583Spec1987, lllvar, llvar, type FieldSpec, type MessageSpec } from './spec.js'

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex')

function decoded(bytes: Uint8Array, options: Iso8583CodecOptions = {}): Iso8583Message {
  const result = decodeMessage(bytes, options)
  if (!result.ok) assert.fail(`expected a message, got ${result.error.message}`)
  return result.value
}

function encoded(message: Iso8583Message, options: Iso8583CodecOptions = {}): Buffer {
  const result = encodeMessage(message, options)
  if (!result.ok) assert.fail(`expected bytes, got ${result.error.message}`)
  return result.value
}

function assertFails(
  result: ReturnType<typeof decodeMessage> | ReturnType<typeof encodeMessage>,
  expected: { code: Iso8583ErrorCode; field: number; message: string },
): void {
  if (result.ok) assert.fail(`expected "${expected.message}", got a result`)
  assert.deepEqual({ code: result.error.code, field: result.error.field, message: result.error.message }, expected)
}

// -----------------------------------------------------------------------------------------------
// Published vectors: each decodes to the fields its source states.
// -----------------------------------------------------------------------------------------------

describe('published vectors', () => {
  it('moov-io/iso8583 README and message_test.go: a 0100 with fields 2, 3, 4 (ascii)', () => {
    const bytes = latin1('01007000000000000000164242424242424242123456000000000100')
    const message = { mti: '0100', fields: { 2: '4242424242424242', 3: '123456', 4: '000000000100' } }
    assert.deepEqual(decoded(bytes), message)
    assert.deepEqual(encoded(message), bytes)
  })

  it('pyiso8583 README: decodes a 0200 with field 2 and encodes the 0210 answer with field 39 (ascii)', () => {
    assert.deepEqual(decoded(latin1('02004000000000000000101234567890')), { mti: '0200', fields: { 2: '1234567890' } })
    assert.deepEqual(encoded({ mti: '0210', fields: { 39: '05' } }), latin1('0210000000000200000005'))
  })

  it('pyiso8583 docs/howto.rst: secondary bitmap generated for field 102 and read back with field 21', () => {
    assert.deepEqual(encoded({ mti: '0200', fields: { 102: '111111' } }), latin1('02008000000000000000000000000400000006111111'))
    assert.deepEqual(decoded(latin1('02008000080000000000000000000400000005106111111')), {
      mti: '0200',
      fields: { 21: '051', 102: '111111' },
    })
    assert.deepEqual(encoded({ mti: '0200', fields: { 21: '051' } }), latin1('02000000080000000000051'))
  })

  it('pyiso8583 docs/howto.rst: refuses "cardholder PAN" in field 2, which pyiso8583 accepts but 1987 types as n..19', () => {
    assertFails(decodeMessage(latin1('0200600008000000000014cardholder PAN111111021')), {
      code: 'value_invalid',
      field: 2,
      message: 'field 2: type n takes digits 0-9; found "c" at position 1',
    })
  })

  it('pyiso8583 docs/howto.rst: an odd-length BCD PAN padded on the right, with an encoding object for that variant', () => {
    // ASCII MTI and bitmap, BCD field 2 with a BCD length counted in digits, pad nibble at the end.
    const pyiso8583BcdPan: Iso8583Encoding = {
      ...encodings.ascii,
      name: 'pyiso8583 howto',
      numeric: 'bcd',
      lengthPrefix: 'bcd',
      variableBcdPadding: 'trailing',
    }
    const bytes = Buffer.concat([latin1('02004000000000000000'), hex('15 12 12 00 00 00 02 12 10')])
    const message = { mti: '0200', fields: { 2: '121200000002121' } }
    assert.deepEqual(decoded(bytes, { encoding: pyiso8583BcdPan }), message)
    assert.deepEqual(encoded(message, { encoding: pyiso8583BcdPan }), bytes)
  })

  it('pyiso8583 docs/howto.rst: EMV data in field 55 sent raw with an ASCII LLL length', () => {
    const rawBinaryFields: Iso8583Encoding = { ...encodings.ascii, name: 'pyiso8583 default_ascii', binary: 'raw' }
    const bytes = Buffer.concat([latin1('02000000000000000200013'), hex('9F02060000000123455F340102')])
    assert.deepEqual(decoded(bytes, { encoding: rawBinaryFields }), { mti: '0200', fields: { 55: '9F02060000000123455F340102' } })
  })

  it('sitb-software/jsPOS __tests__ (a JavaScript port of jPOS): an ISO87APackager 0800', () => {
    const bytes = latin1(
      '08000020000100C00016' +
        '000105' +
        '0814002244' +
        '00000764' +
        '111000001111002' +
        '01100000001003' +
        '06708THFDD30904M08915C0900567100016021V0:TestField62:0.009;09Z31000000' +
        '003001',
    )
    assert.deepEqual(decoded(bytes), {
      mti: '0800',
      fields: {
        11: '000105',
        32: '14002244',
        41: '00000764',
        42: '111000001111002',
        60: '00000001003',
        62: '08THFDD30904M08915C0900567100016021V0:TestField62:0.009;09Z31000000',
        63: '001',
      },
    })
  })

  it('sitb-software/jsPOS __tests__: an ISO87BPackager 0800 whose field 60 is a BCD LLLNUM (a scheme variant)', () => {
    // jPOS pads odd-length LLNUM values on the right; field 60 here is numeric, as in UnionPay-style
    // POS specifications, so both the spec and the encoding are variants of ours.
    const jposBinary: Iso8583Encoding = { ...encodings.binary, name: 'jPOS ISO87BPackager', variableBcdPadding: 'trailing' }
    const spec = defineMessageSpec({
      name: 'jsPOS test packager',
      fields: { ...iso8583Spec1987.fields, 60: lllvar('n', 17, 'Reserved private: transaction type, batch number') },
    })
    const bytes = hex('0800 0020000000C00012 000105 3030303030373634 313131303030303031313131303032 0011 000000010030 0003 303031')
    const message = {
      mti: '0800',
      fields: { 11: '000105', 41: '00000764', 42: '111000001111002', 60: '00000001003', 63: '001' },
    }
    assert.deepEqual(decoded(bytes, { spec, encoding: jposBinary }), message)
    assert.deepEqual(encoded(message, { spec, encoding: jposBinary }), bytes)
  })

  it('rvflash/iso8583 message_test.go: an 0800 echo with a secondary bitmap for field 70', () => {
    const bytes = latin1('0800823A0000000000000400000000000000042009061390000109061304200420001')
    const message = {
      mti: '0800',
      fields: { 7: '0420090613', 11: '900001', 12: '090613', 13: '0420', 15: '0420', 70: '001' },
    }
    assert.deepEqual(decoded(bytes), message)
    assert.deepEqual(encoded(message), bytes)
  })

  it('npm iso_8583 (installed): decodes what that library encodes, as ascii-binary-bitmap', () => {
    // iso_8583 always sends a secondary bitmap, empty here; we accept that, and never send one ourselves.
    type Iso8583Package = new (message: Record<number, string>) => { getRawMessage(): Buffer | { error: string } }
    const Iso8583Package = createRequire(import.meta.url)('iso_8583') as Iso8583Package
    const fields: Iso8583Fields = {
      2: '4761739001010119',
      3: '000000',
      4: '000000005000',
      7: '0911131411',
      11: '000001',
      12: '131411',
      13: '0911',
      14: '2212',
      18: '4111',
      22: '051',
      23: '001',
      25: '00',
      35: '4761739001010119D22122011758928889',
      41: '12345678',
      42: 'MOTITILL_000001',
      43: 'My Termianl Business                    ',
      49: '404',
    }
    const raw = new Iso8583Package({ 0: '0200', ...fields }).getRawMessage()
    assert.ok(Buffer.isBuffer(raw))
    assert.deepEqual(decoded(raw, { encoding: 'ascii-binary-bitmap' }), { mti: '0200', fields })
  })
})

// -----------------------------------------------------------------------------------------------
// The byte-level examples in docs/iso8583.md, so the doc cannot drift from the code.
// -----------------------------------------------------------------------------------------------

describe('docs/iso8583.md examples', () => {
  const example: Iso8583Message = {
    mti: '0200',
    fields: { 2: '378282246310005', 3: '000000', 4: '000000012345', 11: '000042', 41: 'TERM0001', 49: '156', 52: '0123456789ABCDEF' },
  }

  it('ascii', () => {
    assert.equal(
      encoded(example, { encoding: 'ascii' }).toString('latin1'),
      '0200' + '7020000000809000' + '15378282246310005' + '000000' + '000000012345' + '000042' + 'TERM0001' + '156' + '0123456789ABCDEF',
    )
  })

  it('binary', () => {
    assert.equal(
      encoded(example, { encoding: 'binary' }).toString('hex').toUpperCase(),
      '0200' + '7020000000809000' + '15' + '0378282246310005' + '000000' + '000000012345' + '000042' + '5445524D30303031' + '0156' + '0123456789ABCDEF',
    )
  })

  it('ascii-binary-bitmap', () => {
    const bytes = encoded(example, { encoding: 'ascii-binary-bitmap' })
    assert.equal(bytes.subarray(0, 4).toString('latin1'), '0200')
    assert.equal(bytes.subarray(4, 12).toString('hex').toUpperCase(), '7020000000809000')
    assert.equal(bytes.subarray(12).toString('latin1'), '15378282246310005' + '000000' + '000000012345' + '000042' + 'TERM0001' + '156' + '0123456789ABCDEF')
  })

  it('binary: a secondary bitmap, a track 2 separator as nibble D, an x+n sign kept as ASCII', () => {
    const originalDataElements = '0200' + '000042' + '0911131411' + '00000000000' + '00000000000'
    const message = { mti: '0420', fields: { 28: 'D00000150', 35: '4761739001010119=2212', 90: originalDataElements } }
    const bytes = encoded(message, { encoding: 'binary' })
    assert.equal(
      bytes.toString('hex').toUpperCase(),
      '0420' +
        '8000001020000000' +
        '0000004000000000' +
        '44' + '00000150' +
        '21' + '04761739001010119D2212' +
        '02000000420911131411' + '00'.repeat(11),
    )
    assert.deepEqual(decoded(bytes, { encoding: 'binary' }), message)
  })
})

// -----------------------------------------------------------------------------------------------
// Strictness: every way the input can be wrong is an error naming the field.
// -----------------------------------------------------------------------------------------------

describe('strict encoding', () => {
  const cases: Array<{ name: string; message: Iso8583Message; code: Iso8583ErrorCode; field: number; error: string }> = [
    { name: 'MTI of 3 digits', message: { mti: '200', fields: {} }, code: 'mti_invalid', field: 0, error: 'mti: must be 4 digits, got "200"' },
    { name: 'MTI with a letter', message: { mti: '02A0', fields: {} }, code: 'mti_invalid', field: 0, error: 'mti: must be 4 digits, got "02A0"' },
    {
      name: 'a variable field too long',
      message: { mti: '0200', fields: { 2: '12345678901234567890' } },
      code: 'value_too_long',
      field: 2,
      error: 'field 2: 20 digits, more than the maximum 19',
    },
    {
      name: 'a fixed field too short',
      message: { mti: '0200', fields: { 4: '100' } },
      code: 'length_wrong',
      field: 4,
      error: 'field 4: 3 digits, must be exactly 12',
    },
    {
      name: 'a fixed field too long',
      message: { mti: '0200', fields: { 41: 'TERMINAL1' } },
      code: 'length_wrong',
      field: 41,
      error: 'field 41: 9 characters, must be exactly 8',
    },
    {
      name: 'letters in n',
      message: { mti: '0200', fields: { 4: '00000000010A' } },
      code: 'value_invalid',
      field: 4,
      error: 'field 4: type n takes digits 0-9; found "A" at position 12',
    },
    {
      name: 'a space in an amount',
      message: { mti: '0200', fields: { 4: ' 00000000100' } },
      code: 'value_invalid',
      field: 4,
      error: 'field 4: type n takes digits 0-9; found " " at position 1',
    },
    {
      name: 'non-hex in b',
      message: { mti: '0200', fields: { 52: '0123456789ABCDEG' } },
      code: 'value_invalid',
      field: 52,
      error: 'field 52: type b takes hex characters; found "G" at position 16',
    },
    {
      name: 'an odd number of hex characters in b',
      message: { mti: '0100', fields: { 55: '9F0' } },
      code: 'value_invalid',
      field: 55,
      error: 'field 55: type b takes hex characters, two per byte; got 3 characters',
    },
    {
      name: 'binary data of the wrong fixed length',
      message: { mti: '0200', fields: { 64: '0011223344' } },
      code: 'length_wrong',
      field: 64,
      error: 'field 64: 5 bytes, must be exactly 8',
    },
    {
      name: 'a control character in ans',
      message: { mti: '0200', fields: { 43: 'KASSA STORE 1\u0000                          ' } },
      code: 'value_invalid',
      field: 43,
      error: 'field 43: type ans takes printable ASCII characters; found byte 0x00 at position 14',
    },
    {
      name: 'non-ASCII in ans',
      message: { mti: '0200', fields: { 43: 'Café Kassa                              ' } },
      code: 'value_invalid',
      field: 43,
      error: 'field 43: type ans takes printable ASCII characters; found byte 0xE9 at position 4',
    },
    {
      name: 'a symbol in an',
      message: { mti: '0210', fields: { 39: '0!' } },
      code: 'value_invalid',
      field: 39,
      error: 'field 39: type an takes letters, digits and space; found "!" at position 2',
    },
    {
      name: 'a letter in z',
      message: { mti: '0200', fields: { 35: '4761739001010119X2212' } },
      code: 'value_invalid',
      field: 35,
      error: 'field 35: type z takes digits and the separator "=" or "D"; found "X" at position 17',
    },
    {
      name: 'x+n without a sign',
      message: { mti: '0200', fields: { 28: '000000100' } },
      code: 'value_invalid',
      field: 28,
      error: 'field 28: type x+n starts with C (credit) or D (debit)',
    },
    {
      name: 'x+n with a letter after the sign',
      message: { mti: '0200', fields: { 28: 'C0000010O' } },
      code: 'value_invalid',
      field: 28,
      error: 'field 28: type x+n takes digits after the sign; found "O" at position 9',
    },
    {
      name: 'field 1 given by hand',
      message: { mti: '0200', fields: { 1: '0000000000000000' } },
      code: 'field_number_invalid',
      field: 1,
      error: 'bitmap: bitmaps are computed from the fields present; do not set field 1',
    },
    {
      name: 'field 0 given by hand',
      message: { mti: '0200', fields: { 0: '0200' } },
      code: 'field_number_invalid',
      field: 0,
      error: 'mti: give the MTI as message.mti, not as field 0',
    },
    {
      name: 'field 129',
      message: { mti: '0200', fields: { 129: 'X' } },
      code: 'field_number_invalid',
      field: 129,
      error: 'field 129: data elements are numbered 2 to 128',
    },
  ]
  for (const testCase of cases) {
    it(`refuses ${testCase.name}`, () => {
      for (const encoding of encodingNames) {
        assertFails(encodeMessage(testCase.message, { encoding }), { code: testCase.code, field: testCase.field, message: testCase.error })
      }
    })
  }

  it('refuses a field the specification does not define', () => {
    const spec = defineMessageSpec({ name: 'Without 127', fields: { ...iso8583Spec1987.fields, 127: undefined } })
    assertFails(encodeMessage({ mti: '0200', fields: { 127: 'x' } }, { spec }), {
      code: 'field_not_in_spec',
      field: 127,
      message: 'field 127: not defined in the specification "Without 127"',
    })
  })

  it('names the first field at fault, in field order', () => {
    assertFails(encodeMessage({ mti: '0200', fields: { 11: '12', 4: '1' } }), {
      code: 'length_wrong',
      field: 4,
      message: 'field 4: 1 digit, must be exactly 12',
    })
  })

  it('accepts the maximum length and an empty variable field', () => {
    for (const encoding of encodingNames) {
      const message = { mti: '0200', fields: { 2: '1234567890123456789', 48: '', 55: 'AB'.repeat(255), 62: 'x'.repeat(999) } }
      assert.deepEqual(decoded(encoded(message, { encoding }), { encoding }), message)
    }
  })

  it('accepts lower-case hex for binary fields and returns it upper-case', () => {
    for (const encoding of encodingNames) {
      const bytes = encoded({ mti: '0200', fields: { 52: '0123456789abcdef' } }, { encoding })
      assert.deepEqual(decoded(bytes, { encoding }).fields, { 52: '0123456789ABCDEF' })
    }
  })

  it('reads a track 2 "D" separator back as "=" in binary, where both are nibble D', () => {
    const bytes = encoded({ mti: '0200', fields: { 35: '4761739001010119D2212' } }, { encoding: 'binary' })
    assert.deepEqual(decoded(bytes, { encoding: 'binary' }).fields, { 35: '4761739001010119=2212' })
    const asciiBytes = encoded({ mti: '0200', fields: { 35: '4761739001010119D2212' } })
    assert.deepEqual(decoded(asciiBytes).fields, { 35: '4761739001010119D2212' })
  })
})

describe('strict decoding', () => {
  const asciiCases: Array<{ name: string; bytes: string; code: Iso8583ErrorCode; field: number; error: string }> = [
    { name: 'an MTI with a letter', bytes: '02A00000000000000000', code: 'mti_invalid', field: 0, error: 'mti: must be 4 digits, got "02A0"' },
    { name: 'a message cut inside the MTI', bytes: '02', code: 'message_truncated', field: 0, error: 'mti: message ends after 2 of the 4 bytes of the MTI' },
    {
      name: 'a message cut inside the bitmap',
      bytes: '02007000',
      code: 'message_truncated',
      field: 1,
      error: 'bitmap: message ends after 4 of the 16 bytes of the primary bitmap',
    },
    {
      name: 'a message cut inside the secondary bitmap',
      bytes: '02008000000000000000000000',
      code: 'message_truncated',
      field: 1,
      error: 'bitmap: message ends after 6 of the 16 bytes of the secondary bitmap',
    },
    {
      name: 'a bitmap that is not hex (pyiso8583 test_decode.py)',
      bytes: '0210incorrecthexdata',
      code: 'bitmap_invalid',
      field: 1,
      error: 'bitmap: the primary bitmap "incorrecthexdata" is not 16 hex characters',
    },
    {
      name: 'a bitmap bit with no data',
      bytes: '02003000000000000000000000',
      code: 'field_data_missing',
      field: 4,
      error: 'field 4: the bitmap marks it present, but the message ends before its data',
    },
    {
      name: 'a fixed field cut short',
      bytes: '0200' + '3000000000000000' + '000000' + '000000100',
      code: 'message_truncated',
      field: 4,
      error: 'field 4: message ends after 9 of the 12 bytes of its data',
    },
    {
      name: 'a variable field cut short',
      bytes: '0200400000000000000016424242',
      code: 'message_truncated',
      field: 2,
      error: 'field 2: message ends after 6 of the 16 bytes of its data',
    },
    {
      name: 'a message cut inside a length prefix',
      bytes: '020040000000000000001',
      code: 'message_truncated',
      field: 2,
      error: 'field 2: message ends after 1 of the 2 bytes of its length prefix',
    },
    {
      name: 'a length prefix with a letter',
      bytes: '020040000000000000001A4242',
      code: 'length_prefix_invalid',
      field: 2,
      error: 'field 2: length prefix "1A" is not 2 digits',
    },
    {
      name: 'a length prefix over the maximum',
      bytes: '020040000000000000002012345678901234567890',
      code: 'value_too_long',
      field: 2,
      error: 'field 2: length prefix says 20 digits, more than the maximum 19',
    },
    {
      name: 'letters in an n field',
      bytes: '0200100000000000000000000000010A',
      code: 'value_invalid',
      field: 4,
      error: 'field 4: type n takes digits 0-9; found "A" at position 12',
    },
    {
      name: 'non-hex in a b field',
      bytes: '020000000000000010000123456789ABCDEX',
      code: 'value_invalid',
      field: 52,
      error: 'field 52: type b takes hex characters; found "X" at position 16',
    },
    {
      name: 'trailing bytes after the bitmap (pyiso8583 test_decode.py)',
      bytes: '02100000000000000000extra',
      code: 'trailing_bytes',
      field: 1,
      error: 'bitmap: 5 unexpected bytes after the bitmap, which marks no field',
    },
    {
      name: 'trailing bytes after the last field',
      bytes: '021000000000020000000000',
      code: 'trailing_bytes',
      field: 39,
      error: 'field 39: 2 unexpected bytes after this last field',
    },
  ]
  for (const testCase of asciiCases) {
    it(`refuses ${testCase.name} (ascii)`, () => {
      assertFails(decodeMessage(latin1(testCase.bytes)), { code: testCase.code, field: testCase.field, message: testCase.error })
    })
  }

  const binaryCases: Array<{ name: string; bytes: string; code: Iso8583ErrorCode; field: number; error: string }> = [
    { name: 'an MTI that is not BCD', bytes: '02A0 0000000000000000', code: 'mti_invalid', field: 0, error: 'mti: must be 4 BCD digits, got bytes 02A0' },
    {
      name: 'a BCD amount with a nibble over 9',
      bytes: '0200 1000000000000000 00000000010F',
      code: 'value_invalid',
      field: 4,
      error: 'field 4: BCD nibble F at digit 12 is not a digit',
    },
    {
      name: 'an odd-length BCD value whose pad nibble is not 0',
      bytes: '0200 0000040000000000 F051',
      code: 'value_invalid',
      field: 22,
      error: 'field 22: the leading pad nibble must be 0, got F',
    },
    {
      name: 'a BCD track 2 with a nibble other than a digit or D',
      bytes: '0200 0000000020000000 05 0476E3',
      code: 'value_invalid',
      field: 35,
      error: 'field 35: BCD nibble E at digit 4 is not a digit or the separator D',
    },
    {
      name: 'a BCD length prefix that is not BCD',
      bytes: '0200 4000000000000000 1A 4242',
      code: 'length_prefix_invalid',
      field: 2,
      error: 'field 2: length prefix 1A is not BCD digits',
    },
    {
      name: 'an LLL prefix over the maximum',
      bytes: '0100 0000000000000200 0256 9F02',
      code: 'value_too_long',
      field: 55,
      error: 'field 55: length prefix says 256 bytes, more than the maximum 255',
    },
    {
      name: 'a text field with a control character',
      bytes: '0200 0000000000800000 5445524D0A303031',
      code: 'value_invalid',
      field: 41,
      error: 'field 41: type ans takes printable ASCII characters; found byte 0x0A at position 5',
    },
    {
      name: 'an x+n field whose sign is not C or D',
      bytes: '0200 0000001000000000 58 00000150',
      code: 'value_invalid',
      field: 28,
      error: 'field 28: type x+n starts with C (credit) or D (debit); found "X"',
    },
    {
      name: 'a raw binary field cut short',
      bytes: '0200 0000000000001000 01234567',
      code: 'message_truncated',
      field: 52,
      error: 'field 52: message ends after 4 of the 8 bytes of its data',
    },
  ]
  for (const testCase of binaryCases) {
    it(`refuses ${testCase.name} (binary)`, () => {
      assertFails(decodeMessage(hex(testCase.bytes), { encoding: 'binary' }), { code: testCase.code, field: testCase.field, message: testCase.error })
    })
  }

  it('refuses a bitmap bit for a field the specification does not define', () => {
    const spec = defineMessageSpec({ name: 'Without 127', fields: { ...iso8583Spec1987.fields, 127: undefined } })
    assertFails(decodeMessage(latin1('020080000000000000000000000000000002003abc'), { spec }), {
      code: 'field_not_in_spec',
      field: 127,
      message: 'field 127: the bitmap marks it present, but the specification "Without 127" does not define it',
    })
  })

  it('never shows a field value in an error, so a PAN cannot leak into a log', () => {
    const result = decodeMessage(latin1('0200400000000000000016621234567890123X'))
    assert.ok(!result.ok)
    assert.equal(result.error.message, 'field 2: type n takes digits 0-9; found "X" at position 16')
    assert.doesNotMatch(result.error.message, /6212345678/)
  })

  it('takes a Uint8Array as well as a Buffer', () => {
    const bytes = new Uint8Array(latin1('xx02004000000000000000101234567890')).subarray(2)
    assert.deepEqual(decoded(bytes), { mti: '0200', fields: { 2: '1234567890' } })
  })
})

// -----------------------------------------------------------------------------------------------
// A scheme's variant is another specification, not another codec.
// -----------------------------------------------------------------------------------------------

describe('a scheme variant specification', () => {
  // An example in the style of a UnionPay-like domestic POS specification: alphabetic currency codes,
  // a numeric field 60, a short field 63, a private binary field 62, and no field 127.
  const schemePosSpec: MessageSpec = defineMessageSpec({
    name: 'Example scheme POS',
    fields: {
      ...iso8583Spec1987.fields,
      49: fixed('a', 3, 'Currency code, transaction (alphabetic)'),
      60: lllvar('n', 17, 'Reserved private: transaction type code, batch number, network management code'),
      62: lllvar('b', 512 / 8, 'Reserved private: terminal key data'),
      63: lllvar('ans', 63, 'Reserved private: operator and card scheme'),
      127: undefined,
    },
  })

  it('round-trips a message with the variant fields in every encoding', () => {
    const message = { mti: '0200', fields: { 3: '000000', 4: '000000001000', 49: 'CNY', 60: '22000001000', 62: 'A1B2C3D4', 63: 'CUP' } }
    for (const encoding of encodingNames) {
      assert.deepEqual(decoded(encoded(message, { spec: schemePosSpec, encoding }), { spec: schemePosSpec, encoding }), message)
    }
  })

  it('applies the variant types: alphabetic 49, numeric 60', () => {
    assertFails(encodeMessage({ mti: '0200', fields: { 49: '156' } }, { spec: schemePosSpec }), {
      code: 'value_invalid',
      field: 49,
      message: 'field 49: type a takes letters and space; found "1" at position 1',
    })
    assertFails(encodeMessage({ mti: '0200', fields: { 60: '22/000001' } }, { spec: schemePosSpec }), {
      code: 'value_invalid',
      field: 60,
      message: 'field 60: type n takes digits 0-9; found "/" at position 3',
    })
    assertFails(encodeMessage({ mti: '0200', fields: { 63: 'x'.repeat(64) } }, { spec: schemePosSpec }), {
      code: 'value_too_long',
      field: 63,
      message: 'field 63: 64 characters, more than the maximum 63',
    })
    assert.ok(encodeMessage({ mti: '0200', fields: { 60: '22/000001', 63: 'x'.repeat(64) } }).ok, 'the 1987 spec takes both')
  })

  it('leaves the 1987 specification unchanged', () => {
    assert.deepEqual(iso8583Spec1987.fields[49], fixed('n', 3, 'Currency code, transaction'))
    assert.ok(iso8583Spec1987.fields[127] !== undefined)
  })
})

// -----------------------------------------------------------------------------------------------
// Round trips over arbitrary valid messages.
// -----------------------------------------------------------------------------------------------

const digits = '0123456789'
const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const printable = Array.from({ length: 0x7f - 0x20 }, (_, index) => String.fromCharCode(0x20 + index)).join('')
const symbolsAndDigits = [...printable].filter((character) => !letters.includes(character)).join('')

function charactersOf(field: FieldSpec, encoding: Iso8583Encoding): string {
  switch (field.type) {
    case 'n':
      return digits
    case 'a':
      return letters + ' '
    case 'an':
      return letters + digits + ' '
    case 'ans':
      return printable
    case 'ns':
      return symbolsAndDigits
    // In BCD both separators become nibble D and read back as '=', so only '=' round-trips there.
    case 'z':
      return encoding.numeric === 'bcd' ? digits + '=' : digits + '=D'
    case 'x+n':
    case 'b':
      return digits
  }
}

function valueArbitrary(field: FieldSpec, encoding: Iso8583Encoding): fc.Arbitrary<string> {
  const lengthRange = field.lengthKind === 'fixed' ? { minLength: field.length, maxLength: field.length } : { minLength: 0, maxLength: field.length }
  if (field.type === 'b') {
    return fc.uint8Array(lengthRange).map((bytes) => Buffer.from(bytes).toString('hex').toUpperCase())
  }
  const text = fc.string({ ...lengthRange, unit: fc.constantFrom(...charactersOf(field, encoding)) })
  if (field.type === 'x+n') return fc.tuple(fc.constantFrom('C', 'D'), text).map(([sign, amount]) => sign + amount)
  return text
}

function messageArbitrary(spec: MessageSpec, encoding: Iso8583Encoding): fc.Arbitrary<Iso8583Message> {
  const fieldNumbers = Object.entries(spec.fields)
    .filter(([, field]) => field !== undefined)
    .map(([key]) => Number(key))
  const fields = fc.subarray(fieldNumbers, { maxLength: 40 }).chain((chosen) =>
    fc
      .tuple(...chosen.map((fieldNumber) => valueArbitrary(spec.fields[fieldNumber] as FieldSpec, encoding)))
      .map((values) => Object.fromEntries(chosen.map((fieldNumber, index) => [fieldNumber, values[index]])) as Iso8583Fields),
  )
  // fc.record builds null-prototype objects, which deepEqual tells apart from decoded ones.
  return fc.tuple(fc.stringMatching(/^[0-9]{4}$/), fields).map(([mti, fieldValues]) => ({ mti, fields: fieldValues }))
}

describe('round trips', () => {
  const encodingsUnderTest: Array<Iso8583EncodingName | Iso8583Encoding> = [
    ...encodingNames,
    { ...encodings.binary, name: 'binary, jPOS padding', variableBcdPadding: 'trailing' },
  ]
  for (const encodingOrName of encodingsUnderTest) {
    const encoding = typeof encodingOrName === 'string' ? encodings[encodingOrName] : encodingOrName
    it(`${encoding.name}: decode(encode(message)) equals the message`, () => {
      fc.assert(
        fc.property(messageArbitrary(iso8583Spec1987, encoding), (message) => {
          assert.deepEqual(decoded(encoded(message, { encoding }), { encoding }), message)
        }),
        { numRuns: 300 },
      )
    })

    it(`${encoding.name}: every shorter prefix of a message is refused as cut short`, () => {
      fc.assert(
        fc.property(messageArbitrary(iso8583Spec1987, encoding), fc.nat(), (message, cutSeed) => {
          const bytes = encoded(message, { encoding })
          const cut = cutSeed % bytes.length
          const result = decodeMessage(bytes.subarray(0, cut), { encoding })
          assert.ok(!result.ok)
          assert.ok(['message_truncated', 'field_data_missing'].includes(result.error.code), result.error.message)
        }),
      )
    })

    it(`${encoding.name}: bytes after the last field are refused`, () => {
      fc.assert(
        fc.property(messageArbitrary(iso8583Spec1987, encoding), fc.uint8Array({ minLength: 1, maxLength: 8 }), (message, extra) => {
          const result = decodeMessage(Buffer.concat([encoded(message, { encoding }), extra]), { encoding })
          assert.ok(!result.ok)
          assert.equal(result.error.code, 'trailing_bytes')
        }),
      )
    })

    it(`${encoding.name}: arbitrary bytes give a message or an error, never an exception`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = decodeMessage(bytes, { encoding })
          if (result.ok) assert.ok(encodeMessage(result.value, { encoding }).ok)
        }),
        { numRuns: 500 },
      )
    })
  }

  it('the same message object encodes in all three encodings to the same decoded message', () => {
    fc.assert(
      fc.property(messageArbitrary(iso8583Spec1987, encodings.binary), (message) => {
        const decodedMessages = encodingNames.map((encoding) => decoded(encoded(message, { encoding }), { encoding }))
        for (const decodedMessage of decodedMessages) assert.deepEqual(decodedMessage, message)
      }),
    )
  })
})

describe('spec sanity for the codec', () => {
  it('llvar and lllvar maxima are what the prefixes can carry', () => {
    assert.equal(llvar('n', 99, 'x').length, 99)
    assert.equal(lllvar('ans', 999, 'x').length, 999)
  })
})
