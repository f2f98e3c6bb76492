/**
 * The MAC that authenticates every message between a terminal and the POS host (field 64, or field
 * 128 when the message has a secondary bitmap). Pure: node:crypto only.
 *
 * **What is MACed, byte-exact.** The message in the `ascii` encoding exactly as it travels (without
 * the 2-byte length header), from the first byte of the MTI up to, and not including, the 16 hex
 * characters of the MAC field's value. That is: the MTI, the bitmap(s) with the MAC bit already set
 * (bit 64, or bits 1 and 128), and every other field. Because fields are written in ascending order
 * and 64 (128) is the last one a primary (secondary) bitmap can announce, the MAC field is always the
 * last 16 bytes of the message, so the MACed data is simply `message[0 … length − 16)`.
 *
 * **The MAC.** HMAC-SHA256 keyed with the terminal's MAC key (32 random bytes given out when the
 * terminal is registered), truncated to its first 8 bytes, written as 16 upper-case hex characters
 * (field type `b 64`). Compared in constant time, case-insensitively.
 *
 * A real terminal would use a retail MAC (ISO 9797-1 algorithm 3) under a key derived per terminal;
 * HMAC-SHA256 gives the same guarantees with nothing but node:crypto.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { assert } from '../../domain/assert.js'
import { encodeMessage, type Iso8583Message, type Iso8583Result } from '../iso8583/index.js'

/** Bytes of the MAC (field 64/128 is `b 64`). */
export const macByteLength = 8
/** Characters of the MAC in the `ascii` encoding: two hex characters a byte. */
export const macCharacterLength = macByteLength * 2
/** Bytes of a terminal's MAC key as Kassa issues it. */
export const macKeyByteLength = 32

const zeroMac = '0'.repeat(macCharacterLength)

/** Field 128 when the message has a secondary bitmap (any field 65–128), else field 64. */
export function macFieldFor(fields: Iso8583Message['fields']): 64 | 128 {
  for (const key of Object.keys(fields)) {
    const field = Number(key)
    if (field > 64 && field !== 128 && fields[field] !== undefined) return 128
  }
  return 64
}

/** Parses a MAC key given as hex (16 to 64 bytes); undefined if it is not one. */
export function macKeyFromHex(hex: string): Buffer | undefined {
  if (!/^(?:[0-9A-Fa-f]{2}){16,64}$/.test(hex)) return undefined
  return Buffer.from(hex, 'hex')
}

/**
 * The MAC of `data`, as 16 upper-case hex characters.
 *
 * @example
 * computeMac(Buffer.alloc(32, 1), Buffer.from('0800…', 'latin1')) // '3F…' (16 hex characters)
 */
export function computeMac(key: Buffer, data: Uint8Array): string {
  assert(key.length >= 16, 'a MAC key is at least 16 bytes')
  return createHmac('sha256', key).update(data).digest().subarray(0, macByteLength).toString('hex').toUpperCase()
}

/**
 * Encodes `message` (`ascii`) with its MAC in field 64 or 128; any MAC field it carries is replaced.
 *
 * @example
 * const bytes = encodeWithMac({ mti: '0800', fields: { 11: '000001', 41: 'TERM0001', 70: '301' } }, key)
 * if (bytes.ok) socket.write(encodeFrame(bytes.value).value)
 */
export function encodeWithMac(message: Iso8583Message, key: Buffer): Iso8583Result<Buffer> {
  const fields: Record<number, string> = { ...message.fields }
  delete fields[64]
  delete fields[128]
  fields[macFieldFor(fields)] = zeroMac
  const encoded = encodeMessage({ mti: message.mti, fields }, { encoding: 'ascii' })
  if (!encoded.ok) return encoded
  const bytes = encoded.value
  const macStart = bytes.length - macCharacterLength
  bytes.write(computeMac(key, bytes.subarray(0, macStart)), macStart, 'latin1')
  return { ok: true, value: bytes }
}

/** Why a message's MAC is not accepted. */
export type MacProblem =
  /** Field 64 (or 128) is absent. */
  | 'mac_missing'
  /** The MAC is in the wrong field: 64 in a message with a secondary bitmap, or both. */
  | 'mac_misplaced'
  /** The MAC does not verify under the terminal's key. */
  | 'mac_mismatch'

/**
 * Checks the MAC of a message as received: `bytes` are the message bytes (no length header) and
 * `message` what they decoded to. Undefined when the MAC verifies.
 */
export function verifyMac(bytes: Buffer, message: Iso8583Message, key: Buffer): MacProblem | undefined {
  const expectedField = macFieldFor(message.fields)
  const otherField = expectedField === 64 ? 128 : 64
  const mac = message.fields[expectedField]
  if (message.fields[otherField] !== undefined) return 'mac_misplaced'
  if (mac === undefined) return 'mac_missing'
  assert(bytes.length > macCharacterLength, 'a message with a MAC is longer than the MAC')
  const macStart = bytes.length - macCharacterLength
  // The codec wrote fields in ascending order and refused trailing bytes, so the MAC is the tail.
  assert(bytes.subarray(macStart).toString('latin1').toUpperCase() === mac.toUpperCase(), 'the MAC field is the last 16 bytes of the message')
  const computed = Buffer.from(computeMac(key, bytes.subarray(0, macStart)), 'hex')
  const received = Buffer.from(mac, 'hex')
  return received.length === computed.length && timingSafeEqual(received, computed) ? undefined : 'mac_mismatch'
}
