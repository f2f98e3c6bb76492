/**
 * Kassa's client for a bank's merchant gateway (online banking and quick pay share it): form
 * requests signed with HMAC-SHA256 over the sorted parameters, JSON answers signed the same way,
 * `ret_code` `0000` for success. Everything the bank says is verified before it is believed.
 */
import type { CurrencyCode } from '../../domain/currency.js'
import { constantTimeEqual } from '../../security/secrets.js'
import type { Provider, ProviderOrderReport, ProviderResult, RawNotification, RefundDone, VerifiedNotification } from '../provider.js'
import { canonicalParams, exchange, flatText, formParams, hmacSha256, minorUnits, parseJson } from '../wire.js'

export type BankGatewayConfig = {
  /** The bank's id, e.g. `icbc-sim`. */
  readonly id: string
  readonly display_name: string
  /** The gateway's base URL, e.g. `https://gateway.bank.example`. */
  readonly base_url: string
  /** Kassa's merchant number at the bank. */
  readonly merchant_id: string
  /** The shared key both sides sign with. */
  readonly key: string
  readonly currencies?: readonly CurrencyCode[]
  /** How long one call may take. Default 5 s. */
  readonly timeout_ms?: number
}

type Params = Readonly<Record<string, string | bigint | undefined>>

/** The bank's return codes Kassa acts on, by what they mean to Kassa. */
const rejectionByRetCode: Readonly<Record<string, string>> = {
  '2001': 'order_no_conflict',
  '2002': 'order_not_found',
  '2003': 'order_paid',
  '2004': 'order_not_paid',
  '2005': 'order_closed',
  '2006': 'currency_unsupported',
  '3001': 'refund_exceeds_paid',
  '3002': 'refund_no_conflict',
  '3003': 'refund_not_found',
  '4001': 'account_mismatch',
  '4002': 'account_blocked',
  '4003': 'binding_request_not_found',
  '4004': 'sms_code_wrong',
  '4005': 'sms_code_expired',
  '4006': 'sms_code_attempts_exceeded',
  '4007': 'binding_not_found',
  '4008': 'insufficient_balance',
  '4009': 'payment_not_awaiting_sms_code',
}

const statusByBankStatus: Readonly<Record<string, ProviderOrderReport['status']>> = { WAITING: 'pending', PAID: 'paid', FAILED: 'failed', CLOSED: 'closed' }

export class BankGateway {
  readonly config: BankGatewayConfig
  private readonly timeoutMs: number

  constructor(config: BankGatewayConfig) {
    this.config = { ...config, base_url: config.base_url.replace(/\/$/, '') }
    this.timeoutMs = config.timeout_ms ?? 5_000
  }

  /** The parameters with `merchant_id` and `sign` added. */
  sign(params: Params): Record<string, string> {
    const text: Record<string, string> = { merchant_id: this.config.merchant_id }
    for (const [key, value] of Object.entries(params)) if (value !== undefined) text[key] = value.toString()
    return { ...text, sign: hmacSha256(this.config.key, canonicalParams(text, ['sign']), 'hex') }
  }

  private verified(params: Readonly<Record<string, string>>): boolean {
    const sign = params['sign']
    return sign !== undefined && constantTimeEqual(sign.toLowerCase(), hmacSha256(this.config.key, canonicalParams(params, ['sign']), 'hex'))
  }

