/**
 * What can be wrong with a message, as values. The codec never throws for bad input: `encodeMessage`
 * and `decodeMessage` return `{ ok: false, error }` with an `Iso8583Error` that names the field at
 * fault. Only programmer errors (a malformed specification, a non-string value where the types say
 * string) throw, as AssertionError.
 */

export type Iso8583ErrorCode =
  /** The MTI is not four decimal digits. */
  | 'mti_invalid'
  /** A bitmap is not 16 hex characters (ascii encoding). */
  | 'bitmap_invalid'
  /** A field number outside 2–128, or field 1 given by hand (bitmaps are computed). */
  | 'field_number_invalid'
  /** A field present in the message (or its bitmap) that the specification does not define. */
  | 'field_not_in_spec'
  /** The bitmap says the field is present, but the message ends before its first byte. */
  | 'field_data_missing'
  /** The message ends inside the MTI, a bitmap, a length prefix or a field's data. */
  | 'message_truncated'
  /** A length prefix that is not decimal digits. */
  | 'length_prefix_invalid'
  /** A fixed-length field whose value is shorter or longer than the fixed length. */
  | 'length_wrong'
  /** A variable-length field whose value (or length prefix) exceeds the maximum. */
  | 'value_too_long'
  /** Characters not allowed by the field's type: letters in `n`, non-hex in `b`, a bad BCD nibble… */
  | 'value_invalid'
  /** Bytes left over after the last field the bitmap announces. */
  | 'trailing_bytes'

/** Field 0 is the MTI and field 1 the bitmaps, as jPOS and moov-io number them. */
export const mtiFieldNumber = 0
export const bitmapFieldNumber = 1

export class Iso8583Error extends Error {
  override name = 'Iso8583Error'
  readonly code: Iso8583ErrorCode
  /** 0 for the MTI, 1 for the bitmaps, 2–128 for data elements. */
  readonly field: number

  constructor(code: Iso8583ErrorCode, field: number, detail: string) {
    super(`${fieldLabel(field)}: ${detail}`)
    this.code = code
    this.field = field
  }
}

/** "mti", "bitmap" or "field 4": how messages name the part at fault. */
export function fieldLabel(field: number): string {
  if (field === mtiFieldNumber) return 'mti'
  if (field === bitmapFieldNumber) return 'bitmap'
  return `field ${field}`
}

export type Iso8583Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Iso8583Error }
