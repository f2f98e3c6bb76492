/**
 * fast-check arbitraries of MPM fields for the property tests. Test support, not codec: nothing
 * in the codec imports it, and it sits beside the tests that do because unit tests live here.
 */
import fc from 'fast-check'
import { currencyCodes, findCurrency } from '../domain/currency.js'
import { formatAmountMinor } from './amount.js'
import type { MpmFields, MpmTemplate } from './mpm-types.js'

const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code))

/** Text in the common character set ("ans"). */
export function ansText(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: printableAscii, minLength, maxLength })
}

const digit = fc.integer({ min: 0, max: 9 }).map(String)
const capital = fc.integer({ min: 65, max: 90 }).map((code) => String.fromCharCode(code))

function subId(from: number, to: number): fc.Arbitrary<string> {
  return fc.integer({ min: from, max: to }).map((number) => String(number).padStart(2, '0'))
}

/** A template with its mandatory 00 and up to three more sub-IDs, small enough to stay within 99 characters. */
function guiTemplate(): fc.Arbitrary<MpmTemplate> {
  return fc
    .tuple(ansText(1, 20), fc.dictionary(subId(1, 99), ansText(1, 15), { maxKeys: 3, noNullPrototype: true }))
    .map(([gui, rest]) => ({ ...rest, '00': gui }))
}

const currencyAndAmount = fc
  .tuple(fc.constantFrom(...currencyCodes), fc.bigInt({ min: 1n, max: 999_999_999_999n }), fc.boolean())
  .map(([code, amountMinor, withAmount]) => {
    const currency = findCurrency(code)
    if (currency === undefined) throw new Error(`no currency ${code}`)
    return { currency, amountMinor, withAmount }
  })

const tipAndFees = fc.oneof(
  fc.constant<MpmFields>({}),
  fc.constant<MpmFields>({ '55': '01' }),
  fc.integer({ min: 1, max: 9999 }).map((fee): MpmFields => ({ '55': '02', '56': String(fee) })),
  fc.integer({ min: 1, max: 9999 }).map((hundredths): MpmFields => ({
    '55': '03',
    '57': `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`,
  })),
)

const additionalData = fc
  .tuple(
    fc.dictionary(subId(1, 8), ansText(1, 10), { maxKeys: 4, noNullPrototype: true }),
    fc.option(fc.shuffledSubarray(['A', 'M', 'E'], { minLength: 1 }).map((letters) => letters.join(''))),
  )
  .map(([labels, consumerData]) => (consumerData === null ? labels : { ...labels, '09': consumerData }))

const languageTemplate = fc
  .tuple(fc.string({ unit: capital, minLength: 2, maxLength: 2 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }), fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 })))
  .map(([language, name, city]): MpmTemplate => (city === null ? { '00': language, '01': name } : { '00': language, '01': name, '02': city }))

/** Fields that keep every rule of the specification: they encode and decode in strict mode. */
export function validMpmFields(): fc.Arbitrary<MpmFields> {
  return fc
    .record({
      pointOfInitiation: fc.option(fc.constantFrom('11', '12')),
      primitiveAccounts: fc.dictionary(subId(2, 25), ansText(1, 40), { maxKeys: 2, noNullPrototype: true }),
      templateAccounts: fc.dictionary(subId(26, 51), guiTemplate(), { maxKeys: 2, noNullPrototype: true }),
      mcc: fc.string({ unit: digit, minLength: 4, maxLength: 4 }).filter((mcc) => mcc !== '0000'),
      money: currencyAndAmount,
      tip: tipAndFees,
      country: fc.string({ unit: capital, minLength: 2, maxLength: 2 }),
      name: ansText(1, 25),
      city: ansText(1, 15),
      postalCode: fc.option(ansText(1, 10)),
      additionalData: fc.option(additionalData),
      language: fc.option(languageTemplate),
      unreserved: fc.dictionary(subId(80, 99), guiTemplate(), { maxKeys: 2, noNullPrototype: true }),
    })
    .filter((parts) => Object.keys(parts.primitiveAccounts).length + Object.keys(parts.templateAccounts).length > 0)
    .map((parts) => {
      const fields: MpmFields = {
        '00': '01',
        ...parts.primitiveAccounts,
        ...parts.templateAccounts,
        ...parts.unreserved,
        ...parts.tip,
        '52': parts.mcc,
        '53': parts.money.currency.numeric,
        '58': parts.country,
        '59': parts.name,
        '60': parts.city,
      }
      if (parts.pointOfInitiation !== null) fields['01'] = parts.pointOfInitiation
      if (parts.money.withAmount) fields['54'] = formatAmountMinor(parts.money.amountMinor, parts.money.currency.exponent)
      if (parts.postalCode !== null) fields['61'] = parts.postalCode
      if (parts.additionalData !== null) fields['62'] = parts.additionalData
      if (parts.language !== null) fields['64'] = parts.language
      return fields
    })
}

/**
 * Fields that are merely encodable: any IDs, any text (any Unicode), templates as objects. Rules
 * may be broken (warnings), structure may not.
 */
export function encodableMpmFields(): fc.Arbitrary<MpmFields> {
  const anyText = (maxLength: number) => fc.string({ unit: 'binary', maxLength })
  const template = fc.dictionary(subId(0, 99), anyText(12), { maxKeys: 5, noNullPrototype: true })
  const entry: fc.Arbitrary<[string, string | MpmTemplate]> = subId(1, 99)
    .filter((id) => id !== '63')
    .chain((id) => {
      const number = Number(id)
      const isTemplate = (number >= 26 && number <= 51) || number === 62 || number === 64 || number >= 80
      const value: fc.Arbitrary<string | MpmTemplate> = isTemplate ? template : anyText(99)
      return value.map((chosen): [string, string | MpmTemplate] => [id, chosen])
    })
  return fc.array(entry, { maxLength: 12 }).map((entries) => {
    const fields: MpmFields = { '00': '01' }
    for (const [id, value] of entries) fields[id] = value
    return fields
  })
}
