/**
 * The card security the simulator checks, and that tests and the POS terminal simulator compute:
 * contactless token cryptograms and PIN blocks. Pure (node:crypto only).
 *
 * **Token cryptogram.** A tapped token payment carries, in field 55 as EMV TLV, the amount (9F02),
 * the currency (5F2A), the token's application transaction counter (ATC, 9F36) and an application
 * cryptogram (9F26): HMAC-SHA256 under the token's key over
 *
 *     9F02 value (6 bytes BCD, the 12-digit amount) ‖ 5F2A value (2 bytes BCD, "0" + the 3-digit
 *     currency) ‖ 9F36 value (2 bytes, big-endian) ‖ the token PAN as ASCII digits
 *
 * truncated to its first 8 bytes. This stands in for an EMV ARQC (which is a 3DES/AES MAC under a
 * session key derived from the ATC); the inputs and the rules the scheme applies (right key, the
 * amount and currency of the message, an ATC higher than any before) are the same.
 *
 * **PIN block.** ISO 9564 format 0, *in clear*: PIN field `0` + PIN length + PIN + `F` padding, XOR
 * PAN field `0000` + the 12 rightmost PAN digits before the check digit. A real PIN block travels
 * encrypted under a zone PIN key; the simulator has no keys to manage, so it compares clear blocks.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { assert } from '../../src/domain/assert.js'
import { AMOUNT_MINOR_MAX } from '../../src/domain/money.js'
import { encodeTlv } from '../../src/acquiring/scheme-link/emv-tlv.js'

/** Bytes of the cryptogram (tag 9F26 is 8 bytes). */
export const cryptogramLength = 8
/** The ATC is two bytes. */
export const atcMax = 0xffff

export type TokenCryptogramInput = {
  /** The token's key, hex. */
  readonly keyHex: string
  readonly token: string
  readonly amountMinor: bigint
  /** ISO 4217 numeric, 3 digits: '156'. */
  readonly currencyNumeric: string
  /** Application transaction counter, 1 to 65535. */
  readonly atc: number
}

/** The TLV values (hex) the cryptogram covers, as they appear in field 55. */
export function iccValues(input: Omit<TokenCryptogramInput, 'keyHex'>): { amount: string; currency: string; atc: string } {
  assert(input.amountMinor >= 0n && input.amountMinor <= AMOUNT_MINOR_MAX, 'the amount is 0 to 12 digits of minor units')
  assert(/^[0-9]{3}$/.test(input.currencyNumeric), 'the currency is 3 digits')
  assert(Number.isSafeInteger(input.atc) && input.atc >= 0 && input.atc <= atcMax, 'the ATC is 0 to 65535')
  return {
    amount: input.amountMinor.toString().padStart(12, '0'),
    currency: `0${input.currencyNumeric}`,
    atc: input.atc.toString(16).padStart(4, '0').toUpperCase(),
  }
}

/**
 * The 8-byte cryptogram as 16 upper-case hex characters.
 *
 * @example
 * tokenCryptogram({ keyHex: testTokens.approve.keyHex, token: testTokens.approve.token, amountMinor: 10_000n, currencyNumeric: '156', atc: 1 })
 */
export function tokenCryptogram(input: TokenCryptogramInput): string {
  assert(/^(?:[0-9A-Fa-f]{2}){16,64}$/.test(input.keyHex), 'a token key is 16 to 64 bytes of hex')
  assert(/^[0-9]{12,19}$/.test(input.token), 'a token is 12 to 19 digits')
  const values = iccValues(input)
  const data = Buffer.concat([Buffer.from(values.amount + values.currency + values.atc, 'hex'), Buffer.from(input.token, 'latin1')])
  return createHmac('sha256', Buffer.from(input.keyHex, 'hex')).update(data).digest().subarray(0, cryptogramLength).toString('hex').toUpperCase()
}

/**
 * Field 55 for a tapped token payment: 9F02 amount, 5F2A currency, 9F36 ATC, 9F26 cryptogram.
 *
 * @example
 * const fields = { 2: token, 4: '000000010000', 49: '156', 55: tokenIccData({ keyHex, token, amountMinor: 10_000n, currencyNumeric: '156', atc: 7 }) }
 */
export function tokenIccData(input: TokenCryptogramInput): string {
  const values = iccValues(input)
  return encodeTlv([
    { tag: '9F02', value: values.amount },
    { tag: '5F2A', value: values.currency },
    { tag: '9F36', value: values.atc },
    { tag: '9F26', value: tokenCryptogram(input) },
  ])
}

/** Compares two hex cryptograms in constant time. */
export function cryptogramsEqual(a: string, b: string): boolean {
  if (a.length !== b.length || !/^[0-9A-Fa-f]*$/.test(a) || !/^[0-9A-Fa-f]*$/.test(b)) return false
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))
}

/**
 * The clear ISO 9564 format 0 PIN block (field 52) for `pin` entered with `pan`.
 *
 * @example
 * pinBlockFormat0('1234', '4111111111111111') // '041225EEEEEEEEEE'
 */
export function pinBlockFormat0(pin: string, pan: string): string {
  assert(/^[0-9]{4,12}$/.test(pin), 'a PIN is 4 to 12 digits')
  assert(/^[0-9]{13,19}$/.test(pan), 'a PAN is 13 to 19 digits')
  const pinField = Buffer.from(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex')
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex')
  const block = Buffer.alloc(8)
  for (let index = 0; index < 8; index++) block[index] = (pinField[index] ?? 0) ^ (panField[index] ?? 0)
  return block.toString('hex').toUpperCase()
}
