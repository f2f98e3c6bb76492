/**
 * ISO 8583 message specifications as data: field number → type, length kind, length, description.
 *
 * The table below is meant to be read next to the standard's own table (ISO 8583:1987, clause 4.4),
 * the way moov-io/iso8583 `specs/spec87ascii.go` and jPOS `ISO87APackager` are. How the values travel
 * on the wire (ASCII or BCD digits, hex or raw bitmaps) is not part of a specification: that is the
 * encoding (`encodings.ts`), so one table serves all three encodings.
 *
 * A scheme's own variant (private fields, other lengths) is another `MessageSpec`: spread this one and
 * replace the fields that differ (see docs/iso8583.md, "Defining a scheme variant").
 */
import { assert } from '../../domain/assert.js'

/**
 * Field types in the standard's notation:
 * - `n`   numeric digits 0–9
 * - `a`   alphabetic A–Z, a–z (and space, the standard's pad character for fixed alpha fields)
 * - `an`  alphabetic and numeric (and space, as for `a`)
 * - `ans` alphabetic, numeric and special: any printable ASCII character, 0x20–0x7E
 * - `ns`  numeric and special: printable ASCII except letters
 * - `x+n` a sign, C (credit) or D (debit), followed by digits; the length counts the digits only
 * - `z`   track 2 and 3 code set: digits and the field separator, written `=` (ISO 7813) or `D`
 * - `b`   binary; unlike the standard, which counts bits (b 64), lengths here count bytes (8)
 */
export type FieldType = 'n' | 'a' | 'an' | 'ans' | 'ns' | 'x+n' | 'z' | 'b'

/** `fixed`: always `length` long; `llvar`/`lllvar`: a 2- or 3-digit length prefix, then at most `length`. */
export type LengthKind = 'fixed' | 'llvar' | 'lllvar'

export type FieldSpec = {
  readonly type: FieldType
  readonly lengthKind: LengthKind
  /** The fixed length, or the maximum for llvar/lllvar: characters, digits for `n`/`z`/`x+n`, bytes for `b`. */
  readonly length: number
  readonly description: string
}

/** Data elements 2–128; 0 (MTI) and 1 (secondary bitmap) are handled by the codec itself. */
export type MessageSpec = {
  readonly name: string
  readonly fields: { readonly [fieldNumber: number]: FieldSpec | undefined }
}

export const fieldNumberMin = 2
export const fieldNumberMax = 128
const llvarLengthMax = 99
const lllvarLengthMax = 999

/** A fixed-length field, e.g. `fixed('n', 6, 'Processing code')` for the standard's "n 6". */
export function fixed(type: FieldType, length: number, description: string): FieldSpec {
  return { type, lengthKind: 'fixed', length, description }
}

/** A field with a 2-digit length prefix, e.g. `llvar('n', 19, 'PAN')` for the standard's "n..19". */
export function llvar(type: FieldType, lengthMax: number, description: string): FieldSpec {
  return { type, lengthKind: 'llvar', length: lengthMax, description }
}

/** A field with a 3-digit length prefix, e.g. `lllvar('ans', 999, 'Reserved private')` for "ans...999". */
export function lllvar(type: FieldType, lengthMax: number, description: string): FieldSpec {
  return { type, lengthKind: 'lllvar', length: lengthMax, description }
}

/**
 * Checks a specification once, when it is defined, so the codec can trust it. A malformed table is a
 * programmer error and throws an AssertionError.
 *
 * @example
 * const schemeSpec = defineMessageSpec({
 *   name: 'Scheme POS 1987',
 *   fields: { ...iso8583Spec1987.fields, 60: lllvar('n', 17, 'Reserved private: transaction type') },
 * })
 */
export function defineMessageSpec(spec: MessageSpec): MessageSpec {
  for (const [key, field] of Object.entries(spec.fields)) {
    const fieldNumber = Number(key)
    assert(
      Number.isInteger(fieldNumber) && fieldNumber >= fieldNumberMin && fieldNumber <= fieldNumberMax,
      `${spec.name}: field ${key} is not a data element number 2–128 (0 and 1 are the MTI and bitmap)`,
    )
    if (field === undefined) continue
    assert(Number.isInteger(field.length) && field.length >= 1, `${spec.name}: field ${key} has length ${field.length}`)
    if (field.lengthKind === 'llvar') {
      assert(field.length <= llvarLengthMax, `${spec.name}: field ${key} is LLVAR, so its maximum is at most 99`)
    }
    if (field.lengthKind === 'lllvar') {
      assert(field.length <= lllvarLengthMax, `${spec.name}: field ${key} is LLLVAR, so its maximum is at most 999`)
    }
    assert(field.description.length > 0, `${spec.name}: field ${key} needs a description`)
  }
  return Object.freeze({ name: spec.name, fields: Object.freeze({ ...spec.fields }) })
}

