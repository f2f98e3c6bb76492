import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { canonicalString, encodeForm, hmacSha256 } from '../common/canonical.js'
import {
  alipayLikeCanonicalString,
  alipayLikeSignature,
  alipayLikeTimestamp,
  generateWechatLikeMerchantKeys,
  parseWechatLikeAuthorization,
  rsaSha256Sign,
  rsaSha256Verify,
  signAlipayLikeRequest,
  signWechatLikeRequest,
  verifyAlipayLikeAnswer,
  verifyAlipayLikeNotification,
  verifyWechatLikeNotification,
  verifyWechatLikeSignature,
  wechatLikeRequestMessage,
  wechatLikeResponseMessage,
  wechatLikeSerialNo,
  type WechatLikeKeys,
} from './protocol.js'

const key = 'alipay-like-demo-key-3c9e1f7a'

describe('alipay-like protocol', () => {
  it('signs byte-exactly: sorted parameters incl. sign_type, biz_content as sent, base64 HMAC-SHA256', () => {
    const fields = signAlipayLikeRequest({ app_id: '2026000000000001', method: 'alipay.trade.query', biz_content: { out_trade_no: 'pay_1' }, timestamp: alipayLikeTimestamp(Date.UTC(2026, 0, 1)) }, key)
    assert.equal(
      alipayLikeCanonicalString(fields),
      'app_id=2026000000000001&biz_content={"out_trade_no":"pay_1"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=HMAC-SHA256&timestamp=2026-01-01 08:00:00&version=1.0',
    )
    // printf '<the string above>' | openssl dgst -sha256 -hmac 'alipay-like-demo-key-3c9e1f7a' -binary | base64
    assert.equal(fields.sign, 'i7Dr/d0iPWU6ztPQCpML01xBx81Mk8ag7Ne7ZhSvmiE=')
  })

  it('verifies an answer over its response object, and reports unsigned refusals', () => {
    const response = { code: '10000', msg: 'Success', out_trade_no: 'A', total_amount: 100 }
    const sign = hmacSha256(key, canonicalString({ code: '10000', msg: 'Success', out_trade_no: 'A', total_amount: '100' }, []), 'base64')
    assert.equal(verifyAlipayLikeAnswer({ alipay_trade_query_response: response, sign }, 'alipay.trade.query', key).ok, true)
    assert.equal(verifyAlipayLikeAnswer({ alipay_trade_query_response: { ...response, total_amount: 1 }, sign }, 'alipay.trade.query', key).ok, false)
    const refusal = verifyAlipayLikeAnswer({ alipay_trade_query_response: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' } }, 'alipay.trade.query', key)
    assert.deepEqual(refusal.ok ? undefined : [refusal.reason, 'response' in refusal ? refusal.response?.sub_code : undefined], ['signature_missing', 'isv.invalid-signature'])
  })

  it('verifies notifications and refuses tampering, missing sign_type and unknown statuses', () => {
    const fields = { notify_id: 'N1', notify_time: '2026-01-01 08:00:00', notify_type: 'trade_status_sync', app_id: '2026000000000001', charset: 'utf-8', version: '1.0', sign_type: 'HMAC-SHA256', out_trade_no: 'A', trade_no: 'T', trade_status: 'TRADE_SUCCESS', total_amount: '100', currency: 'CNY' }
    const body = encodeForm({ ...fields, sign: alipayLikeSignature(fields, key) })
    const read = verifyAlipayLikeNotification(body, key)
    assert.deepEqual(read.ok && [read.report.trade_status, read.report.total_amount_minor], ['TRADE_SUCCESS', 100n])
    assert.equal(verifyAlipayLikeNotification(body.replace('total_amount=100', 'total_amount=101'), key).ok, false)
    const noType = { ...fields, sign_type: '' }
    assert.equal(verifyAlipayLikeNotification({ ...noType, sign: alipayLikeSignature(noType, key) }, key).ok, false)
    const odd = { ...fields, trade_status: 'TRADE_MAYBE' }
    const oddRead = verifyAlipayLikeNotification({ ...odd, sign: alipayLikeSignature(odd, key) }, key)
    assert.equal(oddRead.ok ? 'ok' : oddRead.reason, 'malformed')
  })
})

describe('wechat-like protocol', () => {
  let wallet: WechatLikeKeys
  let merchant: WechatLikeKeys
  before(async () => {
    ;[wallet, merchant] = await Promise.all([generateWechatLikeMerchantKeys(), generateWechatLikeMerchantKeys()])
  })

  it('builds the signed messages byte-exactly', () => {
    assert.equal(wechatLikeRequestMessage('POST', '/v3/pay/transactions/native', '1767225600', 'abc', '{"a":1}'), 'POST\n/v3/pay/transactions/native\n1767225600\nabc\n{"a":1}\n')
    assert.equal(wechatLikeRequestMessage('GET', '/v3/x?mchid=1', '1', 'n', ''), 'GET\n/v3/x?mchid=1\n1\nn\n\n')
    assert.equal(wechatLikeResponseMessage('1767225600', 'abc', ''), '1767225600\nabc\n\n')
  })

  it('signs and verifies with RSA-SHA256, and a serial names the key', () => {
    const signature = rsaSha256Sign('message', merchant.private_key_pem)
    assert.equal(rsaSha256Verify('message', signature, merchant.public_key_pem), true)
    assert.equal(rsaSha256Verify('messagE', signature, merchant.public_key_pem), false)
    assert.equal(rsaSha256Verify('message', signature, wallet.public_key_pem), false)
    assert.equal(rsaSha256Verify('message', 'not base64 at all', merchant.public_key_pem), false)
    assert.match(merchant.serial_no, /^[0-9A-F]{40}$/)
    assert.equal(wechatLikeSerialNo(merchant.public_key_pem), merchant.serial_no)
  })

  it('writes and reads the Authorization header', () => {
    const header = signWechatLikeRequest({ mchid: '1900000001', serial_no: merchant.serial_no, private_key_pem: merchant.private_key_pem }, { method: 'GET', url: '/v3/x', body: '', timestamp: '1767225600', nonce: 'n1' })
    const fields = parseWechatLikeAuthorization(header)
    assert.deepEqual(fields && [fields.mchid, fields.nonce_str, fields.timestamp, fields.serial_no], ['1900000001', 'n1', '1767225600', merchant.serial_no])
    assert.equal(rsaSha256Verify(wechatLikeRequestMessage('GET', '/v3/x', '1767225600', 'n1', ''), fields?.signature ?? '', merchant.public_key_pem), true)
    assert.equal(parseWechatLikeAuthorization('Bearer x'), undefined)
    assert.equal(parseWechatLikeAuthorization('WECHATLIKE-SHA256-RSA2048 mchid="1"'), undefined)
  })

  it('verifies a notification: signature, serial, time window, then the transaction', () => {
    const nowMs = Date.UTC(2026, 0, 1)
    const timestamp = String(nowMs / 1000)
    const body = JSON.stringify({ id: 'EV1', create_time: '2026-01-01T08:00:00+08:00', event_type: 'TRANSACTION.SUCCESS', resource_type: 'plain-resource', resource: { appid: 'a', mchid: 'm', out_trade_no: 'A', transaction_id: 'T', trade_state: 'SUCCESS', amount: { total: 100, currency: 'CNY' } } })
    const headers = { 'wechatlike-timestamp': timestamp, 'wechatlike-nonce': 'n', 'wechatlike-serial': wallet.serial_no, 'wechatlike-signature': rsaSha256Sign(wechatLikeResponseMessage(timestamp, 'n', body), wallet.private_key_pem) }
    const read = verifyWechatLikeNotification({ headers, body, wallet_public_key_pem: wallet.public_key_pem, now_ms: nowMs })
    assert.deepEqual(read.ok && [read.notification.event_type, read.notification.transaction.amount_total_minor], ['TRANSACTION.SUCCESS', 100n])
    const reason = (result: { ok: boolean; reason?: string }): string => (result.ok ? 'ok' : (result.reason ?? ''))
    assert.equal(reason(verifyWechatLikeSignature({ headers, body: body.replace('100', '101'), wallet_public_key_pem: wallet.public_key_pem, now_ms: nowMs })), 'signature_invalid')
    assert.equal(reason(verifyWechatLikeSignature({ headers, body, wallet_public_key_pem: wallet.public_key_pem, now_ms: nowMs + 301_000 })), 'timestamp_out_of_window')
    assert.equal(reason(verifyWechatLikeSignature({ headers, body, wallet_public_key_pem: merchant.public_key_pem, now_ms: nowMs })), 'serial_unknown')
    assert.equal(reason(verifyWechatLikeSignature({ headers: { ...headers, 'wechatlike-signature': undefined }, body, wallet_public_key_pem: wallet.public_key_pem, now_ms: nowMs })), 'signature_missing')
    assert.equal(reason(verifyWechatLikeSignature({ headers: new Headers(headers), body, wallet_public_key_pem: wallet.public_key_pem, now_ms: nowMs })), 'ok', 'fetch Headers work too')
  })
})
