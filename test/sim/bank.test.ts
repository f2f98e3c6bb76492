import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { bankReturnCodes, encodeForm, signBankRequest, startBankSimulator, verifyBankNotification, verifyBankReturn, type BankSimulator } from '../../sim/bank/index.js'
import { bankCall, newOrderParams, orderNo, payThroughPage, receivedFor } from './bank-client.js'
import { eventually, postForm, startReceiver, type Receiver } from './helpers.js'

describe('bank simulator: online banking over HTTP', () => {
  let bank: BankSimulator
  let receiver: Receiver
  let key: string
  let merchantId: string
  before(async () => {
    receiver = await startReceiver()
    bank = await startBankSimulator({ bank: 'icbc-sim', seed: 3, notifications: { backoffMs: 20, attemptsMax: 5, timeoutMs: 2_000 } })
    key = bank.merchants[0]?.key ?? ''
    merchantId = bank.merchants[0]?.merchant_id ?? ''
  })
  after(async () => {
    await bank.close()
    await receiver.close()
  })

  it('creates an order, takes the payer through login and confirm, sends the browser back signed and notifies signed', async () => {
    const total = bank.totalMinor()
    const aliceBefore = bank.account('alice')?.balance_minor ?? 0n
    const no = orderNo()
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url, 12_345n))
    assert.equal(created.ret_code, bankReturnCodes.success)
    assert.equal(created.order_no, no)
    assert.match(created.bank_order_id ?? '', /^ICBC\d{8}\d{10}$/)
    assert.equal(created.pay_url, `${bank.url}/pay/${created.bank_order_id}`)

    const page = await fetch(created.pay_url ?? '')
    const html = await page.text()
    assert.equal(page.status, 200)
    assert.match(html, /123\.45 CNY/)
    assert.match(html, /id="test-accounts"/)
    for (const username of ['alice', 'bob', 'carol']) assert.match(html, new RegExp(`<td>${username}</td>`))
    assert.doesNotMatch(html, /6222021000000000/, 'the page shows account numbers masked')

    const { confirm, loginHtml } = await payThroughPage(created.pay_url ?? '', 'alice', 'alice123')
    assert.match(loginHtml, /Alice Zhang/)
    assert.equal(confirm?.status, 303)
    const location = new URL(confirm?.headers.get('location') ?? '')
    assert.equal(`${location.origin}${location.pathname}`, 'https://kassa.example/return')
    assert.equal(location.searchParams.get('payment'), no, "the merchant's own parameter survives")
    const back = verifyBankReturn(location.search, key)
    assert.ok(back.ok, 'the return is signed')
    assert.equal(back.ok && back.report.status, 'PAID')
    assert.equal(back.ok && back.report.amount_minor, 12_345n)

    const [notification] = await receiver.waitFor(1).then(() => eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined)))
    assert.equal(notification?.headers['content-type'], 'application/x-www-form-urlencoded; charset=utf-8')
    const verified = verifyBankNotification(notification?.body ?? '', key)
    assert.ok(verified.ok, 'the notification is signed with the merchant key')
    assert.deepEqual(verified.ok && [verified.report.status, verified.report.order_no, verified.report.amount_minor, verified.report.currency, verified.report.bank_id], ['PAID', no, 12_345n, 'CNY', 'icbc-sim'])
    assert.match(verified.ok ? (verified.report.paid_at ?? '') : '', /^\d{14}$/)

    assert.equal(bank.account('alice')?.balance_minor, aliceBefore - 12_345n)
    assert.equal(bank.totalMinor(), total, 'money moved, none appeared')
    const queried = await bankCall(bank, '/gateway/orders/query', { order_no: no })
    assert.deepEqual([queried.ret_code, queried.status, queried.amount, queried.refunded_amount], ['0000', 'PAID', '12345', '0'])
    await bank.notificationsSettled()
    assert.equal(bank.notifications().find((delivery) => delivery.order_no === no)?.outcome, 'delivered')
  })

  it('accepts a JSON body signed the same way, amounts as JSON integers', async () => {
    const no = orderNo()
    const created = await bankCall(bank, '/gateway/orders', { ...newOrderParams(no, receiver.url), amount: 500 }, { json: true })
    assert.equal(created.ret_code, '0000')
    const signed = signBankRequest({ merchant_id: merchantId, order_no: no }, key)
    const response = await fetch(`${bank.url}/gateway/orders/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed) })
    const body = (await response.json()) as Record<string, unknown>
    assert.equal(body.amount, 500, 'amounts go out as JSON integers')
    assert.equal(body.status, 'WAITING')
  })

  it('refuses a bad signature, an unknown merchant, a bad field and an unsupported currency in its own format', async () => {
    const no = orderNo()
    const badSign = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url), { key: 'not-the-key' })
    assert.deepEqual(badSign, { ret_code: bankReturnCodes.signature_invalid, ret_msg: 'signature verification failed' })
    const tampered = signBankRequest({ merchant_id: merchantId, ...newOrderParams(no, receiver.url) }, key)
    const response = await postForm(`${bank.url}/gateway/orders`, { ...tampered, amount: '1' })
    assert.equal(((await response.json()) as { ret_code: string }).ret_code, '1001', 'changing a signed field breaks the signature')
    const unknown = await fetch(`${bank.url}/gateway/orders`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(signBankRequest({ merchant_id: '999', order_no: no }, key)) })
    assert.equal(((await unknown.json()) as { ret_code: string }).ret_code, bankReturnCodes.merchant_unknown)
    const missing = await bankCall(bank, '/gateway/orders', { ...newOrderParams(no, receiver.url), amount: undefined })
    assert.deepEqual([missing.ret_code, missing.ret_msg], ['1002', 'amount: is required'])
    assert.ok(missing.sign !== undefined, 'a refusal after the signature checked is signed')
    const float = await bankCall(bank, '/gateway/orders', { ...newOrderParams(no, receiver.url), amount: '12.50' })
    assert.equal(float.ret_code, '1002')
    const usd = await bankCall(bank, '/gateway/orders', { ...newOrderParams(no, receiver.url), currency: 'USD' })
    assert.equal(usd.ret_code, bankReturnCodes.currency_not_supported)
    const notCurrency = await bankCall(bank, '/gateway/orders', { ...newOrderParams(no, receiver.url), currency: 'XYZ' })
    assert.equal(notCurrency.ret_code, '1002')
    const bodyless = await fetch(`${bank.url}/gateway/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
    assert.equal(((await bodyless.json()) as { ret_code: string }).ret_code, '1002')
    assert.equal(bank.order(merchantId, no), undefined, 'nothing was created')
  })

  it('answers an identical creation the same and refuses the same order_no with another body', async () => {
    const no = orderNo()
    const first = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    const again = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    assert.deepEqual(again, first)
    const other = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url, 99n))
    assert.equal(other.ret_code, bankReturnCodes.order_no_reused)
    assert.equal(bank.orders().filter((order) => order.order_no === no).length, 1)
  })

  it('keeps the payer on the login page after a wrong password, and stops after five', async () => {
    const no = orderNo()
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    const loginUrl = `${created.pay_url ?? ''}/login`
    const wrong = await postForm(loginUrl, { username: 'alice', password: 'nope' })
    assert.equal(wrong.status, 401)
    assert.match(await wrong.text(), /Wrong username or password \(4 tries left\)/)
    for (let i = 0; i < 4; i++) await (await postForm(loginUrl, { username: 'nobody', password: 'x' })).text()
    const locked = await postForm(loginUrl, { username: 'alice', password: 'alice123' })
    assert.equal(locked.status, 429)
    await locked.text()
    assert.equal(bank.order(merchantId, no)?.status, 'waiting')
  })

  it('refuses a confirm without a valid session', async () => {
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(orderNo(), receiver.url))
    const response = await postForm(`${created.pay_url ?? ''}/confirm`, { session: 'forged' })
    assert.equal(response.status, 403)
    await response.text()
  })

  for (const [username, password, reason] of [
    ['bob', 'bob123', 'insufficient_balance'],
    ['carol', 'carol123', 'account_blocked'],
  ] as const) {
    it(`${username}: the payment fails (${reason}), the browser returns with FAILED and a FAILED notification follows`, async () => {
      const no = orderNo()
      const before = bank.account(username)?.balance_minor
      const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
      const { confirm } = await payThroughPage(created.pay_url ?? '', username, password)
      assert.equal(confirm?.status, 303)
      const back = verifyBankReturn(new URL(confirm?.headers.get('location') ?? '').search, key)
      assert.deepEqual(back.ok && [back.report.status, back.report.failure_reason], ['FAILED', reason])
      const notifications = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
      const verified = verifyBankNotification(notifications[0]?.body ?? '', key)
      assert.deepEqual(verified.ok && [verified.report.status, verified.report.failure_reason], ['FAILED', reason])
      assert.equal(bank.account(username)?.balance_minor, before)
      const page = await fetch(created.pay_url ?? '')
      assert.equal(page.status, 409, 'a failed order cannot be paid again')
      await page.text()
    })
  }

  it('refunds partially and repeatedly, idempotent by refund_no, never beyond the paid amount', async () => {
    const no = orderNo()
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url, 10_000n))
    const unpaid = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r0`, amount: 100n })
    assert.equal(unpaid.ret_code, bankReturnCodes.order_not_paid)
    assert.equal(bank.pay(created.bank_order_id ?? '', 'alice'), 'paid')
    const alice = bank.account('alice')?.balance_minor ?? 0n
    const merchant = bank.merchantBalance(merchantId)

    const first = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r1`, amount: 3_000n, currency: 'CNY', reason: 'one item back' })
    assert.deepEqual([first.ret_code, first.status, first.amount, first.refunded_total], ['0000', 'SUCCESS', '3000', '3000'])
    const repeat = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r1`, amount: 3_000n, currency: 'CNY', reason: 'one item back' })
    assert.deepEqual(repeat, first, 'the same refund_no and body answers the same refund')
    const changed = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r1`, amount: 2_000n })
    assert.equal(changed.ret_code, bankReturnCodes.refund_no_reused)
    const tooMuch = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r2`, amount: 7_001n })
    assert.deepEqual([tooMuch.ret_code, tooMuch.refundable_amount], [bankReturnCodes.refund_exceeds_paid, '7000'])
    const rest = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r3`, amount: 7_000n })
    assert.deepEqual([rest.ret_code, rest.refunded_total], ['0000', '10000'])
    const beyond = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r4`, amount: 1n })
    assert.equal(beyond.ret_code, bankReturnCodes.refund_exceeds_paid)

    assert.equal(bank.account('alice')?.balance_minor, alice + 10_000n)
    assert.equal(bank.merchantBalance(merchantId), merchant - 10_000n)
    const queried = await bankCall(bank, '/gateway/refunds/query', { refund_no: `${no}_r1` })
    assert.deepEqual([queried.ret_code, queried.bank_refund_id], ['0000', first.bank_refund_id])
    const order = await bankCall(bank, '/gateway/orders/query', { order_no: no })
    assert.deepEqual([order.status, order.refunded_amount], ['PAID', '10000'])
    const unknown = await bankCall(bank, '/gateway/refunds/query', { refund_no: 'nope' })
    assert.equal(unknown.ret_code, bankReturnCodes.refund_not_found)
  })

  it('closes an unpaid order (and notifies CLOSED); the page then refuses; a paid order cannot be closed', async () => {
    const no = orderNo()
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    const closed = await bankCall(bank, '/gateway/orders/close', { order_no: no })
    assert.deepEqual([closed.ret_code, closed.status], ['0000', 'CLOSED'])
    const again = await bankCall(bank, '/gateway/orders/close', { order_no: no })
    assert.deepEqual([again.ret_code, again.status], ['0000', 'CLOSED'], 'closing twice is fine')
    const page = await fetch(created.pay_url ?? '')
    assert.equal(page.status, 409)
    assert.match(await page.text(), /closed this order/)
    assert.equal(bank.pay(created.bank_order_id ?? '', 'alice'), 'not_payable')
    const notifications = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    const verified = verifyBankNotification(notifications[0]?.body ?? '', key)
    assert.equal(verified.ok && verified.report.status, 'CLOSED')

    const paidNo = orderNo()
    const paid = await bankCall(bank, '/gateway/orders', newOrderParams(paidNo, receiver.url))
    bank.pay(paid.bank_order_id ?? '', 'alice')
    const refused = await bankCall(bank, '/gateway/orders/close', { order_no: paidNo })
    assert.deepEqual([refused.ret_code, refused.status], [bankReturnCodes.order_paid, 'PAID'])
    const missing = await bankCall(bank, '/gateway/orders/close', { order_no: 'nope' })
    assert.equal(missing.ret_code, bankReturnCodes.order_not_found)
  })

  it('retries a notification with growing waits until the merchant answers success', async () => {
    const no = orderNo()
    receiver.answerWith((entry) => (entry.path === `/notify/${no}` && receivedFor(receiver.received, no).length < 3 ? { status: 200, body: 'fail' } : { status: 200, body: 'success' }))
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    bank.pay(created.bank_order_id ?? '', 'alice')
    await bank.notificationsSettled()
    const arrived = receivedFor(receiver.received, no)
    assert.equal(arrived.length, 3)
    assert.equal(new Set(arrived.map((entry) => entry.body)).size, 1, 'every attempt carries the same notification')
    const gaps = arrived.slice(1).map((entry, i) => entry.at_ms - (arrived[i]?.at_ms ?? 0))
    assert.ok((gaps[0] ?? 0) >= 15 && (gaps[1] ?? 0) >= 35, `backoff doubles: ${gaps.join(', ')} ms`)
    const delivery = bank.notifications().find((record) => record.order_no === no)
    assert.deepEqual([delivery?.outcome, delivery?.attempts.length], ['delivered', 3])
    receiver.answerWith(() => ({ status: 200, body: 'success' }))
  })

  it('gives up after attemptsMax attempts when the merchant never answers success', async () => {
    const no = orderNo()
    receiver.answerWith((entry) => (entry.path === `/notify/${no}` ? { status: 500, body: 'oops' } : { status: 200, body: 'success' }))
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    bank.pay(created.bank_order_id ?? '', 'alice')
    await bank.notificationsSettled()
    assert.equal(receivedFor(receiver.received, no).length, 5)
    assert.equal(bank.notifications().find((record) => record.order_no === no)?.outcome, 'gave_up')
    receiver.answerWith(() => ({ status: 200, body: 'success' }))
  })

  it('answers 404 pages and bank-format 404s for what does not exist', async () => {
    const page = await fetch(`${bank.url}/pay/ICBC000`)
    assert.equal(page.status, 404)
    assert.match(await page.text(), /Unknown order/)
    const api = await fetch(`${bank.url}/gateway/nothing`, { method: 'POST' })
    assert.equal(api.status, 404)
    assert.equal(((await api.json()) as { ret_code: string }).ret_code, '1002')
    const sms = await fetch(`${bank.url}/test/sms/13800000001`)
    assert.equal(sms.status, 404, 'test endpoints are off unless asked for')
    await sms.text()
  })
})

describe('bank simulator: time and several banks', () => {
  it('closes an unpaid order once its time has run out, and notifies CLOSED', async () => {
    const clock = new SimulatedClock()
    const receiver = await startReceiver()
    const bank = await startBankSimulator({ clock, orderTtlMs: 60_000, notifications: { backoffMs: 10 } })
    try {
      const no = orderNo()
      const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
      clock.advance(60_000)
      const page = await fetch(created.pay_url ?? '')
      assert.equal(page.status, 409)
      assert.match(await page.text(), /expired/)
      const queried = await bankCall(bank, '/gateway/orders/query', { order_no: no })
      assert.equal(queried.status, 'CLOSED')
      const [notification] = await receiver.waitFor(1)
      const verified = verifyBankNotification(notification?.body ?? '', bank.merchants[0]?.key ?? '')
      assert.deepEqual(verified.ok && [verified.report.status, verified.report.notify_time], ['CLOSED', '20260101080100'])
    } finally {
      await bank.close()
      await receiver.close()
    }
  })

  it('runs each bank as its own server with its own merchant keys and account numbers', async () => {
    const icbc = await startBankSimulator({ bank: 'icbc-sim' })
    const cmb = await startBankSimulator({ bank: 'cmb-sim' })
    try {
      assert.notEqual(icbc.url, cmb.url)
      const icbcMerchant = icbc.merchants[0]
      assert.ok(icbcMerchant !== undefined)
      const response = await postForm(`${cmb.url}/gateway/orders/query`, signBankRequest({ merchant_id: icbcMerchant.merchant_id, order_no: 'x' }, icbcMerchant.key))
      assert.equal(((await response.json()) as { ret_code: string }).ret_code, bankReturnCodes.merchant_unknown)
      assert.match(cmb.account('alice')?.account_no_masked ?? '', /^622588/)
      const created = await bankCall(cmb, '/gateway/orders', newOrderParams(orderNo(), 'http://127.0.0.1:9'))
      assert.match(created.bank_order_id ?? '', /^CMB/)
    } finally {
      await icbc.close()
      await cmb.close()
    }
  })
})
