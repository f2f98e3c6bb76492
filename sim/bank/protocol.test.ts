import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { encodeForm } from '../common/canonical.js'
import { bankIds, bankTestAccounts, testBanks } from './accounts.js'
import { bankCanonicalString, bankSignature, signBankRequest, verifyBankAnswer, verifyBankNotification, verifyBankReturn, verifyBankSignature } from './protocol.js'

const key = 'icbc-sim-demo-key-0f6a2c4e8b'
const request = {
  merchant_id: '102100000001',
  order_no: 'pay_1',
  amount: 10_000n,
  currency: 'CNY',
  notify_url: 'https://kassa.example/notify',
  return_url: 'https://kassa.example/return?p=1',
  subject: 'Order 1',
  memo: '',
}

describe('bank protocol', () => {
  it('signs byte-exactly: sorted key=value pairs without empty ones, HMAC-SHA256, lower-case hex', () => {
    const signed = signBankRequest(request, key)
    assert.equal(
      bankCanonicalString(signed),
      'amount=10000&currency=CNY&merchant_id=102100000001&notify_url=https://kassa.example/notify&order_no=pay_1&return_url=https://kassa.example/return?p=1&subject=Order 1',
    )
    // printf '<the string above>' | openssl dgst -sha256 -hmac 'icbc-sim-demo-key-0f6a2c4e8b'
    assert.equal(signed.sign, 'a7aa7ed9d026d108d01496dd41002e4ff6421a47e6da91955448f45271150627')
    assert.equal(verifyBankSignature(signed, key), true)
    assert.equal(verifyBankSignature({ ...signed, sign: signed.sign.toUpperCase() }, key), true, 'hex case does not matter')
  })

  it('detects any change to any signed parameter, and a wrong key', () => {
    const signed = signBankRequest(request, key)
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(signed).filter((name) => name !== 'sign' && signed[name] !== '')), fc.string({ minLength: 1, maxLength: 8 }), (name, suffix) => {
        assert.equal(verifyBankSignature({ ...signed, [name]: `${signed[name] ?? ''}${suffix}` }, key), false)
      }),
    )
    assert.equal(verifyBankSignature(signed, 'another-key'), false)
    assert.equal(verifyBankSignature({ ...signed, sign: '' }, key), false)
  })

  it('verifies and reads a notification, and refuses a tampered or unsigned one', () => {
    const fields = { bank_id: 'icbc-sim', notify_id: 'N1', notify_type: 'order_status', notify_time: '20260101080000', merchant_id: 'M', order_no: 'pay_1', order_type: 'netbank', bank_order_id: 'ICBC1', amount: '10000', currency: 'CNY', status: 'PAID', paid_at: '20260101080000' }
    const body = encodeForm({ ...fields, sign: bankSignature(fields, key) })
    const read = verifyBankNotification(body, key)
    assert.ok(read.ok)
    assert.deepEqual(read.ok && [read.report.status, read.report.amount_minor, read.report.notify_id], ['PAID', 10_000n, 'N1'])
    const tampered = verifyBankNotification(body.replace('amount=10000', 'amount=10001'), key)
    assert.deepEqual(tampered.ok ? 'ok' : tampered.reason, 'signature_invalid')
    assert.deepEqual(verifyBankNotification(encodeForm(fields), key), { ok: false, reason: 'signature_missing', message: 'no sign parameter' })
    const strange = { ...fields, status: 'MAYBE' }
    const malformed = verifyBankNotification({ ...strange, sign: bankSignature(strange, key) }, key)
    assert.equal(malformed.ok ? 'ok' : malformed.reason, 'malformed', 'an unknown status is not guessed')
  })

  it("verifies a return URL's query, the merchant's own parameters included", () => {
    const fields = { payment: 'pay_1', merchant_id: 'M', order_no: 'pay_1', bank_order_id: 'ICBC1', amount: '10000', currency: 'CNY', status: 'FAILED', failure_reason: 'insufficient_balance' }
    const query = `?${encodeForm({ ...fields, sign: bankSignature(fields, key) })}`
    const read = verifyBankReturn(query, key)
    assert.deepEqual(read.ok && [read.report.status, read.report.failure_reason], ['FAILED', 'insufficient_balance'])
    assert.equal(verifyBankReturn(query.replace('payment=pay_1', 'payment=pay_2'), key).ok, false)
    assert.equal(verifyBankReturn(`${query}&order_no=x`, key).ok, false, 'a repeated parameter is refused')
  })

  it('reads an answer: signed ones verify, unsigned refusals give their ret_code', () => {
    const answer = { ret_code: '0000', ret_msg: 'success', amount: 100, order_no: 'A' }
    const signed = { ...answer, sign: bankSignature({ ret_code: '0000', ret_msg: 'success', amount: '100', order_no: 'A' }, key) }
    assert.equal(verifyBankAnswer(signed, key).ok, true)
    assert.deepEqual(verifyBankAnswer({ ...signed, amount: 101 }, key).ok, false)
    const refusal = verifyBankAnswer({ ret_code: '1001', ret_msg: 'signature verification failed' }, key)
    assert.deepEqual(refusal.ok ? undefined : [refusal.reason, 'ret_code' in refusal ? refusal.ret_code : undefined], ['signature_missing', '1001'])
  })

  it('gives every test holder a Luhn-valid 19-digit number with its bank prefix', () => {
    for (const bankId of bankIds) {
      const bank = testBanks[bankId]
      for (const holder of bankTestAccounts(bank)) {
        assert.match(holder.account_no, new RegExp(`^${bank.account_prefix}\\d{13}$`))
        assert.ok(luhnValid(holder.account_no), holder.account_no)
      }
    }
  })
})

function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}