/**
 * ISO 8583:1987 data elements 2–128.
 *
 * Where the open implementations differ from the printed table, the choice and its reason are noted
 * on the line. Field 55 follows today's use (EMV ICC data, binary), not the 1987 "reserved ISO".
 */
export const iso8583Spec1987: MessageSpec = defineMessageSpec({
  name: 'ISO 8583:1987',
  fields: {
    2: llvar('n', 19, 'Primary account number (PAN)'),
    3: fixed('n', 6, 'Processing code'),
    4: fixed('n', 12, 'Amount, transaction'),
    5: fixed('n', 12, 'Amount, settlement'),
    6: fixed('n', 12, 'Amount, cardholder billing'),
    7: fixed('n', 10, 'Transmission date and time (MMDDhhmmss)'),
    8: fixed('n', 8, 'Amount, cardholder billing fee'),
    9: fixed('n', 8, 'Conversion rate, settlement'),
    10: fixed('n', 8, 'Conversion rate, cardholder billing'),
    11: fixed('n', 6, 'Systems trace audit number (STAN)'),
    12: fixed('n', 6, 'Time, local transaction (hhmmss)'),
    13: fixed('n', 4, 'Date, local transaction (MMDD)'),
    14: fixed('n', 4, 'Date, expiration (YYMM)'),
    15: fixed('n', 4, 'Date, settlement (MMDD)'),
    16: fixed('n', 4, 'Date, conversion (MMDD)'),
    17: fixed('n', 4, 'Date, capture (MMDD)'),
    18: fixed('n', 4, 'Merchant type (MCC)'),
    19: fixed('n', 3, 'Acquiring institution country code'),
    20: fixed('n', 3, 'PAN extended, country code'),
    21: fixed('n', 3, 'Forwarding institution country code'),
    22: fixed('n', 3, 'Point of service entry mode'),
    23: fixed('n', 3, 'Card sequence number'),
    24: fixed('n', 3, 'Network international identifier (NII)'),
    25: fixed('n', 2, 'Point of service condition code'),
    26: fixed('n', 2, 'Point of service PIN capture code'),
    27: fixed('n', 1, 'Authorizing identification response length'),
    28: fixed('x+n', 8, 'Amount, transaction fee'),
    29: fixed('x+n', 8, 'Amount, settlement fee'),
    30: fixed('x+n', 8, 'Amount, transaction processing fee'),
    31: fixed('x+n', 8, 'Amount, settlement processing fee'),
    32: llvar('n', 11, 'Acquiring institution identification code'),
    33: llvar('n', 11, 'Forwarding institution identification code'),
    34: llvar('ns', 28, 'Primary account number, extended'),
    35: llvar('z', 37, 'Track 2 data'),
    // The 1987 table prints "n...104"; track 3 carries field separators like track 2, so it is read as z.
    36: lllvar('z', 104, 'Track 3 data'),
    37: fixed('an', 12, 'Retrieval reference number (RRN)'),
    38: fixed('an', 6, 'Authorization identification response'),
    39: fixed('an', 2, 'Response code'),
    40: fixed('an', 3, 'Service restriction code'),
    41: fixed('ans', 8, 'Card acceptor terminal identification'),
    42: fixed('ans', 15, 'Card acceptor identification code'),
    43: fixed('ans', 40, 'Card acceptor name/location'),
    44: llvar('an', 25, 'Additional response data'),
    // The 1987 table prints "an..76", but track 1 holds "^", "/" and the cardholder name.
    45: llvar('ans', 76, 'Track 1 data'),
    46: lllvar('an', 999, 'Additional data, ISO'),
    47: lllvar('an', 999, 'Additional data, national'),
    48: lllvar('an', 999, 'Additional data, private'),
    // The 1987 table allows "a or n" for currency codes; ISO 4217 numeric codes are what networks send.
    49: fixed('n', 3, 'Currency code, transaction'),
    50: fixed('n', 3, 'Currency code, settlement'),
    51: fixed('n', 3, 'Currency code, cardholder billing'),
    52: fixed('b', 8, 'Personal identification number (PIN) data'),
    53: fixed('n', 16, 'Security related control information'),
    54: lllvar('an', 120, 'Additional amounts'),
    55: lllvar('b', 255, 'Integrated circuit card (ICC) data, EMV'),
    56: lllvar('ans', 999, 'Reserved, ISO'),
    57: lllvar('ans', 999, 'Reserved, national'),
    58: lllvar('ans', 999, 'Reserved, national'),
    59: lllvar('ans', 999, 'Reserved, national'),
    60: lllvar('ans', 999, 'Reserved, private'),
    61: lllvar('ans', 999, 'Reserved, private'),
    62: lllvar('ans', 999, 'Reserved, private'),
    63: lllvar('ans', 999, 'Reserved, private'),
    64: fixed('b', 8, 'Message authentication code (MAC)'),
    // The 1987 table prints "b 1"; jPOS packs it as one byte, which we follow. It is an ordinary
    // field here: the codec never reads it as a third bitmap.
    65: fixed('b', 1, 'Bitmap, extended'),
    66: fixed('n', 1, 'Settlement code'),
    67: fixed('n', 2, 'Extended payment code'),
    68: fixed('n', 3, 'Receiving institution country code'),
    69: fixed('n', 3, 'Settlement institution country code'),
    70: fixed('n', 3, 'Network management information code'),
    71: fixed('n', 4, 'Message number'),
    72: fixed('n', 4, 'Message number, last'),
    73: fixed('n', 6, 'Date, action (YYMMDD)'),
    74: fixed('n', 10, 'Credits, number'),
    75: fixed('n', 10, 'Credits, reversal number'),
    76: fixed('n', 10, 'Debits, number'),
    77: fixed('n', 10, 'Debits, reversal number'),
    78: fixed('n', 10, 'Transfer, number'),
    79: fixed('n', 10, 'Transfer, reversal number'),
    80: fixed('n', 10, 'Inquiries, number'),
    81: fixed('n', 10, 'Authorizations, number'),
    82: fixed('n', 12, 'Credits, processing fee amount'),
    83: fixed('n', 12, 'Credits, transaction fee amount'),
    84: fixed('n', 12, 'Debits, processing fee amount'),
    85: fixed('n', 12, 'Debits, transaction fee amount'),
    86: fixed('n', 16, 'Credits, amount'),
    87: fixed('n', 16, 'Credits, reversal amount'),
    88: fixed('n', 16, 'Debits, amount'),
    89: fixed('n', 16, 'Debits, reversal amount'),
    90: fixed('n', 42, 'Original data elements'),
    91: fixed('an', 1, 'File update code'),
    92: fixed('an', 2, 'File security code'),
    // pyiso8583 and the printed table say 5; jPOS ISO87APackager says 6.
    93: fixed('an', 5, 'Response indicator'),
    94: fixed('an', 7, 'Service indicator'),
    95: fixed('an', 42, 'Replacement amounts'),
    96: fixed('b', 8, 'Message security code'),
    97: fixed('x+n', 16, 'Amount, net settlement'),
    98: fixed('ans', 25, 'Payee'),
    99: llvar('n', 11, 'Settlement institution identification code'),
    100: llvar('n', 11, 'Receiving institution identification code'),
    101: llvar('ans', 17, 'File name'),
    102: llvar('ans', 28, 'Account identification 1'),
    103: llvar('ans', 28, 'Account identification 2'),
    104: lllvar('ans', 100, 'Transaction description'),
    105: lllvar('ans', 999, 'Reserved, ISO'),
    106: lllvar('ans', 999, 'Reserved, ISO'),
    107: lllvar('ans', 999, 'Reserved, ISO'),
    108: lllvar('ans', 999, 'Reserved, ISO'),
    109: lllvar('ans', 999, 'Reserved, ISO'),
    110: lllvar('ans', 999, 'Reserved, ISO'),
    111: lllvar('ans', 999, 'Reserved, ISO'),
    112: lllvar('ans', 999, 'Reserved, national'),
    113: lllvar('ans', 999, 'Reserved, national'),
    114: lllvar('ans', 999, 'Reserved, national'),
    115: lllvar('ans', 999, 'Reserved, national'),
    116: lllvar('ans', 999, 'Reserved, national'),
    117: lllvar('ans', 999, 'Reserved, national'),
    118: lllvar('ans', 999, 'Reserved, national'),
    119: lllvar('ans', 999, 'Reserved, national'),
    120: lllvar('ans', 999, 'Reserved, private'),
    121: lllvar('ans', 999, 'Reserved, private'),
    122: lllvar('ans', 999, 'Reserved, private'),
    123: lllvar('ans', 999, 'Reserved, private'),
    124: lllvar('ans', 999, 'Reserved, private'),
    125: lllvar('ans', 999, 'Reserved, private'),
    126: lllvar('ans', 999, 'Reserved, private'),
    127: lllvar('ans', 999, 'Reserved, private'),
    128: fixed('b', 8, 'Message authentication code (MAC)'),
  },
})

/** The standard's notation for a field, e.g. "n 6", "n..19", "ans...999", "b 8" (bytes). */
export function fieldNotation(field: FieldSpec): string {
  switch (field.lengthKind) {
    case 'fixed':
      return `${field.type} ${field.length}`
    case 'llvar':
      return `${field.type}..${field.length}`
    case 'lllvar':
      return `${field.type}...${field.length}`
  }
}
