/**
 * EMV BER-TLV, the format of ISO 8583 field 55 (ICC data): a tag (one byte, or more when the low five
 * bits of the first are all set), a length (one byte under 128, else 0x81 or 0x82 and one or two bytes
 * of length), then the value. Values here are upper-case hex, like every binary field in
 * `iso8583/codec.ts`. Pure.
 *
 * Only primitive data objects are read as such: a constructed tag (bit 6 of its first byte set) is
 * returned as one item whose value is its encoded contents, which is all field 55 needs.
 */
import { assert } from '../../domain/assert.js'

export type TlvItem = { readonly tag: string; readonly value: string }

/** The longest TLV string read, in bytes: field 55 holds at most 255, with room for 999-byte private fields. */
export const tlvLengthMax = 999

const hexPattern = /^(?:[0-9A-Fa-f]{2})*$/

/**
 * Encodes items in the order given.
 *
 * @example
 * encodeTlv([{ tag: '9F36', value: '0001' }, { tag: '5F2A', value: '0156' }]) // '9F360200015F2A020156'
 */
export function encodeTlv(items: readonly TlvItem[]): string {
  let out = ''
  for (const item of items) {
    assert(isTag(item.tag), `TLV tag "${item.tag}" is not a BER-TLV tag`)
    assert(hexPattern.test(item.value), `TLV value of ${item.tag} is not hex`)
    const length = item.value.length / 2
    assert(length <= 0xffff, `TLV value of ${item.tag} is over 65535 bytes`)
    const lengthHex = length < 0x80 ? byteHex(length) : length <= 0xff ? `81${byteHex(length)}` : `82${length.toString(16).padStart(4, '0')}`
    out += item.tag.toUpperCase() + lengthHex.toUpperCase() + item.value.toUpperCase()
  }
  return out
}

export type TlvDecodeResult = { readonly ok: true; readonly value: TlvItem[] } | { readonly ok: false; readonly error: string }

/**
 * Decodes a hex TLV string into its items, or says where it is malformed (never echoing a value).
 *
 * @example
 * decodeTlv('9F3602000A') // { ok: true, value: [{ tag: '9F36', value: '000A' }] }
 */
export function decodeTlv(hex: string): TlvDecodeResult {
  if (!hexPattern.test(hex)) return { ok: false, error: 'TLV data is not an even number of hex characters' }
  const bytes = Buffer.from(hex, 'hex')
  if (bytes.length > tlvLengthMax) return { ok: false, error: `TLV data is ${bytes.length} bytes, more than ${tlvLengthMax}` }
  const items: TlvItem[] = []
  let offset = 0
  // Each turn consumes at least two bytes (tag and length), so the loop is bounded by the input length.
  while (offset < bytes.length) {
    const tagStart = offset
    const first = bytes[offset++] ?? 0
    if ((first & 0x1f) === 0x1f) {
      // Subsequent tag bytes: bit 8 set means another follows. EMV tags are at most 3 bytes.
      for (let more = true; more; ) {
        if (offset >= bytes.length || offset - tagStart >= 3) return { ok: false, error: `TLV tag at byte ${tagStart} is truncated or longer than 3 bytes` }
        more = ((bytes[offset++] ?? 0) & 0x80) !== 0
      }
    }
    const tag = bytes.subarray(tagStart, offset).toString('hex').toUpperCase()
    if (offset >= bytes.length) return { ok: false, error: `TLV ${tag}: no length` }
    let length = bytes[offset++] ?? 0
    if (length === 0x81 || length === 0x82) {
      const lengthBytes = length - 0x80
      if (offset + lengthBytes > bytes.length) return { ok: false, error: `TLV ${tag}: the length is truncated` }
      length = lengthBytes === 1 ? (bytes[offset] ?? 0) : bytes.readUInt16BE(offset)
      offset += lengthBytes
    } else if (length > 0x80) {
      return { ok: false, error: `TLV ${tag}: length form 0x${byteHex(length)} is not supported` }
    }
    if (offset + length > bytes.length) return { ok: false, error: `TLV ${tag}: ${length} bytes announced, ${bytes.length - offset} present` }
    items.push({ tag, value: bytes.subarray(offset, offset + length).toString('hex').toUpperCase() })
    offset += length
  }
  return { ok: true, value: items }
}

/** The value of the first item with `tag`, or undefined. */
export function tlvValue(items: readonly TlvItem[], tag: string): string | undefined {
  const wanted = tag.toUpperCase()
  return items.find((item) => item.tag === wanted)?.value
}

function isTag(tag: string): boolean {
  if (!/^[0-9A-Fa-f]{2,6}$/.test(tag) || tag.length % 2 !== 0) return false
  const bytes = Buffer.from(tag, 'hex')
  const first = bytes[0] ?? 0
  if ((first & 0x1f) !== 0x1f) return bytes.length === 1
  // Multi-byte: every subsequent byte but the last has bit 8 set, the last has it clear.
  for (let index = 1; index < bytes.length; index++) {
    const continues = ((bytes[index] ?? 0) & 0x80) !== 0
    if (continues !== index < bytes.length - 1) return false
  }
  return bytes.length > 1
}

function byteHex(value: number): string {
  return value.toString(16).padStart(2, '0').toUpperCase()
}
