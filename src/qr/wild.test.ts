/**
 * Codes made by other systems (test/fixtures/qr/wild.json, each with the repository and file it
 * was taken from) decode in the default mode, with the CRC they carry, the key fields their
 * sources assert, and exactly the warnings docs/qr.md lists for them.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { crc16Hex } from './crc.js'
import { encodeCpm, type CpmFields } from './cpm.js'
import { decodeQr } from './index.js'
import { decodeMpm, encodeMpm } from './mpm.js'
import type { MpmFields } from './mpm-types.js'

type WildFixture = {
  name: string
  scheme: string
  source: string
  payload: string
  note?: string
  expect: { valid: boolean; mode: 'mpm' | 'cpm'; fields: Record<string, unknown>; warnings: string[] }
}

// Compiled to dist/src/qr/, three levels below the checkout.
const fixturesUrl = new URL('../../../test/fixtures/qr/wild.json', import.meta.url)
const fixtures = JSON.parse(readFileSync(fixturesUrl, 'utf8')) as WildFixture[]

describe('codes made by other systems', () => {
  it('come from every scheme Kassa must read', () => {
    const schemes = new Set(fixtures.map((fixture) => fixture.scheme))
    for (const scheme of ['Pix', 'PromptPay', 'SGQR', 'DuitNow', 'Bharat QR (India)', 'UPI in Bharat QR (India)', 'UnionPay (CN)', 'EMV CPM']) {
      assert.ok(schemes.has(scheme), `no fixture for ${scheme}`)
    }
    // Where each code was found: a repository and its path, or the public documentation page that shows it.
    for (const fixture of fixtures) assert.match(fixture.source, /https:\/\/\S+|\S+\/\S+ \S+/, `${fixture.name} names no repository and path, nor a documentation page`)
  })

  for (const fixture of fixtures) {
    it(`${fixture.scheme}: ${fixture.name}`, () => {
      const result = decodeQr(fixture.payload)
      assert.equal(result.mode, fixture.expect.mode)
      assert.deepEqual(result.errors, [])
      assert.equal(result.valid, fixture.expect.valid)
      assert.deepEqual(
        result.warnings.map((warning) => `${warning.id}:${warning.code}`).sort(),
        [...fixture.expect.warnings].sort(),
      )
      for (const [id, expected] of Object.entries(fixture.expect.fields)) {
        const actual = (result.fields as Record<string, unknown>)[id]
        if (typeof expected === 'object' && expected !== null && !Array.isArray(expected)) {
          assert.equal(typeof actual, 'object', `${id} is not a template`)
          for (const [subId, value] of Object.entries(expected)) {
            assert.deepEqual((actual as Record<string, unknown>)[subId], value, `${id}.${subId}`)
          }
        } else {
          assert.deepEqual(actual, expected, id)
        }
      }
      // Strict mode turns exactly the warnings into errors.
      assert.equal(decodeQr(fixture.payload, { strict: true }).valid, fixture.expect.warnings.length === 0)
    })
  }

  it('carry the CRC of what precedes it (MPM), computed over UTF-8', () => {
    for (const fixture of fixtures.filter((candidate) => candidate.expect.mode === 'mpm')) {
      const fields = decodeMpm(fixture.payload).fields
      assert.equal(fields['63'], crc16Hex(fixture.payload.slice(0, -4)), fixture.name)
    }
  })

  it('re-encode to payloads with the same fields', () => {
    for (const fixture of fixtures) {
      const decoded = decodeQr(fixture.payload)
      if (decoded.mode === 'cpm') {
        const encoded = encodeCpm(decoded.fields as CpmFields)
        assert.ok(encoded.ok, fixture.name)
        assert.deepEqual(decodeQr(encoded.payload).fields, decoded.fields, fixture.name)
        continue
      }
      const encoded = encodeMpm(decoded.fields as MpmFields)
      assert.ok(encoded.ok, fixture.name)
      const again = decodeMpm(encoded.payload)
      assert.deepEqual({ ...again.fields, '63': '' }, { ...decoded.fields, '63': '' }, fixture.name)
    }
  })
})
