import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { currencyCodes, findCurrency } from '../domain/currency.js'
import { amountMinorFromMpm } from './amount.js'
import { crc16Hex } from './crc.js'
import { buildDynamicMpm, type DynamicMpmInput } from './dynamic.js'
import { decodeMpm } from './mpm.js'

const parcel: DynamicMpmInput = {
  merchantAccount: { gui: 'com.kassa.cod', merchantId: 'M000123' },
  mcc: '5399',
  currencyNumeric: '156',
  amountMinor: 2372n,
  currencyExponent: 2,
  country: 'CN',
  merchantName: 'KASSA MARKET',
  merchantCity: 'BEIJING',
  reference: 'PCL-000042',
  terminalLabel: 'HH-0007',
}

describe('buildDynamicMpm', () => {
  it('builds a dynamic code with the merchant account in 26, the amount from minor units and the parcel in 62', () => {
    const built = buildDynamicMpm(parcel)
    assert.ok(built.ok, JSON.stringify(built))
    const body =
      '000201' +
      '010212' +
      '26280013com.kassa.cod0107M000123' +
      '52045399' +
      '5303156' +
      '540523.72' +
      '5802CN' +
      '5912KASSA MARKET' +
      '6007BEIJING' +
      '62250510PCL-0000420707HH-0007' +
      '6304'
    assert.equal(built.payload, body + crc16Hex(body))
    const decoded = decodeMpm(built.payload, { strict: true })
    assert.equal(decoded.valid, true)
    assert.deepEqual(decoded.fields['62'], { '05': 'PCL-000042', '07': 'HH-0007' })
  })

  it('leaves the terminal label out when there is none', () => {
    const { terminalLabel: _unused, ...withoutTerminal } = parcel
    const built = buildDynamicMpm(withoutTerminal)
    assert.ok(built.ok)
    assert.deepEqual(decodeMpm(built.payload).fields['62'], { '05': 'PCL-000042' })
  })

  it('writes the amount so it reads back to the same minor units in every currency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...currencyCodes), fc.bigInt({ min: 1n, max: 999_999_999_999n }), (code, amountMinor) => {
        const currency = findCurrency(code)
        assert.ok(currency !== undefined)
        const built = buildDynamicMpm({ ...parcel, currencyNumeric: currency.numeric, currencyExponent: currency.exponent, amountMinor })
        assert.ok(built.ok, JSON.stringify(built))
        const decoded = decodeMpm(built.payload, { strict: true })
        assert.equal(decoded.valid, true)
        assert.deepEqual(amountMinorFromMpm(decoded.fields, currency), { ok: true, amountMinor })
      }),
      { numRuns: 300 },
    )
  })

  const refusals: Array<{ name: string; input: DynamicMpmInput; issue: string }> = [
    { name: 'a zero amount', input: { ...parcel, amountMinor: 0n }, issue: '54:amount_invalid' },
    { name: 'a negative amount', input: { ...parcel, amountMinor: -5n }, issue: '54:amount_invalid' },
    { name: 'an amount longer than 13 characters', input: { ...parcel, amountMinor: 10n ** 13n }, issue: '54:length_invalid' },
    { name: 'an exponent the currency does not have', input: { ...parcel, currencyExponent: 3 }, issue: '54:amount_precision_invalid' },
    { name: 'a merchant name of 26 characters', input: { ...parcel, merchantName: 'KASSA MARKET OF THE NORTH1' }, issue: '59:length_invalid' },
    { name: 'a reference of 26 characters', input: { ...parcel, reference: 'P'.repeat(26) }, issue: '62.05:length_invalid' },
    { name: 'a country that is no ISO code', input: { ...parcel, country: 'China' }, issue: '58:length_invalid' },
  ]
  for (const refusal of refusals) {
    it(`refuses ${refusal.name} with ${refusal.issue}`, () => {
      const built = buildDynamicMpm(refusal.input)
      assert.equal(built.ok, false)
      const found = built.ok ? [] : built.errors.map((error) => `${error.id}:${error.code}`)
      assert.ok(found.includes(refusal.issue), JSON.stringify(found))
    })
  }
})
