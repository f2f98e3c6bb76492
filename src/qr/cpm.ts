import { isStructural, issue, sortIssues, type QrIssue } from './issues.js'
import type { DecodeOptions, EncodeResult } from './mpm-types.js'

/**
 * EMV QRCPS Consumer-Presented Mode: the shopper's app shows a base64 string of BER-TLV data
 * objects. Tag 85 (payload format indicator, "CPV01") comes first, then one or more application
 * templates (61), an optional common data template (62), each possibly carrying an application
 * specific transparent template (63) or common data transparent template (64) with the
 * cryptogram data (9F26, 9F36, 9F37, 9F10…).
 */

/** A constructed data object: its children by tag (hex, uppercase), strings or nested templates. */
export type CpmTemplate = { [tag: string]: string | CpmTemplate }

/**
 * Decoded CPM fields by tag. "85" is the payload format indicator; "61" is always a list, since a
 * payload may offer several applications; every other tag appears once. Primitive values are
 * text for the text tags (85, 50, 5F20, 5F2D, 5F50, 9F12, 9F24) and uppercase hex otherwise.
 */
export type CpmFields = { [tag: string]: string | CpmTemplate | CpmTemplate[] }

export type CpmDecodeResult = {
  valid: boolean
  mode: 'cpm'
  errors: QrIssue[]
  warnings: QrIssue[]
  fields: CpmFields
}

/** Tags whose value is text rather than binary or BCD. */
const TEXT_TAGS: ReadonlySet<string> = new Set(['85', '50', '5F20', '5F2D', '5F50', '9F12', '9F24'])

/** Value lengths in bytes, from the CPM specification's data object tables. */
const LENGTH_RULES: Readonly<Record<string, { name: string; min: number; max: number }>> = {
  '85': { name: 'Payload Format Indicator', min: 5, max: 5 },
  '4F': { name: 'Application Definition File (ADF) Name', min: 5, max: 16 },
  '50': { name: 'Application Label', min: 1, max: 16 },
  '57': { name: 'Track 2 Equivalent Data', min: 1, max: 19 },
  '5A': { name: 'Application PAN', min: 1, max: 10 },
  '5F20': { name: 'Cardholder Name', min: 2, max: 26 },
  '5F2D': { name: 'Language Preference', min: 2, max: 8 },
  '9F08': { name: 'Application Version Number', min: 2, max: 2 },
  '9F10': { name: 'Issuer Application Data', min: 1, max: 32 },
  '9F19': { name: 'Token Requestor ID', min: 6, max: 6 },
  '9F24': { name: 'Payment Account Reference', min: 29, max: 29 },
  '9F25': { name: 'Last 4 Digits of PAN', min: 2, max: 2 },
  '9F26': { name: 'Application Cryptogram', min: 8, max: 8 },
  '9F27': { name: 'Cryptogram Information Data', min: 1, max: 1 },
  '9F36': { name: 'Application Transaction Counter', min: 2, max: 2 },
  '9F37': { name: 'Unpredictable Number', min: 4, max: 4 },
}

const PAYLOAD_FORMAT_INDICATOR = 'CPV01'
/** Generous for any QR code: 2,953 bytes fit in the largest one, which base64 makes 3,940 characters. */
const BASE64_LENGTH_MAX = 4096
/** Templates nest two levels in the specification (61 → 63); deeper is refused, not recursed into. */
const NESTING_DEPTH_MAX = 4
/** Tags of up to three bytes cover every EMV tag; length fields of up to three bytes cover 16 MB. */
const TAG_BYTES_MAX = 3
const LENGTH_BYTES_MAX = 3

type BerNode = { tag: string; constructed: boolean; value: Uint8Array; children: BerNode[] | undefined; path: string }

