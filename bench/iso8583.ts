/**
 * ISO 8583 codec throughput: our codec side by side with the npm package iso_8583 on the same two
 * messages, a typical 0200 purchase (15 fields) and a 0100 authorization carrying EMV data in field 55.
 *
 * Both sides encode to the same wire form (ASCII fields, raw 8-byte bitmap, which is what iso_8583
 * produces), so our codec runs with the `ascii-binary-bitmap` encoding. Each side decodes the bytes it
 * encoded itself. Before timing, each side's round trip is checked, so a library that silently drops a
 * field cannot look fast.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { decodeMessage, encodeMessage, type Iso8583Fields, type Iso8583Message } from '../src/acquiring/iso8583/codec.js'

export type BenchIso8583Result = { name: string; library: string; version: string; opsPerSecond: number }

const encoding = 'ascii-binary-bitmap'
const warmUpShare = 0.1
const warmUpMsMax = 200
const batchSizeMax = 1024

const purchase: Iso8583Message = {
  mti: '0200',
  fields: {
    2: '6212345678901234',
    3: '000000',
    4: '000000012345',
    7: '0911131411',
    11: '000042',
    12: '131411',
    13: '0911',
    18: '5411',
    22: '051',
    25: '00',
    35: '6212345678901234=25122011758928889',
    41: 'TERM0001',
    42: 'KASSA0000000001',
    43: 'Kassa Store 1          Shanghai      CHN',
    49: '156',
  },
}

// A plausible contactless EMV tag set: 9F26 cryptogram, 9F27, 9F10, 9F37, 9F36, 95, 9A, 9C, 9F02, 5F2A, 82, 9F1A, 9F03.
const iccData =
  '9F2608FD19D0F54D38DFB99F2701809F10120110A04000220000000000000000000000FF9F370437ED4D4D9F360201CA' +
  '950500000010009A031504089C01009F02060000000123455F2A0201568202390000009F1A0201569F0306000000000000'

const authorizationWithIcc: Iso8583Message = {
  mti: '0100',
  fields: {
    2: '6212345678901234',
    3: '000000',
    4: '000000012345',
    7: '0911131411',
    11: '000043',
    14: '2512',
    22: '071',
    23: '001',
    25: '00',
    35: '6212345678901234=25122011758928889',
    41: 'TERM0001',
    42: 'KASSA0000000001',
    49: '156',
    55: iccData,
  },
}

type Iso8583Package = {
  new (message?: Record<number, string>): {
    getRawMessage(): Buffer | { error: unknown }
    getIsoJSON(buffer: Buffer, config: { lenHeader: boolean }): Record<string, string> | { error: unknown }
  }
}

/**
 * Measures encode and decode messages per second for both codecs, each measurement bounded by
 * `durationMs` (plus a warm-up of a tenth of it, at most 200 ms).
 *
 * @example
 * for (const row of await benchIso8583Codec({ durationMs: 1000 })) console.log(row.name, row.library, row.opsPerSecond)
 */
export async function benchIso8583Codec(options: { durationMs: number }): Promise<BenchIso8583Result[]> {
  const require = createRequire(import.meta.url)
  const Iso8583Package = require('iso_8583') as Iso8583Package
  const theirVersion = packageVersion(require.resolve('iso_8583/package.json'))
  const ourVersion = packageVersion(new URL('../../package.json', import.meta.url))

  const cases = [
    { label: '0200 purchase, 15 fields', message: purchase },
    { label: '0100 authorization with field 55', message: authorizationWithIcc },
  ]
  const results: BenchIso8583Result[] = []
  for (const { label, message } of cases) {
    const ourBytes = ourEncode(message)
    assertSameMessage(ourDecode(ourBytes), message, 'kassa')
    const theirInput = { 0: message.mti, ...message.fields }
    const theirBytes = theirEncode(Iso8583Package, theirInput)
    assertSameMessage(theirDecode(Iso8583Package, theirBytes), message, 'iso_8583')

    results.push(
      { name: `encode ${label}`, library: 'kassa', version: ourVersion, opsPerSecond: await measure(() => ourEncode(message).length, options.durationMs) },
      {
        name: `encode ${label}`,
        library: 'iso_8583',
        version: theirVersion,
        opsPerSecond: await measure(() => theirEncode(Iso8583Package, theirInput).length, options.durationMs),
      },
      { name: `decode ${label}`, library: 'kassa', version: ourVersion, opsPerSecond: await measure(() => ourDecode(ourBytes).mti.length, options.durationMs) },
      {
        name: `decode ${label}`,
        library: 'iso_8583',
        version: theirVersion,
        opsPerSecond: await measure(() => theirDecode(Iso8583Package, theirBytes).mti.length, options.durationMs),
      },
    )
  }
  return results
}

