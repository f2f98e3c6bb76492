/**
 * The scheme simulator's core: routes each decoded request by BIN to a simulated issuer, which keeps
 * real balances and holds, and decides the answer. No sockets here (`server.ts` is the shell): a
 * message in, a decision out, state kept in memory, time from the injected clock.
 *
 * What each message does to an issuer account (`balance` is posted money, `held` the open holds,
 * `available` = balance − held):
 *
 * | request | processing code | effect when approved |
 * |---|---|---|
 * | 0100 authorization | 00 purchase | hold the amount |
 * | 0220 advice with field 90 → a 0100 | 00 | post the amount (≤ the hold), release the whole hold |
 * | 0220 advice without field 90 | 00 | post the amount (an offline sale), checked like a sale |
 * | 0200 financial | 00 purchase | post the amount (debit) |
 * | 0200 financial | 20 refund | credit the amount back (≤ what the original posted, if field 90 names it) |
 * | 0400 / 0420 reversal (field 90 → original) | any | release the hold, or post the opposite of what the original posted |
 * | 0800 network management | 70 = 001, 002, 301 | nothing: 0810 with 00 |
 *
 * Every decision has a named reason; `decisionReasons` maps each to its field 39 code.
 */
import { assert, unreachable } from '../../src/domain/assert.js'
import type { Clock } from '../../src/domain/clock.js'
import { currency as currencyOf } from '../../src/domain/currency.js'
import { luhnValid, maskPan, parseMti, responseMtiFor, type Iso8583Message, type ResponseCode } from '../../src/acquiring/iso8583/index.js'
import { decodeTlv, tlvValue } from '../../src/acquiring/scheme-link/emv-tlv.js'
import { parseOriginalDataElements } from '../../src/acquiring/scheme-link/trace.js'
import { cryptogramsEqual, iccValues, pinBlockFormat0, tokenCryptogram } from './card-security.js'
import { seededRandom } from './random.js'
import type { Posting, PostingDirection, PostingType } from './settlement.js'
import { testCards, testIssuers, testTokens, tokenBin, type IssuerId, type TestCard, type TestIssuer, type TestToken } from './test-cards.js'

/** Why the scheme answered as it did, and the field 39 code each reason gives. */
export const decisionReasons = {
  approved: '00',
  reversed: '00',
  already_reversed: '00',
  /** A reversal of a declined transaction: nothing moved, nothing to undo. */
  nothing_to_reverse: '00',
  network_management: '00',
  do_not_honour: '05',
  transaction_not_supported: '12',
  currency_not_supported: '12',
  /** An advice for an authorization that is no longer held (captured, reversed, declined). */
  original_not_capturable: '12',
  /** An amount of zero, or one that does not fit the account. */
  amount_invalid: '13',
  capture_exceeds_authorization: '13',
  refund_exceeds_original: '13',
  luhn_invalid: '14',
  /** No issuer has the BIN. */
  issuer_unknown: '14',
  card_unknown: '14',
  token_unknown: '14',
  original_not_found: '25',
  format_error: '30',
  insufficient_funds: '51',
  card_expired: '54',
  /** Field 14 is not the expiry on file. */
  expiry_mismatch: '54',
  pin_incorrect: '55',
  pin_missing: '55',
  amount_limit_exceeded: '61',
  /** Field 55 is missing a tag, or its cryptogram does not verify under the token's key. */
  cryptogram_invalid: '63',
  /** The ATC is not higher than the last one accepted for the token: a replay. */
  atc_not_increasing: '63',
  /** 9F02/5F2A in field 55 are not fields 4/49: the cryptogram does not cover this amount. */
  icc_amount_mismatch: '63',
  issuer_unavailable: '91',
  /** A new (not repeat) message with a STAN and transmission time already seen. */
  duplicate_transmission: '94',
  /** The simulator holds `transactionsMax` transactions already. */
  capacity_exceeded: '96',
} as const satisfies Record<string, ResponseCode>

