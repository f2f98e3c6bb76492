/**
 * The terminal protocol's pure core: what a terminal's request asks for, what the host answers, and
 * which response codes the host produces itself (the others come from the issuer, through the
 * scheme). No I/O: the TCP shell (`host.ts`) decodes, calls these, and writes.
 *
 * Requests the host takes (docs/pos.md has the field table):
 *
 * | MTI | field 3 | what |
 * |---|---|---|
 * | 0200 / 0201 | 00xxxx | sale |
 * | 0200 / 0201 | 20xxxx | refund of a sale, named by field 37 (its RRN) or 90 (its STAN) |
 * | 0100 / 0101 | 00xxxx | authorization (a hold) |
 * | 0220 / 0221 | 00xxxx | completion of an authorization, named by field 37 or 90 |
 * | 0400 / 0401 | any | the terminal's reversal of its own sale or authorization, named by 90 (or, without 90, by its own STAN in 11) |
 * | 0800 | | 70 = 001 sign-on, 002 sign-off, 301 echo |
 */
import { createHmac } from 'node:crypto'
import { findCurrencyByNumeric, type CurrencyCode } from '../../domain/currency.js'
import { AMOUNT_MINOR_MAX } from '../../domain/money.js'
import { describeResponseCode, encodeMessage, iso8583Spec1987, luhnValid, parseMti, responseMtiFor, type Iso8583Message } from '../iso8583/index.js'
import { parseOriginalDataElements } from '../scheme-link/trace.js'

/**
 * Response codes the host gives by itself, and why. Every other code a terminal sees is the issuer's
 * (through the scheme), passed on unchanged.
 */
export const hostResponseCodes = {
  '00': { meaning: 'Approved', when: 'an echo or sign-on; a reversal done, or with nothing to undo' },
  '03': { meaning: 'Invalid merchant', when: "field 42 is not the terminal's merchant, or the merchant is suspended" },
  '12': { meaning: 'Invalid transaction', when: 'an MTI, processing code or network code the host does not take; an original that cannot be refunded, completed or reversed' },
  '13': { meaning: 'Invalid amount', when: 'amount zero; a refund above what is left to refund; a completion above the authorization' },
  '14': { meaning: 'Invalid card number', when: 'field 2 (or the PAN in 35) fails the Luhn check' },
  '25': { meaning: 'Unable to locate original transaction', when: 'the sale a refund, completion or reversal names is not known for this terminal (or merchant, by RRN)' },
  '30': { meaning: 'Format error', when: 'the message does not decode, or a field the request needs is missing or malformed' },
  '58': { meaning: 'Transaction not permitted to terminal', when: 'field 41 is not a registered, active terminal' },
  '63': { meaning: 'Security violation', when: 'the MAC (field 64/128) is missing, misplaced or wrong' },
  '91': { meaning: 'Issuer unavailable or switch inoperative', when: 'the scheme link is down, or the scheme did not answer in time (the sale was reversed); a reversal the scheme has not acknowledged yet' },
  '94': { meaning: 'Duplicate transmission', when: 'a STAN this terminal used (for this MTI) within 24 hours, with different content' },
  '96': { meaning: 'System malfunction', when: 'an unexpected error in the host (logged)' },
} as const

export type HostResponseCode = keyof typeof hostResponseCodes

/** The meaning of any field 39 code a terminal may see. */
export function responseMeaning(code: string): string {
  if (Object.hasOwn(hostResponseCodes, code)) return hostResponseCodes[code as HostResponseCode].meaning
  return describeResponseCode(code)?.meaning ?? 'Unknown response code'
}

/** A sale, refund, completion or reversal names its original by the terminal's STAN or by the RRN. */
export type OriginalReference =
  /** `mti`: the original's request MTI as field 90 gives it; undefined for a reversal without field 90. */
  | { readonly by: 'stan'; readonly mti: string | undefined; readonly stan: string }
  | { readonly by: 'rrn'; readonly rrn: string }

