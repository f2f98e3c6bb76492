/**
 * Card numbers: Luhn check digits and the masked form Kassa shows and logs (first 6, last 4), so a
 * card number never leaves the codec in clear unless a caller asks for it.
 */
import { assert } from '../../domain/assert.js'

const digitsPattern = /^[0-9]+$/
const panVisibleFirst = 6
const panVisibleLast = 4
// Shorter than any real PAN (ISO/IEC 7812 allows 8–19 digits, issued cards use 13+): showing the first
// 6 and last 4 of such a string would show nearly all of it, so it is masked whole.
const panLengthMaskedWhole = 12
const maskCharacter = '*'

/**
 * Shows the first 6 and last 4 characters and masks the rest; strings of 12 characters or fewer are
 * masked entirely.
 *
 * @example
 * maskPan('6212345678901234') // '621234******1234'
 */
export function maskPan(pan: string): string {
  if (pan.length <= panLengthMaskedWhole) return maskCharacter.repeat(pan.length)
  return pan.slice(0, panVisibleFirst) + maskCharacter.repeat(pan.length - panVisibleFirst - panVisibleLast) + pan.slice(-panVisibleLast)
}

/**
 * Masks track 2 data (field 35): the PAN as `maskPan` does, and the discretionary data after the
 * expiry date (YYMM) and service code, which can hold card verification values. Without a separator
 * ('=' or 'D'), the whole value is treated as a PAN.
 *
 * @example
 * maskTrack2('6212345678901234=25122011234567890') // '621234******1234=2512201**********'
 */
export function maskTrack2(track2: string): string {
  const separatorIndex = track2.search(/[=D]/)
  if (separatorIndex < 0) return maskPan(track2)
  const expiryAndServiceCodeLength = 7
  const visibleEnd = Math.min(track2.length, separatorIndex + 1 + expiryAndServiceCodeLength)
  return (
    maskPan(track2.slice(0, separatorIndex)) +
    track2.slice(separatorIndex, visibleEnd) +
    maskCharacter.repeat(track2.length - visibleEnd)
  )
}

/**
 * True when `pan` is at least two digits and its last digit is its Luhn check digit.
 *
 * @example
 * luhnValid('4242424242424242') // true
 * luhnValid('4242424242424241') // false
 */
export function luhnValid(pan: string): boolean {
  if (pan.length < 2 || !digitsPattern.test(pan)) return false
  return luhnCheckDigit(pan.slice(0, -1)) === pan.slice(-1)
}

/**
 * The digit to append to `partialPan` so the whole number passes the Luhn check. Passing anything but
 * digits is a programmer error.
 *
 * @example
 * luhnCheckDigit('7992739871') // '3'
 */
export function luhnCheckDigit(partialPan: string): string {
  assert(digitsPattern.test(partialPan), 'luhnCheckDigit takes one or more digits')
  let sum = 0
  // Walking from the right, every second digit starting with the rightmost one is doubled, because the
  // check digit to be appended will take the undoubled rightmost place.
  for (let index = partialPan.length - 1, doubled = true; index >= 0; index--, doubled = !doubled) {
    let digit = partialPan.charCodeAt(index) - 0x30
    if (doubled) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return String((10 - (sum % 10)) % 10)
}
