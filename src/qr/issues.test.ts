/**
 * Every issue code in the catalogue, produced by at least one case (the last test checks that no
 * code is left without one). Each case names the data object it expects to be blamed.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { findCurrency } from '../domain/currency.js'
import { amountMinorFromMpm } from './amount.js'
import { crc16Hex } from './crc.js'
import { decodeCpm, encodeCpm, type CpmFields } from './cpm.js'
import { issueCatalogue, isStructural, type QrIssue, type QrIssueCode } from './issues.js'
import { decodeMpm, encodeMpm } from './mpm.js'
import type { EncodeResult, MpmFields } from './mpm-types.js'

const covered = new Set<QrIssueCode>()

function withCrc(body: string): string {
  return body + crc16Hex(body)
}

function cpm(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64')
}

/** 85 05 "CPV01", then 61 with an ADF name and a PAN: a sound CPM payload to break pieces of. */
const cpmIndicator = '8505' + Buffer.from('CPV01').toString('hex')
const cpmApplication = '610D' + '4F07A0000000555555' + '5A021234'

function expectIssue(found: readonly QrIssue[], id: string, code: QrIssueCode): void {
  assert.ok(
    found.some((issue) => issue.id === id && issue.code === code),
    `expected ${id}:${code} in ${JSON.stringify(found.map((issue) => `${issue.id}:${issue.code}`))}`,
  )
  covered.add(code)
}

function errorsOf(result: EncodeResult): QrIssue[] {
  return result.ok ? [] : result.errors
}

const base: MpmFields = {
  '00': '01',
  '01': '12',
  '26': { '00': 'com.kassa.cod', '01': 'M000123' },
  '52': '5399',
  '53': '156',
  '54': '23.72',
  '58': 'CN',
  '59': 'KASSA MARKET',
  '60': 'BEIJING',
}

