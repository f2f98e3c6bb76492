/**
 * The EMV QRCPS Merchant-Presented Mode data objects (v1.1), as data: what each ID is called,
 * its format, its length bounds and any value check. Read it next to the specification's
 * tables 3.x; decode and encode both validate against this table, nothing else.
 */

/** N: digits; ans: the common character set (printable ASCII 0x20–0x7E); S: any text (UTF-8). */
export type ValueFormat = 'N' | 'ans' | 'S'

export type ValueCheck =
  | 'amount' // decimal, non-zero, decimals within the currency exponent
  | 'percentage' // 00.01–99.99
  | 'country' // ISO 3166-1 alpha-2
  | 'currency' // ISO 4217 numeric
  | 'mcc' // ISO 18245; "0000" is no category
  | 'language' // ISO 639-1 alpha-2
  | 'consumer_data_request' // "A", "M", "E", each at most once
  | 'payment_system_template' // a nested template whose ID 00 is a globally unique identifier

export type DataObjectRule = {
  readonly name: string
  readonly format: ValueFormat
  readonly lengthMin: number
  readonly lengthMax: number
  readonly values?: readonly string[]
  readonly check?: ValueCheck
  /** RFU for EMVCo: decodes, but a payload that uses it is ahead of (or outside) the specification. */
  readonly reserved?: true
}

export type TemplateKind = 'merchant_account_information' | 'additional_data' | 'language' | 'unreserved'

/** The largest value a two-digit length can announce. */
export const VALUE_LENGTH_MAX = 99

/**
 * A QR code (version 40, level L) holds at most 4,296 alphanumeric or 2,953 byte characters;
 * anything longer did not come from a QR code, so decoding stops before doing any work.
 */
export const PAYLOAD_LENGTH_MAX = 4296