export type DecisionReason = keyof typeof decisionReasons

/** What the scheme does with one request. */
export type SchemeDecision =
  | { readonly kind: 'answer'; readonly response: Iso8583Message; readonly record: DecisionRecord }
  /** A `no_answer` card: nothing is processed and nothing is sent back. */
  | { readonly kind: 'no_answer'; readonly record: DecisionRecord }
  /** Not a request the scheme answers (a response, a notification, an unknown MTI). */
  | { readonly kind: 'ignore'; readonly record: DecisionRecord }

/** One line of the simulator's decision log. PANs masked. */
export type DecisionRecord = {
  readonly at_ms: number
  readonly mti: string
  readonly stan: string | undefined
  readonly rrn: string | undefined
  readonly pan_masked: string | undefined
  readonly response_code: string | undefined
  readonly reason: DecisionReason | 'no_answer' | 'not_a_request' | 'repeat_answered_again'
}

export type AccountView = {
  readonly pan_masked: string
  readonly issuer: IssuerId
  readonly currency: string
  readonly balance_minor: bigint
  readonly held_minor: bigint
  readonly available_minor: bigint
}

export type SchemeCoreOptions = {
  readonly clock: Clock
  /** Seeds the authorization codes. */
  readonly seed?: number
  readonly issuers?: readonly TestIssuer[]
  readonly cards?: readonly TestCard[]
  readonly tokens?: readonly TestToken[]
  /** Transactions kept (for advices, reversals, repeats and the settlement file). Defaults to 1,000,000. */
  readonly transactionsMax?: number
}

type TransactionKind = 'authorization' | 'sale' | 'refund' | 'capture' | 'reversal' | 'declined'

type Account = { readonly card: TestCard; balanceMinor: bigint; heldMinor: bigint }

type Transaction = {
  readonly key: string
  kind: TransactionKind
  readonly request: Iso8583Message
  /** Set once decided; the answer a repeat gets again. */
  response: Iso8583Message
  account: Account | undefined
  presentedPan: string | undefined
  /** open: a held authorization, or a posting not undone; closed: captured, reversed, or nothing to undo. */
  state: 'held' | 'posted' | 'captured' | 'reversed' | 'closed'
  heldMinor: bigint
  /** What this transaction moved, and which way (a capture, sale or refund). */
  postedMinor: bigint
  direction: PostingDirection | undefined
  refundedMinor: bigint
  /** For an authorization that an advice captured: that advice. */
  capturedBy: Transaction | undefined
  /** For a refund that named its original (field 90): the posting it pays back. */
  refundOf: Transaction | undefined
}

type Outcome = { readonly reason: DecisionReason; readonly fields?: { readonly [field: number]: string } }
type CardCheck = { readonly ok: true; readonly account: Account; readonly presentedPan: string } | { readonly ok: false; readonly reason: DecisionReason }

/** Fields an answer repeats from its request, as schemes do, so the acquirer can match and check it. */
const echoedFields = [2, 3, 4, 7, 11, 12, 13, 32, 37, 41, 42, 49, 90] as const
const requiredFields = {
  authorization: [2, 3, 4, 7, 11, 49],
  financial: [2, 3, 4, 7, 11, 49],
  reversal: [7, 11, 90],
} as const
const networkManagementCodes = new Set(['001', '002', '301'])
const decisionLogMax = 10_000

/**
 * @example
 * const scheme = new SchemeCore({ clock: new SimulatedClock(), seed: 1 })
 * const decision = scheme.handle({ mti: '0800', fields: { 7: '0101000000', 11: '000001', 70: '301' } })
 * decision.kind === 'answer' && decision.response.fields[39] // '00'
 */
export class SchemeCore {
  private readonly clock: Clock
  private readonly random: () => number
  private readonly transactionsMax: number
  private readonly issuers = new Map<IssuerId, { issuer: TestIssuer; available: boolean }>()
  private readonly issuerByBin = new Map<string, IssuerId>()
  private readonly accounts = new Map<string, Account>()
  private readonly tokens = new Map<string, TestToken>()
  private readonly lastAtcByToken = new Map<string, number>()
  private readonly transactions = new Map<string, Transaction>()
  private readonly postingsList: Posting[] = []
  private readonly decisionLog: DecisionRecord[] = []