export type PresentedCard = {
  readonly pan: string
  /** YYMM. */
  readonly expiry: string
  readonly entry_mode: string
  readonly pin_block: string | undefined
  readonly icc_hex: string | undefined
  /** Contactless (entry mode 07x) with ICC data: a token or a tapped card; the scheme checks field 55. */
  readonly kind: 'pan' | 'token'
}

export type TerminalRequest =
  | { readonly kind: 'network'; readonly code: string }
  | { readonly kind: 'sale' | 'authorization'; readonly amount: bigint; readonly currency: CurrencyCode; readonly card: PresentedCard }
  | { readonly kind: 'refund'; readonly amount: bigint; readonly currency: CurrencyCode; readonly original: OriginalReference; readonly pan: string | undefined }
  | { readonly kind: 'completion'; readonly amount: bigint; readonly currency: CurrencyCode; readonly original: OriginalReference }
  | { readonly kind: 'reversal'; readonly original: Extract<OriginalReference, { by: 'stan' }> }

export type RequestProblem = { readonly code: '12' | '13' | '14' | '30'; readonly field: number | undefined; readonly detail: string }

export type ParsedRequest = { readonly ok: true; readonly request: TerminalRequest } | { readonly ok: false; readonly problem: RequestProblem }

const networkCodes = new Set(['001', '002', '301'])

/**
 * What a decoded, MAC-checked request asks for, or the problem with it. Field 41 and the MAC are the
 * host's business; this checks the rest.
 *
 * @example
 * parseTerminalRequest({ mti: '0200', fields: { 2: '6220010000000018', 3: '000000', 4: '000000002500', 11: '000001', 14: '3012', 22: '051', 41: 'T0000001', 49: '156' } })
 * // { ok: true, request: { kind: 'sale', amount: 2500n, currency: 'CNY', card: { pan: '6220…', expiry: '3012', entry_mode: '051', … } } }
 */
export function parseTerminalRequest(message: Iso8583Message): ParsedRequest {
  const f = message.fields
  const parts = parseMti(message.mti)
  if (parts === undefined || parts.version !== 'iso8583_1987') return problem('12', 0, `MTI ${message.mti} is not an ISO 8583:1987 request`)
  if (f[11] === undefined) return problem('30', 11, 'the STAN (field 11) is required')
  const base = message.mti.slice(0, 3)
  if (base === '080') {
    const code = f[70]
    if (code === undefined) return problem('30', 70, 'an 0800 needs field 70')
    if (!networkCodes.has(code)) return problem('12', 70, `network management code ${code} is not taken (001, 002, 301 are)`)
    return ok({ kind: 'network', code })
  }
  if (base === '040') {
    const named = parseOriginalDataElements(f[90])
    if (f[90] !== undefined && named === undefined) return problem('30', 90, 'field 90 is 42 digits')
    if (named !== undefined && named.mti !== '0200' && named.mti !== '0100') return problem('12', 90, `only a sale (0200) or authorization (0100) can be reversed, not ${named.mti}`)
    // Without field 90, the reversal carries the STAN of the sale it undoes (as many POS specifications do).
    return ok({ kind: 'reversal', original: { by: 'stan', mti: named?.mti, stan: named?.stan ?? f[11] } })
  }
  if (base !== '010' && base !== '020' && base !== '022') return problem('12', 0, `MTI ${message.mti} is not taken by the terminal host`)

  const processingCode = f[3]
  if (processingCode === undefined) return problem('30', 3, 'the processing code (field 3) is required')
  const processingType = processingCode.slice(0, 2)
  const amountField = f[4]
  if (amountField === undefined) return problem('30', 4, 'the amount (field 4) is required')
  const amount = BigInt(amountField)
  if (amount <= 0n || amount > AMOUNT_MINOR_MAX) return problem('13', 4, 'the amount must be positive')
  const currencyField = f[49]
  if (currencyField === undefined) return problem('30', 49, 'the currency (field 49) is required')
  const currency = findCurrencyByNumeric(currencyField)
  if (currency === undefined) return problem('30', 49, `${currencyField} is not an ISO 4217 numeric code`)

  if (base === '020' && processingType === '20') {
    const original = originalOf(message, ['0200', '0220'])
    if (!original.ok) return original
    const pan = f[2]
    if (pan !== undefined && !luhnValid(pan)) return problem('14', 2, 'the card number fails the Luhn check')
    return ok({ kind: 'refund', amount, currency: currency.code, original: original.request, pan })
  }
  if (processingType !== '00') return problem('12', 3, `processing code ${processingCode} is not taken with MTI ${message.mti}`)
  if (base === '022') {
    const original = originalOf(message, ['0100'])
    if (!original.ok) return original
    return ok({ kind: 'completion', amount, currency: currency.code, original: original.request })
  }

  const card = cardOf(message)
  if (!card.ok) return card
  return ok({ kind: base === '010' ? 'authorization' : 'sale', amount, currency: currency.code, card: card.request })
}