function ourEncode(message: Iso8583Message): Buffer {
  const result = encodeMessage(message, { encoding })
  if (!result.ok) throw new Error(`kassa refused the benchmark message: ${result.error.message}`)
  return result.value
}

function ourDecode(bytes: Buffer): Iso8583Message {
  const result = decodeMessage(bytes, { encoding })
  if (!result.ok) throw new Error(`kassa could not decode its own message: ${result.error.message}`)
  return result.value
}

function theirEncode(Iso8583Package: Iso8583Package, input: Record<number, string>): Buffer {
  const raw = new Iso8583Package(input).getRawMessage()
  if (!Buffer.isBuffer(raw)) throw new Error(`iso_8583 refused the benchmark message: ${JSON.stringify(raw.error)}`)
  return raw
}

function theirDecode(Iso8583Package: Iso8583Package, bytes: Buffer): Iso8583Message {
  const json = new Iso8583Package().getIsoJSON(bytes, { lenHeader: false })
  if ('error' in json) throw new Error(`iso_8583 could not decode its own message: ${JSON.stringify(json.error)}`)
  const { 0: mti, ...fields } = json
  return { mti: mti ?? '', fields: fields as Iso8583Fields }
}

function assertSameMessage(actual: Iso8583Message, expected: Iso8583Message, library: string): void {
  const normalize = (message: Iso8583Message): string =>
    JSON.stringify({ mti: message.mti, fields: Object.fromEntries(Object.entries(message.fields).map(([key, value]) => [key, String(value).toUpperCase()])) })
  if (normalize(actual) !== normalize(expected)) {
    throw new Error(`${library} did not round-trip the benchmark message: ${normalize(actual)}`)
  }
}

function packageVersion(path: string | URL): string {
  const manifest: unknown = JSON.parse(readFileSync(path, 'utf8'))
  const version = typeof manifest === 'object' && manifest !== null ? (manifest as { version?: unknown }).version : undefined
  return typeof version === 'string' ? version : 'unknown'
}

/**
 * Operations per second of `operation` over about `durationMs`. Operations run in batches (doubling up
 * to 1024) between clock reads, so reading the clock does not dominate; the result of each operation
 * is folded into a checksum so the work cannot be optimized away.
 */
async function measure(operation: () => number, durationMs: number): Promise<number> {
  let checksum = 0
  const warmUpDeadline = performance.now() + Math.min(durationMs * warmUpShare, warmUpMsMax)
  while (performance.now() < warmUpDeadline) checksum += operation()

  let operationCount = 0
  let batchSize = 1
  const start = performance.now()
  const deadline = start + durationMs
  let now = start
  while (now < deadline) {
    for (let index = 0; index < batchSize; index++) checksum += operation()
    operationCount += batchSize
    if (batchSize < batchSizeMax) batchSize *= 2
    now = performance.now()
  }
  if (checksum < 0) throw new Error('unreachable: checksums are sums of lengths')
  // Let other work (a runner's timers, stdout) proceed between measurements.
  await new Promise((resolve) => setImmediate(resolve))
  return Math.round(operationCount / ((now - start) / 1000))
}