  constructor(options: SchemeCoreOptions) {
    this.clock = options.clock
    this.random = seededRandom(options.seed ?? 1)
    this.transactionsMax = options.transactionsMax ?? 1_000_000
    assert(Number.isSafeInteger(this.transactionsMax) && this.transactionsMax > 0, 'transactionsMax is a positive integer')
    for (const issuer of options.issuers ?? testIssuers) {
      this.issuers.set(issuer.id, { issuer, available: issuer.available })
      for (const bin of issuer.bins) this.issuerByBin.set(bin, issuer.id)
    }
    for (const card of options.cards ?? Object.values(testCards)) {
      assert(luhnValid(card.pan), 'test cards are Luhn-valid')
      assert(this.issuers.has(card.issuer), `card ${maskPan(card.pan)} names an unknown issuer`)
      this.accounts.set(card.pan, { card, balanceMinor: card.balanceMinor, heldMinor: 0n })
    }
    for (const token of options.tokens ?? Object.values(testTokens)) {
      assert(this.accounts.has(token.pan), `token ${maskPan(token.token)} stands for a card not on file`)
      this.tokens.set(token.token, token)
    }
  }

  /** Decides the answer to one decoded message and applies its effect on the issuers. */
  handle(request: Iso8583Message): SchemeDecision {
    const parts = parseMti(request.mti)
    const responseMti = responseMtiFor(request.mti)
    if (parts === undefined || parts.version !== 'iso8583_1987' || responseMti === undefined) {
      return this.decided({ kind: 'ignore', record: this.record(request, undefined, 'not_a_request') })
    }
    if (parts.messageClass === 'network_management') {
      const code = request.fields[70]
      const reason: DecisionReason = request.fields[11] === undefined ? 'format_error' : code !== undefined && networkManagementCodes.has(code) ? 'network_management' : 'transaction_not_supported'
      return this.answered(request, this.respond(request, responseMti, { reason, fields: code === undefined ? {} : { 70: code } }), reason)
    }
    if (parts.messageClass !== 'authorization' && parts.messageClass !== 'financial' && parts.messageClass !== 'reversal') {
      return this.answered(request, this.respond(request, responseMti, { reason: 'transaction_not_supported' }), 'transaction_not_supported')
    }
    if (requiredFields[parts.messageClass].some((field) => request.fields[field] === undefined)) {
      return this.answered(request, this.respond(request, responseMti, { reason: 'format_error' }), 'format_error')
    }
    if (this.isNoAnswerCard(request.fields[2])) return this.decided({ kind: 'no_answer', record: this.record(request, undefined, 'no_answer') })

    const key = transactionKey(request.fields[32], request.fields[11] ?? '', request.fields[7] ?? '')
    const existing = this.transactions.get(key)
    if (existing !== undefined) {
      // A repeat (0401, 0221, …) of a message already processed gets the same answer again, nothing
      // more; any other message reusing the STAN and time is a duplicate transmission.
      if (parts.repeat && existing.request.mti.slice(0, 3) === request.mti.slice(0, 3)) {
        const again = { mti: responseMti, fields: existing.response.fields }
        return this.decided({ kind: 'answer', response: again, record: this.record(request, again.fields[39], 'repeat_answered_again') })
      }
      return this.answered(request, this.respond(request, responseMti, { reason: 'duplicate_transmission' }), 'duplicate_transmission')
    }
    if (this.transactions.size >= this.transactionsMax) {
      return this.answered(request, this.respond(request, responseMti, { reason: 'capacity_exceeded' }), 'capacity_exceeded')
    }

    const processingType = (request.fields[3] ?? '').slice(0, 2)
    const pending = this.newTransaction(key, request)
    let outcome: Outcome
    if (parts.messageClass === 'reversal') outcome = this.reverse(request, pending)
    else if (parts.messageClass === 'authorization' && parts.messageFunction === 'request' && processingType === '00') outcome = this.authorize(request, pending)
    else if (parts.messageClass === 'financial' && parts.messageFunction === 'request' && processingType === '00') outcome = this.sell(request, pending)
    else if (parts.messageClass === 'financial' && parts.messageFunction === 'request' && processingType === '20') outcome = this.refund(request, pending)
    else if (parts.messageClass === 'financial' && parts.messageFunction === 'advice' && processingType === '00') outcome = request.fields[90] === undefined ? this.sell(request, pending) : this.capture(request, pending)
    else outcome = { reason: 'transaction_not_supported' }

    const response = this.respond(request, responseMti, outcome)
    pending.response = response
    this.transactions.set(key, pending)
    return this.answered(request, response, outcome.reason)
  }

