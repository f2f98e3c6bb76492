import { AMOUNT_MINOR_MAX } from '../../src/domain/money.js'

/**
 * Reads an amount of minor units written in decimal: 1 to 999,999,999,999, digits only, no sign, no
 * leading zero, no fraction (the providers here carry integers of minor units, never decimals).
 * @example parseAmountMinor('10000') // 10000n
 * @example parseAmountMinor('12.50') // undefined
 */
export function parseAmountMinor(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^[1-9][0-9]{0,11}$/.test(text)) return undefined
  const value = BigInt(text)
  return value <= AMOUNT_MINOR_MAX ? value : undefined
}