describe('structural errors in MPM payloads (errors in every mode)', () => {
  const cases: Array<{ name: string; payload: string; id: string; code: QrIssueCode }> = [
    { name: 'empty payload', payload: '', id: 'payload', code: 'payload_empty' },
    { name: 'longer than any QR code', payload: '0'.repeat(5000), id: 'payload', code: 'payload_too_long' },
    { name: 'ends inside an ID and length', payload: '00020152', id: '52', code: 'object_truncated' },
    { name: 'ends one character after an object', payload: '0002015', id: 'payload', code: 'object_truncated' },
    { name: 'ID not digits', payload: '000201AB0211', id: 'AB', code: 'id_not_numeric' },
    { name: 'length not digits', payload: '00020101A211', id: '01', code: 'length_not_numeric' },
    { name: 'length past the end', payload: '0002015999AB', id: '59', code: 'length_past_end' },
    { name: 'duplicate ID', payload: withCrc('0002010002016304'), id: '00', code: 'duplicate_id' },
    { name: 'duplicate sub-ID in a template', payload: withCrc('00020126120002AB0002CD6304'), id: '26.00', code: 'duplicate_id' },
    { name: '00 not first', payload: withCrc('0102110002016304'), id: '00', code: 'misplaced_id' },
    { name: '63 not last', payload: withCrc('0002016304') + '5802CN', id: '63', code: 'misplaced_id' },
    { name: 'no payload format indicator', payload: withCrc('0102116304'), id: '00', code: 'payload_format_indicator_missing' },
    { name: 'no CRC', payload: '000201010211', id: '63', code: 'crc_missing' },
    { name: 'CRC not hex', payload: '0002016304ZZZZ', id: '63', code: 'crc_format_invalid' },
    { name: 'CRC of another length', payload: '000201630312A', id: '63', code: 'crc_format_invalid' },
    { name: 'CRC wrong', payload: '0002016304' + (crc16Hex('0002016304') === '0000' ? '1111' : '0000'), id: '63', code: 'crc_mismatch' },
  ]
  for (const testCase of cases) {
    it(`${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      for (const strict of [false, true]) {
        const result = decodeMpm(testCase.payload, { strict })
        assert.equal(result.valid, false)
        expectIssue(result.errors, testCase.id, testCase.code)
        assert.ok(isStructural(testCase.code))
      }
    })
  }
})

describe('data-object rule breaches in MPM (warnings by default, errors in strict mode)', () => {
  const cases: Array<{ name: string; fields: MpmFields; id: string; code: QrIssueCode }> = [
    { name: 'no merchant city', fields: without(base, '60'), id: '60', code: 'mandatory_missing' },
    { name: 'no merchant account at all', fields: without(base, '26'), id: '02-51', code: 'mandatory_missing' },
    { name: 'template without its globally unique identifier', fields: { ...base, '26': { '01': 'M1' } }, id: '26.00', code: 'mandatory_missing' },
    { name: 'language template without its name', fields: { ...base, '64': { '00': 'ZH' } }, id: '64.01', code: 'mandatory_missing' },
    { name: 'payment system template without its identifier', fields: { ...base, '62': { '50': '0103ABC' } }, id: '62.50.00', code: 'mandatory_missing' },
    { name: 'tip indicator 02 without a fixed fee', fields: { ...base, '55': '02' }, id: '56', code: 'conditional_missing' },
    { name: 'tip indicator 03 without a percentage', fields: { ...base, '55': '03' }, id: '57', code: 'conditional_missing' },
    { name: 'fixed fee without tip indicator 02', fields: { ...base, '56': '1.00' }, id: '56', code: 'conditional_unexpected' },
    { name: 'percentage with tip indicator 01', fields: { ...base, '55': '01', '57': '5' }, id: '57', code: 'conditional_unexpected' },
    { name: 'merchant name of 26 characters', fields: { ...base, '59': 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' }, id: '59', code: 'length_invalid' },
    { name: 'empty merchant city', fields: { ...base, '60': '' }, id: '60', code: 'length_invalid' },
    { name: 'MCC of five digits', fields: { ...base, '52': '53990' }, id: '52', code: 'length_invalid' },
    { name: 'reference label of 26 characters', fields: { ...base, '62': { '05': 'R'.repeat(26) } }, id: '62.05', code: 'length_invalid' },
    { name: 'MCC not digits', fields: { ...base, '52': '53A9' }, id: '52', code: 'format_invalid' },
    { name: 'merchant name outside printable ASCII', fields: { ...base, '59': 'KASSA 商店' }, id: '59', code: 'format_invalid' },
    { name: 'country in lowercase', fields: { ...base, '58': 'cn' }, id: '58', code: 'format_invalid' },
    { name: 'language of three letters', fields: { ...base, '64': { '00': 'ZHO', '01': 'x' } }, id: '64.00', code: 'length_invalid' },
    { name: 'language not letters', fields: { ...base, '64': { '00': 'Z1', '01': 'x' } }, id: '64.00', code: 'format_invalid' },
    { name: 'template given as text that is no template', fields: { ...base, '82': '037ECE' }, id: '82', code: 'format_invalid' },
    { name: 'payment system template that is no template', fields: { ...base, '62': { '50': '0099AB' } }, id: '62.50', code: 'format_invalid' },
    { name: 'payload format indicator 02', fields: { ...base, '00': '02' }, id: '00', code: 'value_invalid' },
    { name: 'point of initiation 13', fields: { ...base, '01': '13' }, id: '01', code: 'value_invalid' },
    { name: 'tip indicator 04', fields: { ...base, '55': '04' }, id: '55', code: 'value_invalid' },
    { name: 'MCC 0000', fields: { ...base, '52': '0000' }, id: '52', code: 'value_invalid' },
    { name: 'percentage of 100', fields: { ...base, '55': '03', '57': '100' }, id: '57', code: 'value_invalid' },
    { name: 'consumer data request repeating a letter', fields: { ...base, '62': { '09': 'AA' } }, id: '62.09', code: 'value_invalid' },
    { name: 'RFU ID 65', fields: { ...base, '65': 'X' }, id: '65', code: 'reserved_id_used' },
    { name: 'RFU sub-ID 62.20', fields: { ...base, '62': { '20': 'X' } }, id: '62.20', code: 'reserved_id_used' },
    { name: 'RFU sub-ID 64.03', fields: { ...base, '64': { '00': 'ZH', '01': 'x', '03': 'y' } }, id: '64.03', code: 'reserved_id_used' },
    { name: 'currency 999', fields: { ...base, '53': '999' }, id: '53', code: 'currency_unknown' },
    { name: 'amount with a comma', fields: { ...base, '54': '23,72' }, id: '54', code: 'amount_invalid' },
    { name: 'amount zero', fields: { ...base, '54': '0.00' }, id: '54', code: 'amount_invalid' },
    { name: 'fixed fee not a number', fields: { ...base, '55': '02', '56': 'ten' }, id: '56', code: 'amount_invalid' },
    { name: 'amount with three decimals in CNY', fields: { ...base, '54': '23.725' }, id: '54', code: 'amount_precision_invalid' },
    { name: 'amount with decimals in JPY', fields: { ...base, '53': '392', '54': '100.5' }, id: '54', code: 'amount_precision_invalid' },
  ]
  for (const testCase of cases) {
    it(`${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      const encoded = encodeMpm(testCase.fields)
      assert.ok(encoded.ok, JSON.stringify(encoded))
      expectIssue(encoded.warnings, testCase.id, testCase.code)
      assert.equal(isStructural(testCase.code), false)
      const lenient = decodeMpm(encoded.payload)
      assert.equal(lenient.valid, true)
      expectIssue(lenient.warnings, testCase.id, testCase.code)
      const strict = decodeMpm(encoded.payload, { strict: true })
      assert.equal(strict.valid, false)
      expectIssue(strict.errors, testCase.id, testCase.code)
      expectIssue(errorsOf(encodeMpm(testCase.fields, { strict: true })), testCase.id, testCase.code)
    })
  }
})