  /** The account of a card on file, or undefined. */
  account(pan: string): AccountView | undefined {
    const account = this.accounts.get(pan)
    if (account === undefined) return undefined
    return {
      pan_masked: maskPan(pan),
      issuer: account.card.issuer,
      currency: account.card.currency,
      balance_minor: account.balanceMinor,
      held_minor: account.heldMinor,
      available_minor: account.balanceMinor - account.heldMinor,
    }
  }

  /** Every account on file. */
  accountList(): AccountView[] {
    return [...this.accounts.keys()].flatMap((pan) => this.account(pan) ?? [])
  }

  /** Takes an issuer down (its cards get 91) or brings it back. */
  setIssuerAvailable(issuerId: IssuerId, available: boolean): void {
    const entry = this.issuers.get(issuerId)
    assert(entry !== undefined, `no issuer ${issuerId}`)
    entry.available = available
  }

  /** Everything posted so far, in order. */
  postings(): readonly Posting[] {
    return this.postingsList
  }

  /** The last decisions (at most 10,000), oldest first. */
  decisions(): readonly DecisionRecord[] {
    return this.decisionLog
  }

  // -------------------------------------------------------------------------------------------
  // The flows
  // -------------------------------------------------------------------------------------------

  private authorize(request: Iso8583Message, transaction: Transaction): Outcome {
    const check = this.checkCard(request, { payment: true })
    if (!check.ok) return this.decline(transaction, check.reason)
    const amountMinor = amountOf(request)
    check.account.heldMinor += amountMinor
    Object.assign(transaction, { kind: 'authorization', account: check.account, presentedPan: check.presentedPan, state: 'held', heldMinor: amountMinor })
    return { reason: 'approved', fields: { 38: this.authorizationCode() } }
  }

  private sell(request: Iso8583Message, transaction: Transaction): Outcome {
    const check = this.checkCard(request, { payment: true })
    if (!check.ok) return this.decline(transaction, check.reason)
    Object.assign(transaction, { kind: 'sale', account: check.account, presentedPan: check.presentedPan })
    this.post(transaction, request, amountOf(request), 'debit', 'sale')
    return { reason: 'approved', fields: { 38: this.authorizationCode() } }
  }

  private capture(request: Iso8583Message, transaction: Transaction): Outcome {
    const original = this.originalOf(request)
    if (original === undefined) return this.decline(transaction, 'original_not_found')
    if (original.kind !== 'authorization' || original.state !== 'held' || original.account === undefined) return this.decline(transaction, 'original_not_capturable')
    const amountMinor = amountOf(request)
    if (amountMinor === 0n) return this.decline(transaction, 'amount_invalid')
    if (amountMinor > original.heldMinor) return this.decline(transaction, 'capture_exceeds_authorization')
    // The advice settles the authorization: its amount is posted and the whole hold goes, so a
    // partial capture gives the rest back to the cardholder at once.
    original.account.heldMinor -= original.heldMinor
    original.heldMinor = 0n
    original.state = 'captured'
    original.capturedBy = transaction
    Object.assign(transaction, { kind: 'capture', account: original.account, presentedPan: original.presentedPan })
    this.post(transaction, request, amountMinor, 'debit', 'capture')
    return { reason: 'approved', fields: { 38: original.response.fields[38] ?? this.authorizationCode() } }
  }

