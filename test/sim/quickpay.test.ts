import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { bankReturnCodes, bankTestAccounts, encodeForm, signBankRequest, startBankSimulator, testBanks, verifyBankNotification, type BankHolder, type BankLogEntry, type BankSimulator } from '../../sim/bank/index.js'
import { bankCall, orderNo, receivedFor } from './bank-client.js'
import { eventually, startReceiver, type Receiver } from './helpers.js'

const [alice, bob, carol] = bankTestAccounts(testBanks['icbc-sim'])
assert.ok(alice !== undefined && bob !== undefined && carol !== undefined)

describe('bank simulator: quick pay over HTTP', () => {
  let bank: BankSimulator
  let receiver: Receiver
  let clock: SimulatedClock
  const logLines: string[] = []
  before(async () => {
    clock = new SimulatedClock()
    receiver = await startReceiver()
    bank = await startBankSimulator({ clock, seed: 5, testEndpoints: true, notifications: { backoffMs: 20 }, log: (entry: BankLogEntry) => logLines.push(JSON.stringify(entry)) })
  })
  after(async () => {
    await bank.close()
    await receiver.close()
  })

  async function bind(holder: BankHolder): Promise<string> {
    const requested = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: holder.account_no, holder_name: holder.holder_name, phone: holder.phone })
    assert.equal(requested.ret_code, '0000')
    const code = bank.smsCodeFor(holder.phone)
    assert.ok(code !== undefined)
    const confirmed = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: code })
    assert.equal(confirmed.ret_code, '0000')
    return confirmed.binding_id ?? ''
  }

  async function startPayment(bindingId: string, amount: bigint, no = orderNo('qp')): Promise<{ no: string; answer: Record<string, string> }> {
    const answer = await bankCall(bank, '/quickpay/payments', { binding_id: bindingId, order_no: no, amount, currency: 'CNY', subject: 'Quick order', notify_url: `${receiver.url}/notify/${no}` })
    return { no, answer }
  }

  it('binds an account with the SMS code: a token comes back, never the account number', async () => {
    const requested = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: alice.account_no, holder_name: alice.holder_name, phone: alice.phone })
    assert.deepEqual([requested.ret_code, requested.phone_masked], ['0000', '138****0001'])
    assert.match(requested.binding_request_id ?? '', /^ICBCBR\d{10}$/)
    const code = bank.smsCodeFor(alice.phone)
    assert.match(code ?? '', /^\d{6}$/)
    const viaEndpoint = (await (await fetch(`${bank.url}/test/sms/${alice.phone}`)).json()) as { code: string; purpose: string }
    assert.deepEqual([viaEndpoint.code, viaEndpoint.purpose], [code, 'binding'])

    const wrongCode = code === '000000' ? '111111' : '000000'
    const wrong = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: wrongCode })
    assert.deepEqual([wrong.ret_code, wrong.tries_left], [bankReturnCodes.sms_code_wrong, '2'])
    const confirmed = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: code })
    assert.equal(confirmed.ret_code, '0000')
    assert.match(confirmed.binding_id ?? '', /^bnd_[0-9a-f]{24}$/)
    assert.equal(confirmed.account_no_masked, `622202*********${alice.account_no.slice(-4)}`)
    assert.ok(!JSON.stringify(confirmed).includes(alice.account_no), 'the account number never comes back')
    const repeat = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: code })
    assert.equal(repeat.binding_id, confirmed.binding_id, 'a repeated confirmation answers the same binding')
  })

  it('refuses a binding whose name or phone does not match, an unknown number alike, and a blocked account', async () => {
    const wrongName = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: alice.account_no, holder_name: 'Mallory', phone: alice.phone })
    assert.equal(wrongName.ret_code, bankReturnCodes.account_mismatch)
    const unknown = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: '6222020000000000000', holder_name: alice.holder_name, phone: alice.phone })
    assert.equal(unknown.ret_code, bankReturnCodes.account_mismatch)
    const blocked = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: carol.account_no, holder_name: carol.holder_name, phone: carol.phone })
    assert.equal(blocked.ret_code, bankReturnCodes.account_blocked)
    const badPhone = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: alice.account_no, holder_name: alice.holder_name, phone: '123' })
    assert.equal(badPhone.ret_code, bankReturnCodes.parameter_invalid)
  })

  it('fails a binding request after three wrong codes; the right one no longer helps', async () => {
    const requested = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: bob.account_no, holder_name: bob.holder_name, phone: bob.phone })
    const code = bank.smsCodeFor(bob.phone) ?? ''
    const wrongCode = code === '999999' ? '888888' : '999999'
    const answers = []
    for (let i = 0; i < 3; i++) answers.push((await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: wrongCode })).ret_code)
    assert.deepEqual(answers, ['4004', '4004', '4006'])
    const late = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: code })
    assert.equal(late.ret_code, bankReturnCodes.sms_code_attempts_exceeded)
    const unknown = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: 'ICBCBR0000099999', sms_code: code })
    assert.equal(unknown.ret_code, bankReturnCodes.binding_request_not_found)
  })

  it('refuses an expired binding code', async () => {
    const requested = await bankCall(bank, '/quickpay/bindings', { card_or_account_no: bob.account_no, holder_name: bob.holder_name, phone: bob.phone })
    clock.advance(5 * 60_000)
    const expired = await bankCall(bank, '/quickpay/bindings/confirm', { binding_request_id: requested.binding_request_id, sms_code: bank.smsCodeFor(bob.phone) })
    assert.equal(expired.ret_code, bankReturnCodes.sms_code_expired)
  })

  it('pays with the binding and an SMS code: PAID, debited once, notified, refundable', async () => {
    const bindingId = await bind(alice)
    const before = bank.account('alice')?.balance_minor ?? 0n
    const { no, answer } = await startPayment(bindingId, 2_500n)
    assert.deepEqual([answer.ret_code, answer.status, answer.phone_masked], ['0000', 'WAITING', '138****0001'])
    const again = await startPayment(bindingId, 2_500n, no)
    assert.deepEqual(again.answer, answer, 'an identical payment request answers the same')
    const reused = await startPayment(bindingId, 2_600n, no)
    assert.equal(reused.answer.ret_code, bankReturnCodes.order_no_reused)
    const code = bank.smsCodeFor(alice.phone)
    const confirmed = await bankCall(bank, '/quickpay/payments/confirm', { order_no: no, sms_code: code })
    assert.deepEqual([confirmed.ret_code, confirmed.status, confirmed.amount], ['0000', 'PAID', '2500'])
    const repeat = await bankCall(bank, '/quickpay/payments/confirm', { order_no: no, sms_code: code })
    assert.deepEqual([repeat.ret_code, repeat.status], ['0000', 'PAID'])
    assert.equal(bank.account('alice')?.balance_minor, before - 2_500n, 'debited once')
    const [notification] = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    const verified = verifyBankNotification(notification?.body ?? '', bank.merchants[0]?.key ?? '')
    assert.equal(verified.ok && verified.report.status, 'PAID')
    const refund = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r`, amount: 2_500n })
    assert.deepEqual([refund.ret_code, refund.refunded_total], ['0000', '2500'])
    assert.equal(bank.account('alice')?.balance_minor, before)
    const queried = await bankCall(bank, '/gateway/orders/query', { order_no: no })
    assert.deepEqual([queried.status, queried.order_type], ['PAID', 'quickpay'])
  })

  it('declines: wrong codes (bounded), expired code, insufficient balance; each ends the payment FAILED', async () => {
    const bindingId = await bind(alice)
    const wrongNo = (await startPayment(bindingId, 100n)).no
    const code = bank.smsCodeFor(alice.phone) ?? ''
    const wrongCode = code === '123456' ? '654321' : '123456'
    const first = await bankCall(bank, '/quickpay/payments/confirm', { order_no: wrongNo, sms_code: wrongCode })
    assert.deepEqual([first.ret_code, first.status, first.tries_left], ['4004', 'WAITING', '2'])
    await bankCall(bank, '/quickpay/payments/confirm', { order_no: wrongNo, sms_code: wrongCode })
    const third = await bankCall(bank, '/quickpay/payments/confirm', { order_no: wrongNo, sms_code: wrongCode })
    assert.deepEqual([third.ret_code, third.status, third.failure_reason], ['4006', 'FAILED', 'sms_code_attempts_exceeded'])
    const tooLate = await bankCall(bank, '/quickpay/payments/confirm', { order_no: wrongNo, sms_code: code })
    assert.deepEqual([tooLate.ret_code, tooLate.status], ['4006', 'FAILED'])

    const expiredNo = (await startPayment(bindingId, 100n)).no
    clock.advance(5 * 60_000)
    const expired = await bankCall(bank, '/quickpay/payments/confirm', { order_no: expiredNo, sms_code: bank.smsCodeFor(alice.phone) })
    assert.deepEqual([expired.ret_code, expired.status, expired.failure_reason], ['4005', 'FAILED', 'sms_code_expired'])

    const bobBinding = await bind(bob)
    const poorNo = (await startPayment(bobBinding, 1_001n)).no
    const poor = await bankCall(bank, '/quickpay/payments/confirm', { order_no: poorNo, sms_code: bank.smsCodeFor(bob.phone) })
    assert.deepEqual([poor.ret_code, poor.status, poor.failure_reason], ['4008', 'FAILED', 'insufficient_balance'])
    assert.equal(bank.account('bob')?.balance_minor, 1_000n)
    const unknown = await bankCall(bank, '/quickpay/payments/confirm', { order_no: 'nope', sms_code: '123456' })
    assert.equal(unknown.ret_code, bankReturnCodes.order_not_found)
  })

  it('unbinds: the token stops working, unbinding again is fine, a payment waiting on it fails', async () => {
    const bindingId = await bind(alice)
    const waiting = await startPayment(bindingId, 100n)
    const merchant = bank.merchants[0]
    assert.ok(merchant !== undefined)
    const unbind = async (id: string): Promise<Record<string, string>> => {
      const query = encodeForm(signBankRequest({ merchant_id: merchant.merchant_id, binding_id: id }, merchant.key))
      const response = await fetch(`${bank.url}/quickpay/bindings/${id}?${query}`, { method: 'DELETE' })
      assert.equal(response.status, 200)
      return (await response.json()) as Record<string, string>
    }
    const removed = await unbind(bindingId)
    assert.deepEqual([removed.ret_code, removed.status], ['0000', 'UNBOUND'])
    assert.deepEqual([(await unbind(bindingId)).ret_code], ['0000'])
    assert.equal((await unbind('bnd_000000000000000000000000')).ret_code, bankReturnCodes.binding_not_found)
    const refused = await startPayment(bindingId, 100n)
    assert.equal(refused.answer.ret_code, bankReturnCodes.binding_not_found)
    const confirm = await bankCall(bank, '/quickpay/payments/confirm', { order_no: waiting.no, sms_code: bank.smsCodeFor(alice.phone) })
    assert.deepEqual([confirm.ret_code, confirm.status, confirm.failure_reason], [bankReturnCodes.binding_not_found, 'FAILED', 'binding_unbound'])
    const badQuery = await fetch(`${bank.url}/quickpay/bindings/${bindingId}?${encodeForm(signBankRequest({ merchant_id: merchant.merchant_id, binding_id: 'bnd_other' }, merchant.key))}`, { method: 'DELETE' })
    assert.equal(((await badQuery.json()) as { ret_code: string }).ret_code, bankReturnCodes.parameter_invalid)
  })

  it('logs account numbers and phones only masked', () => {
    const text = logLines.join('\n')
    assert.ok(text.includes('"event":"bound"'))
    for (const holder of [alice, bob, carol]) {
      assert.ok(!text.includes(holder.account_no), `${holder.username}'s account number is in the log`)
      assert.ok(!text.includes(holder.phone), `${holder.username}'s phone is in the log`)
    }
  })
})

describe('bank simulator: the SMS test endpoint', () => {
  it('does not exist unless testEndpoints is set', async () => {
    const bank = await startBankSimulator({})
    try {
      await bankCall(bank, '/quickpay/bindings', { card_or_account_no: alice.account_no, holder_name: alice.holder_name, phone: alice.phone })
      assert.ok(bank.smsCodeFor(alice.phone) !== undefined, 'the test hook still works in code')
      const response = await fetch(`${bank.url}/test/sms/${alice.phone}`)
      assert.equal(response.status, 404)
      await response.text()
    } finally {
      await bank.close()
    }
  })
})