/**
 * Decodes a base64 Consumer-Presented Mode payload. Errors and warnings name the tag at fault,
 * with the application template's position when there are several: "61[2].4F".
 *
 * @example
 * decodeCpm('hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw==')
 * // { valid: true, mode: 'cpm', fields: { '85': 'CPV01', '61': [{ '4F': 'A0000000555555', '50': 'Product1' }, …],
 * //   '62': { '5A': '1234567890123458', '5F20': 'CARDHOLDER/EMV', '5F2D': 'ruesdeen', '64': { '9F10': '06010A03000000', … } } }, … }
 */
export function decodeCpm(payload: string, options: DecodeOptions = {}): CpmDecodeResult {
  const issues: QrIssue[] = []
  const fields: CpmFields = {}
  const bytes = readBase64(payload, issues)
  if (bytes !== undefined) {
    const issuesBefore = issues.length
    const read = readLevel(bytes, 0, bytes.length, '', 0, issues)
    buildRootFields(read.nodes, fields, issues)
    const structureSound = !issues.slice(issuesBefore).some((found) => isStructural(found.code))
    if (structureSound) issues.push(...validateCpmFields(fields))
  }
  const { errors, warnings } = sortIssues(issues, options.strict === true)
  return { valid: errors.length === 0, mode: 'cpm', errors, warnings, fields }
}

/** True when the text is base64 whose first data object is tag 85 "CPV01": how CPM is told from MPM. */
export function looksLikeCpm(payload: string): boolean {
  // base64 of 85 05 "CPV01" begins "hQVDUFYwM"; anything else is not a CPM payload.
  return payload.startsWith('hQVDUFYwM')
}

function readBase64(payload: string, issues: QrIssue[]): Uint8Array | undefined {
  if (payload.length === 0) {
    issues.push(issue('payload', 'payload_empty', 'The payload is empty.'))
    return undefined
  }
  if (payload.length > BASE64_LENGTH_MAX) {
    issues.push(issue('payload', 'payload_too_long', `The payload has ${payload.length} characters; a QR code holds at most ${BASE64_LENGTH_MAX}.`))
    return undefined
  }
  // Padding only ever completes the last group of four: "AAAAA=" is not base64, and atob would throw on it.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(payload) || payload.length % 4 === 1 || (payload.endsWith('=') && payload.length % 4 !== 0)) {
    issues.push(issue('payload', 'base64_invalid', 'The payload is not base64 (A–Z, a–z, 0–9, "+", "/", "=" padding).'))
    return undefined
  }
  const binary = atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, '='))
  const bytes = new Uint8Array(binary.length)
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index)
  return bytes
}

