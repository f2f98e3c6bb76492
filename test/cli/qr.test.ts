/**
 * The `qr` commands, driven in-process through commander (output and exit code captured) and
 * once as a real process; and the PNG they draw, read back by a QR decoder (jsQR) from pixels.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { inflateSync } from 'node:zlib'
import { Command } from 'commander'
import jsQRModule from 'jsqr'
import QRCode from 'qrcode'
import { registerQrCommands, type QrCliIo } from '../../src/cli/qr.js'
import { buildDynamicMpm, decodeQr } from '../../src/qr/index.js'

const jsQR = jsQRModule.default

const promptPay = '00020101021129370016A000000677010111011300668012345675802TH530376463046197'
const cpmExample =
  'hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw=='
const parcel = buildDynamicMpm({
  merchantAccount: { gui: 'com.kassa.cod', merchantId: 'M000123' },
  mcc: '5399',
  currencyNumeric: '156',
  amountMinor: 2372n,
  currencyExponent: 2,
  country: 'CN',
  merchantName: 'KASSA MARKET',
  merchantCity: 'BEIJING',
  reference: 'PCL-000042',
})
assert.ok(parcel.ok)
const parcelPayload = parcel.payload

const workDirectory = mkdtempSync(join(tmpdir(), 'kassa-qr-'))
after(() => rmSync(workDirectory, { recursive: true, force: true }))

type Run = { stdout: string; stderr: string; exitCode: number | undefined }

async function run(args: string[], stdin = ''): Promise<Run> {
  const captured: Run = { stdout: '', stderr: '', exitCode: undefined }
  const io: QrCliIo = {
    writeOut: (text) => void (captured.stdout += text),
    writeErr: (text) => void (captured.stderr += text),
    readStdin: async () => stdin,
    setExitCode: (code) => void (captured.exitCode = code),
  }
  const program = new Command('kassa').exitOverride()
  program.configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr })
  registerQrCommands(program, io)
  await program.parseAsync(args, { from: 'user' })
  return captured
}

describe('qr decode', () => {
  it('prints exactly the JSON of decodeQr on one line and leaves the exit code at 0 when valid', async () => {
    const result = await run(['qr', 'decode', promptPay])
    assert.equal(result.exitCode, undefined)
    assert.equal(result.stderr, '')
    assert.equal(result.stdout.split('\n').length, 2)
    assert.ok(result.stdout.endsWith('\n'))
    assert.deepEqual(JSON.parse(result.stdout), decodeQr(promptPay))
    assert.equal(result.stdout, `${JSON.stringify(decodeQr(promptPay))}\n`)
  })

  it('exits 1 for a payload with a wrong CRC, still printing the result', async () => {
    const result = await run(['qr', 'decode', `${promptPay.slice(0, -4)}0000`])
    assert.equal(result.exitCode, 1)
    const printed = JSON.parse(result.stdout) as { valid: boolean; errors: Array<{ id: string; code: string }> }
    assert.equal(printed.valid, false)
    assert.deepEqual(printed.errors.map((error) => `${error.id}:${error.code}`), ['63:crc_mismatch'])
  })

  it('with --strict turns rule breaches into errors and exits 1', async () => {
    const result = await run(['qr', 'decode', '--strict', promptPay])
    assert.equal(result.exitCode, 1)
    assert.deepEqual(JSON.parse(result.stdout), decodeQr(promptPay, { strict: true }))
  })

  it('decodes consumer-presented codes too', async () => {
    const result = await run(['qr', 'decode', cpmExample])
    assert.equal(result.exitCode, undefined)
    assert.equal((JSON.parse(result.stdout) as { mode: string }).mode, 'cpm')
  })
})

describe('qr encode', () => {
  it('reads fields JSON from stdin and prints the payload', async () => {
    const fields = decodeQr(parcelPayload).fields
    const result = await run(['qr', 'encode'], JSON.stringify(fields))
    assert.equal(result.exitCode, undefined)
    assert.equal(result.stdout, `${parcelPayload}\n`)
  })

  it('encodes CPM fields (those with tag 85) to base64', async () => {
    const result = await run(['qr', 'encode'], JSON.stringify(decodeQr(cpmExample).fields))
    assert.equal(result.stdout, `${cpmExample}\n`)
  })

  const refusals: Array<{ name: string; stdin: string; args?: string[]; line: RegExp }> = [
    { name: 'text that is not JSON', stdin: '{"00": "01",', line: /^qr encode: stdin is not fields JSON: / },
    { name: 'a JSON list', stdin: '["00", "01"]', line: /^qr encode: stdin is not a JSON object/ },
    { name: 'a value too long', stdin: JSON.stringify({ '00': '01', '59': 'x'.repeat(120) }), line: /^qr encode: 59 value_too_long: / },
    { name: 'a rule breach in strict mode', stdin: JSON.stringify({ '00': '01', '26': { '00': 'a' }, '52': '0000', '53': '156', '58': 'CN', '59': 'A', '60': 'B' }), args: ['--strict'], line: /^qr encode: 52 value_invalid: / },
  ]
  for (const refusal of refusals) {
    it(`refuses ${refusal.name} with one readable line on stderr and exit code 1`, async () => {
      const result = await run(['qr', 'encode', ...(refusal.args ?? [])], refusal.stdin)
      assert.equal(result.exitCode, 1)
      assert.equal(result.stdout, '')
      assert.match(result.stderr, refusal.line)
      assert.equal(result.stderr.split('\n').length, 2, 'one line')
    })
  }
})

describe('qr png', () => {
  it('draws the payload, prints the path, and the PNG reads back to the same payload', async () => {
    const out = join(workDirectory, 'parcel.png')
    const result = await run(['qr', 'png', parcelPayload, out])
    assert.equal(result.exitCode, undefined)
    assert.equal(result.stdout, `${out}\n`)
    const image = decodePng(readFileSync(out))
    const read = jsQR(image.rgba, image.width, image.height)
    assert.ok(read !== null, 'jsQR found no code in the PNG')
    assert.equal(read.data, parcelPayload)
  })

  it('refuses an invalid payload without writing a file', async () => {
    const out = join(workDirectory, 'invalid.png')
    const result = await run(['qr', 'png', `${promptPay.slice(0, -4)}0000`, out])
    assert.equal(result.exitCode, 1)
    assert.match(result.stderr, /^qr png: the payload is not valid: 63 crc_mismatch/)
    assert.equal(existsSync(out), false)
  })
})

describe('QR module matrix round trip', () => {
  for (const payload of [parcelPayload, promptPay, cpmExample]) {
    it(`qrcode's modules, rendered with a quiet zone, read back by jsQR: ${payload.slice(0, 24)}…`, () => {
      const symbol = QRCode.create(payload, { errorCorrectionLevel: 'M' })
      assert.equal(symbol.errorCorrectionLevel.bit, QRCode.create('x', { errorCorrectionLevel: 'M' }).errorCorrectionLevel.bit)
      const image = renderModules(symbol.modules.size, (row, column) => symbol.modules.get(row, column) === 1)
      const read = jsQR(image.rgba, image.width, image.height)
      assert.ok(read !== null)
      assert.equal(read.data, payload)
    })
  }

  it('a PNG buffer from qrcode.toBuffer reads back too', async () => {
    const png = await QRCode.toBuffer(parcelPayload, { type: 'png', errorCorrectionLevel: 'M' })
    const image = decodePng(png)
    assert.equal(jsQR(image.rgba, image.width, image.height)?.data, parcelPayload)
  })
})

describe('as a real process', () => {
  const cliModule = fileURLToPath(new URL('../../src/cli/qr.js', import.meta.url))
  const checkout = fileURLToPath(new URL('../../../', import.meta.url))
  const script = [
    "import { Command } from 'commander'",
    `import { registerQrCommands } from ${JSON.stringify(cliModule)}`,
    "const program = new Command('kassa')",
    'registerQrCommands(program)',
    "await program.parseAsync(process.argv.slice(1), { from: 'user' })",
  ].join('\n')
  const node = (args: string[], input = '') =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { cwd: checkout, input, encoding: 'utf8', timeout: 30_000 })

  it('decode exits 0 for a valid payload and 1 for an invalid one', () => {
    const valid = node(['qr', 'decode', promptPay])
    assert.equal(valid.status, 0, valid.stderr)
    assert.deepEqual(JSON.parse(valid.stdout), decodeQr(promptPay))
    const invalid = node(['qr', 'decode', `${promptPay.slice(0, -4)}0000`])
    assert.equal(invalid.status, 1)
    assert.equal((JSON.parse(invalid.stdout) as { valid: boolean }).valid, false)
  })

  it('encode reads stdin and exits 1 with one stderr line on bad input', () => {
    const good = node(['qr', 'encode'], JSON.stringify(decodeQr(parcelPayload).fields))
    assert.equal(good.status, 0, good.stderr)
    assert.equal(good.stdout, `${parcelPayload}\n`)
    const bad = node(['qr', 'encode'], 'not json')
    assert.equal(bad.status, 1)
    assert.equal(bad.stdout, '')
    assert.equal(bad.stderr.trimEnd().split('\n').length, 1)
  })
})

/** Paints dark modules black on white, four pixels per module and a four-module quiet zone. */
function renderModules(size: number, isDark: (row: number, column: number) => boolean) {
  const scale = 4
  const quiet = 4
  const width = (size + quiet * 2) * scale
  const rgba = new Uint8ClampedArray(width * width * 4).fill(255)
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      if (!isDark(row, column)) continue
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const offset = (((row + quiet) * scale + dy) * width + (column + quiet) * scale + dx) * 4
          rgba[offset] = 0
          rgba[offset + 1] = 0
          rgba[offset + 2] = 0
        }
      }
    }
  }
  return { rgba, width, height: width }
}

