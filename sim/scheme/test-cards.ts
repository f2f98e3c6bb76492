/**
 * The scheme simulator's issuers, test cards and contactless tokens, as data. `docs/scheme.md` prints
 * the same table; `sim/scheme/test-cards.test.ts` checks that every PAN is Luhn-valid and 62-prefixed
 * and that the two agree.
 *
 * Every card answers `testPurchase` (a 0100 or 0200 purchase of 100.00 CNY, field 14 set to the card's
 * own expiry, no PIN block) with `responseCode`; what drives the answer is the card's data (balance,
 * limit, expiry, PIN, issuer availability), not a magic flag, except for `do_not_honour` and
 * `no_answer`, which have no data that would cause them.
 */
import type { CurrencyCode } from '../../src/domain/currency.js'

export type IssuerId = 'sim_bank_one' | 'sim_bank_two' | 'sim_bank_down'

export type TestIssuer = {
  readonly id: IssuerId
  readonly name: string
  /** The first six digits of the PANs it issues: the scheme routes by them. */
  readonly bins: readonly string[]
  /** An unavailable issuer makes the scheme answer 91 for its cards. */
  readonly available: boolean
}

export const testIssuers = [
  { id: 'sim_bank_one', name: 'Simulated Bank One', bins: ['622001'], available: true },
  { id: 'sim_bank_two', name: 'Simulated Bank Two', bins: ['622002'], available: true },
  { id: 'sim_bank_down', name: 'Simulated Bank Down', bins: ['622009'], available: false },
] as const satisfies readonly TestIssuer[]

/** `normal`: the card's data decides. The other two cannot be expressed as data. */
export type CardBehaviour = 'normal' | 'do_not_honour' | 'no_answer'

export type TestCard = {
  readonly pan: string
  readonly issuer: IssuerId
  /** YYMM; the card is valid through the end of that month (UTC). */
  readonly expiry: string
  /** The PIN the issuer knows; a PIN block (field 52) for any other PIN is answered 55. */
  readonly pin: string
  /** Without a PIN block, a card that requires one is answered 55. */
  readonly pinRequired: boolean
  /** The account's opening balance, in minor units of `currency`. */
  readonly balanceMinor: bigint
  /** The largest amount one transaction may take; more is answered 61. */
  readonly amountLimitMinor: bigint
  readonly currency: CurrencyCode
  readonly behaviour: CardBehaviour
  /** What `testPurchase` gets; `undefined` for the card the scheme never answers. */
  readonly responseCode: string | undefined
  readonly description: string
}

/** The request each card's `responseCode` is stated for. */
export const testPurchase = { amountMinor: 10_000n, currency: 'CNY', currencyNumeric: '156', processingCode: '000000' } as const

const expiryValid = '3012'
const pinDefault = '1234'

export const testCards = {
  approve: {
    pan: '6220010000000018', issuer: 'sim_bank_one', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '00',
    description: 'Approves: balance 100,000.00, up to 50,000.00 a transaction',
  },
  approve_bank_two: {
    pan: '6220020000000017', issuer: 'sim_bank_two', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 2_000_000n, amountLimitMinor: 2_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '00',
    description: 'Approves at a second issuer (BIN routing): balance 20,000.00',
  },
  do_not_honour: {
    pan: '6220010000000059', issuer: 'sim_bank_one', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'do_not_honour', responseCode: '05',
    description: 'Always declined: do not honour',
  },
  insufficient_funds: {
    pan: '6220010000000513', issuer: 'sim_bank_one', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 5_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '51',
    description: 'Balance 50.00: amounts up to the available balance approve, more is 51',
  },
  expired: {
    pan: '6220010000000547', issuer: 'sim_bank_one', expiry: '2412', pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '54',
    description: 'Expired December 2024: 54 whatever field 14 says',
  },
  incorrect_pin: {
    pan: '6220010000000554', issuer: 'sim_bank_one', expiry: expiryValid, pin: '4321', pinRequired: true,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '55',
    description: 'PIN 4321 required: no PIN block or another PIN is 55; the right PIN approves',
  },
  exceeds_limit: {
    pan: '6220010000000612', issuer: 'sim_bank_one', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000n, currency: 'CNY', behaviour: 'normal', responseCode: '61',
    description: 'Limit 50.00 a transaction: more is 61, balance 100,000.00',
  },
  issuer_unavailable: {
    pan: '6220090000000911', issuer: 'sim_bank_down', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'normal', responseCode: '91',
    description: 'Its issuer (BIN 622009) is unavailable: 91',
  },
  no_answer: {
    pan: '6220010000000992', issuer: 'sim_bank_one', expiry: expiryValid, pin: pinDefault, pinRequired: false,
    balanceMinor: 10_000_000n, amountLimitMinor: 5_000_000n, currency: 'CNY', behaviour: 'no_answer', responseCode: undefined,
    description: 'The scheme never answers any message for it (nothing is processed): the acquirer times out',
  },
} as const satisfies Record<string, TestCard>

export type TestCardName = keyof typeof testCards

/** Luhn-valid, in Simulated Bank One's BIN, but not issued: 14. */
export const testCardNotOnFile = '6220010000000141'
/** The approve card with its last digit changed: fails the Luhn check, 14. Any Luhn-invalid PAN does. */
export const testCardLuhnInvalid = '6220010000000019'

/** The first six digits of the scheme's contactless tokens. */
export const tokenBin = '629901'

export type TestToken = {
  /** The token PAN a phone or card presents instead of the card number (field 2). */
  readonly token: string
  /** The card it stands for. */
  readonly pan: string
  /** The token's key, 32 bytes as hex: HMAC-SHA256 key of its cryptograms. Test keys, published here. */
  readonly keyHex: string
  readonly expiry: string
}

export const testTokens = {
  approve: {
    token: '6299010000000014', pan: testCards.approve.pan, expiry: expiryValid,
    keyHex: '946F4D4D4BA4468752A4C24278554593246D17F9CB7166A82F4B6B0FCD5DAFCA',
  },
  insufficient_funds: {
    token: '6299010000000022', pan: testCards.insufficient_funds.pan, expiry: expiryValid,
    keyHex: '987E27B24198D15318E63BC78EFEDBB97CB2A46309F69D36DE9163E5B727741C',
  },
} as const satisfies Record<string, TestToken>

/** In the token BIN, Luhn-valid, mapped to no card: 14. */
export const testTokenNotOnFile = '6299010000000097'