function readLevel(
  bytes: Uint8Array,
  start: number,
  end: number,
  path: string,
  depth: number,
  issues: QrIssue[],
): { nodes: BerNode[]; complete: boolean } {
  const nodes: BerNode[] = []
  let position = start
  let applicationTemplateCount = 0
  // Each pass consumes at least two bytes (tag and length), so the loop ends.
  while (position < end) {
    const tagStart = position
    const first = bytes[position] ?? 0
    position++
    if (first === 0x00 || first === 0xff) {
      issues.push(issue(path + hexOf(bytes, tagStart, tagStart + 1), 'tag_invalid', `Byte ${tagStart} (0x${hexOf(bytes, tagStart, tagStart + 1)}) is not a tag.`))
      return { nodes, complete: false }
    }
    if ((first & 0x1f) === 0x1f) {
      // Multi-byte tag: subsequent bytes continue while their top bit is set.
      for (;;) {
        if (position >= end) {
          issues.push(issue(path + hexOf(bytes, tagStart, position), 'object_truncated', 'The payload ends inside a tag.'))
          return { nodes, complete: false }
        }
        const next = bytes[position] ?? 0
        position++
        if (position - tagStart > TAG_BYTES_MAX) {
          issues.push(issue(path + hexOf(bytes, tagStart, position), 'tag_invalid', `A tag is longer than ${TAG_BYTES_MAX} bytes.`))
          return { nodes, complete: false }
        }
        if ((next & 0x80) === 0) break
      }
    }
    const tag = hexOf(bytes, tagStart, position)
    const constructed = (first & 0x20) !== 0
    let name = path + tag
    if (path === '' && tag === '61') {
      applicationTemplateCount++
      name = `61[${applicationTemplateCount}]`
    }
    if (position >= end) {
      issues.push(issue(name, 'object_truncated', `The payload ends before the length of ${name}.`))
      return { nodes, complete: false }
    }
    const lengthFirst = bytes[position] ?? 0
    position++
    let length = lengthFirst
    if (lengthFirst === 0x80 || lengthFirst - 0x80 > LENGTH_BYTES_MAX) {
      issues.push(issue(name, 'length_form_invalid', `The length of ${name} uses the indefinite form or more than ${LENGTH_BYTES_MAX} length bytes.`))
      return { nodes, complete: false }
    }
    if (lengthFirst > 0x80) {
      const count = lengthFirst - 0x80
      if (position + count > end) {
        issues.push(issue(name, 'object_truncated', `The payload ends inside the length of ${name}.`))
        return { nodes, complete: false }
      }
      length = 0
      for (let index = 0; index < count; index++) length = length * 256 + (bytes[position + index] ?? 0)
      position += count
    }
    if (position + length > end) {
      issues.push(issue(name, 'length_past_end', `${name} announces ${length} byte(s) but only ${end - position} remain.`))
      return { nodes, complete: false }
    }
    const value = bytes.subarray(position, position + length)
    let children: BerNode[] | undefined
    if (constructed) {
      if (depth + 1 > NESTING_DEPTH_MAX) {
        issues.push(issue(name, 'tag_invalid', `${name} nests templates deeper than ${NESTING_DEPTH_MAX} levels.`))
        return { nodes, complete: false }
      }
      const inner = readLevel(bytes, position, position + length, `${name}.`, depth + 1, issues)
      children = inner.nodes
      if (!inner.complete) {
        nodes.push({ tag, constructed, value, children, path: name })
        return { nodes, complete: false }
      }
    }
    nodes.push({ tag, constructed, value, children, path: name })
    position += length
  }
  return { nodes, complete: true }
}

function buildRootFields(nodes: readonly BerNode[], fields: CpmFields, issues: QrIssue[]): void {
  const indicatorIndex = nodes.findIndex((node) => node.tag === '85')
  if (indicatorIndex === -1) {
    if (nodes.length > 0) issues.push(issue('85', 'payload_format_indicator_missing', 'The payload format indicator (85) is missing.'))
  } else if (indicatorIndex !== 0) {
    issues.push(issue('85', 'misplaced_id', 'The payload format indicator (85) is not the first data object.'))
  }
  const applicationTemplates: CpmTemplate[] = []
  for (const node of nodes) {
    if (node.tag === '61' && node.constructed) {
      applicationTemplates.push(buildTemplate(node, issues))
      continue
    }
    if (fields[node.tag] !== undefined) {
      issues.push(issue(node.path, 'duplicate_id', `Tag ${node.tag} appears more than once.`))
      continue
    }
    fields[node.tag] = node.constructed ? buildTemplate(node, issues) : primitiveValue(node)
  }
  if (applicationTemplates.length > 0) fields['61'] = applicationTemplates
}

function buildTemplate(node: BerNode, issues: QrIssue[]): CpmTemplate {
  const template: CpmTemplate = {}
  for (const child of node.children ?? []) {
    if (template[child.tag] !== undefined) {
      issues.push(issue(child.path, 'duplicate_id', `Tag ${child.tag} appears more than once in ${node.path}.`))
      continue
    }
    template[child.tag] = child.constructed ? buildTemplate(child, issues) : primitiveValue(child)
  }
  return template
}

function primitiveValue(node: BerNode): string {
  if (!TEXT_TAGS.has(node.tag)) return hexOf(node.value, 0, node.value.length)
  let text = ''
  for (const byte of node.value) text += String.fromCharCode(byte)
  return text
}

const hexDigits = '0123456789ABCDEF'

function hexOf(bytes: Uint8Array, start: number, end: number): string {
  let hex = ''
  for (let index = start; index < end; index++) {
    const byte = bytes[index] ?? 0
    hex += (hexDigits[byte >> 4] ?? '') + (hexDigits[byte & 0x0f] ?? '')
  }
  return hex
}

