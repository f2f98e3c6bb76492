/**
 * EMVCo QR codec: Merchant-Presented Mode (the courier's parcel code, Pix, PromptPay, SGQR,
 * DuitNow, Bharat QR, UnionPay…) and Consumer-Presented Mode (the shopper's app code). Pure:
 * strings in, plain data out, errors as values. See docs/qr.md.
 */
import { decodeCpm, looksLikeCpm, type CpmDecodeResult } from './cpm.js'
import { decodeMpm } from './mpm.js'
import type { DecodeOptions, MpmDecodeResult } from './mpm-types.js'

export type QrDecodeResult = MpmDecodeResult | CpmDecodeResult

/**
 * Decodes either mode: base64 beginning with tag 85 "CPV01" is Consumer-Presented Mode, anything
 * else is read as Merchant-Presented Mode (which begins "0002").
 *
 * @example decodeQr('000201…6304ABCD').mode // 'mpm'
 * @example decodeQr('hQVDUFYwMWET…').mode // 'cpm'
 */
export function decodeQr(payload: string, options: DecodeOptions = {}): QrDecodeResult {
  if (looksLikeCpm(payload)) return decodeCpm(payload, options)
  return decodeMpm(payload, options)
}

export { decodeMpm, encodeMpm } from './mpm.js'
export { decodeCpm, encodeCpm, validateCpmFields, type CpmDecodeResult, type CpmFields, type CpmTemplate } from './cpm.js'
export { buildDynamicMpm, type DynamicMpmInput } from './dynamic.js'
export { amountMinorFromMpm, formatAmountMinor, parseAmountMinor, type AmountReadResult } from './amount.js'
export { crc16CcittFalse, crc16Hex } from './crc.js'
export { validateMpmFields } from './mpm-rules.js'
export { issueCatalogue, type QrIssue, type QrIssueCode } from './issues.js'
export type { DecodeOptions, EncodeResult, MpmDecodeResult, MpmFields, MpmTemplate } from './mpm-types.js'
