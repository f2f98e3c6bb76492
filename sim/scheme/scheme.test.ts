import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { decisionReasons, SchemeCore, type SchemeDecision } from './scheme.js'
import { pinBlockFormat0, tokenIccData } from './card-security.js'
import { parseSettlementFile, renderSettlementFile } from './settlement.js'
import { testCardLuhnInvalid, testCardNotOnFile, testCards, testPurchase, testTokenNotOnFile, testTokens } from './test-cards.js'
import type { Iso8583Message } from '../../src/acquiring/iso8583/index.js'
import { originalDataElements } from '../../src/acquiring/scheme-link/trace.js'
import { describeResponseCode } from '../../src/acquiring/iso8583/index.js'

/** The pure core, without sockets: one message in, one decision out. */
function setup() {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1, 12))
  const scheme = new SchemeCore({ clock, seed: 7 })
  let stan = 0
  const message = (mti: string, fields: Record<number, string>): Iso8583Message => {
    stan++
    return { mti, fields: { 7: '0101120000', 11: String(stan).padStart(6, '0'), 32: '12345678', 37: `60011200${String(stan).padStart(4, '0')}`, ...fields } }
  }
  const purchase = (pan: string, options: { mti?: string; amountMinor?: bigint; processingCode?: string; extra?: Record<number, string> } = {}): Iso8583Message =>
    message(options.mti ?? '0100', {
      2: pan,
      3: options.processingCode ?? '000000',
      4: (options.amountMinor ?? testPurchase.amountMinor).toString().padStart(12, '0'),
      49: '156',
      ...options.extra,
    })
  const answer = (request: Iso8583Message): Iso8583Message => {
    const decision = scheme.handle(request)
    assert.equal(decision.kind, 'answer', `${request.mti} got no answer`)
    return (decision as Extract<SchemeDecision, { kind: 'answer' }>).response
  }
  const codeOf = (request: Iso8583Message): string | undefined => answer(request).fields[39]
  const balance = (pan: string) => {
    const account = scheme.account(pan)
    assert.ok(account)
    return { balance: account.balance_minor, held: account.held_minor, available: account.available_minor }
  }
  const reversalOf = (original: Iso8583Message, mti = '0400'): Iso8583Message => message(mti, { 2: original.fields[2] ?? '', 4: original.fields[4] ?? '', 90: originalDataElements(original) })
  return { clock, scheme, message, purchase, answer, codeOf, balance, reversalOf }
}

