// The pages' own amount arithmetic (web/shared/kassa.js), run in Node: what a courier types in
// major units becomes exact minor units by string arithmetic, never through a float.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

type Parsed = { ok: true; minor: bigint } | { ok: false; message: string }
type PageAmounts = {
  parseMajorUnits(text: string, exponent: number): Parsed
  formatMinorUnits(minor: bigint, exponent: number): string
  exponentOfDisplay(amountDisplay: string): number
  minorUnitsForJson(minor: bigint): number
}

// A browser module with no type declarations: loaded by URL so TypeScript does not look for them.
const amounts = (await import(new URL('../../../web/shared/kassa.js', import.meta.url).href)) as PageAmounts

describe('pages: amounts typed on the courier’s page', () => {
  it('turns major units into exact minor units', () => {
    const cases: [string, number, bigint][] = [
      ['149.5', 2, 14_950n],
      ['149.50', 2, 14_950n],
      ['149', 2, 14_900n],
      ['0.01', 2, 1n],
      ['.5', 2, 50n],
      ['12,34', 2, 1_234n],
      [' 99.99 ', 2, 9_999n],
      ['145.05', 2, 14_505n], // 145.05 * 100 is 14505.000000000002 in floating point
      ['0.29', 2, 29n], // 0.29 * 100 is 28.999999999999996
      ['1990', 0, 1_990n],
      ['1.234', 3, 1_234n],
      ['9999999999.99', 2, 999_999_999_999n],
    ]
    for (const [text, exponent, minor] of cases) {
      assert.deepEqual(amounts.parseMajorUnits(text, exponent), { ok: true, minor }, `${text} (exponent ${exponent})`)
    }
  })

  it('refuses what is not an amount, with a message for the courier', () => {
    const cases: [string, number, RegExp][] = [
      ['', 2, /Enter an amount/],
      ['   ', 2, /Enter an amount/],
      ['abc', 2, /not an amount/],
      ['-5', 2, /not an amount/],
      ['1e3', 2, /not an amount/],
      ['1.2.3', 2, /not an amount/],
      ['.', 2, /not an amount/],
      ['99.999', 2, /At most 2 decimals/],
      ['1.5', 0, /no decimals/],
      ['10000000000.00', 2, /too large/],
      ['99999999999999999999', 2, /too large/],
    ]
    for (const [text, exponent, message] of cases) {
      const parsed = amounts.parseMajorUnits(text, exponent)
      assert.equal(parsed.ok, false, text)
      if (!parsed.ok) assert.match(parsed.message, message, text)
    }
  })

  it('shows minor units back the way Kassa does, and reads the exponent off Kassa’s display', () => {
    assert.equal(amounts.formatMinorUnits(14_950n, 2), '149.50')
    assert.equal(amounts.formatMinorUnits(5n, 2), '0.05')
    assert.equal(amounts.formatMinorUnits(123_456_789n, 2), '1234567.89')
    assert.equal(amounts.formatMinorUnits(1_990n, 0), '1990')
    assert.equal(amounts.exponentOfDisplay('199.00'), 2)
    assert.equal(amounts.exponentOfDisplay('1990'), 0)
    assert.equal(amounts.exponentOfDisplay('1.234'), 3)
    assert.equal(amounts.minorUnitsForJson(999_999_999_999n), 999_999_999_999)
    assert.throws(() => amounts.minorUnitsForJson(BigInt(Number.MAX_SAFE_INTEGER) + 1n), RangeError)
  })
})
