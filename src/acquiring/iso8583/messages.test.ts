import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeResponseCode, isMessageTypeUsed, messageTypesUsed, parseMti, responseCodes, responseMtiFor } from './messages.js'

describe('MTIs', () => {
  it('reads the four positions of an MTI', () => {
    assert.deepEqual(parseMti('0401'), {
      version: 'iso8583_1987',
      messageClass: 'reversal',
      messageFunction: 'request',
      origin: 'acquirer_repeat',
      repeat: true,
    })
    assert.deepEqual(parseMti('0810'), {
      version: 'iso8583_1987',
      messageClass: 'network_management',
      messageFunction: 'request_response',
      origin: 'acquirer',
      repeat: false,
    })
  })

  it('refuses what is not an MTI', () => {
    for (const mti of ['', '010', '01000', '0A00', '0000', '0190', '0106', '3100']) assert.equal(parseMti(mti), undefined, mti)
  })

  it('answers each request and advice Kassa uses with its response MTI', () => {
    const expected: Record<string, string> = {
      '0100': '0110',
      '0200': '0210',
      '0220': '0230',
      '0400': '0410',
      '0420': '0430',
      '0800': '0810',
    }
    for (const [request, response] of Object.entries(expected)) assert.equal(responseMtiFor(request), response, request)
  })

  it('answers a repeat like the original', () => {
    assert.equal(responseMtiFor('0101'), '0110')
    assert.equal(responseMtiFor('0401'), '0410')
    assert.equal(responseMtiFor('0221'), '0230')
    assert.equal(responseMtiFor('0421'), '0430')
    assert.equal(responseMtiFor('0403'), '0412')
  })

  it('gives responses and notifications no response', () => {
    for (const mti of ['0110', '0210', '0430', '0810', '0240', 'nope']) assert.equal(responseMtiFor(mti), undefined, mti)
  })

  it('lists the message types used, each of them a valid MTI with its response listed too', () => {
    for (const mti of Object.keys(messageTypesUsed)) {
      assert.ok(parseMti(mti) !== undefined, mti)
      const response = responseMtiFor(mti)
      if (response !== undefined) assert.ok(isMessageTypeUsed(response), `${mti} → ${response}`)
    }
    assert.ok(!isMessageTypeUsed('0500'))
  })
})

describe('response codes', () => {
  it('has the codes Kassa sends and understands', () => {
    assert.deepEqual(Object.keys(responseCodes).sort(), ['00', '05', '12', '13', '14', '25', '30', '51', '54', '55', '58', '61', '63', '91', '94', '96'])
  })

  it('approves only with 00', () => {
    for (const [code, entry] of Object.entries(responseCodes)) assert.equal(entry.outcome === 'approved', code === '00', code)
  })

  it('marks issuer unavailable and system malfunction as transient', () => {
    const transient = Object.entries(responseCodes).filter(([, entry]) => entry.transient).map(([code]) => code)
    assert.deepEqual(transient, ['91', '96'])
  })

  it('describes known codes and leaves unknown ones undefined', () => {
    assert.deepEqual(describeResponseCode('51'), { meaning: 'Insufficient funds', outcome: 'declined', transient: false })
    assert.equal(describeResponseCode('54')?.meaning, 'Expired card')
    assert.equal(describeResponseCode('99'), undefined)
    assert.equal(describeResponseCode('toString'), undefined)
  })
})