  /** One signed call; `ok` carries the verified answer's fields. */
  async call(path: string, params: Params, method: 'POST' | 'DELETE' = 'POST'): Promise<ProviderResult<{ readonly fields: Readonly<Record<string, string>> }>> {
    const signed = this.sign(params)
    const form = new URLSearchParams(signed).toString()
    const answer =
      method === 'POST'
        ? await exchange(`${this.config.base_url}${path}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form }, this.timeoutMs)
        : await exchange(`${this.config.base_url}${path}?${form}`, { method }, this.timeoutMs)
    if (!answer.ok) return { outcome: 'unknown', message: answer.message }
    if (answer.status !== 200) return { outcome: 'unknown', message: `the bank answered HTTP ${answer.status}` }
    const fields = flatText(parseJson(answer.body))
    if (fields === undefined) return { outcome: 'unknown', message: 'the bank answered something that is not its JSON' }
    // An unsigned answer (a bad key, an unknown merchant) is not the bank's word on the order.
    if (!this.verified(fields)) return { outcome: 'unknown', message: `the bank's answer is not signed with our key (ret_code ${fields['ret_code'] ?? '?'}: ${fields['ret_msg'] ?? ''})` }
    const code = fields['ret_code']
    if (code === '0000') return { outcome: 'ok', fields }
    if (code === '9999') return { outcome: 'unknown', message: 'the bank is busy' }
    return { outcome: 'rejected', code: rejectionByRetCode[code ?? ''] ?? `bank_${code ?? 'unknown'}`, message: fields['ret_msg'] ?? `ret_code ${code}` }
  }

  /** An order as the bank reports it (an answer, a notification, a return), or undefined if it is not one. */
  report(fields: Readonly<Record<string, string>>): ProviderOrderReport | undefined {
    const status = statusByBankStatus[fields['status'] ?? '']
    const amount = minorUnits(fields['amount'])
    const orderNo = fields['order_no']
    if (status === undefined || amount === undefined || orderNo === undefined || fields['merchant_id'] !== this.config.merchant_id) return undefined
    return {
      order_no: orderNo,
      provider_order_id: fields['bank_order_id'] ?? null,
      status,
      amount,
      currency: fields['currency'] ?? '',
      refunded_amount: minorUnits(fields['refunded_amount']) ?? null,
      failure_reason: fields['failure_reason'] ?? null,
    }
  }

  reported(result: ProviderResult<{ readonly fields: Readonly<Record<string, string>> }>): ProviderResult<{ readonly report: ProviderOrderReport }> {
    if (result.outcome !== 'ok') return result
    const report = this.report(result.fields)
    return report === undefined ? { outcome: 'unknown', message: 'the bank answered an order Kassa cannot read' } : { outcome: 'ok', report }
  }

  /** The operations every order of the bank has, whichever way it was paid. */
  orderOperations(): Pick<Provider, 'queryOrder' | 'closeOrder' | 'refund' | 'queryRefund' | 'verifyNotification' | 'verifyReturn'> {
    const refundDone = (result: ProviderResult<{ readonly fields: Readonly<Record<string, string>> }>): ProviderResult<RefundDone> => {
      if (result.outcome !== 'ok') return result
      const amount = minorUnits(result.fields['amount'])
      if (amount === undefined || result.fields['status'] !== 'SUCCESS') return { outcome: 'unknown', message: 'the bank answered a refund Kassa cannot read' }
      return { outcome: 'ok', provider_refund_id: result.fields['bank_refund_id'] ?? null, amount }
    }
    return {
      queryOrder: async (orderNo) => this.reported(await this.call('/gateway/orders/query', { order_no: orderNo })),
      closeOrder: async (orderNo) => this.reported(await this.call('/gateway/orders/close', { order_no: orderNo })),
      refund: async (refund) =>
        refundDone(await this.call('/gateway/refunds', { order_no: refund.order_no, refund_no: refund.refund_no, amount: refund.amount, currency: refund.currency, reason: refund.reason ?? undefined })),
      queryRefund: async (_orderNo, refundNo) => refundDone(await this.call('/gateway/refunds/query', { refund_no: refundNo })),
      verifyNotification: (notification) => this.verifyNotification(notification),
      verifyReturn: (query) => {
        if (query['sign'] === undefined || !this.verified(query)) return undefined
        return this.report(query)
      },
    }
  }

  private verifyNotification(notification: RawNotification): VerifiedNotification {
    const nack = (reason: 'bad_signature' | 'malformed', message: string): VerifiedNotification => ({ ok: false, reason, message, nack: { status: 400, body: 'fail', content_type: 'text/plain' } })
    const fields = formParams(notification.body)
    if (fields === undefined) return nack('malformed', 'a parameter is repeated')
    if (!this.verified(fields)) return nack('bad_signature', 'the notification is not signed with our key')
    const report = this.report(fields)
    const id = fields['notify_id']
    if (report === undefined || id === undefined) return nack('malformed', 'the notification does not describe one of our orders')
    return { ok: true, notification_id: id, report, ack: { status: 200, body: 'success', content_type: 'text/plain' } }
  }
}
