import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from './assert.js'
import { currency, currencyCodes } from './currency.js'
import {
  add,
  allocate,
  AMOUNT_MINOR_MAX,
  divideRounded,
  feeBasisPoints,
  formatMinor,
  money,
  parseMajor,
  subtract,
  type Rounding,
} from './money.js'

const roundings: readonly Rounding[] = ['down', 'half_up', 'half_even']

describe('money: add and subtract', () => {
  it('adds and subtracts minor units of one currency', () => {
    assert.deepEqual(add(money(1_050n, 'CNY'), money(250n, 'CNY')), { amount_minor: 1_300n, currency: 'CNY' })
    assert.deepEqual(subtract(money(1_050n, 'CNY'), money(250n, 'CNY')), { amount_minor: 800n, currency: 'CNY' })
    // A difference may be negative (a correction); it is still exact.
    assert.deepEqual(subtract(money(1n, 'JPY'), money(3n, 'JPY')), { amount_minor: -2n, currency: 'JPY' })
  })

  it('refuses two currencies at compile time and at run time', () => {
    const yuan = money(100n, 'CNY')
    const yen = money(100n, 'JPY')
    // @ts-expect-error CNY and JPY do not add up
    assert.throws(() => add(yuan, yen), { name: 'AssertionError', message: /currencies differ: CNY and JPY/ })
    // @ts-expect-error CNY and JPY do not subtract
    assert.throws(() => subtract(yuan, yen), { name: 'AssertionError', message: /currencies differ: CNY and JPY/ })
    // Widened to the union type the compiler lets it through; the run-time assert still stops it.
    const widened: ReturnType<typeof money> = money(5n, 'KWD')
    assert.throws(() => add(yuan as ReturnType<typeof money>, widened), AssertionError)
    assert.throws(() => subtract(yuan as ReturnType<typeof money>, widened), AssertionError)
  })

  it('refuses a number where a bigint belongs', () => {
    // @ts-expect-error money is a bigint, never a number
    assert.throws(() => money(100, 'CNY'), AssertionError)
  })

  it('adding then subtracting the same amount gives the amount back', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -AMOUNT_MINOR_MAX, max: AMOUNT_MINOR_MAX }), fc.bigInt({ min: -AMOUNT_MINOR_MAX, max: AMOUNT_MINOR_MAX }), (a, b) => {
        assert.deepEqual(subtract(add(money(a, 'CNY'), money(b, 'CNY')), money(b, 'CNY')), money(a, 'CNY'))
      }),
    )
  })
})

describe('money: named rounding', () => {
  // numerator / denominator → down, half_up, half_even
  const table: readonly [bigint, bigint, bigint, bigint, bigint][] = [
    [0n, 7n, 0n, 0n, 0n],
    [10n, 5n, 2n, 2n, 2n],
    [14n, 10n, 1n, 1n, 1n],
    [16n, 10n, 1n, 2n, 2n],
    [5n, 10n, 0n, 1n, 0n], // 0.5: a tie, half-even goes to the even 0
    [15n, 10n, 1n, 2n, 2n], // 1.5: a tie, half-even goes to the even 2
    [25n, 10n, 2n, 3n, 2n], // 2.5 → 2
    [35n, 10n, 3n, 4n, 4n], // 3.5 → 4
    [1n, 3n, 0n, 0n, 0n],
    [2n, 3n, 0n, 1n, 1n],
  ]
  for (const [numerator, denominator, down, halfUp, halfEven] of table) {
    it(`${numerator}/${denominator} → down ${down}, half_up ${halfUp}, half_even ${halfEven}`, () => {
      assert.equal(divideRounded(numerator, denominator, 'down'), down)
      assert.equal(divideRounded(numerator, denominator, 'half_up'), halfUp)
      assert.equal(divideRounded(numerator, denominator, 'half_even'), halfEven)
    })
  }

  it('refuses a negative numerator or a denominator that is not positive', () => {
    assert.throws(() => divideRounded(-1n, 2n, 'down'), AssertionError)
    assert.throws(() => divideRounded(1n, 0n, 'down'), AssertionError)
    assert.throws(() => divideRounded(1n, -2n, 'half_up'), AssertionError)
  })

  it('rounds to one of the two neighbours, the nearer one unless it is a tie', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (numerator, denominator) => {
        const down = divideRounded(numerator, denominator, 'down')
        const halfUp = divideRounded(numerator, denominator, 'half_up')
        const halfEven = divideRounded(numerator, denominator, 'half_even')
        assert.ok(down * denominator <= numerator && numerator < (down + 1n) * denominator)
        for (const rounded of [halfUp, halfEven]) {
          assert.ok(rounded === down || rounded === down + 1n)
          // |rounded - exact| <= 1/2, in integers: |rounded·d - n| · 2 <= d
          const error = rounded * denominator - numerator
          assert.ok((error < 0n ? -error : error) * 2n <= denominator)
        }
        const twice = (numerator % denominator) * 2n
        if (twice !== denominator) assert.equal(halfEven, halfUp, 'only ties tell half-even from half-up')
        else {
          assert.equal(halfUp, down + 1n)
          assert.equal(halfEven % 2n, 0n)
        }
      }),
    )
  })
})

