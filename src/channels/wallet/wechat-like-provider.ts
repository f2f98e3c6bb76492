/**
 * The wechat-like wallet: REST and JSON, requests signed RSA-SHA256 with Kassa's private key in an
 * `Authorization` header, answers and notifications signed with the wallet's key in
 * `Wechatlike-*` headers. An answer whose signature does not verify is no answer.
 */
import { createSign, createVerify, randomBytes } from 'node:crypto'
import type { CurrencyCode } from '../../domain/currency.js'
import type { Provider, ProviderOrderReport, ProviderResult, RawNotification, VerifiedNotification } from '../provider.js'
import { exchange, minorUnits, parseJson } from '../wire.js'

export type WechatLikeConfig = {
  readonly id: string
  readonly display_name: string
  readonly base_url: string
  /** Kassa's merchant number (`mchid`) and app (`appid`) at the wallet. */
  readonly mchid: string
  readonly appid: string
  /** Kassa's private key (PKCS#8 PEM) and the serial number the wallet knows its public key by. */
  readonly private_key_pem: string
  readonly serial_no: string
  /** The wallet's public key (SPKI PEM) and its serial number. */
  readonly wallet_public_key_pem: string
  readonly wallet_serial_no: string
  readonly currencies?: readonly CurrencyCode[]
  readonly timeout_ms?: number
  readonly now?: () => number
}

/** How far a signed timestamp may be from our clock: older ones are replays. */
const skewMsMax = 5 * 60_000

/** How often at most Kassa asks the wallet for its platform keys. */
const keyFetchIntervalMs = 60_000

const unknownKey = 'unknown_key'

const stateByTradeState: Readonly<Record<string, ProviderOrderReport['status']>> = { NOTPAY: 'pending', SUCCESS: 'paid', REFUND: 'paid', CLOSED: 'closed', PAYERROR: 'failed' }

const rejectionByCode: Readonly<Record<string, string>> = {
  ORDER_NOT_EXIST: 'order_not_found',
  ORDER_PAID: 'order_paid',
  OUT_TRADE_NO_USED: 'order_no_conflict',
  RESOURCE_NOT_EXISTS: 'refund_not_found',
  REFUND_AMOUNT_EXCEEDED: 'refund_exceeds_paid',
  TRADE_STATE_ERROR: 'order_not_paid',
  OUT_REFUND_NO_USED: 'refund_no_conflict',
}

type Headerish = { get(name: string): string | null | undefined }

