import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { generateWechatLikeMerchantKeys, randomNonce, signWechatLikeRequest, startWalletSimulator, verifyWechatLikeNotification, wechatLikeSerialNo, type WalletSimulator } from '../../sim/wallet/index.js'
import { orderNo, receivedFor } from './bank-client.js'
import { eventually, startReceiver, type Receiver } from './helpers.js'
import { demoSigner, payThroughWalletPage, wechatCall } from './wallet-client.js'

describe('wallet simulator: wechat-like over HTTP', () => {
  let wallet: WalletSimulator
  let receiver: Receiver
  let mchid: string
  let appid: string
  before(async () => {
    receiver = await startReceiver()
    wallet = await startWalletSimulator({ provider: 'wechat-like', seed: 8, notifications: { backoffMs: 20, attemptsMax: 4 } })
    mchid = wallet.demoMerchant?.merchant_id ?? ''
    appid = wallet.demoMerchant?.app_id ?? ''
  })
  after(async () => {
    await wallet.close()
    await receiver.close()
  })

  const orderBody = (no: string, total = 6_600, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    appid,
    mchid,
    description: `Order ${no}`,
    out_trade_no: no,
    notify_url: `${receiver.url}/notify/${no}`,
    return_url: `https://kassa.example/back?payment=${no}`,
    amount: { total, currency: 'CNY' },
    ...extra,
  })
  const create = (no: string, total?: number): ReturnType<typeof wechatCall> => wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no, total))
  const query = (no: string): ReturnType<typeof wechatCall> => wechatCall(wallet, 'GET', `/v3/pay/transactions/out-trade-no/${no}?mchid=${mchid}`, undefined)
  const refund = (no: string, outRefundNo: string, amount: number, total = 6_600): ReturnType<typeof wechatCall> =>
    wechatCall(wallet, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: no, out_refund_no: outRefundNo, reason: 'returned', amount: { refund: amount, total, currency: 'CNY' } })
  const verify = (entry: { headers: Record<string, unknown>; body: string }): ReturnType<typeof verifyWechatLikeNotification> =>
    verifyWechatLikeNotification({ headers: entry.headers as Record<string, string>, body: entry.body, wallet_public_key_pem: wallet.walletPublicKeyPem ?? '', now_ms: Date.now() })

  it('creates an order with an RSA-signed request; the wallet signs its answer; the payer pays on the page; the notification verifies', async () => {
    const total = wallet.totalMinor()
    const no = orderNo('wx')
    const created = await create(no)
    assert.equal(created.status, 200)
    assert.equal(created.verified, true, 'the answer is signed with the wallet key')
    assert.equal(created.headers.get('wechatlike-serial'), wallet.walletSerialNo)
    const qr = String(created.json?.qr_code)
    assert.match(qr, new RegExp(`^${wallet.url}/qr/4200`))

    const { confirm } = await payThroughWalletPage(qr, 'wang', 'wang123')
    assert.equal(confirm?.status, 303)
    assert.equal(confirm?.headers.get('location'), `https://kassa.example/back?payment=${no}`, 'the browser goes back with nothing signed: the merchant queries')

    const [notification] = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    assert.ok(notification !== undefined)
    const verified = verify(notification)
    assert.ok(verified.ok, 'the notification verifies with the wallet public key')
    assert.deepEqual(verified.ok && [verified.notification.event_type, verified.notification.transaction.trade_state, verified.notification.transaction.amount_total_minor, verified.notification.transaction.out_trade_no, verified.notification.transaction.payer_openid], [
      'TRANSACTION.SUCCESS',
      'SUCCESS',
      6_600n,
      no,
      'oWxl0000000000000000000001',
    ])

    const queried = await query(no)
    assert.deepEqual([queried.status, queried.verified, queried.json?.trade_state], [200, true, 'SUCCESS'])
    const byId = await wechatCall(wallet, 'GET', `/v3/pay/transactions/id/${String(queried.json?.transaction_id)}?mchid=${mchid}`, undefined)
    assert.equal(byId.json?.out_trade_no, no)
    assert.equal(wallet.user('wang')?.balance_minor, 50_000_000n - 6_600n)
    assert.equal(wallet.totalMinor(), total)
  })

  it('refuses unsigned, wrongly signed, tampered, stale and replayed requests with 401 SIGN_ERROR (signed by the wallet)', async () => {
    const no = orderNo('wx')
    const unsigned = await fetch(`${wallet.url}/v3/pay/transactions/native`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderBody(no)) })
    assert.equal(unsigned.status, 401)
    assert.equal(((await unsigned.json()) as { code: string }).code, 'SIGN_ERROR')

    const stranger = await generateWechatLikeMerchantKeys()
    const otherKey = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no), { signer: { ...demoSigner(wallet), private_key_pem: stranger.private_key_pem } })
    assert.deepEqual([otherKey.status, otherKey.json?.code, otherKey.verified], [401, 'SIGN_ERROR', true])
    const wrongSerial = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no), { signer: { ...demoSigner(wallet), serial_no: stranger.serial_no } })
    assert.deepEqual([wrongSerial.status, wrongSerial.json?.code], [401, 'SIGN_ERROR'])
    const tampered = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no), { tamper: (body) => body.replace('"total":6600', '"total":1') })
    assert.deepEqual([tampered.status, tampered.json?.code], [401, 'SIGN_ERROR'])
    const stale = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no), { timestamp: String(Math.floor(Date.now() / 1000) - 301) })
    assert.deepEqual([stale.status, stale.json?.message], [401, 'timestamp out of the allowed window'])
    const unknownMerchant = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no), { signer: { ...demoSigner(wallet), mchid: '1999999999' } })
    assert.deepEqual([unknownMerchant.status, unknownMerchant.json?.code], [400, 'MCH_NOT_EXISTS'])
    assert.equal(wallet.order(mchid, no), undefined, 'nothing was created')

    const nonce = randomNonce()
    const first = await wechatCall(wallet, 'GET', `/v3/pay/transactions/out-trade-no/${no}?mchid=${mchid}`, undefined, { nonce })
    assert.equal(first.status, 404)
    const replayed = await wechatCall(wallet, 'GET', `/v3/pay/transactions/out-trade-no/${no}?mchid=${mchid}`, undefined, { nonce })
    assert.deepEqual([replayed.status, replayed.json?.message], [401, 'nonce_str already used'])
  })

  it('checks the order fields: appid, amounts as integers, currency', async () => {
    const no = orderNo('wx')
    const wrongApp = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no, 100, { appid: 'wxl-other' }))
    assert.deepEqual([wrongApp.status, wrongApp.json?.code], [400, 'APPID_MCHID_NOT_MATCH'])
    const fraction = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no, 1.5))
    assert.deepEqual([fraction.status, fraction.json?.code, (fraction.json?.detail as { field?: string } | undefined)?.field], [400, 'PARAM_ERROR', 'amount'])
    const usd = await wechatCall(wallet, 'POST', '/v3/pay/transactions/native', orderBody(no, 100, { amount: { total: 100, currency: 'USD' } }))
    assert.deepEqual([usd.status, usd.json?.code], [400, 'PARAM_ERROR'])
  })

  it('answers an identical creation the same; another body under the same out_trade_no is 403 OUT_TRADE_NO_USED', async () => {
    const no = orderNo('wx')
    const first = await create(no)
    const again = await create(no)
    assert.deepEqual(again.json, first.json)
    const other = await create(no, 7_000)
    assert.deepEqual([other.status, other.json?.code], [403, 'OUT_TRADE_NO_USED'])
  })

  it('refunds partially and repeatedly, idempotent by out_refund_no, never beyond paid', async () => {
    const no = orderNo('wx')
    const created = await create(no)
    const unpaid = await refund(no, `${no}-r0`, 100)
    assert.deepEqual([unpaid.status, unpaid.json?.code], [403, 'TRADE_STATE_ERROR'])
    wallet.pay(String(created.json?.qr_code).split('/qr/')[1] ?? '', 'wang')
    const first = await refund(no, `${no}-r1`, 1_600)
    assert.deepEqual([first.status, first.verified, first.json?.status, (first.json?.amount as { refunded_total: number }).refunded_total], [200, true, 'SUCCESS', 1_600])
    const repeat = await refund(no, `${no}-r1`, 1_600)
    assert.deepEqual(repeat.json, first.json)
    const changed = await refund(no, `${no}-r1`, 1_500)
    assert.deepEqual([changed.status, changed.json?.code], [403, 'OUT_REFUND_NO_USED'])
    const wrongTotal = await refund(no, `${no}-r2`, 100, 6_599)
    assert.deepEqual([wrongTotal.status, wrongTotal.json?.code], [400, 'PARAM_ERROR'])
    const tooMuch = await refund(no, `${no}-r3`, 5_001)
    assert.deepEqual([tooMuch.status, tooMuch.json?.code], [403, 'REFUND_AMOUNT_EXCEEDED'])
    const rest = await refund(no, `${no}-r4`, 5_000)
    assert.equal((rest.json?.amount as { refunded_total: number }).refunded_total, 6_600)
    assert.equal((await query(no)).json?.trade_state, 'REFUND')
    const found = await wechatCall(wallet, 'GET', `/v3/refund/domestic/refunds/${no}-r1`, undefined)
    assert.deepEqual([found.status, found.json?.refund_id], [200, first.json?.refund_id])
    const missing = await wechatCall(wallet, 'GET', `/v3/refund/domestic/refunds/${no}-r9`, undefined)
    assert.deepEqual([missing.status, missing.json?.code], [404, 'RESOURCE_NOT_EXISTS'])
  })

  it('closes an unpaid order with 204 (and a TRANSACTION.CLOSED notification); a paid one is 400 ORDER_PAID', async () => {
    const no = orderNo('wx')
    await create(no)
    const closed = await wechatCall(wallet, 'POST', `/v3/pay/transactions/out-trade-no/${no}/close`, { mchid })
    assert.deepEqual([closed.status, closed.body, closed.verified], [204, '', true])
    assert.equal((await query(no)).json?.trade_state, 'CLOSED')
    const [notification] = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    const verified = verify(notification ?? { headers: {}, body: '' })
    assert.equal(verified.ok && verified.notification.event_type, 'TRANSACTION.CLOSED')

    const paidNo = orderNo('wx')
    const paid = await create(paidNo)
    wallet.pay(String(paid.json?.qr_code).split('/qr/')[1] ?? '', 'wang')
    const refused = await wechatCall(wallet, 'POST', `/v3/pay/transactions/out-trade-no/${paidNo}/close`, { mchid })
    assert.deepEqual([refused.status, refused.json?.code], [400, 'ORDER_PAID'])
  })

  it('serves its public key from /v3/certificates', async () => {
    const answer = await wechatCall(wallet, 'GET', '/v3/certificates', undefined)
    const [certificate] = (answer.json?.data ?? []) as { serial_no: string; public_key_pem: string }[]
    assert.equal(certificate?.public_key_pem, wallet.walletPublicKeyPem)
    assert.equal(certificate?.serial_no, wechatLikeSerialNo(wallet.walletPublicKeyPem ?? ''))
  })

  it('counts HTTP 200 and 204 as acknowledged, retries anything else', async () => {
    const no = orderNo('wx')
    receiver.answerWith((entry) => (entry.path === `/notify/${no}` ? (receivedFor(receiver.received, no).length < 3 ? { status: 500, body: '{"code":"FAIL"}' } : { status: 204, body: '' }) : { status: 200, body: '' }))
    const created = await create(no)
    wallet.pay(String(created.json?.qr_code).split('/qr/')[1] ?? '', 'wang')
    await wallet.notificationsSettled()
    assert.equal(receivedFor(receiver.received, no).length, 3)
    assert.equal(wallet.notifications().find((record) => record.order_no === no)?.outcome, 'delivered')
    receiver.answerWith(() => ({ status: 200, body: 'success' }))
  })

  for (const forgery of ['bad_signature', 'wrong_amount', 'unknown_order'] as const) {
    it(`notify_forge ${forgery}: sent once before the genuine one, caught by the verifier`, async () => {
      const no = orderNo('wx')
      wallet.setFaults([{ action: 'notify_forge', order_no: no, forgery }])
      receiver.answerWith((entry) => {
        const verified = verify(entry)
        const genuine = verified.ok && verified.notification.transaction.out_trade_no === no && verified.notification.transaction.amount_total_minor === 6_600n
        return genuine ? { status: 204, body: '' } : { status: 400, body: '{"code":"FAIL","message":"rejected"}' }
      })
      const created = await create(no)
      wallet.pay(String(created.json?.qr_code).split('/qr/')[1] ?? '', 'wang')
      await wallet.notificationsSettled()
      receiver.answerWith(() => ({ status: 200, body: '' }))
      wallet.setFaults([])
      const records = wallet.notifications().filter((record) => record.order_no === no)
      assert.deepEqual(records.map((record) => [record.forged ?? 'genuine', record.outcome]), [[forgery, 'forgery_refused'], ['genuine', 'delivered']])
      const forged = verifyWechatLikeNotification({ headers: records[0]?.headers ?? {}, body: records[0]?.body ?? '', wallet_public_key_pem: wallet.walletPublicKeyPem ?? '', now_ms: Date.now() })
      if (forgery === 'bad_signature') assert.equal(forged.ok ? 'ok' : forged.reason, 'signature_invalid')
      if (forgery === 'wrong_amount') assert.equal(forged.ok && forged.notification.transaction.amount_total_minor, 6_601n)
      if (forgery === 'unknown_order') assert.match(forged.ok ? forged.notification.transaction.out_trade_no : '', /^FORGED/)
    })
  }

  it('query_hang and server_error', async () => {
    const no = orderNo('wx')
    await create(no)
    wallet.setFaults([{ action: 'query_hang', order_no: no, delayMs: 600, timesMax: 1 }])
    const url = `/v3/pay/transactions/out-trade-no/${no}?mchid=${mchid}`
    const authorization = signWechatLikeRequest(demoSigner(wallet), { method: 'GET', url, body: '', timestamp: String(Math.floor(Date.now() / 1000)), nonce: randomNonce() })
    await assert.rejects(fetch(`${wallet.url}${url}`, { headers: { authorization }, signal: AbortSignal.timeout(150) }), /TimeoutError|aborted/)
    assert.equal((await query(no)).json?.trade_state, 'NOTPAY')

    wallet.setFaults([{ action: 'server_error', operation: 'close', afterProcessing: true, timesMax: 1 }])
    const lost = await fetch(`${wallet.url}/v3/pay/transactions/out-trade-no/${no}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: signWechatLikeRequest(demoSigner(wallet), { method: 'POST', url: `/v3/pay/transactions/out-trade-no/${no}/close`, body: JSON.stringify({ mchid }), timestamp: String(Math.floor(Date.now() / 1000)), nonce: randomNonce() }) },
      body: JSON.stringify({ mchid }),
    })
    assert.equal(lost.status, 502)
    assert.equal(lost.headers.get('wechatlike-signature'), null, 'the proxy does not sign')
    await lost.text()
    assert.equal((await query(no)).json?.trade_state, 'CLOSED', 'the close went through before its answer was lost')
    wallet.setFaults([])
  })
})

describe('wallet simulator: wechat-like with given keys and a simulated clock', () => {
  it('verifies requests against the registered merchant key and dates signatures with the injected clock', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 5, 1))
    const merchantKeys = await generateWechatLikeMerchantKeys()
    const wallet = await startWalletSimulator({ provider: 'wechat-like', clock, merchants: [{ merchant_id: '1900000099', app_id: 'wxl-app-99', public_key_pem: merchantKeys.public_key_pem }] })
    try {
      assert.equal(wallet.demoMerchant, undefined)
      const signer = { mchid: '1900000099', serial_no: merchantKeys.serial_no, private_key_pem: merchantKeys.private_key_pem }
      const url = '/v3/pay/transactions/out-trade-no/none?mchid=1900000099'
      const nowSeconds = String(Math.floor(clock.now() / 1000))
      const response = await wechatCall(wallet, 'GET', url, undefined, { signer, timestamp: nowSeconds })
      assert.equal(response.status, 404, 'the signature dated by the simulated clock passes')
      assert.equal(response.headers.get('wechatlike-timestamp'), nowSeconds)
      const realTime = await wechatCall(wallet, 'GET', url, undefined, { signer })
      assert.equal(realTime.status, 401, 'a timestamp from another clock is out of the window')
    } finally {
      await wallet.close()
    }
  })
})