describe('money: fees in basis points', () => {
  it('takes 0.60 % of 100.00 as 0.60', () => {
    for (const rounding of roundings) assert.equal(feeBasisPoints(10_000n, 60, rounding), 60n)
  })

  // amount × bp / 10 000 → down, half_up, half_even
  const table: readonly [bigint, number, bigint, bigint, bigint][] = [
    [12_345n, 60, 74n, 74n, 74n], // 74.07
    [12_500n, 60, 75n, 75n, 75n], // exactly 75
    [1n, 60, 0n, 0n, 0n], // 0.006: a one-fen payment pays no fee
    [100n, 50, 0n, 1n, 0n], // 0.5: tie
    [300n, 50, 1n, 2n, 2n], // 1.5: tie
    [500n, 50, 2n, 3n, 2n], // 2.5: tie
    [700n, 50, 3n, 4n, 4n], // 3.5: tie
    [250n, 200, 5n, 5n, 5n],
    [999n, 10_000, 999n, 999n, 999n], // 100 %
    [999n, 0, 0n, 0n, 0n],
    [AMOUNT_MINOR_MAX, 60, 5_999_999_999n, 6_000_000_000n, 6_000_000_000n], // 5 999 999 999.994
  ]
  for (const [amount, basisPoints, down, halfUp, halfEven] of table) {
    it(`${basisPoints} bp of ${amount} → down ${down}, half_up ${halfUp}, half_even ${halfEven}`, () => {
      assert.equal(feeBasisPoints(amount, basisPoints, 'down'), down)
      assert.equal(feeBasisPoints(amount, basisPoints, 'half_up'), halfUp)
      assert.equal(feeBasisPoints(amount, basisPoints, 'half_even'), halfEven)
    })
  }

  it('refuses basis points that are negative, above 10 000 or fractional', () => {
    for (const basisPoints of [-1, 10_001, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => feeBasisPoints(10_000n, basisPoints, 'half_up'), AssertionError, String(basisPoints))
    }
  })

  it('never charges more than the amount nor less than nothing', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: AMOUNT_MINOR_MAX }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom(...roundings),
        (amount, basisPoints, rounding) => {
          const fee = feeBasisPoints(amount, basisPoints, rounding)
          assert.ok(fee >= 0n && fee <= amount)
          assert.ok(feeBasisPoints(amount, basisPoints, 'down') <= fee)
        },
      ),
    )
  })
})

