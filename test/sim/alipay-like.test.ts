import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { alipayLikeTimestamp, encodeForm, signAlipayLikeRequest, startWalletSimulator, verifyAlipayLikeNotification, verifyAlipayLikeReturn, type WalletSimulator } from '../../sim/wallet/index.js'
import { orderNo, receivedFor } from './bank-client.js'
import { eventually, postForm, sleep, startReceiver, type Receiver } from './helpers.js'
import { alipayCall, alipayPost, payThroughWalletPage } from './wallet-client.js'

describe('wallet simulator: alipay-like over HTTP', () => {
  let wallet: WalletSimulator
  let receiver: Receiver
  let key: string
  let appId: string
  before(async () => {
    receiver = await startReceiver()
    wallet = await startWalletSimulator({ provider: 'alipay-like', seed: 4, notifications: { backoffMs: 20, attemptsMax: 4 } })
    key = wallet.merchants[0]?.key ?? ''
    appId = wallet.merchants[0]?.merchant_id ?? ''
  })
  after(async () => {
    await wallet.close()
    await receiver.close()
  })

  const precreate = (no: string, amount = 8_888, extra: Record<string, string | number> = {}): ReturnType<typeof alipayCall> =>
    alipayCall(wallet, 'alipay.trade.precreate', { out_trade_no: no, total_amount: amount, currency: 'CNY', subject: `Order ${no}`, ...extra }, { notify_url: `${receiver.url}/notify/${no}`, return_url: `https://kassa.example/back?payment=${no}` })

  const notificationsOf = (no: string): Promise<ReturnType<typeof receivedFor>> => eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))

  it('precreates a trade, the shopper scans and pays on the wallet page, returns signed, and the wallet notifies signed', async () => {
    const total = wallet.totalMinor()
    const no = orderNo('ali')
    const created = await precreate(no)
    assert.equal(created.signed, true)
    assert.equal(created.response.code, '10000')
    const tradeNo = created.response.trade_no ?? ''
    assert.equal(created.response.qr_code, `${wallet.url}/qr/${tradeNo}`)
    assert.equal(created.response.redirect_url, `${wallet.url}/pay/${tradeNo}`)

    const { confirm, loginHtml } = await payThroughWalletPage(created.response.qr_code ?? '', 'wang', 'wang123')
    assert.match(loginHtml, /Wang Fang/)
    assert.equal(confirm?.status, 303)
    const back = new URL(confirm?.headers.get('location') ?? '')
    assert.equal(back.searchParams.get('payment'), no)
    const returned = verifyAlipayLikeReturn(back.search, key)
    assert.ok(returned.ok)
    assert.deepEqual(returned.ok && [returned.report.trade_status, returned.report.total_amount_minor, returned.report.out_trade_no], ['TRADE_SUCCESS', 8_888n, no])

    const [notification] = await notificationsOf(no)
    const verified = verifyAlipayLikeNotification(notification?.body ?? '', key)
    assert.ok(verified.ok, 'the notification verifies with the app key')
    assert.deepEqual(verified.ok && [verified.report.trade_status, verified.report.total_amount_minor, verified.report.notify_type, verified.report.buyer_id], ['TRADE_SUCCESS', 8_888n, 'trade_status_sync', '2088000000000001'])

    const queried = await alipayCall(wallet, 'alipay.trade.query', { out_trade_no: no })
    assert.deepEqual([queried.response.code, queried.response.trade_status, queried.response.total_amount, queried.response.buyer_logon_id], ['10000', 'TRADE_SUCCESS', '8888', '139****0001'])
    const byTradeNo = await alipayCall(wallet, 'alipay.trade.query', { trade_no: tradeNo })
    assert.equal(byTradeNo.response.out_trade_no, no)
    assert.equal(wallet.user('wang')?.balance_minor, 50_000_000n - 8_888n)
    assert.equal(wallet.merchantBalance(appId) >= 8_888n, true)
    assert.equal(wallet.totalMinor(), total)
  })

  it('refuses bad signatures and bad requests in its own format, unsigned when it cannot tie them to a key', async () => {
    const no = orderNo('ali')
    const badKey = await alipayCall(wallet, 'alipay.trade.precreate', { out_trade_no: no, total_amount: 100, subject: 'x' }, { key: 'wrong' })
    assert.deepEqual([badKey.signed, badKey.response.code, badKey.response.sub_code], [false, '40002', 'isv.invalid-signature'])
    const unknownApp = await alipayCall(wallet, 'alipay.trade.query', { out_trade_no: no }, { app_id: '2026999999999999' })
    assert.deepEqual([unknownApp.signed, unknownApp.response.sub_code], [false, 'isv.invalid-app-id'])

    const fields = signAlipayLikeRequest({ app_id: appId, method: 'alipay.trade.precreate', biz_content: { out_trade_no: no, total_amount: 100, subject: 'x' }, timestamp: alipayLikeTimestamp(Date.now()) }, key)
    const tampered = await alipayPost(wallet, 'alipay.trade.precreate', encodeForm({ ...fields, biz_content: JSON.stringify({ out_trade_no: no, total_amount: 1, subject: 'x' }) }))
    assert.deepEqual([tampered.signed, tampered.response.sub_code], [false, 'isv.invalid-signature'])
    const md5 = await alipayPost(wallet, 'alipay.trade.precreate', encodeForm({ ...fields, sign_type: 'RSA2' }))
    assert.equal(md5.response.sub_code, 'isv.invalid-signature-type')
    const unsignedAnswer = await alipayPost(wallet, 'alipay.trade.precreate', encodeForm({ ...fields, sign: '' }))
    assert.deepEqual([unsignedAnswer.response.code, unsignedAnswer.response.sub_code], ['40001', 'isv.missing-signature'])
    const unknownMethod = await fetch(`${wallet.url}/gateway.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm({ ...fields, method: 'alipay.trade.pay.everything' }) })
    const unknownJson = (await unknownMethod.json()) as { error_response?: { sub_code?: string } }
    assert.equal(unknownJson.error_response?.sub_code, 'isv.invalid-method')
    const json = await alipayPost(wallet, 'alipay.trade.precreate', JSON.stringify(fields), 'application/json')
    assert.equal(json.response.code, '40002')

    const fraction = await precreate(no, 0, { total_amount: '88.88' })
    assert.deepEqual([fraction.signed, fraction.response.sub_code], [true, 'isv.invalid-parameter'], 'decimal amounts are refused, signed')
    const usd = await precreate(no, 100, { currency: 'USD' })
    assert.equal(usd.response.sub_code, 'ACQ.CURRENCY_NOT_SUPPORT')
    assert.equal(wallet.order(appId, no), undefined)
  })

  it('answers an identical precreate the same; another body under the same out_trade_no is ACQ.CONTEXT_INCONSISTENT', async () => {
    const no = orderNo('ali')
    const first = await precreate(no)
    const again = await precreate(no)
    assert.deepEqual(again, first)
    const other = await precreate(no, 9_999)
    assert.deepEqual([other.response.code, other.response.sub_code], ['40004', 'ACQ.CONTEXT_INCONSISTENT'])
  })

  it('refunds partially and repeatedly, idempotent by out_request_no, never beyond paid; fully refunded reads TRADE_CLOSED', async () => {
    const no = orderNo('ali')
    const created = await precreate(no, 1_000)
    const unpaid = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 100, out_request_no: 'r0' })
    assert.equal(unpaid.response.sub_code, 'ACQ.TRADE_STATUS_ERROR')
    assert.equal(wallet.pay(created.response.trade_no ?? '', 'wang'), 'paid')
    const before = wallet.user('wang')?.balance_minor ?? 0n

    const first = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 300, out_request_no: 'r1', refund_reason: 'size' })
    assert.deepEqual([first.response.code, first.response.refund_fee, first.response.fund_change], ['10000', '300', 'Y'])
    const repeat = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 300, out_request_no: 'r1', refund_reason: 'size' })
    assert.deepEqual([repeat.response.code, repeat.response.refund_fee, repeat.response.fund_change], ['10000', '300', 'N'], 'a repeat moves no money')
    const changed = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 200, out_request_no: 'r1' })
    assert.equal(changed.response.sub_code, 'ACQ.CONTEXT_INCONSISTENT')
    const tooMuch = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 701, out_request_no: 'r2' })
    assert.equal(tooMuch.response.sub_code, 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL')
    const rest = await alipayCall(wallet, 'alipay.trade.refund', { out_trade_no: no, refund_amount: 700, out_request_no: 'r3' })
    assert.equal(rest.response.refund_fee, '1000')
    assert.equal(wallet.user('wang')?.balance_minor, before + 1_000n)

    const queried = await alipayCall(wallet, 'alipay.trade.query', { out_trade_no: no })
    assert.deepEqual([queried.response.trade_status, queried.response.refund_amount_total], ['TRADE_CLOSED', '1000'])
    const refund = await alipayCall(wallet, 'alipay.trade.fastpay.refund.query', { out_trade_no: no, out_request_no: 'r1' })
    assert.deepEqual([refund.response.refund_status, refund.response.refund_amount], ['REFUND_SUCCESS', '300'])
    const noRefund = await alipayCall(wallet, 'alipay.trade.fastpay.refund.query', { out_trade_no: no, out_request_no: 'r9' })
    assert.deepEqual([noRefund.response.code, noRefund.response.refund_status], ['10000', undefined], 'an unknown refund is a success without refund fields')
  })

  it('closes an unpaid trade (notifying TRADE_CLOSED); the page then refuses; a paid trade cannot be closed', async () => {
    const no = orderNo('ali')
    const created = await precreate(no)
    const closed = await alipayCall(wallet, 'alipay.trade.close', { out_trade_no: no })
    assert.equal(closed.response.code, '10000')
    const page = await fetch(created.response.redirect_url ?? '')
    assert.equal(page.status, 409)
    await page.text()
    const [notification] = await notificationsOf(no)
    const verified = verifyAlipayLikeNotification(notification?.body ?? '', key)
    assert.equal(verified.ok && verified.report.trade_status, 'TRADE_CLOSED')

    const paidNo = orderNo('ali')
    const paid = await precreate(paidNo)
    wallet.pay(paid.response.trade_no ?? '', 'wang')
    const refused = await alipayCall(wallet, 'alipay.trade.close', { out_trade_no: paidNo })
    assert.equal(refused.response.sub_code, 'ACQ.TRADE_STATUS_ERROR')
    const unknown = await alipayCall(wallet, 'alipay.trade.close', { out_trade_no: 'nope' })
    assert.equal(unknown.response.sub_code, 'ACQ.TRADE_NOT_EXIST')
  })

  it('lets a poor user retry (the trade stays open) and refuses a frozen wallet', async () => {
    const no = orderNo('ali')
    const created = await precreate(no, 600)
    const poor = await payThroughWalletPage(created.response.qr_code ?? '', 'li', 'li123')
    assert.equal(poor.confirm?.status, 402)
    assert.match(await poor.confirm?.text() ?? '', /balance is too low/)
    const frozen = await payThroughWalletPage(created.response.qr_code ?? '', 'zhao', 'zhao123')
    assert.equal(frozen.confirm?.status, 403)
    await frozen.confirm?.text()
    assert.equal((await alipayCall(wallet, 'alipay.trade.query', { out_trade_no: no })).response.trade_status, 'WAIT_BUYER_PAY')
    const rich = await payThroughWalletPage(created.response.qr_code ?? '', 'wang', 'wang123')
    assert.equal(rich.confirm?.status, 303)
    const wrong = await postForm(`${created.response.redirect_url ?? ''}/login`, { username: 'wang', password: 'x' })
    assert.equal(wrong.status, 409, 'a paid trade shows no login any more')
    await wrong.text()
  })

  it('retries the notification until the merchant answers success', async () => {
    const no = orderNo('ali')
    receiver.answerWith((entry) => (entry.path === `/notify/${no}` && receivedFor(receiver.received, no).length < 2 ? { status: 200, body: 'failure' } : { status: 200, body: 'success' }))
    const created = await precreate(no)
    wallet.pay(created.response.trade_no ?? '', 'wang')
    await wallet.notificationsSettled()
    assert.equal(receivedFor(receiver.received, no).length, 2)
    assert.equal(wallet.notifications().find((record) => record.order_no === no)?.outcome, 'delivered')
    receiver.answerWith(() => ({ status: 200, body: 'success' }))
  })

  it('applies the fault knobs: forged, duplicated and dropped notifications, a hanging query, a 503', async () => {
    const forgedNo = orderNo('ali')
    wallet.setFaults([{ action: 'notify_forge', order_no: forgedNo, forgery: 'wrong_amount' }])
    receiver.answerWith((entry) => {
      const verified = verifyAlipayLikeNotification(entry.body, key)
      return { status: 200, body: verified.ok && verified.report.total_amount_minor === 8_888n ? 'success' : 'fail' }
    })
    wallet.pay((await precreate(forgedNo)).response.trade_no ?? '', 'wang')
    await wallet.notificationsSettled()
    const records = wallet.notifications().filter((record) => record.order_no === forgedNo)
    assert.deepEqual(records.map((record) => [record.forged ?? 'genuine', record.outcome]), [['wrong_amount', 'forgery_refused'], ['genuine', 'delivered']])
    receiver.answerWith(() => ({ status: 200, body: 'success' }))

    const badNo = orderNo('ali')
    wallet.setFaults([{ action: 'notify_forge', order_no: badNo, forgery: 'bad_signature' }])
    wallet.pay((await precreate(badNo)).response.trade_no ?? '', 'wang')
    await wallet.notificationsSettled()
    const badBody = wallet.notifications().find((record) => record.order_no === badNo && record.forged !== undefined)?.body ?? ''
    const badVerified = verifyAlipayLikeNotification(badBody, key)
    assert.equal(badVerified.ok ? 'ok' : badVerified.reason, 'signature_invalid')

    const unknownNo = orderNo('ali')
    wallet.setFaults([{ action: 'notify_forge', order_no: unknownNo, forgery: 'unknown_order' }])
    wallet.pay((await precreate(unknownNo)).response.trade_no ?? '', 'wang')
    await wallet.notificationsSettled()
    const unknownBody = wallet.notifications().find((record) => record.order_no === unknownNo && record.forged !== undefined)?.body ?? ''
    const unknownVerified = verifyAlipayLikeNotification(unknownBody, key)
    assert.match(unknownVerified.ok ? unknownVerified.report.out_trade_no : '', /^FORGED/)

    const duplicateNo = orderNo('ali')
    const droppedNo = orderNo('ali')
    wallet.setFaults([
      { action: 'notify_duplicate', order_no: duplicateNo },
      { action: 'notify_drop', order_no: droppedNo },
    ])
    wallet.pay((await precreate(duplicateNo)).response.trade_no ?? '', 'wang')
    wallet.pay((await precreate(droppedNo)).response.trade_no ?? '', 'wang')
    await wallet.notificationsSettled()
    await sleep(30)
    assert.equal(receivedFor(receiver.received, duplicateNo).length, 2)
    assert.equal(receivedFor(receiver.received, droppedNo).length, 0)

    wallet.setFaults([{ action: 'query_hang', order_no: droppedNo, delayMs: 600, timesMax: 1 }])
    const fields = signAlipayLikeRequest({ app_id: appId, method: 'alipay.trade.query', biz_content: { out_trade_no: droppedNo }, timestamp: alipayLikeTimestamp(Date.now()) }, key)
    await assert.rejects(fetch(`${wallet.url}/gateway.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(fields), signal: AbortSignal.timeout(150) }), /TimeoutError|aborted/)
    assert.equal((await alipayCall(wallet, 'alipay.trade.query', { out_trade_no: droppedNo })).response.trade_status, 'TRADE_SUCCESS')

    wallet.setFaults([{ action: 'server_error', operation: 'create', httpStatus: 503, timesMax: 1 }])
    const failedNo = orderNo('ali')
    const failed = await fetch(`${wallet.url}/gateway.do`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm(signAlipayLikeRequest({ app_id: appId, method: 'alipay.trade.precreate', biz_content: { out_trade_no: failedNo, total_amount: 100, subject: 'x' }, timestamp: alipayLikeTimestamp(Date.now()) }, key)),
    })
    assert.equal(failed.status, 503)
    assert.match(await failed.text(), /503 Service Unavailable/)
    assert.equal(wallet.order(appId, failedNo), undefined)
    wallet.setFaults([])
  })
})
