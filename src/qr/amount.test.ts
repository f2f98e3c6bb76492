import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { currencyCodes, findCurrency } from '../domain/currency.js'
import { amountMinorFromMpm, formatAmountMinor, parseAmountMinor } from './amount.js'

describe('formatAmountMinor', () => {
  const cases: Array<[bigint, number, string]> = [
    [12345n, 2, '123.45'],
    [5n, 2, '0.05'],
    [100n, 2, '1.00'],
    [500n, 0, '500'],
    [1n, 3, '0.001'],
    [999_999_999_999n, 2, '9999999999.99'],
    [12n, 4, '0.0012'],
  ]
  for (const [amountMinor, exponent, text] of cases) {
    it(`writes ${amountMinor} with ${exponent} decimals as "${text}"`, () => {
      assert.equal(formatAmountMinor(amountMinor, exponent), text)
    })
  }

  it('refuses a negative amount as a programmer error', () => {
    assert.throws(() => formatAmountMinor(-1n, 2), /not negative/)
  })
})

describe('parseAmountMinor', () => {
  const cases: Array<[string, number, bigint]> = [
    ['98.73', 2, 9873n],
    ['98.', 2, 9800n],
    ['98', 2, 9800n],
    ['98.7', 2, 9870n],
    ['0.05', 2, 5n],
    ['1000', 0, 1000n],
    ['1.5', 3, 1500n],
  ]
  for (const [text, exponent, amountMinor] of cases) {
    it(`reads "${text}" with ${exponent} decimals as ${amountMinor}`, () => {
      assert.deepEqual(parseAmountMinor(text, exponent, '54'), { ok: true, amountMinor })
    })
  }

  it('reads back whatever formatAmountMinor writes, for every currency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...currencyCodes), fc.bigInt({ min: 1n, max: 10n ** 15n }), (code, amountMinor) => {
        const currency = findCurrency(code)
        assert.ok(currency !== undefined)
        assert.deepEqual(parseAmountMinor(formatAmountMinor(amountMinor, currency.exponent), currency.exponent, '54'), {
          ok: true,
          amountMinor,
        })
      }),
    )
  })
})

describe('amountMinorFromMpm', () => {
  it('reads the transaction amount in minor units of the payload currency', () => {
    const cny = findCurrency('CNY')
    const jpy = findCurrency('JPY')
    assert.ok(cny !== undefined && jpy !== undefined)
    assert.deepEqual(amountMinorFromMpm({ '53': '156', '54': '23.72' }, cny), { ok: true, amountMinor: 2372n })
    assert.deepEqual(amountMinorFromMpm({ '53': '392', '54': '1500' }, jpy), { ok: true, amountMinor: 1500n })
    const decimalsInYen = amountMinorFromMpm({ '53': '392', '54': '1500.5' }, jpy)
    assert.equal(decimalsInYen.ok ? 'ok' : decimalsInYen.error.code, 'amount_precision_invalid')
  })
})