/**
 * A small PNG reader for what qrcode writes: 8-bit greyscale, RGB or RGBA, not interlaced, with
 * the five row filters. Enough to look at the file the CLI wrote, pixel by pixel.
 */
function decodePng(file: Buffer): { rgba: Uint8ClampedArray; width: number; height: number } {
  assert.equal(file.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'not a PNG')
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const data: Buffer[] = []
  while (offset < file.length) {
    const length = file.readUInt32BE(offset)
    const type = file.toString('ascii', offset + 4, offset + 8)
    const body = file.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      const bitDepth = body[8]
      const colorType = body[9]
      assert.equal(bitDepth, 8, 'only 8-bit PNGs are read here')
      assert.equal(body[12], 0, 'interlaced PNGs are not read here')
      channels = colorType === 0 ? 1 : colorType === 2 ? 3 : colorType === 4 ? 2 : colorType === 6 ? 4 : 0
      assert.ok(channels > 0, `colour type ${colorType} is not read here`)
    } else if (type === 'IDAT') {
      data.push(body)
    }
    offset += 12 + length
  }
  const raw = inflateSync(Buffer.concat(data))
  const stride = width * channels
  const pixels = new Uint8Array(stride * height)
  for (let row = 0; row < height; row++) {
    const filter = raw[row * (stride + 1)]
    for (let index = 0; index < stride; index++) {
      const value = raw[row * (stride + 1) + 1 + index] ?? 0
      const left = index >= channels ? (pixels[row * stride + index - channels] ?? 0) : 0
      const up = row > 0 ? (pixels[(row - 1) * stride + index] ?? 0) : 0
      const upLeft = row > 0 && index >= channels ? (pixels[(row - 1) * stride + index - channels] ?? 0) : 0
      let predicted = 0
      if (filter === 1) predicted = left
      else if (filter === 2) predicted = up
      else if (filter === 3) predicted = (left + up) >> 1
      else if (filter === 4) {
        const estimate = left + up - upLeft
        const distanceLeft = Math.abs(estimate - left)
        const distanceUp = Math.abs(estimate - up)
        const distanceUpLeft = Math.abs(estimate - upLeft)
        predicted = distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft ? left : distanceUp <= distanceUpLeft ? up : upLeft
      }
      pixels[row * stride + index] = (value + predicted) & 0xff
    }
  }
  const rgba = new Uint8ClampedArray(width * height * 4)
  for (let pixel = 0; pixel < width * height; pixel++) {
    const source = pixel * channels
    const grey = pixels[source] ?? 0
    rgba[pixel * 4] = grey
    rgba[pixel * 4 + 1] = channels >= 3 ? (pixels[source + 1] ?? 0) : grey
    rgba[pixel * 4 + 2] = channels >= 3 ? (pixels[source + 2] ?? 0) : grey
    rgba[pixel * 4 + 3] = channels === 4 ? (pixels[source + 3] ?? 255) : channels === 2 ? (pixels[source + 1] ?? 255) : 255
  }
  return { rgba, width, height }
}
