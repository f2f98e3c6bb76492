/**
 * What can be wrong with a QR payload, as a closed catalogue. Every issue names the data object at
 * fault by its ID path ("54", "62.05", "26.00", or a CPM tag path such as "61[1].4F").
 *
 * Two levels, because the wild is messy (see docs/qr.md):
 * - structural: the payload cannot be trusted as written (bad CRC, length running past the end,
 *   duplicate or misplaced IDs). Always an error; such a payload is never valid.
 * - rule: the structure is sound but a data object breaks a format, length or presence rule of the
 *   EMVCo specification (no merchant city, MCC "0000", name too long). A warning by default, an
 *   error in strict mode.
 */
export const issueCatalogue = {
  // structural
  payload_empty: { level: 'structural', meaning: 'The payload is empty.' },
  payload_too_long: { level: 'structural', meaning: 'The payload is longer than any QR code can carry.' },
  object_truncated: { level: 'structural', meaning: 'The payload ends inside the ID or length of a data object.' },
  id_not_numeric: { level: 'structural', meaning: 'A data object ID is not two digits.' },
  length_not_numeric: { level: 'structural', meaning: 'A data object length is not two digits.' },
  length_past_end: { level: 'structural', meaning: 'A data object length runs past the end of the payload or template.' },
  duplicate_id: { level: 'structural', meaning: 'The same ID appears twice at one level.' },
  misplaced_id: { level: 'structural', meaning: 'ID 00 is not the first data object, or ID 63 (CRC) is not the last; in CPM, tag 85 is not first.' },
  payload_format_indicator_missing: { level: 'structural', meaning: 'The payload format indicator (MPM ID 00, CPM tag 85) is missing.' },
  crc_missing: { level: 'structural', meaning: 'The CRC (ID 63) is missing.' },
  crc_format_invalid: { level: 'structural', meaning: 'The CRC is not four hexadecimal characters.' },
  crc_mismatch: { level: 'structural', meaning: 'The CRC does not match the payload.' },
  value_type_invalid: { level: 'structural', meaning: 'A value to encode is a string where a template is expected, or the reverse.' },
  value_too_long: { level: 'structural', meaning: 'A value to encode is longer than its length field can express.' },
  base64_invalid: { level: 'structural', meaning: 'A CPM payload is not base64.' },
  tag_invalid: { level: 'structural', meaning: 'A CPM tag is not a valid BER-TLV tag.' },
  length_form_invalid: { level: 'structural', meaning: 'A CPM length uses the indefinite form or more than three length bytes.' },
  // data-object rules
  mandatory_missing: { level: 'rule', meaning: 'A mandatory data object is missing.' },
  conditional_missing: { level: 'rule', meaning: 'A data object required by another one is missing (56 for tip indicator 02, 57 for 03).' },
  conditional_unexpected: { level: 'rule', meaning: 'A data object is present although the one it depends on does not call for it.' },
  length_invalid: { level: 'rule', meaning: 'A value is shorter or longer than its data object allows.' },
  format_invalid: { level: 'rule', meaning: 'A value has characters its format does not allow (N digits, ans printable ASCII, hex).' },
  value_invalid: { level: 'rule', meaning: 'A value is not one the specification defines for its data object.' },
  reserved_id_used: { level: 'rule', meaning: 'An ID reserved for future use by EMVCo is present.' },
  currency_unknown: { level: 'rule', meaning: 'The transaction currency is not an active ISO 4217 numeric code.' },
  amount_invalid: { level: 'rule', meaning: 'An amount is not a decimal number ("12", "12.", "12.34"), or it is zero.' },
  amount_precision_invalid: { level: 'rule', meaning: 'An amount has more decimals than the currency has minor-unit digits.' },
  currency_mismatch: { level: 'rule', meaning: 'The payload currency is not the currency the amount is read in.' },
} as const satisfies Record<string, { level: 'structural' | 'rule'; meaning: string }>

export type QrIssueCode = keyof typeof issueCatalogue

export type QrIssue = {
  /** The data object at fault: "54", "62.05", "26.00", "61[1].4F"; "payload" for the whole payload. */
  id: string
  code: QrIssueCode
  message: string
}

export function issue(id: string, code: QrIssueCode, message: string): QrIssue {
  return { id, code, message }
}

export function isStructural(code: QrIssueCode): boolean {
  return issueCatalogue[code].level === 'structural'
}

/**
 * Sorts issues into errors and warnings: structural issues are always errors, rule issues are
 * errors only in strict mode.
 */
export function sortIssues(issues: readonly QrIssue[], strict: boolean): { errors: QrIssue[]; warnings: QrIssue[] } {
  const errors: QrIssue[] = []
  const warnings: QrIssue[] = []
  for (const found of issues) {
    if (strict || isStructural(found.code)) errors.push(found)
    else warnings.push(found)
  }
  return { errors, warnings }
}
