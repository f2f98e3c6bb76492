import { existsSync, writeFileSync } from 'node:fs'
import jsQrModule from 'jsqr'
import { chromium, type Browser, type Page } from 'playwright-core'

// jsqr is CommonJS whose typings say `export default`: under NodeNext the function is the module's `default`.
const jsQR = jsQrModule.default

/** Debian's chromium; scripts/ensure-chromium.sh installs it (the test runner calls it first). */
export const chromiumPath = '/usr/bin/chromium'

/** Why browser suites cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  if (existsSync(chromiumPath)) return undefined
  return `${chromiumPath} is missing: run scripts/ensure-chromium.sh to install Debian's chromium; skipping the browser tests.`
}

/**
 * Headless Debian chromium: no sandbox (tests run as root in CI), no GPU, nothing fetched from the
 * network by the browser itself. With `fakeCameraVideo` (a .y4m file, see writeFakeCameraVideo) the
 * browser has a camera that films that picture, and grants it without asking.
 */
export async function launchBrowser(options: { fakeCameraVideo?: string } = {}): Promise<Browser> {
  const camera =
    options.fakeCameraVideo === undefined
      ? []
      : ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${options.fakeCameraVideo}`]
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...camera],
    timeout: 30_000,
  })
}

/** The courier's handheld (test/browser: phone first). */
export const phoneViewport = { width: 360, height: 740 } as const

/** The RGBA pixels of a picture. */
export type Pixels = { width: number; height: number; rgba: Uint8ClampedArray }

/** A white border of this many pixels around the drawn code: jsQR wants a quiet zone even when the picture is cropped tight. */
const quietZonePixels = 24
/** Small pictures are drawn larger (whole multiples, no smoothing) so each module covers several pixels. */
const sidePixelsMin = 480

/**
 * The pixels of a picture on the page (an `<img>` or a `<canvas>`), drawn into a canvas inside the
 * page: enlarged to at least sidePixelsMin (whole multiples, no smoothing) on a white border.
 */
export async function readPicturePixels(page: Page, selector: string): Promise<Pixels> {
  await page.waitForSelector(selector, { state: 'visible' })
  const drawn = await page.$eval(
    selector,
    async (element, options): Promise<{ width: number; height: number; rgbaBase64: string }> => {
      let source: CanvasImageSource
      let width: number
      let height: number
      if (element instanceof HTMLImageElement) {
        if (!element.complete || element.naturalWidth === 0) await element.decode()
        source = element
        width = element.naturalWidth
        height = element.naturalHeight
      } else if (element instanceof HTMLCanvasElement) {
        source = element
        width = element.width
        height = element.height
      } else {
        throw new Error(`${element.tagName} is neither an <img> nor a <canvas>`)
      }
      const scale = Math.max(1, Math.min(8, Math.ceil(options.sidePixelsMin / Math.max(1, Math.min(width, height)))))
      const canvas = document.createElement('canvas')
      canvas.width = width * scale + 2 * options.quietZonePixels
      canvas.height = height * scale + 2 * options.quietZonePixels
      const context = canvas.getContext('2d')
      if (context === null) throw new Error('no 2d canvas in this browser')
      context.imageSmoothingEnabled = false
      context.fillStyle = '#ffffff'
      context.fillRect(0, 0, canvas.width, canvas.height)
      context.drawImage(source, options.quietZonePixels, options.quietZonePixels, width * scale, height * scale)
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data
      // Base64 rather than a JSON array of numbers: a quarter of the bytes over the DevTools protocol.
      let binary = ''
      const chunk = 0x8000
      for (let offset = 0; offset < data.length; offset += chunk) {
        binary += String.fromCharCode(...data.subarray(offset, offset + chunk))
      }
      return { width: canvas.width, height: canvas.height, rgbaBase64: btoa(binary) }
    },
    { quietZonePixels, sidePixelsMin },
  )
  const bytes = Buffer.from(drawn.rgbaBase64, 'base64')
  return { width: drawn.width, height: drawn.height, rgba: new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, bytes.byteLength) }
}

/**
 * Reads the QR code shown by `selector` (an `<img>` or a `<canvas>`) as a person's phone would:
 * draws it into a canvas inside the page, takes the RGBA pixels out, and decodes them in Node with
 * jsQR. Returns the code's text; throws if the element is missing or holds no readable code.
 *
 * ### Example
 * ```ts
 * const payload = await readQrFromPage(courierPage, '#qr-image')  // '000201010212…6304ABCD'
 * ```
 */
export async function readQrFromPage(page: Page, selector: string): Promise<string> {
  const pixels = await readPicturePixels(page, selector)
  const text = decodeQrPixels(pixels.rgba, pixels.width, pixels.height)
  if (text === undefined) throw new Error(`No QR code could be read from ${selector} (${pixels.width}×${pixels.height} pixels drawn)`)
  return text
}

const fakeCameraWidth = 640
const fakeCameraHeight = 480

/**
 * Writes a one-frame YUV4MPEG2 video of a picture (grey levels, centred on white, scaled to fit),
 * for chromium's `--use-file-for-fake-video-capture`, which plays it in a loop as the camera: the
 * pages' camera scanning can then be tested with a real getUserMedia stream.
 */
export function writeFakeCameraVideo(path: string, picture: Pixels): void {
  const width = fakeCameraWidth
  const height = fakeCameraHeight
  const luma = new Uint8Array(width * height).fill(255)
  const scale = Math.min((width - 40) / picture.width, (height - 40) / picture.height)
  const drawnWidth = Math.floor(picture.width * scale)
  const drawnHeight = Math.floor(picture.height * scale)
  const left = Math.floor((width - drawnWidth) / 2)
  const top = Math.floor((height - drawnHeight) / 2)
  for (let y = 0; y < drawnHeight; y += 1) {
    const sourceY = Math.min(picture.height - 1, Math.floor(y / scale))
    for (let x = 0; x < drawnWidth; x += 1) {
      const sourceX = Math.min(picture.width - 1, Math.floor(x / scale))
      const at = (sourceY * picture.width + sourceX) * 4
      const grey = (299 * picture.rgba[at]! + 587 * picture.rgba[at + 1]! + 114 * picture.rgba[at + 2]!) / 1000
      luma[(top + y) * width + left + x] = Math.round(grey)
    }
  }
  const chroma = new Uint8Array((width / 2) * (height / 2)).fill(128)
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\nFRAME\n`, 'ascii')
  writeFileSync(path, Buffer.concat([header, luma, chroma, chroma]))
}

/** Decodes a QR code from raw RGBA pixels (e.g. a PNG screenshot decoded elsewhere); undefined when none is found. */
export function decodeQrPixels(rgba: Uint8ClampedArray, width: number, height: number): string | undefined {
  return jsQR(rgba, width, height, { inversionAttempts: 'attemptBoth' })?.data
}