  private refund(request: Iso8583Message, transaction: Transaction): Outcome {
    const check = this.checkCard(request, { payment: false })
    if (!check.ok) return this.decline(transaction, check.reason)
    const amountMinor = amountOf(request)
    let refunded: Transaction | undefined
    if (request.fields[90] !== undefined) {
      const original = this.originalOf(request)
      refunded = original?.capturedBy ?? original
      if (refunded === undefined) return this.decline(transaction, 'original_not_found')
      if (refunded.state !== 'posted' || refunded.direction !== 'debit' || refunded.account !== check.account) return this.decline(transaction, 'original_not_capturable')
      if (refunded.refundedMinor + amountMinor > refunded.postedMinor) return this.decline(transaction, 'refund_exceeds_original')
      refunded.refundedMinor += amountMinor
    }
    Object.assign(transaction, { kind: 'refund', account: check.account, presentedPan: check.presentedPan, refundOf: refunded })
    this.post(transaction, request, amountMinor, 'credit', 'refund')
    return { reason: 'approved', fields: { 38: this.authorizationCode() } }
  }

  private reverse(request: Iso8583Message, transaction: Transaction): Outcome {
    Object.assign(transaction, { kind: 'reversal', state: 'closed' })
    const original = this.originalOf(request)
    // Nothing to undo: the original never reached the scheme. The acquirer has its acknowledgement.
    if (original === undefined) return { reason: 'original_not_found' }
    if (original.state === 'reversed') return { reason: 'already_reversed' }
    const account = original.account
    if (account === undefined || original.state === 'closed') return { reason: 'nothing_to_reverse' }
    Object.assign(transaction, { account, presentedPan: original.presentedPan })
    switch (original.state) {
      case 'held':
        account.heldMinor -= original.heldMinor
        original.heldMinor = 0n
        break
      case 'captured':
        // Reversing a captured authorization undoes its capture.
        if (original.capturedBy !== undefined) this.undo(original.capturedBy, request, transaction)
        break
      case 'posted':
        this.undo(original, request, transaction)
        break
      default:
        return unreachable(original.state, 'transaction state')
    }
    original.state = 'reversed'
    return { reason: 'reversed' }
  }

  /** Posts the opposite of what `original` posted (less what was refunded of it), as a reversal. */
  private undo(original: Transaction, request: Iso8583Message, reversal: Transaction): void {
    if (original.state !== 'posted' || original.direction === undefined) return
    const amountMinor = original.postedMinor - original.refundedMinor
    original.state = 'reversed'
    // A reversed refund no longer counts against what its original may still refund.
    if (original.refundOf !== undefined) original.refundOf.refundedMinor -= original.postedMinor
    if (amountMinor > 0n) this.post(reversal, request, amountMinor, original.direction === 'debit' ? 'credit' : 'debit', 'reversal', original.account)
    reversal.state = 'closed'
  }

  private post(transaction: Transaction, request: Iso8583Message, amountMinor: bigint, direction: PostingDirection, type: PostingType, account = transaction.account): void {
    assert(account !== undefined, 'a posting needs an account')
    assert(amountMinor > 0n, 'a posting moves a positive amount')
    account.balanceMinor += direction === 'credit' ? amountMinor : -amountMinor
    Object.assign(transaction, { state: 'posted', postedMinor: amountMinor, direction })
    this.postingsList.push({
      date: utcDate(this.clock.now()),
      stan: request.fields[11] ?? '',
      rrn: request.fields[37] ?? '',
      pan_masked: maskPan(transaction.presentedPan ?? account.card.pan),
      amount_minor: amountMinor,
      currency: currencyOf(account.card.currency).numeric,
      response_code: decisionReasons.approved,
      type,
      direction,
    })
  }

