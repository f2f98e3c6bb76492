/**
 * The ISO 8583 codec: bytes ⇄ `{ mti, fields }`, driven by a specification (`spec.ts`) and an
 * encoding (`encodings.ts`). Pure: Buffers in, plain objects out, no I/O.
 *
 * It is strict in both directions, because a lenient decoder turns a malformed message into a wrong
 * amount or a wrong card further on: every field must have its type's characters and its length,
 * every bit set must have data, and nothing may follow the last field.
 */
import { assert } from '../../domain/assert.js'
import { bitmapByteLength, bitmapOf, fieldNumbersIn, hasSecondaryBitmap } from './bitmap.js'
import { encodings, type Iso8583Encoding, type Iso8583EncodingName } from './encodings.js'
import { bitmapFieldNumber, Iso8583Error, mtiFieldNumber, type Iso8583Result } from './errors.js'
import { fieldNumberMax, fieldNumberMin, iso8583Spec1987, type FieldSpec, type FieldType, type MessageSpec } from './spec.js'

/**
 * Field values by data element number. Every value is a string: digits for `n`, the characters for
 * `a`/`an`/`ans`/`ns`/`z`, sign and digits for `x+n` ("C00001000"), and upper-case hex for `b`
 * ("0123456789ABCDEF"), so one message object encodes the same way in every encoding and is JSON as is.
 */
export type Iso8583Fields = { readonly [fieldNumber: number]: string }

export type Iso8583Message = {
  /** Message type indicator, four digits, e.g. "0200". */
  readonly mti: string
  readonly fields: Iso8583Fields
}

export type Iso8583CodecOptions = {
  /** Defaults to `iso8583Spec1987`. */
  readonly spec?: MessageSpec
  /** A name from `encodings`, or an encoding object for a counterpart's variant. Defaults to `ascii`. */
  readonly encoding?: Iso8583EncodingName | Iso8583Encoding
}

/**
 * Encodes a message. The bitmaps are computed from the fields present (a secondary bitmap only when
 * some field 65–128 is), so fields 0 and 1 must not be given.
 *
 * @example
 * const result = encodeMessage({ mti: '0100', fields: { 2: '4242424242424242', 3: '123456', 4: '000000000100' } })
 * if (result.ok) result.value.toString('latin1') // '01007000000000000000164242424242424242123456000000000100'
 */
export function encodeMessage(message: Iso8583Message, options: Iso8583CodecOptions = {}): Iso8583Result<Buffer> {
  return resultOf(() => encodeOrThrow(message, options.spec ?? iso8583Spec1987, encodingOf(options)))
}

/**
 * Decodes one whole message (without any transport length header). Fails on anything the
 * specification does not allow, naming the field.
 *
 * @example
 * const result = decodeMessage(Buffer.from('02004000000000000000101234567890', 'latin1'))
 * if (result.ok) result.value // { mti: '0200', fields: { 2: '1234567890' } }
 * else result.error.message   // e.g. 'field 2: type n takes digits 0-9; found "A" at position 4'
 */
export function decodeMessage(bytes: Uint8Array, options: Iso8583CodecOptions = {}): Iso8583Result<Iso8583Message> {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return resultOf(() => decodeOrThrow(buffer, options.spec ?? iso8583Spec1987, encodingOf(options)))
}

// The core throws Iso8583Error internally (it is deep in nested reads) and the two entry points turn
// it into a value; anything else (an AssertionError) is a bug and keeps propagating.
function resultOf<T>(run: () => T): Iso8583Result<T> {
  try {
    return { ok: true, value: run() }
  } catch (error) {
    if (error instanceof Iso8583Error) return { ok: false, error }
    throw error
  }
}

function encodingOf(options: Iso8583CodecOptions): Iso8583Encoding {
  const encoding = options.encoding ?? 'ascii'
  return typeof encoding === 'string' ? encodings[encoding] : encoding
}

// ---------------------------------------------------------------------------------------------
// Character sets
// ---------------------------------------------------------------------------------------------

const asciiPrintableFirst = 0x20
const asciiPrintableLast = 0x7e

