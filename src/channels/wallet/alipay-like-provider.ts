/**
 * The alipay-like wallet: one `gateway.do` endpoint dispatching on `method`, form requests signed
 * HMAC-SHA256 (base64) over the sorted parameters, `biz_content` a JSON object, answers signed over
 * their response object. The shopper scans the QR code the precreate answers.
 */
import type { CurrencyCode } from '../../domain/currency.js'
import { constantTimeEqual } from '../../security/secrets.js'
import type { Provider, ProviderOrderReport, ProviderResult, RefundDone, VerifiedNotification } from '../provider.js'
import { beijingTimestamp, canonicalParams, exchange, flatText, formParams, hmacSha256, minorUnits, parseJson } from '../wire.js'

export type AlipayLikeConfig = {
  readonly id: string
  readonly display_name: string
  readonly base_url: string
  readonly app_id: string
  /** The shared key (HMAC-SHA256). */
  readonly key: string
  readonly currencies?: readonly CurrencyCode[]
  readonly timeout_ms?: number
  readonly now?: () => number
}

type Fields = Readonly<Record<string, string>>

const rejectionBySubCode: Readonly<Record<string, string>> = {
  'ACQ.TRADE_NOT_EXIST': 'order_not_found',
  'ACQ.TRADE_STATUS_ERROR': 'order_paid',
  'ACQ.CONTEXT_INCONSISTENT': 'order_no_conflict',
  'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL': 'refund_exceeds_paid',
  'ACQ.CURRENCY_NOT_SUPPORT': 'currency_unsupported',
}