  private decline(transaction: Transaction, reason: DecisionReason): Outcome {
    Object.assign(transaction, { kind: transaction.kind === 'reversal' ? 'reversal' : 'declined', state: 'closed' })
    return { reason }
  }

  // -------------------------------------------------------------------------------------------
  // Card checks, in the order an issuer applies them
  // -------------------------------------------------------------------------------------------

  /**
   * `payment`: an authorization or sale, checked fully (card security, expiry, PIN, limit, funds).
   * A refund only needs the card to exist at an available issuer in the right currency.
   */
  private checkCard(request: Iso8583Message, options: { readonly payment: boolean }): CardCheck {
    const presentedPan = request.fields[2] ?? ''
    if (!luhnValid(presentedPan)) return { ok: false, reason: 'luhn_invalid' }
    let pan = presentedPan
    let expectedExpiry: string | undefined
    if (presentedPan.startsWith(tokenBin)) {
      const token = this.tokens.get(presentedPan)
      if (token === undefined) return { ok: false, reason: 'token_unknown' }
      if (options.payment) {
        const reason = this.checkTokenCryptogram(request, token)
        if (reason !== undefined) return { ok: false, reason }
      }
      pan = token.pan
      expectedExpiry = token.expiry
    }
    const issuerId = this.issuerByBin.get(pan.slice(0, 6))
    if (issuerId === undefined) return { ok: false, reason: 'issuer_unknown' }
    if (this.issuers.get(issuerId)?.available !== true) return { ok: false, reason: 'issuer_unavailable' }
    const account = this.accounts.get(pan)
    if (account === undefined) return { ok: false, reason: 'card_unknown' }
    const card = account.card
    if (request.fields[49] !== currencyOf(card.currency).numeric) return { ok: false, reason: 'currency_not_supported' }
    const amountMinor = amountOf(request)
    if (amountMinor === 0n) return { ok: false, reason: 'amount_invalid' }
    if (!options.payment) return { ok: true, account, presentedPan }
    if (card.behaviour === 'do_not_honour') return { ok: false, reason: 'do_not_honour' }
    if (card.expiry < this.currentExpiryMonth()) return { ok: false, reason: 'card_expired' }
    const expiry = request.fields[14]
    if (expiry !== undefined && expiry !== (expectedExpiry ?? card.expiry)) return { ok: false, reason: 'expiry_mismatch' }
    const pinBlock = request.fields[52]
    if (pinBlock === undefined && card.pinRequired) return { ok: false, reason: 'pin_missing' }
    if (pinBlock !== undefined && pinBlock.toUpperCase() !== pinBlockFormat0(card.pin, presentedPan)) return { ok: false, reason: 'pin_incorrect' }
    if (amountMinor > card.amountLimitMinor) return { ok: false, reason: 'amount_limit_exceeded' }
    if (amountMinor > account.balanceMinor - account.heldMinor) return { ok: false, reason: 'insufficient_funds' }
    return { ok: true, account, presentedPan }
  }

  /** Undefined when field 55 carries a valid cryptogram with a fresh ATC (which is then recorded). */
  private checkTokenCryptogram(request: Iso8583Message, token: TestToken): DecisionReason | undefined {
    const icc = request.fields[55]
    if (icc === undefined) return 'cryptogram_invalid'
    const items = decodeTlv(icc)
    if (!items.ok) return 'cryptogram_invalid'
    const amount = tlvValue(items.value, '9F02')
    const currency = tlvValue(items.value, '5F2A')
    const atcHex = tlvValue(items.value, '9F36')
    const cryptogram = tlvValue(items.value, '9F26')
    if (amount === undefined || currency === undefined || atcHex === undefined || cryptogram === undefined || atcHex.length !== 4) return 'cryptogram_invalid'
    const atc = Number.parseInt(atcHex, 16)
    const requestCurrency = request.fields[49] ?? ''
    const expected = iccValues({ token: token.token, amountMinor: amountOf(request), currencyNumeric: requestCurrency, atc })
    if (amount !== expected.amount || currency !== expected.currency) return 'icc_amount_mismatch'
    const computed = tokenCryptogram({ keyHex: token.keyHex, token: token.token, amountMinor: amountOf(request), currencyNumeric: requestCurrency, atc })
    if (!cryptogramsEqual(cryptogram, computed)) return 'cryptogram_invalid'
    // Checked after the cryptogram, so only a genuine tap moves the counter, and a replay of one is caught.
    if (atc <= (this.lastAtcByToken.get(token.token) ?? 0)) return 'atc_not_increasing'
    this.lastAtcByToken.set(token.token, atc)
    return undefined
  }

