/**
 * The EMVCo QR codec against the npm libraries that do the same job, on the same payloads: the
 * codes made by other systems in test/fixtures/qr/wild.json. Each library runs only what it can
 * do, and each row's name says what that is, so nobody compares a CRC check with a full validation
 * without knowing it.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import type * as PixUtils from 'pix-utils'
import { decodeMpm, encodeMpm, type MpmFields } from '../src/qr/index.js'

export type QrBenchRow = { name: string; library: string; version: string; opsPerSecond: number }

type EmvqrModule = { decode(payload: string): unknown }
type EmvQrcpsParsed = { validate(): boolean; generatePayload(): string }
type EmvQrcpsModule = { Merchant: { Parser: { toEMVQR(payload: string): EmvQrcpsParsed } } }
type WildFixture = { name: string; scheme: string; payload: string; expect: { mode: string } }

const require = createRequire(import.meta.url)

/**
 * Measures MPM decode+validate and encode per second for Kassa's codec and for emvqr, emv-qrcps
 * and pix-utils. Every measurement runs at most `durationMs` (after a warm-up of a tenth of it).
 *
 * @example
 * const rows = await benchQrCodec({ durationMs: 500 })
 * // [{ name: 'MPM decode+validate, 12 shared payloads …', library: 'kassa', version: '0.1.0', opsPerSecond: 612345 }, …]
 */
export async function benchQrCodec(options: { durationMs: number }): Promise<QrBenchRow[]> {
  const durationMs = Math.max(1, options.durationMs)
  const emvqr = require('emvqr') as EmvqrModule
  const emvQrcps = require('emv-qrcps') as EmvQrcpsModule
  const pixUtils = require('pix-utils') as typeof PixUtils
  const versions = {
    kassa: projectVersion(),
    emvqr: packageVersion('emvqr'),
    'emv-qrcps': packageVersion('emv-qrcps'),
    'pix-utils': packageVersion('pix-utils'),
  }

  const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/qr/wild.json', import.meta.url), 'utf8')) as WildFixture[]
  const merchantPresented = fixtures.filter((fixture) => fixture.expect.mode === 'mpm')
  // The shared set: payloads every general-purpose library reads without throwing. emvqr throws on
  // an MCC missing from its table (Pix's "0000") and on primitive account IDs it does not know.
  const shared = merchantPresented
    .map((fixture) => fixture.payload)
    .filter((payload) => {
      try {
        emvqr.decode(payload)
        emvQrcps.Merchant.Parser.toEMVQR(payload).validate()
        return true
      } catch {
        return false
      }
    })
  const pix = merchantPresented.filter((fixture) => fixture.scheme === 'Pix').map((fixture) => fixture.payload)
  const sharedFields = shared.map((payload) => decodeMpm(payload).fields)
  const sharedParsed = shared.map((payload) => emvQrcps.Merchant.Parser.toEMVQR(payload))
  const pixStatic = pix.map((payload) => ({ payload, fields: decodeMpm(payload).fields })).filter(({ fields }) => fields['54'] !== undefined)
  const pixParams = pixStatic.map(({ fields }) => staticPixParams(fields))
  const pixFields = pixStatic.map(({ fields }) => fields)

  const sharedLabel = `${shared.length} shared payloads (${describeSchemes(merchantPresented, shared)})`
  const pixLabel = `${pix.length} Pix payloads`
  const rows: QrBenchRow[] = []
  const add = (name: string, library: keyof typeof versions, batch: () => void, batchSize: number) => {
    rows.push({ name, library, version: versions[library], opsPerSecond: measure(batch, batchSize, durationMs) })
  }

  add(`MPM decode+validate, ${sharedLabel}: structure, CRC, every data-object rule`, 'kassa', () => shared.forEach((payload) => decodeMpm(payload)), shared.length)
  add(`MPM decode+validate, ${sharedLabel}: decode and CRC only, no rules; emvqr has no encoder`, 'emvqr', () => shared.forEach((payload) => emvqr.decode(payload)), shared.length)
  add(
    `MPM decode+validate, ${sharedLabel}: decode and mandatory-field check, no CRC check`,
    'emv-qrcps',
    () => shared.forEach((payload) => emvQrcps.Merchant.Parser.toEMVQR(payload).validate()),
    shared.length,
  )
  add(`MPM encode, ${sharedLabel}: from fields, rules checked, CRC`, 'kassa', () => sharedFields.forEach((fields) => encodeMpm(fields)), shared.length)
  add(
    `MPM encode, ${sharedLabel}: from its own parsed object, no validation (writes a CRC below 0x1000 as three digits)`,
    'emv-qrcps',
    () => sharedParsed.forEach((parsed) => parsed.generatePayload()),
    shared.length,
  )
  add(`MPM decode+validate, ${pixLabel}: structure, CRC, every data-object rule`, 'kassa', () => pix.forEach((payload) => decodeMpm(payload)), pix.length)
  add(`MPM decode+validate, ${pixLabel}: Pix parse with CRC and Pix rules (Pix only)`, 'pix-utils', () => pix.forEach((payload) => pixUtils.parsePix(payload)), pix.length)
  add(`MPM encode, ${pixStatic.length} static Pix payloads: from fields, rules checked, CRC`, 'kassa', () => pixFields.forEach((fields) => encodeMpm(fields)), pixFields.length)
  add(
    `MPM encode, ${pixStatic.length} static Pix payloads: createStaticPix + toBRCode (Pix only)`,
    'pix-utils',
    () =>
      pixParams.forEach((params) => {
        const created = pixUtils.createStaticPix(params)
        if (!pixUtils.hasError(created)) created.toBRCode()
      }),
    pixParams.length,
  )
  return rows
}

/** Runs `batch` (which does `batchSize` operations) repeatedly for at most `durationMs`; operations per second. */
function measure(batch: () => void, batchSize: number, durationMs: number): number {
  const warmUpUntil = performance.now() + durationMs / 10
  while (performance.now() < warmUpUntil) batch()
  const start = performance.now()
  const deadline = start + durationMs
  let operations = 0
  // One batch is a few dozen operations, microseconds each, so the deadline is overrun by little.
  while (performance.now() < deadline) {
    batch()
    operations += batchSize
  }
  const seconds = (performance.now() - start) / 1000
  return Math.round(operations / seconds)
}

type StaticPixParams = Parameters<typeof PixUtils.createStaticPix>[0]

function staticPixParams(fields: MpmFields): StaticPixParams {
  const account = fields['26']
  const additional = fields['62']
  const text = (value: unknown): string => (typeof value === 'string' ? value : '')
  const params: StaticPixParams = {
    merchantName: text(fields['59']),
    merchantCity: text(fields['60']),
    pixKey: typeof account === 'object' ? text(account['01']) : '',
    // pix-utils takes the amount as a float; that is its interface, not ours.
    transactionAmount: Number(text(fields['54'])),
  }
  if (typeof account === 'object' && account['02'] !== undefined) params.infoAdicional = account['02']
  if (typeof additional === 'object' && additional['05'] !== undefined) params.txid = additional['05']
  return params
}

function describeSchemes(fixtures: readonly WildFixture[], payloads: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const fixture of fixtures) {
    if (payloads.includes(fixture.payload)) counts.set(fixture.scheme, (counts.get(fixture.scheme) ?? 0) + 1)
  }
  return [...counts].map(([scheme, count]) => `${scheme} ${count}`).join(', ')
}

function packageVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: unknown }
  return typeof manifest.version === 'string' ? manifest.version : 'unknown'
}

function projectVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof manifest.version === 'string' ? manifest.version : 'unknown'
}