describe('scheme core: the test cards', () => {
  for (const [name, card] of Object.entries(testCards)) {
    it(`${name}: a test purchase gets ${card.responseCode ?? 'no answer'}`, () => {
      const { scheme, purchase } = setup()
      for (const mti of ['0100', '0200']) {
        const decision = scheme.handle(purchase(card.pan, { mti, extra: { 14: card.expiry } }))
        if (card.responseCode === undefined) assert.equal(decision.kind, 'no_answer')
        else assert.equal(decision.kind === 'answer' && decision.response.fields[39], card.responseCode)
      }
    })
  }

  it('answers 14 to a card not on file, a Luhn-invalid PAN, a BIN no issuer has, and an unknown token', () => {
    const { codeOf, purchase } = setup()
    assert.equal(codeOf(purchase(testCardNotOnFile)), '14')
    assert.equal(codeOf(purchase(testCardLuhnInvalid)), '14')
    assert.equal(codeOf(purchase('6288880000000002')), '14')
    assert.equal(codeOf(purchase(testTokenNotOnFile)), '14')
  })

  it('answers 51 only above the available balance, 61 only above the limit', () => {
    const { codeOf, purchase } = setup()
    assert.equal(codeOf(purchase(testCards.insufficient_funds.pan, { amountMinor: 5_000n })), '00')
    assert.equal(codeOf(purchase(testCards.insufficient_funds.pan, { amountMinor: 1n })), '51') // the hold took it all
    assert.equal(codeOf(purchase(testCards.exceeds_limit.pan, { amountMinor: 5_000n })), '00')
    assert.equal(codeOf(purchase(testCards.exceeds_limit.pan, { amountMinor: 5_001n })), '61')
  })

  it('checks expiry against the clock and field 14 against the card', () => {
    const { clock, codeOf, purchase } = setup()
    assert.equal(codeOf(purchase(testCards.approve.pan, { extra: { 14: '2912' } })), '54')
    assert.equal(codeOf(purchase(testCards.approve.pan, { extra: { 14: testCards.approve.expiry } })), '00')
    clock.set(Date.UTC(2031, 0, 1))
    assert.equal(codeOf(purchase(testCards.approve.pan)), '54')
  })

  it('checks the PIN block: the right PIN approves, another or none is 55', () => {
    const { codeOf, purchase } = setup()
    const pan = testCards.incorrect_pin.pan
    assert.equal(codeOf(purchase(pan, { extra: { 52: pinBlockFormat0('4321', pan) } })), '00')
    assert.equal(codeOf(purchase(pan, { extra: { 52: pinBlockFormat0('1234', pan) } })), '55')
    assert.equal(codeOf(purchase(pan)), '55')
    // A card without a PIN requirement still checks a PIN block it is given.
    assert.equal(codeOf(purchase(testCards.approve.pan, { extra: { 52: pinBlockFormat0('9999', testCards.approve.pan) } })), '55')
    assert.equal(codeOf(purchase(testCards.approve.pan, { extra: { 52: pinBlockFormat0('1234', testCards.approve.pan) } })), '00')
  })

  it('gives 91 while an issuer is down and approves once it is back', () => {
    const { scheme, codeOf, purchase } = setup()
    scheme.setIssuerAvailable('sim_bank_two', false)
    assert.equal(codeOf(purchase(testCards.approve_bank_two.pan)), '91')
    scheme.setIssuerAvailable('sim_bank_two', true)
    assert.equal(codeOf(purchase(testCards.approve_bank_two.pan)), '00')
  })

  it('maps every reason to a response code Kassa knows', () => {
    for (const [reason, code] of Object.entries(decisionReasons)) assert.ok(describeResponseCode(code), reason)
  })
})