  private isNoAnswerCard(presentedPan: string | undefined): boolean {
    if (presentedPan === undefined) return false
    const pan = this.tokens.get(presentedPan)?.pan ?? presentedPan
    return this.accounts.get(pan)?.card.behaviour === 'no_answer'
  }

  // -------------------------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------------------------

  private originalOf(request: Iso8583Message): Transaction | undefined {
    const original = parseOriginalDataElements(request.fields[90])
    if (original === undefined) return undefined
    return this.transactions.get(transactionKey(original.acquirerId, original.stan, original.transmissionDateTime))
  }

  private newTransaction(key: string, request: Iso8583Message): Transaction {
    return {
      key, kind: 'declined', request, response: request, account: undefined, presentedPan: undefined, state: 'closed',
      heldMinor: 0n, postedMinor: 0n, direction: undefined, refundedMinor: 0n, capturedBy: undefined, refundOf: undefined,
    }
  }

  private respond(request: Iso8583Message, responseMti: string, outcome: Outcome): Iso8583Message {
    const fields: Record<number, string> = {}
    for (const field of echoedFields) {
      const value = request.fields[field]
      if (value !== undefined) fields[field] = value
    }
    const code = decisionReasons[outcome.reason]
    Object.assign(fields, code === '00' ? outcome.fields : { ...outcome.fields, 38: undefined }, { 39: code })
    for (const field of Object.keys(fields)) if (fields[Number(field)] === undefined) delete fields[Number(field)]
    return { mti: responseMti, fields }
  }

  private answered(request: Iso8583Message, response: Iso8583Message, reason: DecisionReason): SchemeDecision {
    return this.decided({ kind: 'answer', response, record: this.record(request, response.fields[39], reason) })
  }

  private decided(decision: SchemeDecision): SchemeDecision {
    this.decisionLog.push(decision.record)
    if (this.decisionLog.length > decisionLogMax) this.decisionLog.shift()
    return decision
  }

  private record(request: Iso8583Message, responseCode: string | undefined, reason: DecisionRecord['reason']): DecisionRecord {
    const pan = request.fields[2]
    return {
      at_ms: this.clock.now(),
      mti: request.mti,
      stan: request.fields[11],
      rrn: request.fields[37],
      pan_masked: pan === undefined ? undefined : maskPan(pan),
      response_code: responseCode,
      reason,
    }
  }

  private authorizationCode(): string {
    return String(Math.floor(this.random() * 1_000_000)).padStart(6, '0')
  }

  /** YYMM of the clock's month, UTC: a card is valid through the end of its expiry month. */
  private currentExpiryMonth(): string {
    const now = new Date(this.clock.now())
    return String(now.getUTCFullYear() % 100).padStart(2, '0') + String(now.getUTCMonth() + 1).padStart(2, '0')
  }
}

function transactionKey(acquirerId: string | undefined, stan: string, transmissionDateTime: string): string {
  return `${(acquirerId ?? '').padStart(11, '0')}:${stan}:${transmissionDateTime}`
}

function amountOf(request: Iso8583Message): bigint {
  const amount = request.fields[4]
  return amount === undefined ? 0n : BigInt(amount)
}

/** YYYY-MM-DD in UTC: the settlement day of a posting. */
export function utcDate(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10)
}