const primitiveRules: Readonly<Record<string, DataObjectRule>> = {
  '00': { name: 'Payload Format Indicator', format: 'N', lengthMin: 2, lengthMax: 2, values: ['01'] },
  '01': { name: 'Point of Initiation Method', format: 'N', lengthMin: 2, lengthMax: 2, values: ['11', '12'] },
  '52': { name: 'Merchant Category Code', format: 'N', lengthMin: 4, lengthMax: 4, check: 'mcc' },
  '53': { name: 'Transaction Currency', format: 'N', lengthMin: 3, lengthMax: 3, check: 'currency' },
  '54': { name: 'Transaction Amount', format: 'ans', lengthMin: 1, lengthMax: 13, check: 'amount' },
  '55': { name: 'Tip or Convenience Indicator', format: 'N', lengthMin: 2, lengthMax: 2, values: ['01', '02', '03'] },
  '56': { name: 'Value of Convenience Fee Fixed', format: 'ans', lengthMin: 1, lengthMax: 13, check: 'amount' },
  '57': { name: 'Value of Convenience Fee Percentage', format: 'ans', lengthMin: 1, lengthMax: 5, check: 'percentage' },
  '58': { name: 'Country Code', format: 'ans', lengthMin: 2, lengthMax: 2, check: 'country' },
  '59': { name: 'Merchant Name', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '60': { name: 'Merchant City', format: 'ans', lengthMin: 1, lengthMax: 15 },
  '61': { name: 'Postal Code', format: 'ans', lengthMin: 1, lengthMax: 10 },
  '63': { name: 'CRC', format: 'ans', lengthMin: 4, lengthMax: 4 },
}

const merchantAccountPrimitive: DataObjectRule = {
  name: 'Merchant Account Information',
  format: 'ans',
  lengthMin: 1,
  lengthMax: VALUE_LENGTH_MAX,
}
const rootReserved: DataObjectRule = { name: 'RFU for EMVCo', format: 'S', lengthMin: 1, lengthMax: VALUE_LENGTH_MAX, reserved: true }

const globallyUniqueIdentifier: DataObjectRule = { name: 'Globally Unique Identifier', format: 'ans', lengthMin: 1, lengthMax: 32 }
const networkSpecific: DataObjectRule = { name: 'Payment network specific', format: 'ans', lengthMin: 1, lengthMax: VALUE_LENGTH_MAX }
const contextSpecific: DataObjectRule = { name: 'Context specific data', format: 'ans', lengthMin: 1, lengthMax: VALUE_LENGTH_MAX }

const additionalDataRules: Readonly<Record<string, DataObjectRule>> = {
  '01': { name: 'Bill Number', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '02': { name: 'Mobile Number', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '03': { name: 'Store Label', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '04': { name: 'Loyalty Number', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '05': { name: 'Reference Label', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '06': { name: 'Customer Label', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '07': { name: 'Terminal Label', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '08': { name: 'Purpose of Transaction', format: 'ans', lengthMin: 1, lengthMax: 25 },
  '09': { name: 'Additional Consumer Data Request', format: 'ans', lengthMin: 1, lengthMax: 3, check: 'consumer_data_request' },
  // v1.1 assigned 10 and 11; v1.0 readers see them as RFU, which is why they are checked only loosely.
  '10': { name: 'Merchant Tax ID', format: 'ans', lengthMin: 1, lengthMax: 20 },
  '11': { name: 'Merchant Channel', format: 'ans', lengthMin: 3, lengthMax: 3 },
}
const additionalDataReserved: DataObjectRule = { name: 'RFU for EMVCo', format: 'ans', lengthMin: 1, lengthMax: VALUE_LENGTH_MAX, reserved: true }
const paymentSystemSpecific: DataObjectRule = {
  name: 'Payment System specific template',
  format: 'ans',
  lengthMin: 1,
  lengthMax: VALUE_LENGTH_MAX,
  check: 'payment_system_template',
}

const languageRules: Readonly<Record<string, DataObjectRule>> = {
  '00': { name: 'Language Preference', format: 'ans', lengthMin: 2, lengthMax: 2, check: 'language' },
  '01': { name: 'Merchant Name—Alternate Language', format: 'S', lengthMin: 1, lengthMax: 25 },
  '02': { name: 'Merchant City—Alternate Language', format: 'S', lengthMin: 1, lengthMax: 15 },
}
const languageReserved: DataObjectRule = { name: 'RFU for EMVCo', format: 'S', lengthMin: 1, lengthMax: VALUE_LENGTH_MAX, reserved: true }

/** Root data objects every payload carries (besides 00, 63 and one merchant account, checked apart). */
export const MANDATORY_ROOT_IDS = ['52', '53', '58', '59', '60'] as const

/** Sub-IDs a template must carry. */
export const MANDATORY_SUB_IDS: Readonly<Record<TemplateKind, readonly string[]>> = {
  merchant_account_information: ['00'],
  additional_data: [],
  language: ['00', '01'],
  unreserved: ['00'],
}

/** Which kind of template a root ID is, or undefined for a primitive data object. */
export function templateKind(id: string): TemplateKind | undefined {
  const number = Number(id)
  if (number >= 26 && number <= 51) return 'merchant_account_information'
  if (number === 62) return 'additional_data'
  if (number === 64) return 'language'
  if (number >= 80 && number <= 99) return 'unreserved'
  return undefined
}

export function isMerchantAccountId(id: string): boolean {
  const number = Number(id)
  return number >= 2 && number <= 51
}

/** The rule of a primitive root data object (IDs 00–99 that are not templates). */
export function rootRule(id: string): DataObjectRule {
  const known = primitiveRules[id]
  if (known !== undefined) return known
  const number = Number(id)
  if (number >= 2 && number <= 25) return merchantAccountPrimitive
  return rootReserved
}

/** The rule of a sub-ID inside a template. */
export function subRule(kind: TemplateKind, subId: string): DataObjectRule {
  switch (kind) {
    case 'merchant_account_information':
      return subId === '00' ? globallyUniqueIdentifier : networkSpecific
    case 'unreserved':
      return subId === '00' ? globallyUniqueIdentifier : contextSpecific
    case 'additional_data': {
      const known = additionalDataRules[subId]
      if (known !== undefined) return known
      return Number(subId) >= 50 ? paymentSystemSpecific : additionalDataReserved
    }
    case 'language':
      return languageRules[subId] ?? languageReserved
  }
}

/** A display name for any root ID, used in messages. */
export function rootName(id: string): string {
  switch (templateKind(id)) {
    case 'merchant_account_information':
      return 'Merchant Account Information template'
    case 'additional_data':
      return 'Additional Data Field Template'
    case 'language':
      return 'Merchant Information—Language Template'
    case 'unreserved':
      return 'Unreserved Template'
    case undefined:
      return rootRule(id).name
  }
}