describe('scheme core: money', () => {
  it('holds on authorization, posts the captured amount on the advice and releases the rest', () => {
    const { answer, balance, message, purchase } = setup()
    const pan = testCards.approve.pan
    const authorization = purchase(pan, { amountMinor: 30_000n })
    const authorized = answer(authorization)
    assert.equal(authorized.fields[39], '00')
    assert.match(authorized.fields[38] ?? '', /^[0-9]{6}$/)
    assert.deepEqual(balance(pan), { balance: 10_000_000n, held: 30_000n, available: 9_970_000n })
    const advice = message('0220', { 2: pan, 3: '000000', 4: '000000025000', 49: '156', 90: originalDataElements(authorization) })
    assert.equal(answer(advice).mti, '0230')
    assert.equal(answer(advice).fields[39], '94') // the same advice again, not as a repeat
    assert.deepEqual(balance(pan), { balance: 9_975_000n, held: 0n, available: 9_975_000n })
  })

  it('refuses a capture over the hold, of an unknown or already captured authorization', () => {
    const { codeOf, message, purchase } = setup()
    const pan = testCards.approve.pan
    const authorization = purchase(pan, { amountMinor: 1_000n })
    assert.equal(codeOf(authorization), '00')
    const capture = (amount: string, original: Iso8583Message) => message('0220', { 2: pan, 3: '000000', 4: amount, 49: '156', 90: originalDataElements(original) })
    assert.equal(codeOf(capture('000000001001', authorization)), '13')
    assert.equal(codeOf(capture('000000001000', purchase(pan))), '25') // never sent to the scheme
    assert.equal(codeOf(capture('000000001000', authorization)), '00')
    assert.equal(codeOf(capture('000000001000', authorization)), '12')
  })

  it('posts a sale at once, refunds it up to its amount, and reversal undoes either', () => {
    const { codeOf, balance, message, purchase, reversalOf } = setup()
    const pan = testCards.approve.pan
    const sale = purchase(pan, { mti: '0200', amountMinor: 8_000n })
    assert.equal(codeOf(sale), '00')
    assert.equal(balance(pan).balance, 9_992_000n)
    const refund = (amount: string) => message('0200', { 2: pan, 3: '200000', 4: amount, 49: '156', 90: originalDataElements(sale) })
    const firstRefund = refund('000000003000')
    assert.equal(codeOf(firstRefund), '00')
    assert.equal(codeOf(refund('000000005001')), '13')
    assert.equal(balance(pan).balance, 9_995_000n)
    assert.equal(codeOf(reversalOf(firstRefund)), '00') // the refund undone: debited again
    assert.equal(balance(pan).balance, 9_992_000n)
    assert.equal(codeOf(refund('000000008000')), '00') // the whole sale is refundable again
    assert.equal(balance(pan).balance, 10_000_000n)
  })

  it('refunds without a reference (an unreferenced credit), also to a card whose payments would be declined', () => {
    const { codeOf, balance, purchase } = setup()
    assert.equal(codeOf(purchase(testCards.do_not_honour.pan, { mti: '0200', processingCode: '200000', amountMinor: 4_200n })), '00')
    assert.equal(balance(testCards.do_not_honour.pan).balance, 10_004_200n)
  })

  it('reverses a hold, answers a repeat the same, and a reversal of the unknown with 25', () => {
    const { answer, balance, codeOf, purchase, reversalOf } = setup()
    const pan = testCards.approve.pan
    const authorization = purchase(pan, { amountMinor: 50_000n })
    assert.equal(codeOf(authorization), '00')
    const reversal = reversalOf(authorization)
    const first = answer(reversal)
    assert.deepEqual([first.mti, first.fields[39]], ['0410', '00'])
    assert.deepEqual(balance(pan), { balance: 10_000_000n, held: 0n, available: 10_000_000n })
    const repeated = answer({ mti: '0401', fields: reversal.fields })
    assert.deepEqual(repeated, first)
    assert.equal(codeOf(reversalOf(authorization)), '00') // a second reversal: already reversed, nothing moves
    assert.deepEqual(balance(pan), { balance: 10_000_000n, held: 0n, available: 10_000_000n })
    assert.equal(codeOf(reversalOf(purchase(pan))), '25')
  })

  it('answers a repeat of an authorization the same and does not hold twice', () => {
    const { answer, balance, purchase } = setup()
    const pan = testCards.approve.pan
    const authorization = purchase(pan, { amountMinor: 1_234n })
    const first = answer(authorization)
    assert.deepEqual(answer({ mti: '0101', fields: authorization.fields }), first)
    assert.equal(balance(pan).held, 1_234n)
  })

  it('writes the settlement file with exactly the postings and their totals', () => {
    const { clock, codeOf, message, purchase, reversalOf, scheme } = setup()
    const pan = testCards.approve.pan
    const authorization = purchase(pan, { amountMinor: 10_000n })
    codeOf(authorization)
    codeOf(message('0220', { 2: pan, 3: '000000', 4: '000000010000', 49: '156', 90: originalDataElements(authorization) }))
    const sale = purchase(pan, { mti: '0200', amountMinor: 2_000n })
    codeOf(sale)
    codeOf(reversalOf(sale))
    codeOf(purchase(testCards.do_not_honour.pan, { mti: '0200' })) // declined: not posted
    codeOf(reversalOf(purchase(pan, { amountMinor: 300n }))) // a hold released: not posted
    clock.advance(86_400_000)
    codeOf(purchase(pan, { mti: '0200', amountMinor: 99n })) // the next day
    const file = parseSettlementFile(renderSettlementFile('2026-01-01', scheme.postings()))
    assert.ok(file.ok)
    assert.deepEqual(file.value.postings.map((posting) => [posting.type, posting.direction, posting.amount_minor, posting.pan_masked]), [
      ['capture', 'debit', 10_000n, '622001******0018'],
      ['sale', 'debit', 2_000n, '622001******0018'],
      ['reversal', 'credit', 2_000n, '622001******0018'],
    ])
    assert.deepEqual(file.value.totals, [{ currency: '156', debit_count: 2, debit_minor: 12_000n, credit_count: 1, credit_minor: 2_000n, net_minor: 10_000n }])
  })
})