describe('money: allocate', () => {
  it('hands the remainder to the first shares', () => {
    assert.deepEqual(allocate(100n, [1, 1, 1]), [34n, 33n, 33n])
    assert.deepEqual(allocate(101n, [1, 1, 1]), [34n, 34n, 33n])
    assert.deepEqual(allocate(5n, [1, 3]), [2n, 3n])
    assert.deepEqual(allocate(0n, [1, 2, 3]), [0n, 0n, 0n])
    assert.deepEqual(allocate(1n, [1]), [1n])
  })

  it('gives nothing to a zero weight, remainder included', () => {
    assert.deepEqual(allocate(10n, [0, 1, 1, 1]), [0n, 4n, 3n, 3n])
    assert.deepEqual(allocate(2n, [0, 1, 0, 1, 0]), [0n, 1n, 0n, 1n, 0n])
  })

  it('refuses no weights, only zero weights and weights that are not non-negative integers', () => {
    assert.throws(() => allocate(10n, []), AssertionError)
    assert.throws(() => allocate(10n, [0, 0]), AssertionError)
    assert.throws(() => allocate(10n, [1, -1]), AssertionError)
    assert.throws(() => allocate(10n, [1.5, 1]), AssertionError)
  })

  it('never loses nor makes a minor unit, and each share is within one unit of its exact part', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: AMOUNT_MINOR_MAX }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 20 }).filter((weights) => weights.some((w) => w > 0)),
        (amount, weights) => {
          const shares = allocate(amount, weights)
          assert.equal(shares.length, weights.length)
          assert.equal(
            shares.reduce((sum, share) => sum + share, 0n),
            amount,
          )
          const total = weights.reduce((sum, w) => sum + BigInt(w), 0n)
          shares.forEach((share, i) => {
            const weight = BigInt(weights[i] ?? 0)
            const floor = (amount * weight) / total
            if (weight === 0n) assert.equal(share, 0n)
            else assert.ok(share === floor || share === floor + 1n, `share ${i}: ${share} is not ⌊${amount}·${weight}/${total}⌋ or one more`)
          })
        },
      ),
    )
  })

  it('splits a negative amount (a reversal split the same way) without losing a minor unit', () => {
    // Found by this suite: allocate(-100n, [1, 1, 1]) trips its own 'allocation lost a minor unit' assert.
    assert.deepEqual(allocate(-100n, [1, 1, 1]), [-34n, -33n, -33n])
    fc.assert(
      fc.property(
        fc.bigInt({ min: -AMOUNT_MINOR_MAX, max: -1n }),
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 10 }),
        (amount, weights) => {
          assert.equal(
            allocate(amount, weights).reduce((sum, share) => sum + share, 0n),
            amount,
          )
        },
      ),
    )
  })
})

describe('money: formatMinor and parseMajor', () => {
  it('knows the exponents of JPY 0, CNY 2 and KWD 3', () => {
    assert.equal(currency('JPY').exponent, 0)
    assert.equal(currency('CNY').exponent, 2)
    assert.equal(currency('KWD').exponent, 3)
  })

  // minor units, currency, text
  const table: readonly [bigint, 'JPY' | 'CNY' | 'KWD', string][] = [
    [0n, 'JPY', '0'],
    [1n, 'JPY', '1'],
    [12_345n, 'JPY', '12345'],
    [0n, 'CNY', '0.00'],
    [5n, 'CNY', '0.05'],
    [50n, 'CNY', '0.50'],
    [12_345n, 'CNY', '123.45'],
    [100_000n, 'CNY', '1000.00'],
    [0n, 'KWD', '0.000'],
    [1n, 'KWD', '0.001'],
    [1_500n, 'KWD', '1.500'],
    [12_345n, 'KWD', '12.345'],
    [AMOUNT_MINOR_MAX, 'KWD', '999999999.999'],
  ]
  for (const [minor, code, text] of table) {
    it(`${minor} ${code} ⇄ "${text}"`, () => {
      assert.equal(formatMinor(minor, code), text)
      assert.equal(parseMajor(text, code), minor)
    })
  }

  it('formats negative amounts with a sign (display only)', () => {
    assert.equal(formatMinor(-12_345n, 'CNY'), '-123.45')
    assert.equal(formatMinor(-5n, 'KWD'), '-0.005')
    assert.equal(formatMinor(-7n, 'JPY'), '-7')
  })

  it('parses fewer decimals than the exponent and refuses more', () => {
    assert.equal(parseMajor('123', 'CNY'), 12_300n)
    assert.equal(parseMajor('123.4', 'CNY'), 12_340n)
    assert.equal(parseMajor('1.5', 'KWD'), 1_500n)
    assert.equal(parseMajor('0.1', 'KWD'), 100n)
    assert.equal(parseMajor('123.456', 'CNY'), undefined)
    assert.equal(parseMajor('1.0001', 'KWD'), undefined)
    assert.equal(parseMajor('1.0', 'JPY'), undefined)
    assert.equal(parseMajor('1.5', 'JPY'), undefined)
  })

  it('refuses anything that is not a plain decimal number', () => {
    for (const text of ['', ' 1', '1 ', '-1', '+1', '1e3', '1.', '.5', '1,00', '0x10', '１２', 'NaN', 'Infinity', '1.2.3', '1234567890123456']) {
      assert.equal(parseMajor(text, 'CNY'), undefined, JSON.stringify(text))
    }
  })

  it('round-trips every amount in every currency', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: AMOUNT_MINOR_MAX }), fc.constantFrom(...currencyCodes), (minor, code) => {
        const text = formatMinor(minor, code)
        const exponent = currency(code).exponent
        assert.equal(text.includes('.') ? text.split('.')[1]?.length : 0, exponent)
        assert.equal(parseMajor(text, code), minor)
      }),
    )
  })
})
