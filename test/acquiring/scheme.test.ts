import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { originalDataElements } from '../../src/acquiring/scheme-link/index.js'
import {
  parseSettlementFile,
  pinBlockFormat0,
  testCardLuhnInvalid,
  testCardNotOnFile,
  testCards,
  testTokens,
  tokenIccData,
} from '../../sim/scheme/index.js'
import { availableOf, balanceOf, captureOf, eventually, purchase, responseCodeOf, sleep, startHarness, type SchemeHarness } from './scheme-helpers.js'

const approvePan = testCards.approve.pan

describe('scheme simulator over TCP: test cards', () => {
  let harness: SchemeHarness
  before(async () => {
    harness = await startHarness()
  })
  after(() => harness.close())

  for (const [name, card] of Object.entries(testCards)) {
    it(`${name}: ${card.responseCode === undefined ? 'no answer, the link times out' : `answers ${card.responseCode}`}`, async () => {
      const result = await harness.link.send(purchase(card.pan, { extra: { 14: card.expiry } }), { timeoutMs: 300 })
      if (card.responseCode === undefined) {
        assert.equal(result.outcome, 'timeout')
        return
      }
      assert.equal(result.outcome, 'answered')
      assert.equal(result.outcome === 'answered' && result.message.mti, '0110')
      assert.equal(responseCodeOf(result), card.responseCode)
      // The answer is matched to its own request: same STAN and RRN.
      if (result.outcome === 'answered') {
        assert.equal(result.message.fields[11], result.request.fields[11])
        assert.equal(result.message.fields[37], result.request.fields[37])
      }
    })
  }

  it('answers 14 to a card not on file and to a Luhn-invalid PAN', async () => {
    assert.equal(responseCodeOf(await harness.link.send(purchase(testCardNotOnFile))), '14')
    assert.equal(responseCodeOf(await harness.link.send(purchase(testCardLuhnInvalid))), '14')
  })

  it('approves the PIN card with its PIN, 55 with another', async () => {
    const pan = testCards.incorrect_pin.pan
    assert.equal(responseCodeOf(await harness.link.send(purchase(pan, { extra: { 52: pinBlockFormat0('4321', pan) } }))), '00')
    assert.equal(responseCodeOf(await harness.link.send(purchase(pan, { extra: { 52: pinBlockFormat0('0000', pan) } }))), '55')
  })

  it('answers an 0800 echo with 0810 00', async () => {
    const result = await harness.link.echo({ timeoutMs: 1_000 })
    assert.equal(result.outcome, 'answered')
    assert.deepEqual(result.outcome === 'answered' && [result.message.mti, result.message.fields[39], result.message.fields[70]], ['0810', '00', '301'])
  })
})

