import { crc16Hex } from './crc.js'
import { isStructural, issue, sortIssues, type QrIssue } from './issues.js'
import { PAYLOAD_LENGTH_MAX, templateKind, VALUE_LENGTH_MAX } from './mpm-spec.js'
import { validateMpmFields } from './mpm-rules.js'
import { readDataObjects, writeDataObject, type DataObject } from './mpm-tlv.js'
import type { DecodeOptions, EncodeResult, MpmDecodeResult, MpmFields, MpmTemplate } from './mpm-types.js'
import { charactersOf, characterLength } from './text.js'

const hexPattern = /^[0-9A-Fa-f]{4}$/
const idPattern = /^[0-9]{2}$/

/**
 * Decodes an EMV Merchant-Presented Mode payload.
 *
 * Valid by default when the structure is sound and the CRC is right; breaches of the data-object
 * rules (a missing merchant city, MCC "0000", a name too long…) are `warnings`. With
 * `{ strict: true }` those breaches are `errors` and make the payload invalid.
 *
 * @example
 * decodeMpm('00020101021229370016A000000677010111011300668012345675802TH530376463046197')
 * // { valid: true, mode: 'mpm', errors: [], warnings: [ { id: '52', code: 'mandatory_missing', … }, … ],
 * //   fields: { '00': '01', '01': '11', '29': { '00': 'A000000677010111', '01': '0066801234567' }, '58': 'TH', '53': '764', '63': '6197' } }
 */
export function decodeMpm(payload: string, options: DecodeOptions = {}): MpmDecodeResult {
  const issues: QrIssue[] = []
  const fields: MpmFields = {}
  const structureSound = readPayload(payload, fields, issues)
  if (structureSound) issues.push(...validateMpmFields(fields))
  const { errors, warnings } = sortIssues(issues, options.strict === true)
  return { valid: errors.length === 0, mode: 'mpm', errors, warnings, fields }
}

/** Reads the payload into `fields`; true when no structural issue was found. */
function readPayload(payload: string, fields: MpmFields, issues: QrIssue[]): boolean {
  if (payload.length === 0) {
    issues.push(issue('payload', 'payload_empty', 'The payload is empty.'))
    return false
  }
  if (payload.length > PAYLOAD_LENGTH_MAX) {
    issues.push(issue('payload', 'payload_too_long', `The payload has ${payload.length} characters; a QR code holds at most ${PAYLOAD_LENGTH_MAX}.`))
    return false
  }
  const issuesBefore = issues.length
  const read = readDataObjects(payload, '', issues)
  const seen = new Set<string>()
  for (const object of read.objects) {
    if (seen.has(object.id)) {
      issues.push(issue(object.id, 'duplicate_id', `Data object ${object.id} appears more than once.`))
      continue
    }
    seen.add(object.id)
    fields[object.id] = readValue(object, issues)
  }
  checkPayloadFormatIndicator(read.objects, issues)
  if (read.complete) checkCrc(payload, read.objects, issues)
  return !issues.slice(issuesBefore).some((found) => isStructural(found.code))
}

function readValue(object: DataObject, issues: QrIssue[]): string | MpmTemplate {
  if (templateKind(object.id) === undefined) return object.value
  // A template whose content is not a run of data objects stays its raw text: the payload around
  // it is intact (the CRC says so) and wallets pay such codes (DuitNow's signature in 82), so this
  // is a rule breach reported by validateMpmFields, not a structural one.
  const read = readDataObjects(object.value, `${object.id}.`, [])
  if (!read.complete) return object.value
  const template: MpmTemplate = {}
  for (const sub of read.objects) {
    if (template[sub.id] !== undefined) {
      issues.push(issue(`${object.id}.${sub.id}`, 'duplicate_id', `Data object ${object.id}.${sub.id} appears more than once.`))
      continue
    }
    template[sub.id] = sub.value
  }
  return template
}

function checkPayloadFormatIndicator(objects: readonly DataObject[], issues: QrIssue[]): void {
  if (!objects.some((object) => object.id === '00')) {
    if (objects.length > 0) issues.push(issue('00', 'payload_format_indicator_missing', 'The payload format indicator (00) is missing.'))
    return
  }
  if (objects[0]?.id !== '00') issues.push(issue('00', 'misplaced_id', 'The payload format indicator (00) is not the first data object.'))
}