function ok<T extends TerminalRequest>(request: T): { readonly ok: true; readonly request: T } {
  return { ok: true, request }
}

function problem(code: RequestProblem['code'], field: number | undefined, detail: string): { readonly ok: false; readonly problem: RequestProblem } {
  return { ok: false, problem: { code, field, detail } }
}

/** The original named by field 90 (whose MTI must be one of `mtis`) or else by field 37. */
function originalOf(message: Iso8583Message, mtis: readonly string[]): { ok: true; request: OriginalReference } | { ok: false; problem: RequestProblem } {
  const field90 = message.fields[90]
  if (field90 !== undefined) {
    const named = parseOriginalDataElements(field90)
    if (named === undefined) return problem('30', 90, 'field 90 is 42 digits')
    if (!mtis.includes(named.mti)) return problem('12', 90, `field 90 names a ${named.mti}; this request takes ${mtis.join(' or ')}`)
    return { ok: true, request: { by: 'stan', mti: named.mti, stan: named.stan } }
  }
  const rrn = message.fields[37]
  if (rrn !== undefined) return { ok: true, request: { by: 'rrn', rrn } }
  return problem('30', 90, 'the original is named by field 37 (its RRN) or 90 (its STAN)')
}

function cardOf(message: Iso8583Message): { ok: true; request: PresentedCard } | { ok: false; problem: RequestProblem } {
  const f = message.fields
  let pan = f[2]
  let expiry = f[14]
  const track2 = f[35]
  if (track2 !== undefined) {
    const match = /^([0-9]{12,19})[=D]([0-9]{4})/.exec(track2)
    if (match === null) return problem('30', 35, 'track 2 is PAN, separator, YYMM, …')
    if (pan !== undefined && pan !== match[1]) return problem('30', 35, 'track 2 is for another card than field 2')
    pan ??= match[1]
    expiry ??= match[2]
  }
  if (pan === undefined) return problem('30', 2, 'the card number (field 2, or track 2 in field 35) is required')
  if (!/^[0-9]{12,19}$/.test(pan)) return problem('30', 2, 'the card number is 12 to 19 digits')
  if (!luhnValid(pan)) return problem('14', 2, 'the card number fails the Luhn check')
  if (expiry === undefined) return problem('30', 14, 'the expiry (field 14, or track 2 in field 35) is required')
  const entryMode = f[22]
  if (entryMode === undefined) return problem('30', 22, 'the entry mode (field 22) is required')
  const contactless = entryMode.startsWith('07') && f[55] !== undefined
  return { ok: true, request: { pan, expiry, entry_mode: entryMode, pin_block: f[52], icc_hex: f[55], kind: contactless ? 'token' : 'pan' } }
}

/** Fields an answer repeats from its request, so the terminal can match and check it. Never card data. */
export const echoedFields = [3, 4, 7, 11, 12, 13, 41, 42, 49] as const

/**
 * The answer to `request` with response code `code` and any `extra` fields (37 RRN, 38 auth code).
 * `responseMti` defaults to the standard one (0200 → 0210, 0401 → 0410).
 */