function characterTable(accepts: (code: number) => boolean): Uint8Array {
  const table = new Uint8Array(128)
  for (let code = 0; code < 128; code++) table[code] = accepts(code) ? 1 : 0
  return table
}

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39
const isLetter = (code: number): boolean => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
const isPrintable = (code: number): boolean => code >= asciiPrintableFirst && code <= asciiPrintableLast
const isHex = (code: number): boolean => isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)
const space = 0x20
const separatorEquals = 0x3d // '=' (ISO 7813 field separator)
const separatorD = 0x44 // 'D', the same separator as it reads in a BCD dump
const signCredit = 0x43 // 'C'
const signDebit = 0x44 // 'D'

type TextType = Exclude<FieldType, 'b' | 'x+n'>

const characterSets: Record<TextType, { readonly table: Uint8Array; readonly takes: string }> = {
  n: { table: characterTable(isDigit), takes: 'digits 0-9' },
  a: { table: characterTable((code) => isLetter(code) || code === space), takes: 'letters and space' },
  an: { table: characterTable((code) => isLetter(code) || isDigit(code) || code === space), takes: 'letters, digits and space' },
  ans: { table: characterTable(isPrintable), takes: 'printable ASCII characters' },
  ns: { table: characterTable((code) => isPrintable(code) && !isLetter(code)), takes: 'digits, space and symbols' },
  z: {
    table: characterTable((code) => isDigit(code) || code === separatorEquals || code === separatorD),
    takes: 'digits and the separator "=" or "D"',
  },
}
const digitTable = characterSets.n.table
const hexTable = characterTable(isHex)

function describeCharacter(code: number): string {
  return isPrintable(code) ? JSON.stringify(String.fromCharCode(code)) : `byte 0x${hexByte(code)}`
}

function hexByte(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0')
}

/** Position (1-based) of the first character of `text` outside `table`, or 0. */
function firstOutside(table: Uint8Array, text: string, from = 0): number {
  for (let index = from; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code >= 128 || table[code] !== 1) return index + 1
  }
  return 0
}

function firstByteOutside(table: Uint8Array, bytes: Buffer, start: number, end: number): number {
  for (let index = start; index < end; index++) {
    const byte = bytes[index] ?? 0
    if (byte >= 128 || table[byte] !== 1) return index - start + 1
  }
  return 0
}

