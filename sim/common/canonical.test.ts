import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalString, definedParams, encodeForm, flatParamsFromJson, hmacSha256, paramCountMax, parseFormParams, signaturesEqual } from './canonical.js'
import { parseAmountMinor } from './amount.js'

describe('canonical parameters', () => {
  it('sorts by key, drops excluded and empty parameters, and does not percent-encode', () => {
    assert.equal(canonicalString({ b: '2', a: '1', sign: 'x', c: '', d: 'x y&z=1' }, ['sign']), 'a=1&b=2&d=x y&z=1')
    assert.equal(canonicalString({}, []), '')
    assert.equal(canonicalString({ a_b: '1', a: '2', ab: '3' }, []), 'a=2&a_b=1&ab=3', 'byte order: _ (0x5f) before b (0x62)')
  })

  it('computes HMAC-SHA256 as openssl does', () => {
    // printf 'a=1&b=2' | openssl dgst -sha256 -hmac key
    assert.equal(hmacSha256('key', 'a=1&b=2', 'hex'), 'b3c18626e7ac81395c1d37966c7ee2258a6967a1b3fdefb4fa339bb19dc73b0e')
    // ... -binary | base64
    assert.equal(hmacSha256('key', 'a=1&b=2', 'base64'), 's8GGJuesgTlcHTeWbH7iJYppZ6Gz/e+0+jObsZ3HOw4=')
  })

  it('compares signatures of different lengths without throwing', () => {
    assert.equal(signaturesEqual('abc', 'abcd'), false)
    assert.equal(signaturesEqual('abc', 'abc'), true)
  })

  it('parses forms and refuses repeated keys, odd names, too many parameters', () => {
    const parsed = parseFormParams('a=1&b=x+y%26')
    assert.deepEqual(parsed.ok ? { ...parsed.params } : undefined, { a: '1', b: 'x y&' })
    assert.deepEqual(parseFormParams('a=1&a=2'), { ok: false, field: 'a', message: 'a is repeated' })
    assert.equal(parseFormParams('__proto__=1').ok, false)
    assert.equal(parseFormParams('A=1').ok, false)
    assert.equal(parseFormParams(Array.from({ length: paramCountMax + 1 }, (_, i) => `k${i}=1`).join('&')).ok, false)
  })

  it('reads flat JSON objects: strings and safe integers only', () => {
    const read = flatParamsFromJson({ amount: 100, order_no: 'A1', memo: null })
    assert.deepEqual(read.ok ? { ...read.params } : undefined, { amount: '100', order_no: 'A1' })
    for (const bad of [{ amount: 1.5 }, { amount: 2 ** 53 }, { nested: {} }, { list: [] }, { flag: true }]) assert.equal(flatParamsFromJson(bad).ok, false, JSON.stringify(bad))
    assert.equal(flatParamsFromJson([1]).ok, false)
    assert.equal(flatParamsFromJson('x').ok, false)
  })

  it('writes bigints and integers in decimal and leaves undefined out', () => {
    assert.deepEqual(definedParams({ a: 1n, b: 2, c: undefined, d: 'x' }), { a: '1', b: '2', d: 'x' })
    assert.throws(() => definedParams({ a: 1.5 }))
  })

  it('round-trips any flat parameters through the form encoding', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/)
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ maxLength: 30 }), { maxKeys: 10 }), (params) => {
        const parsed = parseFormParams(encodeForm(params))
        assert.ok(parsed.ok)
        assert.deepEqual({ ...parsed.params }, { ...params })
        assert.equal(canonicalString(parsed.params, []), canonicalString(params, []))
      }),
    )
  })

  it('reads amounts of minor units: positive integers of at most twelve digits, nothing else', () => {
    assert.equal(parseAmountMinor('1'), 1n)
    assert.equal(parseAmountMinor('999999999999'), 999_999_999_999n)
    for (const bad of [undefined, '', '0', '-1', '01', '1.0', '12.50', '1e3', ' 1', '1000000000000']) assert.equal(parseAmountMinor(bad), undefined, String(bad))
  })
})