describe('MPM encode refusals', () => {
  const cases: Array<{ name: string; fields: unknown; id: string; code: QrIssueCode }> = [
    { name: 'not an object', fields: ['00', '01'], id: 'payload', code: 'value_type_invalid' },
    { name: 'ID not two digits', fields: { ...base, '5': 'x' }, id: '5', code: 'id_not_numeric' },
    { name: 'sub-ID not two digits', fields: { ...base, '62': { '5': 'x' } }, id: '62.5', code: 'id_not_numeric' },
    { name: 'template where a string belongs', fields: { ...base, '59': { '00': 'x' } }, id: '59', code: 'value_type_invalid' },
    { name: 'number where a string belongs', fields: { ...base, '54': 23.72 }, id: '54', code: 'value_type_invalid' },
    { name: 'number inside a template', fields: { ...base, '62': { '05': 42 } }, id: '62.05', code: 'value_type_invalid' },
    { name: 'list where a template belongs', fields: { ...base, '62': ['x'] }, id: '62', code: 'value_type_invalid' },
    { name: 'value of 100 characters', fields: { ...base, '59': 'x'.repeat(100) }, id: '59', code: 'value_too_long' },
    { name: 'sub-value of 100 characters', fields: { ...base, '62': { '05': 'x'.repeat(100) } }, id: '62.05', code: 'value_too_long' },
    { name: 'template longer than 99 characters', fields: { ...base, '62': { '05': 'x'.repeat(50), '06': 'y'.repeat(50) } }, id: '62', code: 'value_too_long' },
    { name: 'no payload format indicator', fields: without(base, '00'), id: '00', code: 'payload_format_indicator_missing' },
  ]
  for (const testCase of cases) {
    it(`${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      const result = encodeMpm(testCase.fields as MpmFields)
      assert.equal(result.ok, false)
      expectIssue(errorsOf(result), testCase.id, testCase.code)
    })
  }
})

describe('CPM issues, named by tag', () => {
  const decodeCases: Array<{ name: string; payload: string; id: string; code: QrIssueCode; strict?: boolean }> = [
    { name: 'empty', payload: '', id: 'payload', code: 'payload_empty' },
    { name: 'longer than any QR code', payload: 'A'.repeat(5000), id: 'payload', code: 'payload_too_long' },
    { name: 'not base64', payload: 'hQVD UFYw', id: 'payload', code: 'base64_invalid' },
    { name: 'base64 of impossible length', payload: 'hQVDU', id: 'payload', code: 'base64_invalid' },
    { name: 'padding byte where a tag belongs', payload: cpm(cpmIndicator + '00'), id: '00', code: 'tag_invalid' },
    { name: 'tag longer than three bytes', payload: cpm(cpmIndicator + '9F8181810100'), id: '9F818181', code: 'tag_invalid' },
    { name: 'indefinite length', payload: cpm('8580' + Buffer.from('CPV01').toString('hex')), id: '85', code: 'length_form_invalid' },
    { name: 'four length bytes', payload: cpm(cpmIndicator + '5A840000000112'), id: '5A', code: 'length_form_invalid' },
    { name: 'ends before a length', payload: cpm(cpmIndicator + '5A'), id: '5A', code: 'object_truncated' },
    { name: 'ends inside a multi-byte tag', payload: cpm(cpmIndicator + '9F'), id: '9F', code: 'object_truncated' },
    { name: 'ends inside a long-form length', payload: cpm(cpmIndicator + '5A8201'), id: '5A', code: 'object_truncated' },
    { name: 'length past the end', payload: cpm(cpmIndicator + '5A0812'), id: '5A', code: 'length_past_end' },
    { name: 'length past the end inside an application template', payload: cpm(cpmIndicator + '61064F07A0000000'), id: '61[1].4F', code: 'length_past_end' },
    { name: 'duplicate tag in a template', payload: cpm(cpmIndicator + '61124F07A00000005555554F07A0000000555555'), id: '61[1].4F', code: 'duplicate_id' },
    { name: 'duplicate root tag', payload: cpm(cpmIndicator + cpmApplication + '62035A0112' + '62035A0112'), id: '62', code: 'duplicate_id' },
    { name: '85 not first', payload: cpm(cpmApplication + cpmIndicator), id: '85', code: 'misplaced_id' },
    { name: 'no 85', payload: cpm(cpmApplication), id: '85', code: 'payload_format_indicator_missing' },
    { name: 'CPV02', payload: cpm('8505' + Buffer.from('CPV02').toString('hex') + cpmApplication), id: '85', code: 'value_invalid', strict: true },
    { name: 'no application template', payload: cpm(cpmIndicator + '62045A021234'), id: '61', code: 'mandatory_missing', strict: true },
    { name: 'application template without ADF name', payload: cpm(cpmIndicator + '61045A021234'), id: '61[1].4F', code: 'mandatory_missing', strict: true },
    { name: 'ADF name of 3 bytes', payload: cpm(cpmIndicator + '61094F03A000005A021234'), id: '61[1].4F', code: 'length_invalid', strict: true },
    { name: 'PAN with letters', payload: cpm(cpmIndicator + '610D4F07A00000005555555A0212AB'), id: '61[1].5A', code: 'format_invalid', strict: true },
    { name: 'neither PAN nor track 2', payload: cpm(cpmIndicator + '61094F07A0000000555555'), id: '5A', code: 'conditional_missing', strict: true },
  ]
  for (const testCase of decodeCases) {
    it(`decode, ${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      const result = decodeCpm(testCase.payload, { strict: testCase.strict === true })
      assert.equal(result.valid, false)
      expectIssue(result.errors, testCase.id, testCase.code)
      if (testCase.strict === true) expectIssue(decodeCpm(testCase.payload).warnings, testCase.id, testCase.code)
    })
  }

  const encodeCases: Array<{ name: string; fields: unknown; id: string; code: QrIssueCode }> = [
    { name: 'not an object', fields: 'CPV01', id: 'payload', code: 'value_type_invalid' },
    { name: 'no 85', fields: { '61': [{ '4F': 'A0000000555555', '5A': '1234' }] }, id: '85', code: 'payload_format_indicator_missing' },
    { name: 'tag not hex', fields: { '85': 'CPV01', ZZ: '00' }, id: 'ZZ', code: 'tag_invalid' },
    { name: 'multi-byte tag without its second byte', fields: { '85': 'CPV01', '9F': '00' }, id: '9F', code: 'tag_invalid' },
    { name: 'application templates not a list', fields: { '85': 'CPV01', '61': { '4F': 'A0' } }, id: '61', code: 'value_type_invalid' },
    { name: 'primitive value not hex', fields: { '85': 'CPV01', '61': [{ '4F': 'XYZ' }] }, id: '61[1].4F', code: 'value_type_invalid' },
    { name: 'template value a string', fields: { '85': 'CPV01', '62': '5A021234' }, id: '62', code: 'value_type_invalid' },
    { name: 'text beyond one byte per character', fields: { '85': 'CPV01', '61': [{ '4F': 'A0000000555555', '50': '商店' }] }, id: '61[1].50', code: 'value_type_invalid' },
    { name: 'value over 65,535 bytes', fields: { '85': 'CPV01', '9F7C': 'AB'.repeat(70000) }, id: '9F7C', code: 'value_too_long' },
  ]
  for (const testCase of encodeCases) {
    it(`encode, ${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      const result = encodeCpm(testCase.fields as CpmFields)
      assert.equal(result.ok, false)
      expectIssue(errorsOf(result), testCase.id, testCase.code)
    })
  }
})

describe('reading an amount back', () => {
  const cny = findCurrency('CNY')
  assert.ok(cny !== undefined)
  const cases: Array<{ name: string; fields: MpmFields; id: string; code: QrIssueCode }> = [
    { name: 'payload in another currency', fields: { ...base, '53': '840' }, id: '53', code: 'currency_mismatch' },
    { name: 'no amount', fields: without(base, '54'), id: '54', code: 'mandatory_missing' },
    { name: 'amount not a number', fields: { ...base, '54': '12,50' }, id: '54', code: 'amount_invalid' },
    { name: 'too many decimals', fields: { ...base, '54': '12.505' }, id: '54', code: 'amount_precision_invalid' },
  ]
  for (const testCase of cases) {
    it(`${testCase.name}: ${testCase.id} ${testCase.code}`, () => {
      const result = amountMinorFromMpm(testCase.fields, cny)
      assert.equal(result.ok, false)
      if (!result.ok) expectIssue([result.error], testCase.id, testCase.code)
    })
  }
})

describe('the catalogue', () => {
  it('has every code produced by at least one case above', () => {
    const missing = Object.keys(issueCatalogue).filter((code) => !covered.has(code as QrIssueCode))
    assert.deepEqual(missing, [])
  })
})

function without(fields: MpmFields, id: string): MpmFields {
  const copy = { ...fields }
  delete copy[id]
  return copy
}
