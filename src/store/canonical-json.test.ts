import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from './idempotency.js'

/** A request body: what JSON.parse can give, keys in any order. */
const body = fc.jsonValue()

function shuffledKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item) => shuffledKeys(item, seed))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value as Record<string, unknown>)
  const rotated = entries.length === 0 ? entries : [...entries.slice(seed % entries.length), ...entries.slice(0, seed % entries.length)].reverse()
  const copy: Record<string, unknown> = {}
  for (const [key, item] of rotated) Object.defineProperty(copy, key, { value: shuffledKeys(item, seed + 1), enumerable: true, writable: true, configurable: true })
  return copy
}

describe('canonicalJson (the idempotency request hash)', () => {
  it('means what the body means, and is the same whatever order its keys came in', () => {
    fc.assert(
      fc.property(body, fc.nat(), (value, seed) => {
        const text = canonicalJson(value)
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)))
        assert.equal(canonicalJson(shuffledKeys(value, seed)), text)
      }),
      { numRuns: 1_000 },
    )
  })

  it('sorts keys by code unit, leaves out undefined, and writes nested bodies the same way', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: null, y: undefined }], c: 'x' }, B: true }), '{"B":true,"a":{"c":"x","d":[2,{"z":null}]},"b":1}')
  })
})