describe('scheme simulator over TCP: money on the issuer accounts', () => {
  let harness: SchemeHarness
  before(async () => {
    harness = await startHarness()
  })
  after(() => harness.close())

  it('an authorization holds the amount and its advice posts exactly the captured amount', async () => {
    const { link, scheme } = harness
    const balanceBefore = balanceOf(scheme)
    const authorized = await link.send(purchase(approvePan, { amountMinor: 12_345n }))
    assert.equal(responseCodeOf(authorized), '00')
    assert.ok(authorized.outcome === 'answered')
    assert.equal(availableOf(scheme), balanceBefore - 12_345n)
    assert.equal(balanceOf(scheme), balanceBefore)

    const captured = await link.send(captureOf(authorized.request, 12_000n, originalDataElements(authorized.request)))
    assert.equal(captured.outcome === 'answered' && captured.message.mti, '0230')
    assert.equal(responseCodeOf(captured), '00')
    assert.equal(balanceOf(scheme), balanceBefore - 12_000n)
    assert.equal(availableOf(scheme), balanceBefore - 12_000n) // the uncaptured 3.45 is released
  })

  it('a sale posts at once and a refund credits it back', async () => {
    const { link, scheme } = harness
    const balanceBefore = balanceOf(scheme)
    const sale = await link.send(purchase(approvePan, { mti: '0200', amountMinor: 5_000n }))
    assert.equal(responseCodeOf(sale), '00')
    assert.equal(balanceOf(scheme), balanceBefore - 5_000n)
    assert.ok(sale.outcome === 'answered')
    const refund = await link.send(purchase(approvePan, { mti: '0200', processingCode: '200000', amountMinor: 2_000n, extra: { 90: originalDataElements(sale.request) } }))
    assert.equal(responseCodeOf(refund), '00')
    assert.equal(balanceOf(scheme), balanceBefore - 3_000n)
  })

  it('a reversal releases a hold', async () => {
    const { link, scheme } = harness
    const availableBefore = availableOf(scheme)
    const authorized = await link.send(purchase(approvePan, { amountMinor: 70_000n }))
    assert.equal(responseCodeOf(authorized), '00')
    assert.equal(availableOf(scheme), availableBefore - 70_000n)
    assert.ok(authorized.outcome === 'answered')
    const reversal = await link.reverse(authorized.request, { attemptsMax: 3, timeoutMs: 500 })
    assert.equal(reversal.acknowledged, true)
    assert.equal(reversal.attempts, 1)
    assert.deepEqual(reversal.acknowledged && [reversal.request.mti, reversal.message.mti, reversal.message.fields[39]], ['0400', '0410', '00'])
    assert.equal(reversal.request.fields[37], authorized.request.fields[37], 'a reversal carries the original RRN')
    assert.equal(availableOf(scheme), availableBefore)
  })
})

