import { findCurrencyByNumeric } from '../domain/currency.js'
import { amountDecimals } from './amount.js'
import { issue, type QrIssue } from './issues.js'
import {
  isMerchantAccountId,
  MANDATORY_ROOT_IDS,
  MANDATORY_SUB_IDS,
  rootName,
  rootRule,
  subRule,
  templateKind,
  type DataObjectRule,
  type TemplateKind,
} from './mpm-spec.js'
import { readDataObjects } from './mpm-tlv.js'
import type { MpmFields, MpmTemplate } from './mpm-types.js'
import { characterLength, commonCharacterSetPattern, digitsPattern } from './text.js'

/**
 * Checks decoded (or to-be-encoded) fields against the data-object rules of the specification:
 * presence, format, length, values, and the rules that tie objects together (tip indicator and
 * fees, amount decimals and currency). Returns rule issues only; the structure was checked by
 * whoever produced `fields`.
 */
export function validateMpmFields(fields: MpmFields): QrIssue[] {
  const issues: QrIssue[] = []
  for (const id of Object.keys(fields)) {
    const value = fields[id]
    if (value === undefined || id === '63') continue
    const kind = templateKind(id)
    if (kind === undefined) {
      if (typeof value === 'string') checkValue(id, value, rootRule(id), issues)
    } else if (typeof value !== 'string') {
      checkTemplate(id, kind, value, issues)
    } else {
      const nested: QrIssue[] = []
      readDataObjects(value, `${id}.`, nested)
      const reason = nested[0]?.message ?? 'it was given as text'
      issues.push(issue(id, 'format_invalid', `${rootName(id)} (${id}) is not a run of data objects (${reason}); it is kept as text.`))
    }
  }
  checkPresence(fields, issues)
  checkTipAndFees(fields, issues)
  checkAmountPrecision(fields, issues)
  return issues
}

function checkPresence(fields: MpmFields, issues: QrIssue[]): void {
  for (const id of MANDATORY_ROOT_IDS) {
    if (fields[id] === undefined) issues.push(issue(id, 'mandatory_missing', `${rootName(id)} (${id}) is missing.`))
  }
  if (!Object.keys(fields).some(isMerchantAccountId)) {
    issues.push(issue('02-51', 'mandatory_missing', 'No merchant account information (02–51) is present.'))
  }
}

function checkTipAndFees(fields: MpmFields, issues: QrIssue[]): void {
  const indicator = fields['55']
  const feeFixedCalledFor = indicator === '02'
  const feePercentageCalledFor = indicator === '03'
  if (feeFixedCalledFor && fields['56'] === undefined) {
    issues.push(issue('56', 'conditional_missing', 'Tip or convenience indicator 02 calls for a fixed fee (56), which is missing.'))
  }
  if (!feeFixedCalledFor && fields['56'] !== undefined) {
    issues.push(issue('56', 'conditional_unexpected', 'A fixed convenience fee (56) is present but the tip indicator (55) is not 02.'))
  }
  if (feePercentageCalledFor && fields['57'] === undefined) {
    issues.push(issue('57', 'conditional_missing', 'Tip or convenience indicator 03 calls for a fee percentage (57), which is missing.'))
  }
  if (!feePercentageCalledFor && fields['57'] !== undefined) {
    issues.push(issue('57', 'conditional_unexpected', 'A convenience fee percentage (57) is present but the tip indicator (55) is not 03.'))
  }
}

/** Amount decimals must fit the currency's minor unit ("10.005" is no CNY amount). */
function checkAmountPrecision(fields: MpmFields, issues: QrIssue[]): void {
  const currencyNumeric = fields['53']
  if (typeof currencyNumeric !== 'string') return
  const currency = findCurrencyByNumeric(currencyNumeric)
  if (currency === undefined) return
  for (const id of ['54', '56'] as const) {
    const amount = fields[id]
    if (typeof amount !== 'string') continue
    const decimals = amountDecimals(amount)
    if (decimals !== undefined && decimals > currency.exponent) {
      issues.push(
        issue(id, 'amount_precision_invalid', `${rootName(id)} "${amount}" has ${decimals} decimal(s); ${currency.code} has ${currency.exponent}.`),
      )
    }
  }
}

function checkTemplate(id: string, kind: TemplateKind, template: MpmTemplate, issues: QrIssue[]): void {
  for (const subId of Object.keys(template)) {
    const value = template[subId]
    if (value !== undefined) checkValue(`${id}.${subId}`, value, subRule(kind, subId), issues)
  }
  for (const subId of MANDATORY_SUB_IDS[kind]) {
    if (template[subId] === undefined) {
      issues.push(issue(`${id}.${subId}`, 'mandatory_missing', `${subRule(kind, subId).name} (${id}.${subId}) is missing.`))
    }
  }
}

