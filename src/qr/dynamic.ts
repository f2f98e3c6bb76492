import { assert } from '../domain/assert.js'
import { formatAmountMinor } from './amount.js'
import { issue } from './issues.js'
import { encodeMpm } from './mpm.js'
import type { EncodeResult, MpmFields, MpmTemplate } from './mpm-types.js'

export type DynamicMpmInput = {
  /** Template 26: the globally unique identifier of Kassa's network (00) and the merchant's ID in it (01). */
  readonly merchantAccount: { readonly gui: string; readonly merchantId: string }
  /** ISO 18245 merchant category code, four digits. */
  readonly mcc: string
  /** ISO 4217 numeric currency, e.g. "156". */
  readonly currencyNumeric: string
  readonly amountMinor: bigint
  /** The currency's minor-unit digits (CNY 2, JPY 0, KWD 3). */
  readonly currencyExponent: number
  /** ISO 3166-1 alpha-2. */
  readonly country: string
  readonly merchantName: string
  readonly merchantCity: string
  /** 62.05 reference label: the parcel's payment reference the shopper's app sends back. */
  readonly reference: string
  /** 62.07 terminal label: the courier's handheld. */
  readonly terminalLabel?: string
}

/**
 * Builds the dynamic MPM payload a courier's handheld shows for one parcel: point of initiation
 * "12" (a new code per payment), the amount written exactly from minor units with the currency's
 * decimals, and the parcel reference in 62.05. Validated in strict mode, so a name too long or a
 * zero amount comes back as an error value, never as a code a scanner would reject.
 *
 * @example
 * buildDynamicMpm({ merchantAccount: { gui: 'com.kassa.cod', merchantId: 'M000123' }, mcc: '5399',
 *   currencyNumeric: '156', amountMinor: 2372n, currencyExponent: 2, country: 'CN',
 *   merchantName: 'KASSA MARKET', merchantCity: 'BEIJING', reference: 'PCL-000042' })
 * // { ok: true, payload: '00020101021226…540523.72…62140510PCL-0000426304…', warnings: [] }
 */
export function buildDynamicMpm(input: DynamicMpmInput): EncodeResult {
  assert(Number.isInteger(input.currencyExponent) && input.currencyExponent >= 0 && input.currencyExponent <= 4, 'currency exponent out of range')
  if (input.amountMinor <= 0n) {
    return { ok: false, errors: [issue('54', 'amount_invalid', `The amount must be more than zero; it is ${input.amountMinor}.`)], warnings: [] }
  }
  const additionalData: MpmTemplate = { '05': input.reference }
  if (input.terminalLabel !== undefined) additionalData['07'] = input.terminalLabel
  const fields: MpmFields = {
    '00': '01',
    '01': '12',
    '26': { '00': input.merchantAccount.gui, '01': input.merchantAccount.merchantId },
    '52': input.mcc,
    '53': input.currencyNumeric,
    '54': formatAmountMinor(input.amountMinor, input.currencyExponent),
    '58': input.country,
    '59': input.merchantName,
    '60': input.merchantCity,
    '62': additionalData,
  }
  return encodeMpm(fields, { strict: true })
}