describe('scheme simulator over TCP: faults', () => {
  let harness: SchemeHarness
  before(async () => {
    harness = await startHarness()
  })
  after(() => harness.close())

  it('a duplicated answer is delivered once; the link counts the second and ignores it', async () => {
    const { link, scheme } = harness
    scheme.setFaults([{ action: 'duplicate', pan: approvePan, timesMax: 1 }])
    const answeredBefore = link.stats().answered
    const result = await link.send(purchase(approvePan, { amountMinor: 100n }))
    assert.equal(responseCodeOf(result), '00')
    await eventually(() => link.stats().duplicate === 1)
    assert.equal(link.stats().answered, answeredBefore + 1)
    assert.equal(scheme.stats().duplicated, 1)
    scheme.setFaults([])
  })

  it('a dropped answer ends in timeout; the reversal that follows is honoured and the balance restored', async () => {
    const { link, scheme } = harness
    const availableBefore = availableOf(scheme)
    scheme.setFaults([{ action: 'drop', pan: approvePan, mtis: ['0100'], timesMax: 1 }])
    const result = await link.send(purchase(approvePan, { amountMinor: 40_000n }), { timeoutMs: 200 })
    assert.equal(result.outcome, 'timeout')
    // The issuer did act on it: the hold is there though Kassa never heard.
    assert.equal(availableOf(scheme), availableBefore - 40_000n)
    assert.ok(result.outcome === 'timeout')
    const reversal = await link.reverse(result.request, { attemptsMax: 3, timeoutMs: 500 })
    assert.equal(reversal.acknowledged, true)
    assert.equal(availableOf(scheme), availableBefore)
    scheme.setFaults([])
  })

  it('repeats a reversal as 0401 until it is acknowledged', async () => {
    const { link, scheme } = harness
    const availableBefore = availableOf(scheme)
    const authorized = await link.send(purchase(approvePan, { amountMinor: 9_000n }))
    assert.ok(authorized.outcome === 'answered')
    scheme.setFaults([{ action: 'drop', mtis: ['0400', '0401'], timesMax: 2 }])
    const reversal = await link.reverse(authorized.request, { attemptsMax: 5, timeoutMs: 100, backoffMsMin: 10, backoffMsMax: 40 })
    assert.equal(reversal.acknowledged, true)
    assert.equal(reversal.attempts, 3)
    assert.equal(reversal.request?.mti, '0401')
    // Three reversal messages reached the scheme, all with one STAN; only the first moved money.
    const reversals = scheme.decisions().filter((decision) => decision.mti.startsWith('040'))
    assert.deepEqual(reversals.slice(-3).map((decision) => [decision.mti, decision.reason]), [
      ['0400', 'reversed'],
      ['0401', 'repeat_answered_again'],
      ['0401', 'repeat_answered_again'],
    ])
    assert.equal(new Set(reversals.slice(-3).map((decision) => decision.stan)).size, 1)
    assert.equal(availableOf(scheme), availableBefore)
    scheme.setFaults([])
  })

  it('gives up a reversal after attemptsMax when the scheme never answers', async () => {
    const { link } = harness
    const timedOut = await link.send(purchase(testCards.no_answer.pan), { timeoutMs: 50 })
    assert.ok(timedOut.outcome === 'timeout')
    const started = Date.now()
    const reversal = await link.reverse(timedOut.request, { attemptsMax: 3, timeoutMs: 50, backoffMsMin: 10, backoffMsMax: 20 })
    assert.deepEqual([reversal.acknowledged, reversal.attempts, reversal.acknowledged ? '' : reversal.lastOutcome], [false, 3, 'timeout'])
    assert.ok(Date.now() - started < 1_000, 'bounded by attempts × (timeout + backoff)')
  })

  it('a delayed answer past the timeout is counted late, not matched', async () => {
    const { link, scheme } = harness
    scheme.setFaults([{ action: 'delay', delayMs: 250, pan: approvePan, mtis: ['0100'], timesMax: 1 }])
    const lateBefore = link.stats().late
    const result = await link.send(purchase(approvePan, { amountMinor: 1n }), { timeoutMs: 80 })
    assert.equal(result.outcome, 'timeout')
    await eventually(() => link.stats().late === lateBefore + 1)
    scheme.setFaults([])
    // A delay within the timeout is simply a slow answer.
    scheme.setFaults([{ action: 'delay', delayMs: 50, pan: approvePan, timesMax: 1 }])
    assert.equal(responseCodeOf(await link.send(purchase(approvePan, { amountMinor: 1n }), { timeoutMs: 1_000 })), '00')
    scheme.setFaults([])
  })

  it('drops a seeded ratio of answers, the same ones for the same seed', async () => {
    const runOnce = async (): Promise<string> => {
      const run = await startHarness({ scheme: { seed: 99, faults: [{ action: 'drop', mtis: ['0100'], ratio: 0.3 }] } })
      try {
        const results = await Promise.all(Array.from({ length: 40 }, () => run.link.send(purchase(approvePan, { amountMinor: 1n }), { timeoutMs: 300 })))
        const pattern = results.map((result) => (result.outcome === 'answered' ? 'a' : 't')).join('')
        assert.equal([...pattern].filter((c) => c === 't').length, run.scheme.stats().dropped)
        return pattern
      } finally {
        await run.close()
      }
    }
    const first = await runOnce()
    assert.ok(first.includes('t') && first.includes('a'), first)
    assert.equal(await runOnce(), first)
  })
})

describe('scheme simulator over TCP: contactless tokens', () => {
  let harness: SchemeHarness
  before(async () => {
    harness = await startHarness()
  })
  after(() => harness.close())
  const token = testTokens.approve
  const tap = (atc: number, keyHex: string = token.keyHex) =>
    purchase(token.token, { mti: '0200', amountMinor: 2_500n, extra: { 22: '071', 55: tokenIccData({ keyHex, token: token.token, amountMinor: 2_500n, currencyNumeric: '156', atc }) } })

  it('accepts a valid cryptogram and debits the card behind the token', async () => {
    const before = balanceOf(harness.scheme, token.pan)
    assert.equal(responseCodeOf(await harness.link.send(tap(1))), '00')
    assert.equal(balanceOf(harness.scheme, token.pan), before - 2_500n)
  })

  it('rejects a wrong cryptogram and a replayed ATC with 63, moving no money', async () => {
    const before = balanceOf(harness.scheme, token.pan)
    assert.equal(responseCodeOf(await harness.link.send(tap(2, testTokens.insufficient_funds.keyHex))), '63')
    assert.equal(responseCodeOf(await harness.link.send(tap(1))), '63')
    assert.equal(balanceOf(harness.scheme, token.pan), before)
    const reasons = harness.scheme.decisions().slice(-2).map((decision) => decision.reason)
    assert.deepEqual(reasons, ['cryptogram_invalid', 'atc_not_increasing'])
    assert.equal(responseCodeOf(await harness.link.send(tap(2))), '00')
  })
})

