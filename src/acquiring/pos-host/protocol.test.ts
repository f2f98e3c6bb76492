import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Iso8583Message } from '../iso8583/index.js'
import { answerTo, baseMti, parseTerminalRequest, requestDigest, responseMeaning, salvageMessage } from './protocol.js'

const pan = '6220010000000018'
const base = { 11: '000001', 41: 'TERM0001' }
const saleFields = { ...base, 2: pan, 3: '000000', 4: '000000002500', 14: '3012', 22: '051', 49: '156' }
const original90 = '0200000007' + '0'.repeat(32)

function parsed(message: Iso8583Message) {
  const result = parseTerminalRequest(message)
  assert.ok(result.ok, result.ok ? '' : result.problem.detail)
  return result.request
}

function refusal(message: Iso8583Message): [string, number | undefined] {
  const result = parseTerminalRequest(message)
  assert.ok(!result.ok, 'refused')
  return [result.problem.code, result.problem.field]
}

describe('parseTerminalRequest', () => {
  it('reads a sale, from field 2 and 14 or from track 2', () => {
    assert.deepEqual(parsed({ mti: '0200', fields: saleFields }), {
      kind: 'sale',
      amount: 2_500n,
      currency: 'CNY',
      card: { pan, expiry: '3012', entry_mode: '051', pin_block: undefined, icc_hex: undefined, kind: 'pan' },
    })
    const { 2: _pan, 14: _expiry, ...withoutCard } = saleFields
    const fromTrack = parsed({ mti: '0200', fields: { ...withoutCard, 22: '021', 35: `${pan}=30121010000` } })
    assert.ok(fromTrack.kind === 'sale')
    assert.deepEqual([fromTrack.card.pan, fromTrack.card.expiry], [pan, '3012'])
    const tapped = parsed({ mti: '0200', fields: { ...saleFields, 22: '071', 55: '9F360200019F2608AABBCCDDEEFF0011' } })
    assert.ok(tapped.kind === 'sale' && tapped.card.kind === 'token')
    assert.equal(parsed({ mti: '0100', fields: saleFields }).kind, 'authorization')
    assert.equal(parsed({ mti: '0201', fields: saleFields }).kind, 'sale', 'a repeat reads the same')
  })

  it('reads refunds, completions and reversals with the original they name', () => {
    const refund = { ...base, 3: '200000', 4: '000000001000', 49: '156' }
    assert.deepEqual(parsed({ mti: '0200', fields: { ...refund, 37: '600112000003' } }), { kind: 'refund', amount: 1_000n, currency: 'CNY', original: { by: 'rrn', rrn: '600112000003' }, pan: undefined })
    assert.deepEqual(parsed({ mti: '0200', fields: { ...refund, 90: original90 } }), { kind: 'refund', amount: 1_000n, currency: 'CNY', original: { by: 'stan', mti: '0200', stan: '000007' }, pan: undefined })
    assert.deepEqual(parsed({ mti: '0220', fields: { ...refund, 3: '000000', 90: `0100${original90.slice(4)}` } }), { kind: 'completion', amount: 1_000n, currency: 'CNY', original: { by: 'stan', mti: '0100', stan: '000007' } })
    assert.deepEqual(parsed({ mti: '0400', fields: { ...base, 90: original90 } }), { kind: 'reversal', original: { by: 'stan', mti: '0200', stan: '000007' } })
    assert.deepEqual(parsed({ mti: '0401', fields: { ...base } }), { kind: 'reversal', original: { by: 'stan', mti: undefined, stan: '000001' } }, 'without 90: its own STAN')
    assert.deepEqual(parsed({ mti: '0800', fields: { ...base, 70: '001' } }), { kind: 'network', code: '001' })
  })

  it('names the code and the field of what is wrong', () => {
    const without = (field: number): Record<number, string> => {
      const fields: Record<number, string> = { ...saleFields }
      delete fields[field]
      return fields
    }
    const cases: [Iso8583Message, [string, number | undefined]][] = [
      [{ mti: '0200', fields: without(11) }, ['30', 11]],
      [{ mti: '0200', fields: without(3) }, ['30', 3]],
      [{ mti: '0200', fields: without(4) }, ['30', 4]],
      [{ mti: '0200', fields: without(49) }, ['30', 49]],
      [{ mti: '0200', fields: without(2) }, ['30', 2]],
      [{ mti: '0200', fields: without(14) }, ['30', 14]],
      [{ mti: '0200', fields: without(22) }, ['30', 22]],
      [{ mti: '0200', fields: { ...saleFields, 49: '999' } }, ['30', 49]],
      [{ mti: '0200', fields: { ...saleFields, 4: '000000000000' } }, ['13', 4]],
      [{ mti: '0200', fields: { ...saleFields, 2: '6220010000000019' } }, ['14', 2]],
      [{ mti: '0200', fields: { ...saleFields, 3: '310000' } }, ['12', 3]],
      [{ mti: '0200', fields: { ...saleFields, 35: '6220020000000017=3012' } }, ['30', 35]],
      [{ mti: '0200', fields: { ...saleFields, 3: '200000' } }, ['30', 90]],
      [{ mti: '0200', fields: { ...saleFields, 3: '200000', 90: `0100${original90.slice(4)}` } }, ['12', 90]],
      [{ mti: '0400', fields: { ...base, 90: `0220${original90.slice(4)}` } }, ['12', 90]],
      [{ mti: '0500', fields: saleFields }, ['12', 0]],
      [{ mti: '0800', fields: { ...base, 70: '999' } }, ['12', 70]],
      [{ mti: '0800', fields: base }, ['30', 70]],
    ]
    for (const [message, expected] of cases) assert.deepEqual(refusal(message), expected, JSON.stringify(message))
  })
})