function checkValue(id: string, value: string, rule: DataObjectRule, issues: QrIssue[]): void {
  if (rule.reserved === true) {
    issues.push(issue(id, 'reserved_id_used', `${id} is reserved for future use by EMVCo.`))
    return
  }
  const length = characterLength(value)
  if (length < rule.lengthMin || length > rule.lengthMax) {
    const bounds = rule.lengthMin === rule.lengthMax ? `${rule.lengthMin}` : `${rule.lengthMin} to ${rule.lengthMax}`
    issues.push(issue(id, 'length_invalid', `${rule.name} (${id}) has ${length} character(s); it takes ${bounds}.`))
  }
  if (rule.format === 'N' && !digitsPattern.test(value)) {
    issues.push(issue(id, 'format_invalid', `${rule.name} (${id}) "${value}" is not all digits.`))
    return
  }
  if (rule.format === 'ans' && !commonCharacterSetPattern.test(value)) {
    issues.push(issue(id, 'format_invalid', `${rule.name} (${id}) has characters outside printable ASCII.`))
  }
  if (rule.values !== undefined && !rule.values.includes(value)) {
    issues.push(issue(id, 'value_invalid', `${rule.name} (${id}) is "${value}"; it takes ${rule.values.map((v) => `"${v}"`).join(' or ')}.`))
  }
  if (rule.check !== undefined) checkSpecific(id, value, rule, issues)
}

function checkSpecific(id: string, value: string, rule: DataObjectRule, issues: QrIssue[]): void {
  switch (rule.check) {
    case 'amount': {
      const decimals = amountDecimals(value)
      if (decimals === undefined) {
        issues.push(issue(id, 'amount_invalid', `${rule.name} (${id}) "${value}" is not a decimal number such as "12.34".`))
      } else if (/^[0.]*$/.test(value)) {
        issues.push(issue(id, 'amount_invalid', `${rule.name} (${id}) "${value}" is zero; the specification asks for a non-zero amount.`))
      }
      return
    }
    case 'percentage': {
      // "00.01" to "99.99": at most two integer digits and two decimals, and not zero.
      const match = /^([0-9]{1,2})(?:\.([0-9]{0,2}))?$/.exec(value)
      if (match === null || /^[0.]*$/.test(value)) {
        issues.push(issue(id, 'value_invalid', `${rule.name} (${id}) "${value}" is not a percentage from 00.01 to 99.99.`))
      }
      return
    }
    case 'country':
      if (!/^[A-Z]{2}$/.test(value)) {
        issues.push(issue(id, 'format_invalid', `${rule.name} (${id}) "${value}" is not two capital letters (ISO 3166-1 alpha-2).`))
      }
      return
    case 'currency':
      if (digitsPattern.test(value) && value.length === 3 && findCurrencyByNumeric(value) === undefined) {
        issues.push(issue(id, 'currency_unknown', `${rule.name} (${id}) "${value}" is not an active ISO 4217 numeric code.`))
      }
      return
    case 'mcc':
      if (value === '0000') {
        issues.push(issue(id, 'value_invalid', `${rule.name} (${id}) "0000" is no ISO 18245 category.`))
      }
      return
    case 'language':
      if (!/^[A-Za-z]{2}$/.test(value)) {
        issues.push(issue(id, 'format_invalid', `${rule.name} (${id}) "${value}" is not two letters (ISO 639-1).`))
      }
      return
    case 'consumer_data_request':
      if (!/^[AME]{1,3}$/.test(value) || new Set(value).size !== value.length) {
        issues.push(issue(id, 'value_invalid', `${rule.name} (${id}) "${value}" is not a set of "A", "M" and "E".`))
      }
      return
    case 'payment_system_template': {
      const nested: QrIssue[] = []
      const read = readDataObjects(value, `${id}.`, nested)
      if (!read.complete) {
        issues.push(issue(id, 'format_invalid', `${rule.name} (${id}) is not a run of data objects: ${nested[0]?.message ?? ''}`))
      } else if (!read.objects.some((object) => object.id === '00')) {
        issues.push(issue(`${id}.00`, 'mandatory_missing', `${rule.name} (${id}) has no globally unique identifier (00).`))
      }
      return
    }
    case undefined:
      return
  }
}