/** "1 digit", "12 digits", "8 bytes": a length in the field's unit. */
function countOf(field: FieldSpec, length: number): string {
  let unit = 'character'
  if (field.type === 'b') unit = 'byte'
  else if (field.type === 'n' || field.type === 'z' || field.type === 'x+n') unit = 'digit'
  return `${length} ${unit}${length === 1 ? '' : 's'}`
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

function encodeOrThrow(message: Iso8583Message, spec: MessageSpec, encoding: Iso8583Encoding): Buffer {
  const chunks: Buffer[] = [encodeMti(message.mti, encoding)]
  const fieldNumbers = presentFieldNumbers(message.fields, spec)
  const bitmap = bitmapOf(fieldNumbers)
  chunks.push(encoding.bitmap === 'raw' ? bitmap : Buffer.from(bitmap.toString('hex').toUpperCase(), 'latin1'))
  for (const fieldNumber of fieldNumbers) {
    const field = spec.fields[fieldNumber]
    const value = message.fields[fieldNumber]
    assert(field !== undefined && value !== undefined, `field ${fieldNumber} vanished while encoding`)
    encodeField(chunks, fieldNumber, field, value, encoding)
  }
  return Buffer.concat(chunks)
}

function encodeMti(mti: string, encoding: Iso8583Encoding): Buffer {
  assert(typeof mti === 'string', 'the MTI must be a string')
  if (mti.length !== 4 || firstOutside(digitTable, mti) !== 0) {
    throw new Iso8583Error('mti_invalid', mtiFieldNumber, `must be 4 digits, got ${JSON.stringify(mti)}`)
  }
  return encoding.mti === 'bcd' ? bcdOf(mti, true) : Buffer.from(mti, 'latin1')
}

/** The message's field numbers, ascending, each checked against the specification. */
function presentFieldNumbers(fields: Iso8583Fields, spec: MessageSpec): number[] {
  const fieldNumbers: number[] = []
  for (const key of Object.keys(fields)) {
    const fieldNumber = Number(key)
    assert(Number.isInteger(fieldNumber) && String(fieldNumber) === key, `field key ${JSON.stringify(key)} is not a field number`)
    if (fieldNumber === mtiFieldNumber) {
      throw new Iso8583Error('field_number_invalid', mtiFieldNumber, 'give the MTI as message.mti, not as field 0')
    }
    if (fieldNumber === bitmapFieldNumber) {
      throw new Iso8583Error('field_number_invalid', bitmapFieldNumber, 'bitmaps are computed from the fields present; do not set field 1')
    }
    if (fieldNumber < fieldNumberMin || fieldNumber > fieldNumberMax) {
      throw new Iso8583Error('field_number_invalid', fieldNumber, 'data elements are numbered 2 to 128')
    }
    if (spec.fields[fieldNumber] === undefined) {
      throw new Iso8583Error('field_not_in_spec', fieldNumber, `not defined in the specification "${spec.name}"`)
    }
    const value: unknown = fields[fieldNumber]
    assert(typeof value === 'string', `field ${fieldNumber}: values are strings, got ${typeof value}`)
    fieldNumbers.push(fieldNumber)
  }
  // Object.keys lists integer keys in ascending order already; sorting keeps that true for any object.
  return fieldNumbers.sort((left, right) => left - right)
}

function encodeField(chunks: Buffer[], fieldNumber: number, field: FieldSpec, value: string, encoding: Iso8583Encoding): void {
  const length = checkedLength(fieldNumber, field, value)
  checkCharacters(fieldNumber, field, value)
  const variable = field.lengthKind !== 'fixed'
  if (variable) chunks.push(lengthPrefixOf(length, field.lengthKind === 'llvar' ? 2 : 3, encoding))
  const padLeading = !variable || encoding.variableBcdPadding === 'leading'
  switch (field.type) {
    case 'b':
      chunks.push(encoding.binary === 'raw' ? Buffer.from(value, 'hex') : Buffer.from(value.toUpperCase(), 'latin1'))
      return
    case 'n':
    case 'z':
      chunks.push(encoding.numeric === 'bcd' ? bcdOf(value, padLeading) : Buffer.from(value, 'latin1'))
      return
    case 'x+n':
      // jPOS IFB_AMOUNT: the sign stays an ASCII character, the digits are packed.
      chunks.push(
        encoding.numeric === 'bcd'
          ? Buffer.concat([Buffer.from(value.slice(0, 1), 'latin1'), bcdOf(value.slice(1), padLeading)])
          : Buffer.from(value, 'latin1'),
      )
      return
    case 'a':
    case 'an':
    case 'ans':
    case 'ns':
      chunks.push(Buffer.from(value, 'latin1'))
      return
  }
}

/** The value's length in the field's unit (digits, characters, bytes), checked against the spec. */
function checkedLength(fieldNumber: number, field: FieldSpec, value: string): number {
  let length = value.length
  if (field.type === 'b') {
    if (value.length % 2 !== 0) {
      throw new Iso8583Error('value_invalid', fieldNumber, `type b takes hex characters, two per byte; got ${value.length} characters`)
    }
    length = value.length / 2
  } else if (field.type === 'x+n') {
    length = Math.max(0, value.length - 1)
  }
  if (field.lengthKind === 'fixed' && length !== field.length) {
    throw new Iso8583Error('length_wrong', fieldNumber, `${countOf(field, length)}, must be exactly ${field.length}`)
  }
  if (length > field.length) {
    throw new Iso8583Error('value_too_long', fieldNumber, `${countOf(field, length)}, more than the maximum ${field.length}`)
  }
  return length
}

function checkCharacters(fieldNumber: number, field: FieldSpec, value: string): void {
  if (field.type === 'b') {
    const position = firstOutside(hexTable, value)
    if (position !== 0) throw invalidCharacter(fieldNumber, 'type b takes hex characters', value.charCodeAt(position - 1), position)
    return
  }
  if (field.type === 'x+n') {
    const sign = value.charCodeAt(0)
    if (sign !== signCredit && sign !== signDebit) {
      throw new Iso8583Error('value_invalid', fieldNumber, 'type x+n starts with C (credit) or D (debit)')
    }
    const position = firstOutside(digitTable, value, 1)
    if (position !== 0) throw invalidCharacter(fieldNumber, 'type x+n takes digits after the sign', value.charCodeAt(position - 1), position)
    return
  }
  const characterSet = characterSets[field.type]
  const position = firstOutside(characterSet.table, value)
  if (position !== 0) {
    throw invalidCharacter(fieldNumber, `type ${field.type} takes ${characterSet.takes}`, value.charCodeAt(position - 1), position)
  }
}

function invalidCharacter(fieldNumber: number, rule: string, code: number, position: number): Iso8583Error {
  return new Iso8583Error('value_invalid', fieldNumber, `${rule}; found ${describeCharacter(code)} at position ${position}`)
}

function lengthPrefixOf(length: number, digitCount: 2 | 3, encoding: Iso8583Encoding): Buffer {
  const digits = String(length).padStart(digitCount, '0')
  // BCD: LL fits one byte; LLL takes two, the first nibble 0.
  return encoding.lengthPrefix === 'bcd' ? bcdOf(digits, true) : Buffer.from(digits, 'latin1')
}

/**
 * Packs digits two to a byte. An odd count gets one 0 nibble, at the front (`padLeading`) or the end.
 * The track separator ('=' or 'D') packs as nibble D, as jPOS and the card's own track 2 image do.
 */
function bcdOf(digits: string, padLeading: boolean): Buffer {
  const padded = digits.length % 2 === 1
  const packed = Buffer.alloc((digits.length + 1) >> 1)
  let nibbleIndex = padded && padLeading ? 1 : 0
  for (let index = 0; index < digits.length; index++, nibbleIndex++) {
    const code = digits.charCodeAt(index)
    const nibble = isDigit(code) ? code - 0x30 : 0xd
    const byteIndex = nibbleIndex >> 1
    packed[byteIndex] = (packed[byteIndex] ?? 0) | ((nibbleIndex & 1) === 0 ? nibble << 4 : nibble)
  }
  return packed
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** A read position in one message. */
type Reader = { readonly bytes: Buffer; offset: number }

function decodeOrThrow(bytes: Buffer, spec: MessageSpec, encoding: Iso8583Encoding): Iso8583Message {
  const reader: Reader = { bytes, offset: 0 }
  const mti = decodeMti(reader, encoding)
  const primaryBitmap = readBitmap(reader, encoding, 'primary')
  const bitmap = hasSecondaryBitmap(primaryBitmap)
    ? Buffer.concat([primaryBitmap, readBitmap(reader, encoding, 'secondary')])
    : primaryBitmap
  const fields: Record<number, string> = {}
  let lastFieldNumber = bitmapFieldNumber
  for (const fieldNumber of fieldNumbersIn(bitmap)) {
    const field = spec.fields[fieldNumber]
    if (field === undefined) {
      throw new Iso8583Error('field_not_in_spec', fieldNumber, `the bitmap marks it present, but the specification "${spec.name}" does not define it`)
    }
    if (reader.offset === bytes.length) {
      throw new Iso8583Error('field_data_missing', fieldNumber, 'the bitmap marks it present, but the message ends before its data')
    }
    fields[fieldNumber] = decodeField(reader, fieldNumber, field, encoding)
    lastFieldNumber = fieldNumber
  }
  const trailingByteCount = bytes.length - reader.offset
  if (trailingByteCount !== 0) {
    const after = lastFieldNumber === bitmapFieldNumber ? 'the bitmap, which marks no field' : 'this last field'
    const bytesCount = `${trailingByteCount} unexpected byte${trailingByteCount === 1 ? '' : 's'}`
    throw new Iso8583Error('trailing_bytes', lastFieldNumber, `${bytesCount} after ${after}`)
  }
  return { mti, fields }
}

/** Advances past `count` bytes and returns where they start, or fails naming what was cut short. */
function take(reader: Reader, count: number, fieldNumber: number, what: string): number {
  const start = reader.offset
  const available = reader.bytes.length - start
  if (available < count) {
    throw new Iso8583Error('message_truncated', fieldNumber, `message ends after ${available} of the ${count} bytes of ${what}`)
  }
  reader.offset = start + count
  return start
}

function decodeMti(reader: Reader, encoding: Iso8583Encoding): string {
  if (encoding.mti === 'bcd') {
    const start = take(reader, 2, mtiFieldNumber, 'the MTI')
    const mti = bcdDigitsOrUndefined(reader.bytes, start, 4, true, false)
    if (mti === undefined) {
      throw new Iso8583Error('mti_invalid', mtiFieldNumber, `must be 4 BCD digits, got bytes ${reader.bytes.toString('hex', start, start + 2).toUpperCase()}`)
    }
    return mti
  }
  const start = take(reader, 4, mtiFieldNumber, 'the MTI')
  const mti = reader.bytes.toString('latin1', start, start + 4)
  if (firstOutside(digitTable, mti) !== 0) {
    throw new Iso8583Error('mti_invalid', mtiFieldNumber, `must be 4 digits, got ${JSON.stringify(mti)}`)
  }
  return mti
}

function readBitmap(reader: Reader, encoding: Iso8583Encoding, which: 'primary' | 'secondary'): Buffer {
  if (encoding.bitmap === 'raw') {
    const start = take(reader, bitmapByteLength, bitmapFieldNumber, `the ${which} bitmap`)
    return reader.bytes.subarray(start, start + bitmapByteLength)
  }
  const hexLength = bitmapByteLength * 2
  const start = take(reader, hexLength, bitmapFieldNumber, `the ${which} bitmap`)
  const hex = reader.bytes.toString('latin1', start, start + hexLength)
  if (firstOutside(hexTable, hex) !== 0) {
    throw new Iso8583Error('bitmap_invalid', bitmapFieldNumber, `the ${which} bitmap ${JSON.stringify(hex)} is not 16 hex characters`)
  }
  return Buffer.from(hex, 'hex')
}

function decodeField(reader: Reader, fieldNumber: number, field: FieldSpec, encoding: Iso8583Encoding): string {
  const variable = field.lengthKind !== 'fixed'
  const length = variable ? decodeLengthPrefix(reader, fieldNumber, field, encoding) : field.length
  const padLeading = !variable || encoding.variableBcdPadding === 'leading'
  const bytes = reader.bytes
  switch (field.type) {
    case 'b': {
      if (encoding.binary === 'raw') {
        const start = take(reader, length, fieldNumber, 'its data')
        return bytes.toString('hex', start, start + length).toUpperCase()
      }
      const start = take(reader, length * 2, fieldNumber, 'its data')
      const position = firstByteOutside(hexTable, bytes, start, start + length * 2)
      if (position !== 0) throw invalidCharacter(fieldNumber, 'type b takes hex characters', bytes[start + position - 1] ?? 0, position)
      return bytes.toString('latin1', start, start + length * 2).toUpperCase()
    }
    case 'n':
    case 'z':
      if (encoding.numeric === 'bcd') return decodeBcd(reader, fieldNumber, length, padLeading, field.type === 'z')
      return decodeText(reader, fieldNumber, field.type, length)
    case 'x+n': {
      const signStart = take(reader, 1, fieldNumber, 'its sign')
      const sign = bytes[signStart] ?? 0
      if (sign !== signCredit && sign !== signDebit) {
        throw new Iso8583Error('value_invalid', fieldNumber, `type x+n starts with C (credit) or D (debit); found ${describeCharacter(sign)}`)
      }
      const digits = encoding.numeric === 'bcd' ? decodeBcd(reader, fieldNumber, length, padLeading, false) : decodeText(reader, fieldNumber, 'n', length)
      return String.fromCharCode(sign) + digits
    }
    case 'a':
    case 'an':
    case 'ans':
    case 'ns':
      return decodeText(reader, fieldNumber, field.type, length)
  }
}

function decodeText(reader: Reader, fieldNumber: number, type: TextType, length: number): string {
  const start = take(reader, length, fieldNumber, 'its data')
  const characterSet = characterSets[type]
  const position = firstByteOutside(characterSet.table, reader.bytes, start, start + length)
  if (position !== 0) {
    throw invalidCharacter(fieldNumber, `type ${type} takes ${characterSet.takes}`, reader.bytes[start + position - 1] ?? 0, position)
  }
  return reader.bytes.toString('latin1', start, start + length)
}

function decodeBcd(reader: Reader, fieldNumber: number, digitCount: number, padLeading: boolean, separatorAllowed: boolean): string {
  const byteCount = (digitCount + 1) >> 1
  const start = take(reader, byteCount, fieldNumber, 'its data')
  const digits = bcdDigitsOrUndefined(reader.bytes, start, digitCount, padLeading, separatorAllowed)
  if (digits !== undefined) return digits
  throw new Iso8583Error('value_invalid', fieldNumber, bcdProblem(reader.bytes, start, digitCount, padLeading, separatorAllowed))
}

/** The digits packed at `start`, or undefined when a nibble is not a digit (or the pad is not 0). */
function bcdDigitsOrUndefined(bytes: Buffer, start: number, digitCount: number, padLeading: boolean, separatorAllowed: boolean): string | undefined {
  const padded = digitCount % 2 === 1
  const firstNibble = padded && padLeading ? 1 : 0
  if (padded && nibbleAt(bytes, start, padLeading ? 0 : digitCount) !== 0) return undefined
  let digits = ''
  for (let index = 0; index < digitCount; index++) {
    const nibble = nibbleAt(bytes, start, firstNibble + index)
    if (nibble <= 9) digits += String.fromCharCode(0x30 + nibble)
    else if (separatorAllowed && nibble === 0xd) digits += '='
    else return undefined
  }
  return digits
}

/** Explains why bcdDigitsOrUndefined refused, for the error message (the slow path only). */
function bcdProblem(bytes: Buffer, start: number, digitCount: number, padLeading: boolean, separatorAllowed: boolean): string {
  const padded = digitCount % 2 === 1
  if (padded) {
    const pad = nibbleAt(bytes, start, padLeading ? 0 : digitCount)
    if (pad !== 0) return `the ${padLeading ? 'leading' : 'trailing'} pad nibble must be 0, got ${pad.toString(16).toUpperCase()}`
  }
  const firstNibble = padded && padLeading ? 1 : 0
  for (let index = 0; index < digitCount; index++) {
    const nibble = nibbleAt(bytes, start, firstNibble + index)
    if (nibble > 9 && !(separatorAllowed && nibble === 0xd)) {
      return `BCD nibble ${nibble.toString(16).toUpperCase()} at digit ${index + 1} is not a digit${separatorAllowed ? ' or the separator D' : ''}`
    }
  }
  return 'not BCD'
}

function nibbleAt(bytes: Buffer, start: number, nibbleIndex: number): number {
  const byte = bytes[start + (nibbleIndex >> 1)] ?? 0
  return (nibbleIndex & 1) === 0 ? byte >> 4 : byte & 0x0f
}

function decodeLengthPrefix(reader: Reader, fieldNumber: number, field: FieldSpec, encoding: Iso8583Encoding): number {
  const digitCount = field.lengthKind === 'llvar' ? 2 : 3
  let length: number
  if (encoding.lengthPrefix === 'bcd') {
    const byteCount = digitCount === 2 ? 1 : 2
    const start = take(reader, byteCount, fieldNumber, 'its length prefix')
    const digits = bcdDigitsOrUndefined(reader.bytes, start, byteCount * 2, true, false)
    if (digits === undefined) {
      const hex = reader.bytes.toString('hex', start, start + byteCount).toUpperCase()
      throw new Iso8583Error('length_prefix_invalid', fieldNumber, `length prefix ${hex} is not BCD digits`)
    }
    length = Number(digits)
  } else {
    const start = take(reader, digitCount, fieldNumber, 'its length prefix')
    const digits = reader.bytes.toString('latin1', start, start + digitCount)
    if (firstOutside(digitTable, digits) !== 0) {
      throw new Iso8583Error('length_prefix_invalid', fieldNumber, `length prefix ${JSON.stringify(digits)} is not ${digitCount} digits`)
    }
    length = Number(digits)
  }
  if (length > field.length) {
    throw new Iso8583Error('value_too_long', fieldNumber, `length prefix says ${countOf(field, length)}, more than the maximum ${field.length}`)
  }
  return length
}
