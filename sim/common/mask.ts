/** Masking for logs and answers: account numbers and phones never appear whole. */

/**
 * The first six and last four digits, the rest starred (as card numbers are shown).
 * @example maskAccountNumber('6222020000000000018') // '622202*********0018'
 */
export function maskAccountNumber(accountNo: string): string {
  if (accountNo.length <= 10) return `${'*'.repeat(Math.max(0, accountNo.length - 4))}${accountNo.slice(-4)}`
  return `${accountNo.slice(0, 6)}${'*'.repeat(accountNo.length - 10)}${accountNo.slice(-4)}`
}

/** @example maskPhone('13800000001') // '138****0001' */
export function maskPhone(phone: string): string {
  if (phone.length < 8) return '*'.repeat(phone.length)
  return `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}`
}

/** Luhn check digit for a string of digits. @example luhnCheckDigit('7992739871') // '3' */
export function luhnCheckDigit(digits: string): string {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i])
    if (i % 2 === 0) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return String((10 - (sum % 10)) % 10)
}
