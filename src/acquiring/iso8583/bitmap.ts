/**
 * Primary and secondary bitmaps. Bit 1 is the most significant bit of the first byte; bit n says
 * whether data element n is present. Bit 1 itself says a secondary bitmap (bits 65–128) follows, and
 * is set exactly when some field 65–128 is present.
 */
import { assert } from '../../domain/assert.js'

export const bitmapByteLength = 8
const secondaryBitmapBit = 1
const primaryFieldMax = 64
const fieldMax = 128

/**
 * The primary bitmap, followed by the secondary one when any field 65–128 is present.
 *
 * @example
 * bitmapOf([2, 3, 4]).toString('hex') // '7000000000000000'
 * bitmapOf([3, 70]).length            // 16, bit 1 set
 */
export function bitmapOf(fieldNumbers: Iterable<number>): Buffer {
  let hasSecondary = false
  const bits = Buffer.alloc(bitmapByteLength * 2)
  for (const fieldNumber of fieldNumbers) {
    assert(
      Number.isInteger(fieldNumber) && fieldNumber > secondaryBitmapBit && fieldNumber <= fieldMax,
      `bitmapOf: ${fieldNumber} is not a data element number 2–128`,
    )
    if (fieldNumber > primaryFieldMax) hasSecondary = true
    setBit(bits, fieldNumber)
  }
  if (!hasSecondary) return bits.subarray(0, bitmapByteLength)
  setBit(bits, secondaryBitmapBit)
  return bits
}

/**
 * True when bit 1 of this primary bitmap announces a secondary bitmap.
 *
 * @example
 * hasSecondaryBitmap(Buffer.from('823A000000000000', 'hex')) // true
 */
export function hasSecondaryBitmap(primaryBitmap: Uint8Array): boolean {
  return ((primaryBitmap[0] ?? 0) & 0x80) !== 0
}

/**
 * The data elements a bitmap of 8 or 16 bytes marks present, ascending, without bit 1.
 *
 * @example
 * fieldNumbersIn(Buffer.from('7010001102C04804', 'hex')) // [2, 3, 4, 12, 28, 32, 39, 41, 42, 50, 53, 62]
 */
export function fieldNumbersIn(bitmap: Uint8Array): number[] {
  assert(
    bitmap.length === bitmapByteLength || bitmap.length === bitmapByteLength * 2,
    `fieldNumbersIn: a bitmap is 8 or 16 bytes, got ${bitmap.length}`,
  )
  const fieldNumbers: number[] = []
  for (let byteIndex = 0; byteIndex < bitmap.length; byteIndex++) {
    const byte = bitmap[byteIndex] ?? 0
    if (byte === 0) continue
    for (let bitIndex = 0; bitIndex < 8; bitIndex++) {
      if ((byte & (0x80 >> bitIndex)) === 0) continue
      const fieldNumber = byteIndex * 8 + bitIndex + 1
      if (fieldNumber !== secondaryBitmapBit) fieldNumbers.push(fieldNumber)
    }
  }
  return fieldNumbers
}

function setBit(bits: Buffer, fieldNumber: number): void {
  const byteIndex = (fieldNumber - 1) >> 3
  bits[byteIndex] = (bits[byteIndex] ?? 0) | (0x80 >> ((fieldNumber - 1) & 7))
}
