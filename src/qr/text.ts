/**
 * MPM lengths count characters, not UTF-16 code units: a merchant name in the language template
 * may hold characters outside the Basic Multilingual Plane, which JavaScript stores as two units.
 * Payloads without such characters (nearly all) are used as they are, at no cost.
 */
export type Characters = { readonly length: number; slice(start: number, end: number): string }

const surrogate = /[\uD800-\uDFFF]/

export function charactersOf(text: string): Characters {
  if (!surrogate.test(text)) return text
  const points = Array.from(text)
  return { length: points.length, slice: (start, end) => points.slice(start, end).join('') }
}

/** Length in characters (code points). */
export function characterLength(text: string): number {
  return surrogate.test(text) ? Array.from(text).length : text.length
}

export const digitsPattern = /^[0-9]*$/
/** The EMV "common character set": printable ASCII. */
export const commonCharacterSetPattern = /^[\x20-\x7E]*$/