describe('scheme core: contactless tokens', () => {
  const token = testTokens.approve
  const tap = (atc: number, amountMinor = 10_000n, keyHex: string = token.keyHex): Record<number, string> => ({
    22: '071',
    55: tokenIccData({ keyHex, token: token.token, amountMinor, currencyNumeric: '156', atc }),
  })

  it('approves a valid cryptogram and debits the card behind the token', () => {
    const { balance, codeOf, purchase } = setup()
    assert.equal(codeOf(purchase(token.token, { mti: '0200', extra: tap(1) })), '00')
    assert.equal(balance(token.pan).balance, 9_990_000n)
  })

  it('rejects a wrong cryptogram, a replayed or lower ATC, and an amount the cryptogram does not cover, with 63', () => {
    const { balance, codeOf, purchase } = setup()
    assert.equal(codeOf(purchase(token.token, { extra: tap(5, 10_000n, testTokens.insufficient_funds.keyHex) })), '63')
    assert.equal(codeOf(purchase(token.token, { extra: tap(5) })), '00')
    assert.equal(codeOf(purchase(token.token, { extra: tap(5) })), '63')
    assert.equal(codeOf(purchase(token.token, { extra: tap(4) })), '63')
    assert.equal(codeOf(purchase(token.token, { amountMinor: 10_001n, extra: tap(6) })), '63')
    assert.equal(codeOf(purchase(token.token)), '63') // no field 55 at all
    assert.equal(codeOf(purchase(token.token, { extra: tap(6) })), '00') // 6 was not used up by the mismatched amount
    assert.equal(balance(token.pan).held, 20_000n)
  })

  it('routes the token to its card\'s balance: 51 for the small-balance card', () => {
    const { codeOf, purchase } = setup()
    const small = testTokens.insufficient_funds
    assert.equal(codeOf(purchase(small.token, { extra: { 55: tokenIccData({ keyHex: small.keyHex, token: small.token, amountMinor: 10_000n, currencyNumeric: '156', atc: 1 }) } })), '51')
  })
})

describe('scheme core: network management and malformed requests', () => {
  it('answers echo, sign-on and sign-off with 0810 00, other codes with 12', () => {
    const { answer, message } = setup()
    for (const code of ['301', '001', '002']) {
      const response = answer(message('0800', { 70: code }))
      assert.deepEqual([response.mti, response.fields[39], response.fields[70]], ['0810', '00', code])
    }
    assert.equal(answer(message('0800', { 70: '999' })).fields[39], '12')
  })

  it('answers 30 to a request missing required fields, 12 to an unsupported one, and ignores responses', () => {
    const { scheme, answer, message, purchase } = setup()
    assert.equal(answer(message('0100', { 2: testCards.approve.pan })).fields[39], '30')
    assert.equal(answer(message('0400', {})).fields[39], '30')
    assert.equal(answer(purchase(testCards.approve.pan, { processingCode: '310000' })).fields[39], '12')
    assert.equal(answer(message('0500', {})).fields[39], '12')
    assert.equal(scheme.handle(message('0110', { 39: '00' })).kind, 'ignore')
  })

  it('keeps PANs out of its decision log', () => {
    const { scheme, codeOf, purchase } = setup()
    codeOf(purchase(testCards.approve.pan))
    const logged = JSON.stringify(scheme.decisions())
    assert.ok(!logged.includes(testCards.approve.pan))
    assert.match(logged, /622001\*\*\*\*\*\*0018/)
  })
})