describe('scheme simulator over TCP: settlement file', () => {
  let harness: SchemeHarness
  let directory: string
  before(async () => {
    harness = await startHarness()
    directory = await mkdtemp(join(tmpdir(), 'kassa-scheme-'))
  })
  after(async () => {
    await harness.close()
    await rm(directory, { recursive: true, force: true })
  })

  it('lists exactly the posted transactions, with correct totals and no clear PAN', async () => {
    const { link, scheme } = harness
    const authorized = await link.send(purchase(approvePan, { amountMinor: 10_000n }))
    assert.ok(authorized.outcome === 'answered')
    const capture = await link.send(captureOf(authorized.request, 10_000n, originalDataElements(authorized.request)))
    const sale = await link.send(purchase(testCards.approve_bank_two.pan, { mti: '0200', amountMinor: 3_300n }))
    assert.ok(sale.outcome === 'answered' && capture.outcome === 'answered')
    const refund = await link.send(purchase(testCards.approve_bank_two.pan, { mti: '0200', processingCode: '200000', amountMinor: 1_300n, extra: { 90: originalDataElements(sale.request) } }))
    assert.ok(refund.outcome === 'answered')
    // Not posted: a decline, a hold later reversed, a hold still open.
    assert.equal(responseCodeOf(await link.send(purchase(testCards.insufficient_funds.pan, { mti: '0200' }))), '51')
    const held = await link.send(purchase(approvePan, { amountMinor: 500n }))
    assert.ok(held.outcome === 'answered')
    assert.equal((await link.reverse(held.request, { attemptsMax: 2, timeoutMs: 500 })).acknowledged, true)
    assert.equal(responseCodeOf(await link.send(purchase(approvePan, { amountMinor: 600n }))), '00')

    const text = scheme.settlementFile('2026-01-01')
    const file = parseSettlementFile(text)
    assert.ok(file.ok, file.ok ? '' : file.error)
    assert.deepEqual(
      file.value.postings.map((posting) => [posting.stan, posting.rrn, posting.pan_masked, posting.amount_minor, posting.currency, posting.response_code, posting.type, posting.direction]),
      [
        [capture.request.fields[11], authorized.request.fields[37], '622001******0018', 10_000n, '156', '00', 'capture', 'debit'],
        [sale.request.fields[11], sale.request.fields[37], '622002******0017', 3_300n, '156', '00', 'sale', 'debit'],
        [refund.request.fields[11], refund.request.fields[37], '622002******0017', 1_300n, '156', '00', 'refund', 'credit'],
      ],
    )
    assert.deepEqual(file.value.totals, [{ currency: '156', debit_count: 2, debit_minor: 13_300n, credit_count: 1, credit_minor: 1_300n, net_minor: 12_000n }])
    for (const card of Object.values(testCards)) assert.ok(!text.includes(card.pan), 'no clear PAN in the file')

    const path = await scheme.writeSettlementFile('2026-01-01', directory)
    assert.equal(path, join(directory, 'scheme-settlement-2026-01-01.txt'))
    assert.equal(await readFile(path, 'utf8'), text)
    assert.equal(scheme.settlementFile('2026-01-02'), 'H|settlement|2026-01-02|kassa_scheme_simulator|1\nE|0\n')
  })

  it('never logs a clear PAN', async () => {
    await sleep(10)
    const logged = JSON.stringify(harness.logged)
    assert.ok(harness.logged.length > 5)
    for (const card of Object.values(testCards)) assert.ok(!logged.includes(card.pan), 'no clear PAN in the log')
    assert.match(logged, /622001\*\*\*\*\*\*0018/)
  })
})