/** Checks decoded or to-be-encoded CPM fields against the specification's data-object rules. */
export function validateCpmFields(fields: CpmFields): QrIssue[] {
  const issues: QrIssue[] = []
  const indicator = fields['85']
  if (typeof indicator === 'string' && indicator !== PAYLOAD_FORMAT_INDICATOR) {
    issues.push(issue('85', 'value_invalid', `The payload format indicator (85) is "${indicator}"; it is "${PAYLOAD_FORMAT_INDICATOR}".`))
  }
  const applications = fields['61']
  const applicationList = Array.isArray(applications) ? applications : []
  if (applicationList.length === 0) issues.push(issue('61', 'mandatory_missing', 'No application template (61) is present.'))
  applicationList.forEach((template, index) => {
    const path = `61[${index + 1}]`
    if (template['4F'] === undefined) issues.push(issue(`${path}.4F`, 'mandatory_missing', `Application template ${path} has no ADF name (4F).`))
    checkTemplateValues(template, `${path}.`, issues)
  })
  const common = fields['62']
  if (isTemplate(common)) checkTemplateValues(common, '62.', issues)
  if (typeof indicator === 'string') checkPrimitive('85', indicator, '85', issues)
  const carriesAccount = [...applicationList, ...(isTemplate(common) ? [common] : [])].some(
    (template) => template['5A'] !== undefined || template['57'] !== undefined,
  )
  if (!carriesAccount) {
    issues.push(issue('5A', 'conditional_missing', 'Neither an application PAN (5A) nor track 2 equivalent data (57) is present.'))
  }
  return issues
}

function isTemplate(value: string | CpmTemplate | CpmTemplate[] | undefined): value is CpmTemplate {
  return typeof value === 'object' && !Array.isArray(value)
}

function checkTemplateValues(template: CpmTemplate, path: string, issues: QrIssue[]): void {
  for (const tag of Object.keys(template)) {
    const value = template[tag]
    if (value === undefined) continue
    if (typeof value === 'string') checkPrimitive(tag, value, path + tag, issues)
    else checkTemplateValues(value, `${path}${tag}.`, issues)
  }
}

function checkPrimitive(tag: string, value: string, id: string, issues: QrIssue[]): void {
  const text = TEXT_TAGS.has(tag)
  const byteLength = text ? value.length : value.length / 2
  const rule = LENGTH_RULES[tag]
  if (rule !== undefined && (byteLength < rule.min || byteLength > rule.max)) {
    const bounds = rule.min === rule.max ? `${rule.min}` : `${rule.min} to ${rule.max}`
    issues.push(issue(id, 'length_invalid', `${rule.name} (${id}) has ${byteLength} byte(s); it takes ${bounds}.`))
  }
  if (text && !/^[\x20-\x7E]*$/.test(value)) {
    issues.push(issue(id, 'format_invalid', `${rule?.name ?? tag} (${id}) has characters outside printable ASCII.`))
  }
  if (tag === '5A' && !/^[0-9]+F?$/.test(value)) {
    issues.push(issue(id, 'format_invalid', `The application PAN (${id}) is not digits with an optional "F" pad.`))
  }
}

/**
 * Encodes CPM fields (the shape `decodeCpm` answers) into a base64 payload: 85 first, then the
 * other tags in tag order, each application template of "61" in list order. Errors are values.
 */
