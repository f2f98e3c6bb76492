/**
 * How a message's parts travel as bytes, separate from what the fields are (`spec.ts`).
 *
 * The three named encodings are the ones the common open implementations ship for 1987 messages:
 * - `ascii`: jPOS ISO87APackager, moov-io spec87ascii, pyiso8583 default_ascii (with hex binary fields);
 * - `binary`: jPOS ISO87BPackager: BCD MTI, numerics and length prefixes, raw bitmaps and binary fields;
 * - `ascii-binary-bitmap`: jPOS ISO87APackagerBBitmap: ASCII, but raw 8-byte bitmaps.
 *
 * An encoding is plain data, so a counterpart that differs in one detail (jPOS pads odd-length
 * LLVAR BCD values on the right; pyiso8583 default_ascii sends binary fields raw) is one spread away:
 * `{ ...encodings.binary, variableBcdPadding: 'trailing' }`.
 */

export type Iso8583EncodingName = 'ascii' | 'binary' | 'ascii-binary-bitmap'

export type Iso8583Encoding = {
  readonly name: string
  /** `ascii`: 4 ASCII digits; `bcd`: 2 bytes, one digit per nibble. */
  readonly mti: 'ascii' | 'bcd'
  /** `hex`: 16 ASCII hex characters per bitmap; `raw`: 8 bytes per bitmap. */
  readonly bitmap: 'hex' | 'raw'
  /** Digits of `n`, `z` and `x+n` fields. `bcd`: two digits a byte; a `z` separator is nibble D. */
  readonly numeric: 'ascii' | 'bcd'
  /** LL and LLL prefixes. `ascii`: 2 or 3 digits; `bcd`: LL in 1 byte, LLL in 2 bytes (leading 0 nibble). */
  readonly lengthPrefix: 'ascii' | 'bcd'
  /** `b` fields. `hex`: two ASCII hex characters a byte; `raw`: the bytes themselves. */
  readonly binary: 'hex' | 'raw'
  /**
   * Where the pad nibble (always 0) of an odd-length variable BCD value goes. Fixed-length BCD values
   * are always padded at the front, so they read as the same number.
   */
  readonly variableBcdPadding: 'leading' | 'trailing'
}

export const encodings = {
  ascii: {
    name: 'ascii',
    mti: 'ascii',
    bitmap: 'hex',
    numeric: 'ascii',
    lengthPrefix: 'ascii',
    binary: 'hex',
    variableBcdPadding: 'leading',
  },
  binary: {
    name: 'binary',
    mti: 'bcd',
    bitmap: 'raw',
    numeric: 'bcd',
    lengthPrefix: 'bcd',
    binary: 'raw',
    variableBcdPadding: 'leading',
  },
  'ascii-binary-bitmap': {
    name: 'ascii-binary-bitmap',
    mti: 'ascii',
    bitmap: 'raw',
    numeric: 'ascii',
    lengthPrefix: 'ascii',
    binary: 'hex',
    variableBcdPadding: 'leading',
  },
} as const satisfies Record<Iso8583EncodingName, Iso8583Encoding>

export const encodingNames = Object.keys(encodings) as Iso8583EncodingName[]

export function isEncodingName(name: string): name is Iso8583EncodingName {
  return Object.hasOwn(encodings, name)
}
