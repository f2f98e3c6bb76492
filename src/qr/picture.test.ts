import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import jsQrModule from 'jsqr'
import { PNG } from 'pngjs'
import QRCode from 'qrcode'
import { bilevelPng, qrPictureDataUrl } from './picture.js'

// jsqr is CommonJS whose typings say `export default`: under NodeNext the function is the module's `default`.
const jsQR = jsQrModule.default

/** Decoded by pngjs, an independent PNG reader (its CRC and zlib checks included). */
function decode(dataUrl: string): PNG {
  assert.match(dataUrl, /^data:image\/png;base64,/)
  return PNG.sync.read(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'))
}

const doorPayload =
  '00020101021226370011cn.kassa.door0116dlc_01JABCDEFGHJKMN5204539953031565406400.005802CN5913Kassa Demo Shop6008Shanghai62290525dlc_01JABCDEFGHJKMNPQRSTVW6304ABCD'

describe('QR pictures', () => {
  it('draw every module of the code, scale pixels wide, inside a 4-module white border', () => {
    const { modules } = QRCode.create(doorPayload, { errorCorrectionLevel: 'M' })
    for (const scale of [1, 3, 8]) {
      const png = decode(qrPictureDataUrl(doorPayload, { scale }))
      const side = (modules.size + 8) * scale
      assert.equal(png.width, side)
      assert.equal(png.height, side)
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const row = Math.floor(y / scale) - 4
          const column = Math.floor(x / scale) - 4
          const inside = row >= 0 && row < modules.size && column >= 0 && column < modules.size
          const dark = inside && modules.get(row, column) === 1
          const at = (y * side + x) * 4
          assert.equal(png.data[at], dark ? 0 : 255, `scale ${scale}, pixel (${x}, ${y})`)
        }
      }
    }
  })

  it('read back as their payload, at every scale a page uses', () => {
    for (const scale of [1, 2, 8]) {
      const png = decode(qrPictureDataUrl(doorPayload, { scale }))
      assert.equal(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data, doorPayload)
    }
  })

  it('read back for any payload of the size a code carries', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .-_'), minLength: 1, maxLength: 300 }), (payload) => {
        const png = decode(qrPictureDataUrl(payload, { scale: 2 }))
        assert.equal(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data, payload)
      }),
      { numRuns: 40 },
    )
  })

  it('handle rows whose width is not a whole number of bytes', () => {
    // 3 modules plus the border, 1 pixel each: 11 pixels, so each row ends in a part-used byte.
    const pattern = [
      [1, 0, 1],
      [0, 1, 0],
      [1, 1, 0],
    ]
    const png = PNG.sync.read(bilevelPng(3, (row, column) => pattern[row]?.[column] === 1, 1))
    assert.equal(png.width, 11)
    const darkPixels: string[] = []
    for (let y = 0; y < 11; y++) for (let x = 0; x < 11; x++) if (png.data[(y * 11 + x) * 4] === 0) darkPixels.push(`${x - 4},${y - 4}`)
    assert.deepEqual(darkPixels, ['0,0', '2,0', '1,1', '0,2', '1,2'])
  })

  it('are the same picture when remembered, and refuse a scale that is not a whole number from 1 to 32', () => {
    const first = qrPictureDataUrl(doorPayload, { remember: true })
    assert.equal(qrPictureDataUrl(doorPayload, { remember: true }), first)
    assert.equal(qrPictureDataUrl(doorPayload), first)
    assert.throws(() => qrPictureDataUrl(doorPayload, { scale: 0 }), RangeError)
    assert.throws(() => qrPictureDataUrl(doorPayload, { scale: 2.5 }), RangeError)
    assert.throws(() => qrPictureDataUrl(doorPayload, { scale: 33 }), RangeError)
  })
})