function checkCrc(payload: string, objects: readonly DataObject[], issues: QrIssue[]): void {
  const crcIndex = objects.findIndex((object) => object.id === '63')
  const crc = objects[crcIndex]
  if (crc === undefined) {
    issues.push(issue('63', 'crc_missing', 'The CRC (63) is missing.'))
    return
  }
  if (crcIndex !== objects.length - 1) {
    issues.push(issue('63', 'misplaced_id', 'The CRC (63) is not the last data object.'))
    return
  }
  if (!hexPattern.test(crc.value)) {
    issues.push(issue('63', 'crc_format_invalid', `The CRC (63) "${crc.value}" is not four hexadecimal digits.`))
    return
  }
  // The checksum covers everything before the CRC value, its own ID and length included.
  const covered = charactersOf(payload).slice(0, crc.start + 4)
  const expected = crc16Hex(covered)
  if (crc.value.toUpperCase() !== expected) {
    issues.push(issue('63', 'crc_mismatch', `The CRC (63) is ${crc.value}; the payload's is ${expected}.`))
  } else if (crc.value !== expected) {
    // Right checksum in lowercase hex: scanners accept it, the specification writes uppercase.
    issues.push(issue('63', 'format_invalid', `The CRC (63) "${crc.value}" is lowercase; the specification writes uppercase hex.`))
  }
}

/**
 * Encodes fields into an MPM payload: objects in ID order (00 first), each template's sub-IDs in
 * order, and the CRC (63) computed last; any "63" given is ignored. Errors are values: a key that
 * is not two digits, a string where a template belongs (or the reverse), a value longer than 99
 * characters, a missing 00. Rule breaches are warnings, or errors with `{ strict: true }`.
 *
 * @example
 * encodeMpm({ '00': '01', '01': '12', '26': { '00': 'com.kassa', '01': 'M1' }, '52': '5399', '53': '156',
 *   '54': '23.72', '58': 'CN', '59': 'KASSA', '60': 'BEIJING' })
 * // { ok: true, payload: '000201010212…6304XXXX', warnings: [] }
 */
export function encodeMpm(fields: MpmFields, options: DecodeOptions = {}): EncodeResult {
  const structural: QrIssue[] = []
  const parts: Array<{ id: string; text: string }> = []
  if (!isPlainObject(fields)) {
    return { ok: false, errors: [issue('payload', 'value_type_invalid', 'The fields to encode are not an object of IDs.')], warnings: [] }
  }
  const kept: MpmFields = {}
  for (const id of Object.keys(fields)) {
    if (!idPattern.test(id)) {
      structural.push(issue(id, 'id_not_numeric', `The ID "${id}" is not two digits.`))
      continue
    }
    if (id === '63') continue
    const value: unknown = fields[id]
    const text = encodeValue(id, value, structural)
    if (text === undefined) continue
    kept[id] = value as string | MpmTemplate
    parts.push({ id, text })
  }
  if (kept['00'] === undefined && structural.length === 0) {
    structural.push(issue('00', 'payload_format_indicator_missing', 'The payload format indicator (00) is missing; it is "01".'))
  }
  const ruleIssues = structural.length === 0 ? validateMpmFields(kept) : []
  const { errors, warnings } = sortIssues([...structural, ...ruleIssues], options.strict === true)
  if (errors.length > 0) return { ok: false, errors, warnings }
  parts.sort((a, b) => (a.id < b.id ? -1 : 1))
  const body = parts.map((part) => part.text).join('') + '6304'
  return { ok: true, payload: body + crc16Hex(body), warnings }
}

function encodeValue(id: string, value: unknown, issues: QrIssue[]): string | undefined {
  const isTemplate = templateKind(id) !== undefined
  if (isTemplate && typeof value !== 'string') {
    if (!isPlainObject(value)) {
      issues.push(issue(id, 'value_type_invalid', `Template ${id} must be an object of sub-IDs (or the raw text of one that is malformed).`))
      return undefined
    }
    const subIds = Object.keys(value).sort()
    let inner = ''
    for (const subId of subIds) {
      const subValue = value[subId]
      if (!idPattern.test(subId)) {
        issues.push(issue(`${id}.${subId}`, 'id_not_numeric', `The sub-ID "${subId}" of template ${id} is not two digits.`))
        continue
      }
      if (typeof subValue !== 'string') {
        issues.push(issue(`${id}.${subId}`, 'value_type_invalid', `${id}.${subId} must be a string.`))
        continue
      }
      if (characterLength(subValue) > VALUE_LENGTH_MAX) {
        issues.push(issue(`${id}.${subId}`, 'value_too_long', `${id}.${subId} has more than ${VALUE_LENGTH_MAX} characters.`))
        continue
      }
      inner += writeDataObject(subId, subValue)
    }
    if (characterLength(inner) > VALUE_LENGTH_MAX) {
      issues.push(issue(id, 'value_too_long', `Template ${id} encodes to ${characterLength(inner)} characters; at most ${VALUE_LENGTH_MAX} fit.`))
      return undefined
    }
    return writeDataObject(id, inner)
  }
  if (typeof value !== 'string') {
    issues.push(issue(id, 'value_type_invalid', `Data object ${id} must be a string.`))
    return undefined
  }
  if (characterLength(value) > VALUE_LENGTH_MAX) {
    issues.push(issue(id, 'value_too_long', `Data object ${id} has ${characterLength(value)} characters; at most ${VALUE_LENGTH_MAX} fit.`))
    return undefined
  }
  return writeDataObject(id, value)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
