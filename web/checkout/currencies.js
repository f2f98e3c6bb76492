// Minor-unit exponents of the ISO 4217 currencies whose exponent is not 2 (src/domain/currency.ts
// is the source; test/browser/checkout.test.ts checks this copy against it). No imports: the test
// loads this file in Node too.

/** @type {Readonly<Record<string, number>>} */
export const exponentsOtherThanTwo = Object.freeze({
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  UYW: 4,
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
})

/** Digits after the decimal point: JPY 0, CNY 2, KWD 3. */
export function exponentOf(currency) {
  return exponentsOtherThanTwo[currency] ?? 2
}