export function encodeCpm(fields: CpmFields, options: DecodeOptions = {}): EncodeResult {
  const structural: QrIssue[] = []
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    return { ok: false, errors: [issue('payload', 'value_type_invalid', 'The fields to encode are not an object of tags.')], warnings: [] }
  }
  if (typeof fields['85'] !== 'string') {
    structural.push(issue('85', 'payload_format_indicator_missing', 'The payload format indicator (85) is missing; it is "CPV01".'))
  }
  const chunks: Uint8Array[] = []
  const tags = Object.keys(fields).sort((a, b) => (a === '85' ? -1 : b === '85' ? 1 : a < b ? -1 : 1))
  for (const tag of tags) {
    const value: unknown = fields[tag]
    if (tag === '61') {
      if (!Array.isArray(value)) {
        structural.push(issue('61', 'value_type_invalid', 'Application templates (61) must be a list of templates.'))
        continue
      }
      value.forEach((template: unknown, index) => {
        const encoded = encodeObject('61', template, `61[${index + 1}]`, structural)
        if (encoded !== undefined) chunks.push(encoded)
      })
      continue
    }
    const encoded = encodeObject(tag, value, tag, structural)
    if (encoded !== undefined) chunks.push(encoded)
  }
  const ruleIssues = structural.length === 0 ? validateCpmFields(fields) : []
  const { errors, warnings } = sortIssues([...structural, ...ruleIssues], options.strict === true)
  if (errors.length > 0) return { ok: false, errors, warnings }
  return { ok: true, payload: toBase64(concatenate(chunks)), warnings }
}

function encodeObject(tag: string, value: unknown, path: string, issues: QrIssue[]): Uint8Array | undefined {
  const tagBytes = parseTag(tag)
  if (tagBytes === undefined) {
    issues.push(issue(path, 'tag_invalid', `"${tag}" is not a BER-TLV tag in hex.`))
    return undefined
  }
  const constructed = ((tagBytes[0] ?? 0) & 0x20) !== 0
  let valueBytes: Uint8Array
  if (constructed) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(issue(path, 'value_type_invalid', `Tag ${tag} is a template; its value must be an object of tags.`))
      return undefined
    }
    const children: Uint8Array[] = []
    const record = value as Record<string, unknown>
    for (const childTag of Object.keys(record).sort()) {
      const encoded = encodeObject(childTag, record[childTag], `${path}.${childTag}`, issues)
      if (encoded !== undefined) children.push(encoded)
    }
    valueBytes = concatenate(children)
  } else {
    if (typeof value !== 'string') {
      issues.push(issue(path, 'value_type_invalid', `Tag ${tag} is primitive; its value must be a string.`))
      return undefined
    }
    const encoded = TEXT_TAGS.has(tag) ? textBytes(value) : hexBytes(value)
    if (encoded === undefined) {
      const expected = TEXT_TAGS.has(tag) ? 'single-byte text' : 'an even number of hex digits'
      issues.push(issue(path, 'value_type_invalid', `The value of ${path} is not ${expected}.`))
      return undefined
    }
    valueBytes = encoded
  }
  if (valueBytes.length > 0xffff) {
    issues.push(issue(path, 'value_too_long', `${path} is longer than 65,535 bytes.`))
    return undefined
  }
  return concatenate([tagBytes, lengthBytes(valueBytes.length), valueBytes])
}

function parseTag(tag: string): Uint8Array | undefined {
  const bytes = hexBytes(tag)
  if (bytes === undefined || bytes.length === 0 || bytes.length > TAG_BYTES_MAX) return undefined
  const first = bytes[0] ?? 0
  if (first === 0x00 || first === 0xff) return undefined
  const multiByte = (first & 0x1f) === 0x1f
  if (!multiByte) return bytes.length === 1 ? bytes : undefined
  for (let index = 1; index < bytes.length; index++) {
    const continues = ((bytes[index] ?? 0) & 0x80) !== 0
    if (continues !== (index < bytes.length - 1)) return undefined
  }
  return bytes.length > 1 ? bytes : undefined
}

function lengthBytes(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length)
  if (length <= 0xff) return Uint8Array.of(0x81, length)
  return Uint8Array.of(0x82, length >> 8, length & 0xff)
}

function textBytes(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(text.length)
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code > 0xff) return undefined
    bytes[index] = code
  }
  return bytes
}

function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) return undefined
  const bytes = new Uint8Array(hex.length / 2)
  for (let index = 0; index < bytes.length; index++) bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16)
  return bytes
}

function concatenate(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const part of parts) total += part.length
  const joined = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}
