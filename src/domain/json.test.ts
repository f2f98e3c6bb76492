import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { toJson } from './json.js'

/** What toJson promises, written the obvious way: JSON.stringify with a replacer. */
function reference(value: unknown): string {
  const safe = BigInt(Number.MAX_SAFE_INTEGER)
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? (v <= safe && v >= -safe ? Number(v) : v.toString()) : v))
}

const leaf = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.bigInt({ min: -999_999_999_999n, max: 999_999_999_999n }),
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ min: new Date(0), max: new Date(4e12) }),
)
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 5 })),
})).node

describe('toJson', () => {
  it('writes what JSON.stringify with a bigint replacer writes, and leaves its input as it was', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const before = reference(value)
        assert.equal(toJson(value), before)
        assert.equal(reference(value), before, 'the input was not changed')
      }),
      { numRuns: 2_000 },
    )
  })

  it('keeps a "__proto__" key a key', () => {
    const value = JSON.parse('{"__proto__":{"amount":1},"b":2}') as Record<string, unknown>
    ;(value['__proto__'] as Record<string, unknown>)['amount'] = 7n
    assert.equal(toJson(value), '{"__proto__":{"amount":7},"b":2}')
  })

  it('keeps safe amounts as numbers and writes larger sums as decimal strings, never rounded', () => {
    assert.equal(toJson({ amount: 999_999_999_999n, sum: 2n ** 60n, list: [1n, -(2n ** 54n)] }), '{"amount":999999999999,"sum":"1152921504606846976","list":[1,"-18014398509481984"]}')
  })
})
