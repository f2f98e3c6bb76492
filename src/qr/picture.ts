import { deflateSync } from 'node:zlib'
import QRCode from 'qrcode'

/** Modules of white around the code: the quiet zone ISO/IEC 18004 asks for. */
const quietZone = 4

/**
 * Pictures drawn lately with `remember`, oldest first, a few kilobytes each. Most of a picture's
 * time is the library choosing the mask (~1 ms), and a courier's list shows the same codes again
 * and again. Not for a code that is a credential (a shopper's one-time code): it stays nowhere.
 */
const recentPictures = new Map<string, string>()
const recentPicturesMax = 1_000

/**
 * A QR code as a PNG data URL, for a page to show: `scale` pixels per module, black on white.
 *
 * The qrcode library finds the code (segments, error correction, the mask of lowest penalty); the
 * PNG is written here, one bit per pixel, because the library's PNG path fills and filters four
 * bytes per pixel in JavaScript: 10 ms of CPU for a parcel code at scale 8, against ~0.1 ms for
 * this, so issuing a door code cost ten times the payment it leads to (bench/door.ts).
 * `remember` keeps the picture for the next call with the same payload.
 */
export function qrPictureDataUrl(payload: string, options: { scale?: number; remember?: boolean } = {}): string {
  const { scale = 8, remember = false } = options
  if (!Number.isInteger(scale) || scale < 1 || scale > 32) throw new RangeError(`scale must be a whole number from 1 to 32, not ${scale}`)
  const key = `${scale} ${payload}`
  const drawn = remember ? recentPictures.get(key) : undefined
  if (drawn !== undefined) return drawn
  const { modules } = QRCode.create(payload, { errorCorrectionLevel: 'M' })
  const picture = `data:image/png;base64,${bilevelPng(modules.size, (row, column) => modules.get(row, column) !== 0, scale).toString('base64')}`
  if (!remember) return picture
  if (recentPictures.size >= recentPicturesMax) recentPictures.delete(recentPictures.keys().next().value as string)
  recentPictures.set(key, picture)
  return picture
}

/**
 * A grey-scale PNG of bit depth 1 (PNG specification, 11.2.2) of a square of `size` modules plus
 * the quiet zone, each module `scale` pixels wide, black where `dark` says so.
 */
export function bilevelPng(size: number, dark: (row: number, column: number) => boolean, scale: number): Buffer {
  const side = (size + 2 * quietZone) * scale
  const rowBytes = 1 + Math.ceil(side / 8)
  const raw = Buffer.alloc(rowBytes * side, 0xff)
  for (let row = 0; row < size + 2 * quietZone; row++) {
    const first = row * scale * rowBytes
    // Filter type 0 (None) on every row, deflate level 1: it still finds the `scale` repeats of
    // each row, and the file is within a tenth of level 6's size at a quarter of the time.
    raw[first] = 0
    const moduleRow = row - quietZone
    if (moduleRow >= 0 && moduleRow < size) {
      for (let column = 0; column < size; column++) {
        if (!dark(moduleRow, column)) continue
        for (let x = (column + quietZone) * scale, end = x + scale; x < end; x++) {
          const at = first + 1 + (x >> 3)
          raw[at] = (raw[at] as number) & ~(0x80 >> (x & 7))
        }
      }
    }
    for (let copy = 1; copy < scale; copy++) raw.copy(raw, first + copy * rowBytes, first, first + rowBytes)
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(side, 0)
  header.writeUInt32BE(side, 4)
  header[8] = 1 // bit depth
  header[9] = 0 // colour type: grey-scale, 0 black, 1 white
  // compression, filter method and interlace stay 0
  return Buffer.concat([pngSignature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))])
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  data.copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** CRC-32 of ISO 3309 over a chunk's type and data, as PNG specifies (Annex D). */
const crcTable = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const byte of bytes) c = (crcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