describe('answers', () => {
  it('echo the identifying fields, never card data, and take the standard response MTI', () => {
    const answer = answerTo({ mti: '0201', fields: { ...saleFields, 35: `${pan}=3012`, 52: '0123456789ABCDEF' } }, '00', { 37: '600112000003', 38: '123456', 39: 'XX' })
    assert.equal(answer.mti, '0210')
    assert.deepEqual(answer.fields, { 3: '000000', 4: '000000002500', 11: '000001', 37: '600112000003', 38: '123456', 39: '00', 41: 'TERM0001', 49: '156' })
    assert.equal(answerTo({ mti: '0210', fields: base }, '30').mti, '0810', 'a response is not a request')
  })

  it('journal a repeat under its original MTI, and tell messages apart by a keyed digest', () => {
    assert.deepEqual(['0200', '0201', '0401', '0221', '0800'].map(baseMti), ['0200', '0200', '0400', '0220', '0800'])
    const key = Buffer.alloc(32, 1)
    const digest = requestDigest(key, { mti: '0200', fields: { ...saleFields, 64: 'AAAAAAAAAAAAAAAA' } })
    assert.equal(digest, requestDigest(key, { mti: '0201', fields: saleFields }), 'MAC and repeat digit left out')
    assert.notEqual(digest, requestDigest(key, { mti: '0200', fields: { ...saleFields, 4: '000000002501' } }))
    assert.notEqual(digest, requestDigest(Buffer.alloc(32, 2), { mti: '0200', fields: saleFields }), 'keyed')
    assert.ok(!digest.includes(pan))
  })

  it('know the meaning of every code a terminal may see', () => {
    assert.equal(responseMeaning('03'), 'Invalid merchant')
    assert.equal(responseMeaning('51'), 'Insufficient funds')
    assert.equal(responseMeaning('Q1'), 'Unknown response code')
  })
})

describe('salvageMessage', () => {
  it('reads the identifying fields of a message that does not decode, skipping the bad one', () => {
    const bytes = Buffer.from('0200' + '3020000000800000' + '000000' + '00000000A000' + '000001' + 'TERM0001', 'latin1')
    assert.deepEqual(salvageMessage(bytes), { mti: '0200', fields: { 3: '000000', 11: '000001', 41: 'TERM0001' } })
  })

  it('stops where lengths stop making sense, and keeps no card data', () => {
    assert.deepEqual(salvageMessage(Buffer.from('02007000000000000000' + '1X' + pan, 'latin1')), { mti: '0200', fields: {} })
    assert.deepEqual(salvageMessage(Buffer.from('0200' + '4020000000000000' + '16' + pan + '000009', 'latin1')), { mti: '0200', fields: { 11: '000009' } })
    assert.deepEqual(salvageMessage(Buffer.from('hello', 'latin1')), { mti: undefined, fields: {} })
    assert.deepEqual(salvageMessage(Buffer.from('0200ZZZZ', 'latin1')), { mti: '0200', fields: {} })
  })
})
