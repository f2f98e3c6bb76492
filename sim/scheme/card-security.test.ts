import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { AssertionError } from '../../src/domain/assert.js'
import { decodeTlv } from '../../src/acquiring/scheme-link/emv-tlv.js'
import { cryptogramsEqual, pinBlockFormat0, tokenCryptogram, tokenIccData } from './card-security.js'
import { testTokens } from './test-cards.js'

const token = testTokens.approve

describe('token cryptogram', () => {
  it('is the first 8 bytes of HMAC-SHA256 over amount BCD, currency BCD, ATC and the token digits', () => {
    const data = Buffer.concat([Buffer.from('000000010000' + '0156' + '0007', 'hex'), Buffer.from(token.token, 'latin1')])
    const expected = createHmac('sha256', Buffer.from(token.keyHex, 'hex')).update(data).digest().subarray(0, 8).toString('hex').toUpperCase()
    assert.equal(tokenCryptogram({ keyHex: token.keyHex, token: token.token, amountMinor: 10_000n, currencyNumeric: '156', atc: 7 }), expected)
    assert.match(expected, /^[0-9A-F]{16}$/)
  })

  it('changes with each input', () => {
    const base = { keyHex: token.keyHex, token: token.token, amountMinor: 10_000n, currencyNumeric: '156', atc: 7 }
    const cryptogram = tokenCryptogram(base)
    for (const changed of [{ amountMinor: 10_001n }, { currencyNumeric: '840' }, { atc: 8 }, { token: testTokens.insufficient_funds.token }, { keyHex: testTokens.insufficient_funds.keyHex }]) {
      assert.notEqual(tokenCryptogram({ ...base, ...changed }), cryptogram, JSON.stringify(Object.keys(changed)))
    }
  })

  it('puts amount, currency, ATC and cryptogram into field 55 as TLV', () => {
    const input = { keyHex: token.keyHex, token: token.token, amountMinor: 12_345n, currencyNumeric: '156', atc: 0x0102 }
    const decoded = decodeTlv(tokenIccData(input))
    assert.deepEqual(decoded, {
      ok: true,
      value: [
        { tag: '9F02', value: '000000012345' },
        { tag: '5F2A', value: '0156' },
        { tag: '9F36', value: '0102' },
        { tag: '9F26', value: tokenCryptogram(input) },
      ],
    })
  })

  it('compares cryptograms in constant time, refusing other lengths and non-hex', () => {
    assert.equal(cryptogramsEqual('0123456789ABCDEF', '0123456789abcdef'), true)
    assert.equal(cryptogramsEqual('0123456789ABCDEF', '0123456789ABCDEE'), false)
    assert.equal(cryptogramsEqual('0123456789ABCDEF', '0123456789ABCD'), false)
    assert.equal(cryptogramsEqual('ZZ', 'ZZ'), false)
  })

  it('asserts its inputs', () => {
    assert.throws(() => tokenCryptogram({ keyHex: 'AB', token: token.token, amountMinor: 1n, currencyNumeric: '156', atc: 1 }), AssertionError)
    assert.throws(() => tokenCryptogram({ keyHex: token.keyHex, token: token.token, amountMinor: -1n, currencyNumeric: '156', atc: 1 }), AssertionError)
    assert.throws(() => tokenCryptogram({ keyHex: token.keyHex, token: token.token, amountMinor: 1n, currencyNumeric: '156', atc: 0x10000 }), AssertionError)
  })
})

describe('PIN block', () => {
  it('builds ISO 9564 format 0 (the published example: PIN 1234, PAN 43219876543210987)', () => {
    assert.equal(pinBlockFormat0('1234', '43219876543210987'), '0412AC89ABCDEF67')
    assert.equal(pinBlockFormat0('1234', '4111111111111111'), '041225EEEEEEEEEE')
  })

  it('asserts a PIN of 4 to 12 digits', () => {
    assert.throws(() => pinBlockFormat0('123', '4111111111111111'), AssertionError)
    assert.throws(() => pinBlockFormat0('12a4', '4111111111111111'), AssertionError)
  })
})
