import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { AlreadySent } from '../../src/acquiring/acquirer.js'
import { encodeMessage } from '../../src/acquiring/iso8583/index.js'
import { cardReverser, setTerminalStatus, startPosHost, type PosAcquirer } from '../../src/acquiring/pos-host/index.js'
import {
  completionRequest,
  networkRequest,
  paymentRequest,
  PosTerminalConnection,
  refundRequest,
  reversalRequest,
  type TerminalCard,
} from '../../src/acquiring/pos-host/terminal.js'
import { verifyLedger } from '../../src/ledger/verify.js'
import { pinBlockFormat0, testCards, testTokens, tokenIccData } from '../../sim/scheme/index.js'
import { DIALECTS } from '../helpers/dialects.js'
import { assertLedgerSound, testActor } from '../helpers/factories.js'
import { acquirerId, answered, feeBasisPoints, issuerBalance, nextStan, payable, receivable, sale, startPosHarness, type PosHarness } from './pos-helpers.js'

const chip = (pan: string, expiry = '3012', pinBlock?: string): TerminalCard => ({ pan, expiry, entry_mode: '051', pin_block: pinBlock })
const fee = (amount: bigint): bigint => (amount * BigInt(feeBasisPoints) + 5_000n) / 10_000n

for (const dialect of DIALECTS) {
  describe(`${dialect}: POS terminal host`, () => {
    let h: PosHarness

    before(async () => {
      h = await startPosHarness(dialect)
    })
    after(async () => {
      await assertLedgerSound(h.kassa)
      await h.close()
    })

    const send = (message: Parameters<typeof h.connection.exchange>[0], key = h.terminal.mac_key, timeoutMs = 10_000) => h.connection.exchange(message, key, timeoutMs)
    const snapshot = async (pan: string = testCards.approve.pan) => ({ issuer: issuerBalance(h.scheme, pan), receivable: await receivable(h.kassa), payable: await payable(h.kassa, h.merchant.id) })

    it('approves a sale from a registered terminal and lands it in the ledger exactly once', async () => {
      const start = await snapshot()
      const stan = nextStan()
      const answer = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 25_000n, stan)))
      assert.equal(answer.mti, '0210')
      assert.equal(answer.fields[39], '00')
      assert.match(answer.fields[38] ?? '', /^[0-9A-Za-z]{6}$/)
      assert.match(answer.fields[37] ?? '', /^[0-9]{12}$/)
      assert.equal(answer.fields[11], String(stan).padStart(6, '0'))
      assert.equal(answer.fields[2], undefined, 'the answer carries no card number')

      const now = await snapshot()
      assert.equal(now.issuer, start.issuer - 25_000n, 'the issuer debited the card')
      assert.equal(now.receivable - start.receivable, 25_000n, 'the scheme owes Kassa the sale')
      assert.equal(now.payable - start.payable, 25_000n - fee(25_000n), 'Kassa owes the merchant the sale less its fee')
      const transactions = await h.kassa.store.db.selectFrom('card_transactions').selectAll().where('rrn', '=', answer.fields[37] ?? '').execute()
      assert.equal(transactions.length, 1)
      const [transaction] = transactions
      assert.equal(transaction?.terminal_id, h.terminal.terminal_id)
      assert.equal(transaction?.status, 'approved')
      const transfers = await h.kassa.store.db.selectFrom('ledger_transfers').select('id').where('reference_id', '=', transaction?.id ?? '').execute()
      assert.equal(transfers.length, 1, 'one transfer')

      const stored = JSON.stringify(
        [await h.kassa.store.db.selectFrom('pos_requests').selectAll().execute(), await h.kassa.store.db.selectFrom('terminals').selectAll().execute(), await h.kassa.store.db.selectFrom('audit_log').selectAll().execute()],
        (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
      )
      assert.ok(!stored.includes(testCards.approve.pan), 'no card number in clear')
      assert.ok(!stored.toUpperCase().includes(h.terminal.mac_key), 'no MAC key in clear')
    })

    it("passes on the issuer's declines and posts nothing for them", async () => {
      const cases = [
        { name: 'insufficient funds', card: chip(testCards.insufficient_funds.pan), amount: 6_000n, code: '51' },
        { name: 'do not honour', card: chip(testCards.do_not_honour.pan), amount: 100n, code: '05' },
        { name: 'expired', card: chip(testCards.expired.pan, testCards.expired.expiry), amount: 100n, code: '54' },
        { name: 'wrong PIN', card: chip(testCards.incorrect_pin.pan, '3012', pinBlockFormat0('1234', testCards.incorrect_pin.pan)), amount: 100n, code: '55' },
        { name: 'over the limit', card: chip(testCards.exceeds_limit.pan), amount: 6_000n, code: '61' },
        { name: 'issuer down', card: chip(testCards.issuer_unavailable.pan), amount: 100n, code: '91' },
      ]
      for (const { name, card, amount, code } of cases) {
        const before = await receivable(h.kassa)
        const answer = answered(await send(sale(h.terminal, card, amount)))
        assert.equal(answer.fields[39], code, name)
        assert.equal(answer.fields[38], undefined, `${name}: no authorization code`)
        assert.equal(await receivable(h.kassa), before, `${name}: nothing posted`)
      }
      const right = answered(await send(sale(h.terminal, chip(testCards.incorrect_pin.pan, '3012', pinBlockFormat0('4321', testCards.incorrect_pin.pan)), 100n)))
      assert.equal(right.fields[39], '00', 'the right PIN approves')
    })

    it('approves a tapped token with a good cryptogram and refuses a replayed ATC with 63', async () => {
      const { token, keyHex } = testTokens.approve
      const tap = (amount: bigint, atc: number): TerminalCard => ({ pan: token, expiry: '3012', entry_mode: '071', icc_hex: tokenIccData({ keyHex, token, amountMinor: amount, currencyNumeric: '156', atc }) })
      const start = await snapshot()
      const first = answered(await send(sale(h.terminal, tap(1_200n, 1), 1_200n)))
      assert.equal(first.fields[39], '00')
      assert.equal((await snapshot()).issuer, start.issuer - 1_200n, 'the card behind the token is debited')

      const replayed = answered(await send(sale(h.terminal, tap(1_200n, 1), 1_200n)))
      assert.equal(replayed.fields[39], '63', 'the same ATC again is a replay')
      const forged = answered(await send(sale(h.terminal, tap(1_200n, 5), 9_900n)))
      assert.equal(forged.fields[39], '63', 'a cryptogram for another amount')
      assert.equal((await snapshot()).receivable - start.receivable, 1_200n, 'only the genuine tap is posted')

      const next = answered(await send(sale(h.terminal, tap(300n, 2), 300n)))
      assert.equal(next.fields[39], '00', 'the next ATC approves')
      const [row] = await h.kassa.store.db.selectFrom('card_transactions').select(['masked_pan', 'entry_mode']).where('rrn', '=', next.fields[37] ?? '').execute()
      assert.deepEqual(row, { masked_pan: '629901******0014', entry_mode: '071' })
    })

    it('answers every wrong message with its code on the same connection, which stays usable', async () => {
      const stranger = { terminal_id: 'ZZZZ9999', mac_key: randomBytes(32).toString('hex') }
      const unknown = answered(await send(sale(stranger, chip(testCards.approve.pan), 100n), stranger.mac_key), 'absent')
      assert.equal(unknown.fields[39], '58', 'unknown terminal')

      const wrongMac = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 100n), randomBytes(32).toString('hex')), 'absent')
      assert.equal(wrongMac.fields[39], '63', 'wrong MAC')

      const unsigned = encodeMessage(sale(h.terminal, chip(testCards.approve.pan), 100n, 700_001), { encoding: 'ascii' })
      assert.ok(unsigned.ok)
      const noMac = h.connection.exchangeRaw(unsigned.value, { match: { mti: '0210', stan: '700001' } })
      assert.equal(answered(await noMac, 'absent').fields[39], '63', 'no MAC at all')

      const foreign = { ...h.terminal, card_acceptor_id: h.otherTerminal.card_acceptor_id }
      assert.notEqual(foreign.card_acceptor_id, h.terminal.card_acceptor_id)
      assert.equal(answered(await send(sale(foreign, chip(testCards.approve.pan), 100n))).fields[39], '03', "another merchant's field 42")
      assert.equal(answered(await send(sale(h.otherTerminal, chip(testCards.approve.pan), 100n), h.otherTerminal.mac_key)).fields[39], '00', 'that terminal with its own merchant is fine')

      // Field 4 with a letter: the message does not decode; 11 and 41 are echoed from what can be read.
      const malformed = Buffer.from(`0200${'3020000000800000'}000000${'0000000001X0'}700002${h.terminal.terminal_id}`, 'latin1')
      const formatError = answered(await h.connection.exchangeRaw(malformed, { match: { mti: '0210', stan: '700002' } }), 'absent')
      assert.equal(formatError.fields[39], '30')
      assert.equal(formatError.fields[41], h.terminal.terminal_id)
      assert.equal(formatError.fields[4], undefined, 'the bad field is not echoed')

      const garbage = answered(await h.connection.exchangeRaw(Buffer.from('hello, host', 'latin1')), 'absent')
      assert.deepEqual([garbage.mti, garbage.fields[39]], ['0810', '30'])

      const withoutEntryMode = paymentRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), amount: 100n, card: chip(testCards.approve.pan) })
      const fields: Record<number, string> = { ...withoutEntryMode.fields }
      delete fields[22]
      assert.equal(answered(await send({ mti: '0200', fields })).fields[39], '30', 'a required field missing')
      assert.equal(answered(await send({ mti: '0200', fields: { ...withoutEntryMode.fields, 11: String(nextStan()).padStart(6, '0'), 3: '310000' } })).fields[39], '12', 'a balance inquiry is not taken')
      assert.equal(answered(await send({ mti: '0200', fields: { ...withoutEntryMode.fields, 11: String(nextStan()).padStart(6, '0'), 4: '000000000000' } })).fields[39], '13', 'amount zero')

      const echo = answered(await send(networkRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now() })))
      assert.deepEqual([echo.mti, echo.fields[39], echo.fields[70]], ['0810', '00', '301'])

      const disabled = await h.register()
      await setTerminalStatus(h.kassa.store, h.kassa.clock, testActor, disabled.terminal_id, 'disabled')
      assert.equal(answered(await send(sale(disabled, chip(testCards.approve.pan), 100n), disabled.mac_key), 'absent').fields[39], '58', 'a disabled terminal')

      assert.equal(h.connection.isClosed, false)
      assert.equal(answered(await send(sale(h.terminal, chip(testCards.approve.pan), 100n))).fields[39], '00', 'the connection still serves a good sale')
    })

    it('closes a connection whose length header is broken, after a last format-error answer', async () => {
      const connection = await PosTerminalConnection.open('127.0.0.1', h.host.port)
      const answer = connection.nextUnmatched(5_000)
      connection.writeUnframed(Buffer.from([0xff, 0xff, 0x30]))
      const result = await answer
      assert.equal(result.outcome, 'answered')
      assert.equal(result.outcome === 'answered' ? result.answer.fields[39] : '', '30')
      await waitFor(() => connection.isClosed)
    })

    it("honours a terminal's reversal of an approved sale: the money goes back and the ledger is corrected", async () => {
      const start = await snapshot()
      const saleStan = nextStan()
      const approved = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 7_000n, saleStan)))
      assert.equal(approved.fields[39], '00')
      assert.equal((await snapshot()).issuer, start.issuer - 7_000n)

      const reversal = reversalRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), original: { stan: saleStan }, amount: 7_000n })
      const reversed = answered(await send(reversal))
      assert.deepEqual([reversed.mti, reversed.fields[39], reversed.fields[37]], ['0410', '00', approved.fields[37]])
      assert.deepEqual(await snapshot(), start, 'issuer balance, scheme receivable and merchant payable are all back')
      const [row] = await h.kassa.store.db.selectFrom('card_transactions').select(['id', 'status']).where('rrn', '=', approved.fields[37] ?? '').execute()
      assert.equal(row?.status, 'reversed')
      const codes = (await h.kassa.store.db.selectFrom('ledger_transfers').select('code').where('reference_id', '=', row?.id ?? '').execute()).map((transfer) => transfer.code).sort()
      assert.deepEqual(codes, ['card_reversal', 'card_sale'], 'the sale stays in the journal; a correcting transfer undoes it')
      assert.equal((await verifyLedger(h.kassa.store.db)).ok, true)

      const repeated = answered(await send({ ...reversal, mti: '0401' }))
      assert.equal(repeated.fields[39], '00', 'the repeat is answered the same')
      assert.deepEqual(await snapshot(), start, 'and changes nothing')
      assert.equal(answered(await send(refundRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), amount: 100n, original: { stan: saleStan } }))).fields[39], '12', 'a reversed sale cannot be refunded')
    })

    it('takes a reversal the scheme never acknowledged again when the terminal repeats it, and then it goes through', async () => {
      const start = await snapshot()
      const saleStan = nextStan()
      const approved = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 2_200n, saleStan)))
      assert.equal(approved.fields[39], '00')
      h.scheme.setFaults([{ action: 'drop', mtis: ['0400', '0401'] }])
      const reversal = reversalRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), original: { stan: saleStan }, amount: 2_200n })
      const unacknowledged = answered(await send(reversal, h.terminal.mac_key, 20_000))
      h.scheme.setFaults([])
      assert.equal(unacknowledged.fields[39], '91', 'the scheme never answered the reversal')
      const [journal] = await h.kassa.store.db.selectFrom('pos_requests').select(['state', 'response']).where('terminal_id', '=', h.terminal.terminal_id).where('mti', '=', '0400').where('stan', '=', reversal.fields[11] ?? '').execute()
      assert.equal(journal?.state, 'answered')

      const repeated = answered(await send({ ...reversal, mti: '0401' }))
      assert.equal(repeated.fields[39], '00', 'the repeat is sent again, not replayed')
      assert.deepEqual(await snapshot(), start, 'issuer balance, scheme receivable and merchant payable are all back')
      const [row] = await h.kassa.store.db.selectFrom('card_transactions').select('status').where('rrn', '=', approved.fields[37] ?? '').execute()
      assert.equal(row?.status, 'reversed')
    })

    it('answers 25 to a reversal of a sale it never saw, and then refuses that sale if it comes late', async () => {
      const start = await snapshot()
      const lostStan = nextStan()
      const reversed = answered(await send(reversalRequest({ terminal: h.terminal, stan: lostStan, nowMs: Date.now(), original: { stan: lostStan } })))
      assert.equal(reversed.fields[39], '25')
      const late = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 4_000n, lostStan)))
      assert.equal(late.fields[39], '94')
      assert.deepEqual(await snapshot(), start, 'nothing charged')
    })

    it('reverses a sale the terminal timed out on, once the scheme has answered it', async () => {
      const pan = testCards.approve_bank_two.pan
      const start = await snapshot(pan)
      h.scheme.setFaults([{ action: 'delay', delayMs: 800, pan, mtis: ['0200'], timesMax: 1 }])
      const saleStan = nextStan()
      const gaveUp = await send(sale(h.terminal, chip(pan), 3_300n, saleStan), h.terminal.mac_key, 200)
      assert.equal(gaveUp.outcome, 'timeout', 'the terminal stops waiting')
      const reversed = answered(await send(reversalRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), original: { stan: saleStan } })))
      h.scheme.setFaults([])
      assert.equal(reversed.fields[39], '00')
      assert.deepEqual(await snapshot(pan), start, 'the sale went through at the scheme and was reversed: nobody is charged or paid')
    })

    it('replays the first answer to a repeated STAN and charges once; another message with that STAN is 94', async () => {
      const start = await snapshot()
      const request = sale(h.terminal, chip(testCards.approve.pan), 1_500n)
      const first = answered(await send(request))
      assert.equal(first.fields[39], '00')
      const again = answered(await send(request))
      assert.deepEqual(again, first, 'the same answer, MAC and all')
      const repeat = answered(await send({ ...request, mti: '0201' }))
      assert.deepEqual(repeat.fields, first.fields, 'a repeat (0201) gets it too')
      const other = answered(await send({ ...request, fields: { ...request.fields, 4: '000000001600' } }))
      assert.equal(other.fields[39], '94')

      // Two copies at once, on two connections: one is processed, the other waits and gets its answer.
      const second = await PosTerminalConnection.open('127.0.0.1', h.host.port)
      try {
        const twice = sale(h.terminal, chip(testCards.approve.pan), 2_000n)
        const [a, b] = await Promise.all([send(twice), second.exchange(twice, h.terminal.mac_key, 10_000)])
        assert.deepEqual(answered(a), answered(b))
        assert.equal(answered(a).fields[39], '00')
      } finally {
        second.close()
      }
      const now = await snapshot()
      assert.equal(start.issuer - now.issuer, 3_500n, 'charged once for each sale')
      assert.equal(now.receivable - start.receivable, 3_500n)
    })

    it('refunds a sale named by its RRN or by its STAN, never beyond the sale', async () => {
      const start = await snapshot()
      const saleStan = nextStan()
      const approved = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 5_000n, saleStan)))
      const rrn = approved.fields[37] ?? ''
      const refund = (amount: bigint, original: Parameters<typeof refundRequest>[0]['original'], pan?: string) =>
        send(refundRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), amount, original, pan }))
      assert.equal(answered(await refund(2_000n, { rrn }, testCards.approve.pan)).fields[39], '00', 'by RRN')
      assert.equal(answered(await refund(3_001n, { stan: saleStan })).fields[39], '13', 'more than is left')
      assert.equal(answered(await refund(1_000n, { rrn }, testCards.approve_bank_two.pan)).fields[39], '12', 'another card')
      assert.equal(answered(await refund(3_000n, { stan: saleStan })).fields[39], '00', 'by STAN')
      assert.equal(answered(await refund(100n, { rrn: '999999999999' })).fields[39], '25', 'unknown RRN')
      assert.equal(answered(await send(refundRequest({ terminal: h.otherTerminal, stan: nextStan(), nowMs: Date.now(), amount: 100n, original: { rrn } }), h.otherTerminal.mac_key)).fields[39], '25', "another merchant's terminal cannot refund it")
      const now = await snapshot()
      assert.equal(now.issuer, start.issuer, 'the card has it all back')
      assert.equal(now.receivable, start.receivable)
      assert.equal(now.payable - start.payable, -fee(5_000n), 'the merchant keeps paying the fee of the refunded sale')
    })

    it('authorizes (0100) and completes (0220) a pre-authorization', async () => {
      const start = await snapshot()
      const authorizationStan = nextStan()
      const held = answered(await send(paymentRequest({ terminal: h.terminal, stan: authorizationStan, nowMs: Date.now(), amount: 3_000n, card: chip(testCards.approve.pan), kind: 'authorization' })))
      assert.deepEqual([held.mti, held.fields[39]], ['0110', '00'])
      assert.equal((await snapshot()).receivable, start.receivable, 'a hold posts nothing yet')
      const completion = completionRequest({ terminal: h.terminal, stan: nextStan(), nowMs: Date.now(), amount: 2_500n, original: { stan: authorizationStan } })
      const completed = answered(await send(completion))
      assert.deepEqual([completed.mti, completed.fields[39]], ['0230', '00'])
      const now = await snapshot()
      assert.equal(now.receivable - start.receivable, 2_500n)
      assert.equal(start.issuer - now.issuer, 2_500n)
      assert.equal(answered(await send({ ...completion, fields: { ...completion.fields, 11: String(nextStan()).padStart(6, '0') } })).fields[39], '12', 'completed once only')
    })

    it('journals a sale with its card transaction and its answer with the outcome, and one that failed on either side of that transaction with its 96', async () => {
      const unitsBefore = h.kassa.store.writer.unitsCommitted
      const approved = answered(await send(sale(h.terminal, chip(testCards.approve.pan), 800n)))
      // Two commits a sale: the journal's claim with the pending card transaction, the journal's
      // answer with the outcome and its ledger transfer. Nothing else writes in this harness.
      assert.equal(h.kassa.store.writer.unitsCommitted - unitsBefore, 2)
      const [journal] = await h.kassa.store.db.selectFrom('pos_requests').selectAll().where('terminal_id', '=', h.terminal.terminal_id).where('stan', '=', approved.fields[11] ?? '').execute()
      const [card] = await h.kassa.store.db.selectFrom('card_transactions').select('id').where('rrn', '=', approved.fields[37] ?? '').execute()
      assert.equal(journal?.state, 'answered')
      assert.equal(journal?.card_transaction_id, card?.id)

      // The same host code in front of an acquirer that fails: once in the transaction that takes
      // the claim (so it never commits), once after that transaction committed.
      const claims: (boolean | undefined)[] = []
      const failing = (when: 'in' | 'after'): PosAcquirer => ({
        acquire: async (input) => {
          await h.kassa.store.writer.submit(async (tx) => {
            const claimed = await input.claim?.(tx)
            claims.push(claimed)
            // As the acquirer does (acquire's contract): a request claimed already is not sent again.
            if (claimed === false) throw new AlreadySent(input.reference_id)
            if (when === 'in') throw new Error('the disk is full')
          })
          throw new Error('the scheme link broke')
        },
        refund: h.acquirer.refund.bind(h.acquirer),
        capture: h.acquirer.capture.bind(h.acquirer),
      })
      for (const when of ['in', 'after'] as const) {
        const host = await startPosHost({ port: 0, store: h.kassa.store, clock: h.kassa.clock, masterKey: h.kassa.masterKey, acquirer: failing(when), reverse: cardReverser({ store: h.kassa.store, clock: h.kassa.clock, masterKey: h.kassa.masterKey, link: h.link, acquirerId, timeoutMs: 2_000, reversalAttemptsMax: 3 }) })
        const connection = await PosTerminalConnection.open('127.0.0.1', host.port)
        try {
          const request = sale(h.terminal, chip(testCards.approve.pan), 900n)
          const first = answered(await connection.exchange(request, h.terminal.mac_key, 10_000))
          assert.equal(first.fields[39], '96', when)
          assert.deepEqual(claims.splice(0), [true], `${when}: the host took its claim in the acquirer's transaction`)
          const [row] = await h.kassa.store.db.selectFrom('pos_requests').selectAll().where('terminal_id', '=', h.terminal.terminal_id).where('stan', '=', request.fields[11] ?? '').execute()
          assert.equal(row?.state, 'answered', `${when}: the journal holds the answer`)
          assert.equal(JSON.parse(row?.response ?? '{}').fields[39], '96')
          const repeat = answered(await connection.exchange({ ...request, mti: '0201' }, h.terminal.mac_key, 10_000))
          assert.deepEqual(repeat.fields, first.fields, `${when}: a repeat gets the first answer, not a second try`)
          assert.deepEqual(claims.splice(0), [false], `${when}: the repeat's claim refused it`)
        } finally {
          connection.close()
          await host.close(2_000)
        }
      }
    })
  })
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
