import type { QrIssue } from './issues.js'

/** The sub-IDs of one template (26–51, 62, 64, 80–99), each a string. */
export type MpmTemplate = { [subId: string]: string }

/**
 * Every data object of a payload by its two-digit ID: a string, or for a template an object of
 * its sub-IDs. `{ "00": "01", "26": { "00": "br.gov.bcb.pix", "01": "key" }, "54": "10.00", … }`
 */
export type MpmFields = { [id: string]: string | MpmTemplate }

export type DecodeOptions = {
  /** Report breaches of the data-object rules as errors rather than warnings. */
  readonly strict?: boolean
}

export type MpmDecodeResult = {
  /** True when there are no errors: sound structure and CRC, and in strict mode every rule kept. */
  valid: boolean
  mode: 'mpm'
  errors: QrIssue[]
  warnings: QrIssue[]
  fields: MpmFields
}

export type EncodeResult =
  | { readonly ok: true; readonly payload: string; readonly warnings: QrIssue[] }
  | { readonly ok: false; readonly errors: QrIssue[]; readonly warnings: QrIssue[] }