export function wechatLikeProvider(config: WechatLikeConfig): Provider {
  const baseUrl = config.base_url.replace(/\/$/, '')
  const timeoutMs = config.timeout_ms ?? 5_000
  const now = config.now ?? Date.now

  /** The wallet's platform keys Kassa trusts, by serial: the configured one, and each one it vouched for. */
  const trustedKeys = new Map<string, string>([[config.wallet_serial_no, config.wallet_public_key_pem]])
  let keysFetchedAtMs = Number.NEGATIVE_INFINITY
  let keysFetching: Promise<void> | undefined

  /** The wallet's signature over `TIMESTAMP\nNONCE\nBODY\n`, its key and its freshness; `unknown_key` for a serial not (yet) trusted. */
  function signatureProblem(headers: Headerish, body: string): string | undefined {
    const timestamp = headers.get('wechatlike-timestamp') ?? undefined
    const nonce = headers.get('wechatlike-nonce') ?? undefined
    const signature = headers.get('wechatlike-signature') ?? undefined
    if (timestamp === undefined || nonce === undefined || signature === undefined) return 'the signature headers are missing'
    const key = trustedKeys.get(headers.get('wechatlike-serial') ?? '')
    if (key === undefined) return unknownKey
    if (!/^[0-9]{1,12}$/.test(timestamp) || Math.abs(now() - Number(timestamp) * 1000) > skewMsMax) return 'the signed timestamp is outside the window'
    const verifier = createVerify('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`, 'utf8')
    return verifier.verify(key, signature, 'base64') ? undefined : 'the signature does not verify'
  }

  /** As `signatureProblem`, after learning the wallet's rotated keys once if the serial is new. */
  async function walletSigned(headers: Headerish, body: string): Promise<string | undefined> {
    const problem = signatureProblem(headers, body)
    if (problem !== unknownKey) return problem
    await learnRotatedKeys()
    const again = signatureProblem(headers, body)
    return again === unknownKey ? 'signed with a key that is not the wallet’s' : again
  }

  /**
   * Asks the wallet for its platform keys (`/v3/certificates`) and trusts a new one only when a key
   * already trusted signed it: a rotation chain from the configured key, never the list's word.
   * At most once a minute, so forged serials cannot make Kassa fetch on every request.
   */
  function learnRotatedKeys(): Promise<void> {
    if (keysFetching !== undefined) return keysFetching
    if (now() - keysFetchedAtMs < keyFetchIntervalMs) return Promise.resolve()
    keysFetchedAtMs = now()
    keysFetching = (async () => {
      const answer = await signedExchange('GET', '/v3/certificates')
      if (!answer.ok || answer.status !== 200) return
      const list = (parseJson(answer.body) as { data?: unknown } | undefined)?.data
      if (!Array.isArray(list)) return
      const entries = list.filter((entry): entry is { serial_no: string; public_key_pem: string; signed_by: string; signature: string } =>
        typeof entry === 'object' && entry !== null && ['serial_no', 'public_key_pem', 'signed_by', 'signature'].every((field) => typeof (entry as Record<string, unknown>)[field] === 'string'),
      )
      for (let learned = true; learned; ) {
        learned = false
        for (const entry of entries) {
          const voucher = trustedKeys.get(entry.signed_by)
          if (trustedKeys.has(entry.serial_no) || voucher === undefined) continue
          const vouched = createVerify('RSA-SHA256').update(`${entry.serial_no}\n${entry.public_key_pem}\n`, 'utf8').verify(voucher, entry.signature, 'base64')
          if (!vouched) continue
          trustedKeys.set(entry.serial_no, entry.public_key_pem)
          learned = true
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => (keysFetching = undefined))
    return keysFetching
  }

  /** One request signed with Kassa's key; the answer as it came, unverified. */
  function signedExchange(method: 'GET' | 'POST', path: string, body?: unknown) {
    const text = body === undefined ? '' : JSON.stringify(body)
    const timestamp = (BigInt(now()) / 1000n).toString()
    const nonce = randomBytes(16).toString('hex')
    const signature = createSign('RSA-SHA256').update(`${method}\n${path}\n${timestamp}\n${nonce}\n${text}\n`, 'utf8').sign(config.private_key_pem, 'base64')
    const authorization = `WECHATLIKE-SHA256-RSA2048 mchid="${config.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${config.serial_no}",signature="${signature}"`
    const headers: Record<string, string> = { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) }
    return exchange(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: text }) }, timeoutMs)
  }

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ProviderResult<{ readonly status: number; readonly json: Record<string, unknown> | undefined }>> {
    const answer = await signedExchange(method, path, body)
    if (!answer.ok) return { outcome: 'unknown', message: answer.message }
    if (answer.status >= 500) return { outcome: 'unknown', message: `the wallet answered HTTP ${answer.status}` }
    const problem = await walletSigned(answer.headers, answer.body)
    if (problem !== undefined) return { outcome: 'unknown', message: `the wallet's answer is not to be trusted: ${problem}` }
    const json = answer.body === '' ? undefined : (parseJson(answer.body) as Record<string, unknown> | undefined)
    if (answer.status >= 200 && answer.status < 300) return { outcome: 'ok', status: answer.status, json }
    const code = typeof json?.['code'] === 'string' ? json['code'] : `HTTP_${answer.status}`
    return { outcome: 'rejected', code: rejectionByCode[code] ?? `wallet_${code.toLowerCase()}`, message: typeof json?.['message'] === 'string' ? json['message'] : code }
  }

  function report(transaction: unknown): ProviderOrderReport | undefined {
    if (typeof transaction !== 'object' || transaction === null) return undefined
    const t = transaction as Record<string, unknown>
    const amount = t['amount'] as Record<string, unknown> | undefined
    const total = typeof amount?.['total'] === 'number' ? minorUnits(String(amount['total'])) : undefined
    const status = stateByTradeState[String(t['trade_state'])]
    if (t['mchid'] !== config.mchid || typeof t['out_trade_no'] !== 'string' || total === undefined || status === undefined) return undefined
    return {
      order_no: t['out_trade_no'],
      provider_order_id: typeof t['transaction_id'] === 'string' ? t['transaction_id'] : null,
      status,
      amount: total,
      currency: typeof amount?.['currency'] === 'string' ? amount['currency'] : '',
      refunded_amount: null,
      failure_reason: status === 'failed' ? String(t['trade_state_desc'] ?? 'payment_error') : null,
    }
  }

  const query = async (orderNo: string): Promise<ProviderResult<{ readonly report: ProviderOrderReport }>> => {
    const answer = await call('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderNo)}?mchid=${encodeURIComponent(config.mchid)}`)
    if (answer.outcome !== 'ok') return answer
    const read = report(answer.json)
    return read === undefined ? { outcome: 'unknown', message: 'the wallet answered a transaction Kassa cannot read' } : { outcome: 'ok', report: read }
  }

  const refundDone = (json: Record<string, unknown> | undefined): ProviderResult<{ readonly provider_refund_id: string | null; readonly amount: bigint }> => {
    const amount = json?.['amount'] as Record<string, unknown> | undefined
    const refunded = typeof amount?.['refund'] === 'number' ? minorUnits(String(amount['refund'])) : undefined
    if (refunded === undefined || json?.['status'] !== 'SUCCESS') return { outcome: 'unknown', message: `the wallet's refund is not done (${String(json?.['status'])})` }
    return { outcome: 'ok', provider_refund_id: typeof json['refund_id'] === 'string' ? json['refund_id'] : null, amount: refunded }
  }

  return {
    id: config.id,
    kind: 'wallet',
    display_name: config.display_name,
    currencies: config.currencies ?? ['CNY'],
    async createOrder(order) {
      const created = await call('POST', '/v3/pay/transactions/native', {
        appid: config.appid,
        mchid: config.mchid,
        description: order.subject.slice(0, 127),
        out_trade_no: order.order_no,
        notify_url: order.notify_url,
        return_url: order.return_url,
        amount: { total: Number(order.amount), currency: order.currency },
      })
      if (created.outcome !== 'ok') return created
      const qr = created.json?.['qr_code']
      if (typeof qr !== 'string') return { outcome: 'unknown', message: 'the wallet answered no qr_code' }
      // The creation answers a prepay id; the transaction's own id comes with the transaction.
      const found = await query(order.order_no)
      const redirect = created.json?.['redirect_url']
      return {
        outcome: 'ok',
        provider_order_id: found.outcome === 'ok' ? found.report.provider_order_id : null,
        next_action: { type: 'display_qr_code', qr_code: qr, url: typeof redirect === 'string' ? redirect : qr },
      }
    },
    queryOrder: query,
    async closeOrder(orderNo) {
      const closed = await call('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderNo)}/close`, { mchid: config.mchid })
      if (closed.outcome !== 'ok') return closed
      return { outcome: 'ok', report: null }
    },
    async refund(refund) {
      const answer = await call('POST', '/v3/refund/domestic/refunds', {
        out_trade_no: refund.order_no,
        out_refund_no: refund.refund_no,
        ...(refund.reason === null ? {} : { reason: refund.reason.slice(0, 80) }),
        amount: { refund: Number(refund.amount), total: Number(refund.order_amount), currency: refund.currency },
      })
      return answer.outcome === 'ok' ? refundDone(answer.json) : answer
    },
    async queryRefund(_orderNo, refundNo) {
      const answer = await call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(refundNo)}`)
      return answer.outcome === 'ok' ? refundDone(answer.json) : answer
    },
    async verifyNotification(notification: RawNotification): Promise<VerifiedNotification> {
      const nack = (reason: 'bad_signature' | 'malformed', message: string): VerifiedNotification => ({
        ok: false,
        reason,
        message,
        nack: { status: 401, body: JSON.stringify({ code: 'FAIL', message }), content_type: 'application/json' },
      })
      const headers: Headerish = { get: (name) => notification.headers[name.toLowerCase()] }
      const problem = await walletSigned(headers, notification.body)
      if (problem !== undefined) return nack('bad_signature', problem)
      const json = parseJson(notification.body) as Record<string, unknown> | undefined
      const read = report(json?.['resource'])
      if (typeof json?.['id'] !== 'string' || read === undefined) return nack('malformed', 'the notification does not describe one of our transactions')
      return { ok: true, notification_id: json['id'], report: read, ack: { status: 204, body: '', content_type: 'text/plain' } }
    },
    verifyReturn() {
      // The wallet's H5 return carries nothing signed: Kassa queries.
      return undefined
    },
  }
}