export function answerTo(request: Iso8583Message, code: string, extra: { readonly [field: number]: string | null | undefined } = {}, responseMti?: string): Iso8583Message {
  const fields: Record<number, string> = {}
  for (const field of echoedFields) {
    const value = request.fields[field]
    if (value !== undefined) fields[field] = value
  }
  for (const [key, value] of Object.entries(extra)) if (value !== null && value !== undefined) fields[Number(key)] = value
  fields[39] = code
  return { mti: responseMti ?? responseMtiFor(request.mti) ?? unknownRequestResponseMti, fields }
}

/**
 * The MTI of the answer to a message that is no request (a response, a notification, an MTI that is
 * not four digits): 0810, the network management response, the only one with no business meaning.
 */
export const unknownRequestResponseMti = '0810'

/** The MTI a request is journaled under: the repeat digit cleared (0201 → 0200, 0401 → 0400). */
export function baseMti(mti: string): string {
  const origin = Number(mti[3])
  return origin % 2 === 1 ? `${mti.slice(0, 3)}${origin - 1}` : mti
}

/**
 * A keyed hash of what a request says (its MTI as `baseMti`, every field but the MAC), to tell a
 * repeat of it from another message that reuses its STAN. Keyed, so the stored digest reveals nothing
 * about the card number in it.
 */
export function requestDigest(key: Buffer, message: Iso8583Message): string {
  const fields = Object.keys(message.fields)
    .map(Number)
    .filter((field) => field !== 64 && field !== 128)
    .sort((a, b) => a - b)
    .map((field) => [field, message.fields[field]])
  return createHmac('sha256', key).update(`pos-request:${JSON.stringify([baseMti(message.mti), fields])}`).digest('base64url')
}

/**
 * What can still be read from a message that does not decode, to answer it with 30 and the fields
 * that identify it. Walks the `ascii` encoding field by field and stops where the lengths stop making
 * sense; a fixed-length field with bad characters is skipped (its length is still known) and not
 * echoed. Only identifying fields are kept (`echoedFields`), never card data.
 *
 * @example
 * salvageMessage(Buffer.from('0200' + '3020000000800000' + '000000' + '00000000A000' + '000001' + 'T0000001', 'latin1'))
 * // { mti: '0200', fields: { 3: '000000', 11: '000001', 41: 'T0000001' } }
 */
export function salvageMessage(bytes: Buffer): { readonly mti: string | undefined; readonly fields: Record<number, string> } {
  const text = bytes.toString('latin1')
  const mti = /^[0-9]{4}/.test(text) ? text.slice(0, 4) : undefined
  const fields: Record<number, string> = {}
  const primary = text.slice(4, 20)
  if (mti === undefined || !/^[0-9A-Fa-f]{16}$/.test(primary)) return { mti, fields }
  let bits = BigInt(`0x${primary}`).toString(2).padStart(64, '0')
  let position = 20
  if (bits[0] === '1') {
    const secondary = text.slice(20, 36)
    if (!/^[0-9A-Fa-f]{16}$/.test(secondary)) return { mti, fields }
    bits += BigInt(`0x${secondary}`).toString(2).padStart(64, '0')
    position = 36
  }
  const wanted = new Set<number>(echoedFields)
  // At most 127 turns: one per bit.
  for (let index = 1; index < bits.length; index++) {
    if (bits[index] !== '1') continue
    const field = index + 1
    const spec = iso8583Spec1987.fields[field]
    if (spec === undefined) break
    let units = spec.length
    if (spec.lengthKind !== 'fixed') {
      const digits = spec.lengthKind === 'llvar' ? 2 : 3
      const prefix = text.slice(position, position + digits)
      if (!/^[0-9]+$/.test(prefix) || prefix.length !== digits) break
      units = Number(prefix)
      position += digits
    }
    const characters = spec.type === 'b' ? units * 2 : spec.type === 'x+n' ? units + 1 : units
    const value = text.slice(position, position + characters)
    if (value.length !== characters) break
    position += characters
    if (wanted.has(field) && encodeMessage({ mti: '0800', fields: { [field]: value } }, { encoding: 'ascii' }).ok) fields[field] = value
  }
  return { mti, fields }
}