export function alipayLikeProvider(config: AlipayLikeConfig): Provider {
  const baseUrl = config.base_url.replace(/\/$/, '')
  const timeoutMs = config.timeout_ms ?? 5_000
  const now = config.now ?? Date.now
  const signature = (params: Fields): string => hmacSha256(config.key, canonicalParams(params, ['sign']), 'base64')
  const verified = (params: Fields): boolean => params['sign'] !== undefined && params['sign_type'] === 'HMAC-SHA256' && constantTimeEqual(params['sign'], signature(params))

  async function call(method: string, biz: Readonly<Record<string, string | bigint | undefined>>, urls: { notify_url?: string; return_url?: string } = {}): Promise<ProviderResult<{ readonly fields: Fields }>> {
    const content: Record<string, string | number> = {}
    for (const [key, value] of Object.entries(biz)) if (value !== undefined) content[key] = typeof value === 'bigint' ? Number(value) : value
    const params: Record<string, string> = {
      app_id: config.app_id,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'HMAC-SHA256',
      timestamp: beijingTimestamp(now()),
      version: '1.0',
      biz_content: JSON.stringify(content),
      ...(urls.notify_url === undefined ? {} : { notify_url: urls.notify_url }),
      ...(urls.return_url === undefined ? {} : { return_url: urls.return_url }),
    }
    params['sign'] = signature(params)
    const answer = await exchange(`${baseUrl}/gateway.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(params).toString() }, timeoutMs)
    if (!answer.ok) return { outcome: 'unknown', message: answer.message }
    if (answer.status !== 200) return { outcome: 'unknown', message: `the wallet answered HTTP ${answer.status}` }
    const json = parseJson(answer.body) as Record<string, unknown> | undefined
    const fields = flatText(json?.[`${method.replaceAll('.', '_')}_response`] ?? json?.['error_response'])
    const sign = json?.['sign']
    if (fields === undefined) return { outcome: 'unknown', message: 'the wallet answered something that is not its JSON' }
    if (typeof sign !== 'string' || !constantTimeEqual(sign, hmacSha256(config.key, canonicalParams(fields, []), 'base64'))) {
      return { outcome: 'unknown', message: `the wallet's answer is not signed with our key (${fields['code'] ?? '?'} ${fields['sub_code'] ?? ''})` }
    }
    if (fields['code'] === '10000') return { outcome: 'ok', fields }
    if (fields['code'] === '20000') return { outcome: 'unknown', message: 'the wallet is unavailable' }
    const subCode = fields['sub_code'] ?? fields['code'] ?? 'unknown'
    return { outcome: 'rejected', code: rejectionBySubCode[subCode] ?? `wallet_${subCode.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`, message: fields['sub_msg'] ?? fields['msg'] ?? subCode }
  }

  /** TRADE_CLOSED is "closed unpaid" or "paid and fully refunded": the refunded total tells which. */
  function report(fields: Fields): ProviderOrderReport | undefined {
    const amount = minorUnits(fields['total_amount'])
    const orderNo = fields['out_trade_no']
    const refunded = minorUnits(fields['refund_amount_total'])
    const tradeStatus = fields['trade_status']
    const status: ProviderOrderReport['status'] | undefined =
      tradeStatus === 'WAIT_BUYER_PAY' ? 'pending' : tradeStatus === 'TRADE_SUCCESS' || tradeStatus === 'TRADE_FINISHED' ? 'paid' : tradeStatus === 'TRADE_CLOSED' ? (refunded !== undefined && refunded > 0n ? 'paid' : 'closed') : undefined
    if (amount === undefined || orderNo === undefined || status === undefined) return undefined
    return { order_no: orderNo, provider_order_id: fields['trade_no'] ?? null, status, amount, currency: fields['currency'] ?? '', refunded_amount: refunded ?? null, failure_reason: null }
  }

  const query = async (orderNo: string): Promise<ProviderResult<{ readonly report: ProviderOrderReport }>> => {
    const answer = await call('alipay.trade.query', { out_trade_no: orderNo })
    if (answer.outcome !== 'ok') return answer
    const read = report(answer.fields)
    return read === undefined ? { outcome: 'unknown', message: 'the wallet answered a trade Kassa cannot read' } : { outcome: 'ok', report: read }
  }

  const refundDone = (fields: Fields): ProviderResult<RefundDone> => {
    const amount = minorUnits(fields['refund_amount'])
    return amount === undefined ? { outcome: 'unknown', message: 'the wallet answered a refund Kassa cannot read' } : { outcome: 'ok', provider_refund_id: null, amount }
  }

  return {
    id: config.id,
    kind: 'wallet',
    display_name: config.display_name,
    currencies: config.currencies ?? ['CNY'],
    async createOrder(order) {
      const answer = await call('alipay.trade.precreate', { out_trade_no: order.order_no, total_amount: order.amount, currency: order.currency, subject: order.subject }, { notify_url: order.notify_url, return_url: order.return_url })
      if (answer.outcome !== 'ok') return answer
      const qr = answer.fields['qr_code']
      if (qr === undefined) return { outcome: 'unknown', message: 'the wallet answered no qr_code' }
      return { outcome: 'ok', provider_order_id: answer.fields['trade_no'] ?? null, next_action: { type: 'display_qr_code', qr_code: qr, url: answer.fields['redirect_url'] ?? qr } }
    },
    queryOrder: query,
    async closeOrder(orderNo) {
      const answer = await call('alipay.trade.close', { out_trade_no: orderNo })
      if (answer.outcome !== 'ok') return answer
      // The close answer carries no status: the caller queries.
      return { outcome: 'ok', report: null }
    },
    async refund(refund) {
      const answer = await call('alipay.trade.refund', { out_trade_no: refund.order_no, refund_amount: refund.amount, out_request_no: refund.refund_no, refund_reason: refund.reason ?? undefined })
      return answer.outcome === 'ok' ? refundDone(answer.fields) : answer
    },
    async queryRefund(orderNo, refundNo) {
      const answer = await call('alipay.trade.fastpay.refund.query', { out_trade_no: orderNo, out_request_no: refundNo })
      if (answer.outcome !== 'ok') return answer
      // An unknown refund is a success without refund_status.
      if (answer.fields['refund_status'] !== 'REFUND_SUCCESS') return { outcome: 'rejected', code: 'refund_not_found', message: 'The wallet has no such refund.' }
      return refundDone(answer.fields)
    },
    verifyNotification(notification): VerifiedNotification {
      const nack = (reason: 'bad_signature' | 'malformed', message: string): VerifiedNotification => ({ ok: false, reason, message, nack: { status: 400, body: 'fail', content_type: 'text/plain' } })
      const fields = formParams(notification.body)
      if (fields === undefined) return nack('malformed', 'a parameter is repeated')
      if (!verified(fields)) return nack('bad_signature', 'the notification is not signed with our key')
      const read = fields['app_id'] === config.app_id ? report(fields) : undefined
      const id = fields['notify_id']
      if (read === undefined || id === undefined) return nack('malformed', 'the notification does not describe one of our trades')
      return { ok: true, notification_id: id, report: read, ack: { status: 200, body: 'success', content_type: 'text/plain' } }
    },
    verifyReturn(query) {
      if (!verified(query) || query['app_id'] !== config.app_id) return undefined
      return report(query)
    },
  }
}
