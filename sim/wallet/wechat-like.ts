/**
 * The wechat-like provider: REST + JSON under `/v3/…`, HTTP statuses with `{ code, message }`
 * errors. Kassa signs each request with its RSA key (`Authorization` header); the wallet signs each
 * answer and notification with its own RSA key (`Wechatlike-*` headers); `./protocol.ts` has both
 * sides. A notification is acknowledged by HTTP 200 or 204.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { findCurrency, type CurrencyCode } from '../../src/domain/currency.js'
import { AMOUNT_MINOR_MAX } from '../../src/domain/money.js'
import type { Order } from '../common/book.js'
import type { Forgery, NotifiedStatus, Operation } from '../common/faults.js'
import { rawBodyOf } from '../common/http.js'
import type { OutgoingNotification } from '../common/notifier.js'
import { beijingDate, rfc3339Beijing } from '../common/time.js'
import { answerWithFaults, hangIfFaulty, orderNoPattern, urlProblem, type Prepared, type ProviderShell, type WalletContext } from './context.js'
import {
  generateWechatLikeMerchantKeys,
  parseWechatLikeAuthorization,
  randomNonce,
  rsaSha256Sign,
  rsaSha256Verify,
  wechatLikeCertificateMessage,
  wechatLikeRequestMessage,
  wechatLikeResponseMessage,
  wechatLikeSerialNo,
  wechatLikeTimestampSkewMsMax,
  type WechatLikeEventType,
  type WechatLikeKeys,
  type WechatLikeTradeState,
} from './protocol.js'
import type { WalletMerchant } from './users.js'

export const wechatLikeCurrencies: readonly CurrencyCode[] = ['CNY']

/** Nonces remembered to refuse a replayed request: at most this many, each for the skew window. */
const noncesMax = 100_000

type Json = Record<string, unknown>

export function registerWechatLike(app: FastifyInstance, context: WalletContext, walletKeys: WechatLikeKeys, options: { readonly timestampSkewMsMax?: number }): ProviderShell {
  const { book, clock } = context
  const skewMsMax = options.timestampSkewMsMax ?? wechatLikeTimestampSkewMsMax
  const nonces = new Map<string, number>()
  const serials = new Map([...context.merchants.values()].filter((merchant) => merchant.public_key_pem !== undefined).map((merchant) => [merchant.merchant_id, wechatLikeSerialNo(merchant.public_key_pem ?? '')]))

  /** The platform keys, oldest first; the last signs. Each later key is signed by the one before it. */
  const platformKeys: { readonly keys: WechatLikeKeys; readonly signed_by: string | null; readonly signature: string | null }[] = [{ keys: walletKeys, signed_by: null, signature: null }]
  const signing = (): WechatLikeKeys => (platformKeys.at(-1) ?? platformKeys[0])!.keys

  /** Signs a body with the wallet's current key into the four headers. */
  function signedHeaders(body: string): Record<string, string> {
    const timestamp = String(Math.floor(clock.now() / 1000))
    const nonce = randomNonce()
    const keys = signing()
    return {
      'Wechatlike-Timestamp': timestamp,
      'Wechatlike-Nonce': nonce,
      'Wechatlike-Signature': rsaSha256Sign(wechatLikeResponseMessage(timestamp, nonce, body), keys.private_key_pem),
      'Wechatlike-Serial': keys.serial_no,
      'Request-ID': randomNonce(),
    }
  }

  function respond(status: number, json: Json | undefined): Prepared {
    const body = json === undefined ? '' : JSON.stringify(json)
    return { status, body, headers: { ...(json === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...signedHeaders(body) } }
  }

  const error = (status: number, code: string, message: string, field?: string): Prepared => respond(status, { code, message, ...(field === undefined ? {} : { detail: { field, location: 'body' } }) })

  /** The merchant behind a request's signature, or the 401/400 answer refusing it. */
  function authenticate(request: FastifyRequest, body: string): WalletMerchant | Prepared {
    const auth = parseWechatLikeAuthorization(request.headers.authorization)
    if (auth === undefined) return error(401, 'SIGN_ERROR', 'Authorization header missing or not WECHATLIKE-SHA256-RSA2048')
    const merchant = context.merchants.get(auth.mchid)
    if (merchant?.public_key_pem === undefined) return error(400, 'MCH_NOT_EXISTS', `merchant ${auth.mchid} does not exist`)
    if (serials.get(merchant.merchant_id) !== auth.serial_no) return error(401, 'SIGN_ERROR', 'serial_no does not name the merchant key')
    const nowMs = clock.now()
    if (!/^[0-9]{1,12}$/.test(auth.timestamp) || Math.abs(nowMs - Number(auth.timestamp) * 1000) > skewMsMax) return error(401, 'SIGN_ERROR', 'timestamp out of the allowed window')
    if (!rsaSha256Verify(wechatLikeRequestMessage(request.method, request.url, auth.timestamp, auth.nonce_str, body), auth.signature, merchant.public_key_pem)) return error(401, 'SIGN_ERROR', 'signature verification failed')
    const nonceKey = `${merchant.merchant_id}\n${auth.nonce_str}`
    if ((nonces.get(nonceKey) ?? 0) > nowMs) return error(401, 'SIGN_ERROR', 'nonce_str already used')
    nonces.set(nonceKey, nowMs + skewMsMax)
    if (nonces.size > noncesMax) {
      for (const [key, expiresAtMs] of nonces) if (expiresAtMs <= nowMs) nonces.delete(key)
      while (nonces.size > noncesMax) {
        const oldest = nonces.keys().next().value
        if (oldest === undefined) break
        nonces.delete(oldest)
      }
    }
    return merchant
  }

  function tradeStateOf(order: Order): WechatLikeTradeState {
    switch (order.status) {
      case 'waiting':
        return 'NOTPAY'
      case 'paid':
        return order.refunded_minor > 0n ? 'REFUND' : 'SUCCESS'
      case 'closed':
        return 'CLOSED'
      case 'failed':
        return 'PAYERROR'
    }
  }

  const stateDescriptions: Readonly<Record<WechatLikeTradeState, string>> = { NOTPAY: 'not paid', SUCCESS: 'payment succeeded', REFUND: 'refunds made', CLOSED: 'closed', PAYERROR: 'payment failed' }

  function transaction(order: Order, state: WechatLikeTradeState = tradeStateOf(order)): Json {
    const user = order.payer_id === undefined ? undefined : context.users.get(order.payer_id)
    return {
      appid: order.extra?.appid ?? '',
      mchid: order.merchant_id,
      out_trade_no: order.order_no,
      transaction_id: order.provider_order_id,
      trade_type: 'NATIVE',
      trade_state: state,
      trade_state_desc: stateDescriptions[state],
      ...(order.paid_at_ms === undefined || state === 'NOTPAY' || state === 'CLOSED' ? {} : { success_time: rfc3339Beijing(order.paid_at_ms) }),
      ...(user === undefined ? {} : { payer: { openid: user.payer_id } }),
      amount: { total: Number(order.amount_minor), currency: order.currency, ...(order.payer_id === undefined ? {} : { payer_total: Number(order.amount_minor), payer_currency: order.currency }) },
    }
  }

  /** Reads a JSON body, or the 400 refusing it. */
  function jsonBody(request: FastifyRequest): { body: string; json: Json } | Prepared {
    const raw = rawBodyOf(request)
    if (raw.media !== 'json') return error(400, 'PARAM_ERROR', 'the body must be application/json')
    try {
      const json: unknown = JSON.parse(raw.text)
      if (typeof json !== 'object' || json === null || Array.isArray(json)) return error(400, 'PARAM_ERROR', 'the body must be a JSON object')
      return { body: raw.text, json: json as Json }
    } catch {
      return error(400, 'PARAM_ERROR', 'the body is not valid JSON')
    }
  }

  const isPrepared = (value: unknown): value is Prepared => typeof value === 'object' && value !== null && 'status' in value && 'headers' in value

  /** A signed request: parse, authenticate, run, log; under the `server_error` fault. */
  function route(operation: Operation, orderNoOf: (request: FastifyRequest, json: Json | undefined) => string | undefined, withBody: boolean, run: (request: FastifyRequest, merchant: WalletMerchant, json: Json) => Prepared | Promise<Prepared>) {
    return async (request: FastifyRequest, reply: Parameters<typeof answerWithFaults>[1]) => {
      const parsed = withBody ? jsonBody(request) : { body: '', json: {} }
      const json = isPrepared(parsed) ? undefined : parsed.json
      const orderNo = orderNoOf(request, json)
      return answerWithFaults(context, reply, operation, orderNo, async () => {
        let prepared: Prepared
        let merchantId: string | undefined
        if (isPrepared(parsed)) prepared = parsed
        else {
          const merchant = authenticate(request, withBody ? parsed.body : '')
          if (isPrepared(merchant)) prepared = merchant
          else {
            merchantId = merchant.merchant_id
            prepared = await run(request, merchant, parsed.json)
          }
        }
        const code = prepared.body === '' ? '' : ((JSON.parse(prepared.body) as { code?: unknown }).code ?? '')
        context.log.write({ event: 'request', operation, ...(merchantId === undefined ? {} : { merchant_id: merchantId }), ...(orderNo === undefined ? {} : { order_no: orderNo }), http_status: prepared.status, code: typeof code === 'string' ? code : '' })
        return prepared
      })
    }
  }

  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)
  const pathOrderNo = (request: FastifyRequest): string | undefined => (request.params as { out_trade_no?: string }).out_trade_no

  /** Reads `{ total, currency }` money of minor units, or the problem. */
  function money(value: unknown, totalName: string, field: string): { amount: bigint; currency: CurrencyCode } | string {
    if (typeof value !== 'object' || value === null) return `${field} is required`
    const record = value as Json
    const total = record[totalName]
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0 || BigInt(total) > AMOUNT_MINOR_MAX) return `${field}.${totalName} must be an integer of minor units, 1 to 999999999999`
    const currency = findCurrency(text(record.currency) ?? 'CNY')
    if (currency === undefined) return `${field}.currency is not an ISO 4217 code`
    return { amount: BigInt(total), currency: currency.code }
  }

  app.post(
    '/v3/pay/transactions/native',
    route('create', (_request, json) => text(json?.out_trade_no), true, (_request, merchant, json) => {
      if (text(json.mchid) !== merchant.merchant_id) return error(400, 'PARAM_ERROR', 'mchid must be the signing merchant', 'mchid')
      if (text(json.appid) !== merchant.app_id) return error(400, 'APPID_MCHID_NOT_MATCH', 'appid does not belong to mchid', 'appid')
      const outTradeNo = text(json.out_trade_no)
      if (outTradeNo === undefined || !orderNoPattern.test(outTradeNo)) return error(400, 'PARAM_ERROR', 'out_trade_no: 1 to 64 letters, digits, _ or -', 'out_trade_no')
      const description = text(json.description)
      if (description === undefined || description.length === 0 || description.length > 127) return error(400, 'PARAM_ERROR', 'description: 1 to 127 characters', 'description')
      const amount = money(json.amount, 'total', 'amount')
      if (typeof amount === 'string') return error(400, 'PARAM_ERROR', amount, 'amount')
      if (!wechatLikeCurrencies.includes(amount.currency)) return error(400, 'PARAM_ERROR', `currency ${amount.currency} is not supported`, 'amount.currency')
      for (const name of ['notify_url', 'return_url'] as const) {
        const value = json[name]
        if (value === undefined) continue
        const problem = typeof value === 'string' ? urlProblem(value) : 'must be a string'
        if (problem !== undefined) return error(400, 'PARAM_ERROR', `${name}: ${problem}`, name)
      }
      const transactionId = `${context.provider.order_prefix}${String(context.serial('order')).padStart(6, '0')}${beijingDate(clock.now())}`
      const created = book.create({
        merchant_id: merchant.merchant_id,
        order_no: outTradeNo,
        provider_order_id: transactionId,
        kind: 'wallet',
        amount_minor: amount.amount,
        currency: amount.currency,
        subject: description,
        notify_url: text(json.notify_url),
        return_url: text(json.return_url),
        fingerprint: canonicalJson(json),
        extra: { appid: merchant.app_id ?? '' },
      })
      switch (created.outcome) {
        case 'capacity':
          return error(500, 'SYSTEM_ERROR', 'system busy')
        case 'order_no_reused':
          return error(403, 'OUT_TRADE_NO_USED', 'out_trade_no already used with different parameters', 'out_trade_no')
        case 'replayed':
          return respond(200, created.order.create_answer as Json)
        case 'created': {
          const order = created.order
          const answer: Json = { prepay_id: `wxl${order.provider_order_id}`, qr_code: `${context.baseUrl()}/qr/${order.provider_order_id}`, redirect_url: `${context.baseUrl()}/pay/${order.provider_order_id}` }
          book.setCreateAnswer(merchant.merchant_id, order.order_no, answer)
          return respond(200, answer)
        }
      }
    }),
  )

  const checkMchidQuery = (request: FastifyRequest, merchant: WalletMerchant): Prepared | undefined =>
    (request.query as { mchid?: string }).mchid === merchant.merchant_id ? undefined : error(400, 'PARAM_ERROR', 'the mchid query parameter must be the signing merchant', 'mchid')

  app.get(
    '/v3/pay/transactions/out-trade-no/:out_trade_no',
    route('query', pathOrderNo, false, async (request, merchant) => {
      const refused = checkMchidQuery(request, merchant)
      if (refused !== undefined) return refused
      await hangIfFaulty(context, pathOrderNo(request))
      const order = book.find(merchant.merchant_id, pathOrderNo(request) ?? '')
      return order === undefined ? error(404, 'ORDER_NOT_EXIST', 'order does not exist') : respond(200, transaction(order))
    }),
  )

  app.get(
    '/v3/pay/transactions/id/:transaction_id',
    route('query', () => undefined, false, async (request, merchant) => {
      const refused = checkMchidQuery(request, merchant)
      if (refused !== undefined) return refused
      const order = book.findByProviderId((request.params as { transaction_id: string }).transaction_id)
      await hangIfFaulty(context, order?.order_no)
      return order === undefined || order.merchant_id !== merchant.merchant_id ? error(404, 'ORDER_NOT_EXIST', 'order does not exist') : respond(200, transaction(order))
    }),
  )

  app.post(
    '/v3/pay/transactions/out-trade-no/:out_trade_no/close',
    route('close', pathOrderNo, true, (request, merchant, json) => {
      if (text(json.mchid) !== merchant.merchant_id) return error(400, 'PARAM_ERROR', 'mchid must be the signing merchant', 'mchid')
      const order = book.find(merchant.merchant_id, pathOrderNo(request) ?? '')
      if (order === undefined) return error(404, 'ORDER_NOT_EXIST', 'order does not exist')
      const late = order.status === 'waiting' && context.faults.payAfterClose(order.order_no)
      if (late) context.log.write({ event: 'fault', action: 'pay_after_close', order_no: order.order_no })
      const closed = book.close(merchant.merchant_id, order.order_no, late)
      if (closed.outcome === 'paid') return error(400, 'ORDER_PAID', 'the order has been paid')
      return respond(204, undefined)
    }),
  )

  function refundJson(refundKey: string): Json | undefined {
    const refund = book.refundByKey(refundKey)
    if (refund === undefined) return undefined
    const order = book.find(refund.merchant_id, refund.order_no)
    return {
      refund_id: refund.provider_refund_id,
      out_refund_no: refund.refund_no,
      transaction_id: order?.provider_order_id ?? '',
      out_trade_no: refund.order_no,
      channel: 'ORIGINAL',
      status: 'SUCCESS',
      create_time: rfc3339Beijing(refund.created_at_ms),
      success_time: rfc3339Beijing(refund.created_at_ms),
      amount: { refund: Number(refund.amount_minor), total: Number(order?.amount_minor ?? 0n), payer_refund: Number(refund.amount_minor), payer_total: Number(order?.amount_minor ?? 0n), currency: refund.currency, refunded_total: Number(refund.refunded_total_minor) },
    }
  }

  app.post(
    '/v3/refund/domestic/refunds',
    route('refund', (_request, json) => text(json?.out_trade_no), true, (_request, merchant, json) => {
      const outRefundNo = text(json.out_refund_no)
      if (outRefundNo === undefined || !orderNoPattern.test(outRefundNo)) return error(400, 'PARAM_ERROR', 'out_refund_no: 1 to 64 letters, digits, _ or -', 'out_refund_no')
      const byTransaction = text(json.transaction_id)
      const order = byTransaction !== undefined ? book.findByProviderId(byTransaction) : book.find(merchant.merchant_id, text(json.out_trade_no) ?? '')
      if (order === undefined || order.merchant_id !== merchant.merchant_id) return error(404, 'ORDER_NOT_EXIST', 'order does not exist')
      const amount = money(json.amount, 'refund', 'amount')
      if (typeof amount === 'string') return error(400, 'PARAM_ERROR', amount, 'amount')
      const total = (json.amount as Json).total
      if (total !== Number(order.amount_minor)) return error(400, 'PARAM_ERROR', "amount.total must be the order's amount", 'amount.total')
      if (amount.currency !== order.currency) return error(400, 'PARAM_ERROR', `amount.currency must be ${order.currency}`, 'amount.currency')
      const refundKey = `${merchant.merchant_id}\n${outRefundNo}`
      const refunded = book.refund(merchant.merchant_id, order.order_no, {
        refund_key: refundKey,
        refund_no: outRefundNo,
        provider_refund_id: `50${String(context.serial('refund')).padStart(8, '0')}${beijingDate(clock.now())}`,
        amount_minor: amount.amount,
        fingerprint: canonicalJson({ ...json, out_trade_no: order.order_no, transaction_id: undefined }),
      })
      switch (refunded.outcome) {
        case 'refunded':
        case 'replayed':
          return respond(200, refundJson(refundKey))
        case 'refund_no_reused':
          return error(403, 'OUT_REFUND_NO_USED', 'out_refund_no already used with different parameters', 'out_refund_no')
        case 'not_paid':
          return error(403, 'TRADE_STATE_ERROR', 'the order is not paid')
        case 'exceeds_paid':
          return error(403, 'REFUND_AMOUNT_EXCEEDED', `the refundable amount is ${refunded.refundable_minor}`, 'amount.refund')
        case 'capacity':
          return error(500, 'SYSTEM_ERROR', 'system busy')
      }
    }),
  )

  app.get(
    '/v3/refund/domestic/refunds/:out_refund_no',
    route('refund_query', () => undefined, false, (request, merchant) => {
      const found = refundJson(`${merchant.merchant_id}\n${(request.params as { out_refund_no: string }).out_refund_no}`)
      return found === undefined ? error(404, 'RESOURCE_NOT_EXISTS', 'refund does not exist') : respond(200, found)
    }),
  )

  app.get('/v3/certificates', async (request, reply) => {
    const merchant = authenticate(request, '')
    const data = platformKeys.map((entry) => ({ serial_no: entry.keys.serial_no, public_key_pem: entry.keys.public_key_pem, signed_by: entry.signed_by, signature: entry.signature }))
    const prepared = isPrepared(merchant) ? merchant : respond(200, { data })
    return reply.code(prepared.status).headers(prepared.headers).send(prepared.body)
  })

  const eventTypes: Readonly<Record<NotifiedStatus, WechatLikeEventType>> = { paid: 'TRANSACTION.SUCCESS', closed: 'TRANSACTION.CLOSED', failed: 'TRANSACTION.PAYERROR' }
  const statesByEvent: Readonly<Record<NotifiedStatus, WechatLikeTradeState>> = { paid: 'SUCCESS', closed: 'CLOSED', failed: 'PAYERROR' }

  function outgoing(order: Order, status: NotifiedStatus, url: string, json: Json, headers?: Record<string, string>): OutgoingNotification {
    const body = JSON.stringify(json)
    return { order_no: order.order_no, merchant_id: order.merchant_id, status, url, body, headers: { 'content-type': 'application/json', ...(headers ?? signedHeaders(body)) } }
  }

  return {
    notification: (order, status, url) => {
      const id = `EV${String(context.serial('notification')).padStart(10, '0')}`
      const event = (resource: Json, eventId = id): Json => ({ id: eventId, create_time: rfc3339Beijing(clock.now()), event_type: eventTypes[status], resource_type: 'plain-resource', summary: stateDescriptions[statesByEvent[status]], resource })
      const genuine = event(transaction(order, statesByEvent[status]))
      return {
        genuine: outgoing(order, status, url, genuine),
        forge: (forgery: Forgery) => {
          const forgeryId = `${id}F${String(context.serial('forgery')).padStart(6, '0')}`
          switch (forgery) {
            case 'bad_signature': {
              // A real signature, but of another nonce than the one in the header.
              const headers = signedHeaders(JSON.stringify(genuine))
              return outgoing(order, status, url, genuine, { ...headers, 'Wechatlike-Nonce': randomNonce() })
            }
            case 'wrong_amount': {
              const resource = transaction(order, statesByEvent[status])
              return outgoing(order, status, url, event({ ...resource, amount: { ...(resource.amount as Json), total: Number(order.amount_minor + 1n) } }, forgeryId))
            }
            case 'unknown_order':
              return outgoing(order, status, url, event({ ...transaction(order, statesByEvent[status]), out_trade_no: `FORGED${forgeryId}`, transaction_id: `${context.provider.order_prefix}999${forgeryId}` }, forgeryId))
          }
        },
      }
    },
    isAcknowledgement: (httpStatus) => httpStatus === 200 || httpStatus === 204,
    // As the real H5 flow does: the browser goes back to the merchant's page with nothing signed; the merchant queries.
    returnUrl: (order) => order.return_url,
    statusName: (order) => tradeStateOf(order),
    rotateKey: async ({ crossSigned }) => {
      const previous = signing()
      const next = await generateWechatLikeMerchantKeys()
      // The previous key vouches for the next one, as a platform certificate chain does.
      const signature = crossSigned ? rsaSha256Sign(wechatLikeCertificateMessage(next.serial_no, next.public_key_pem), previous.private_key_pem) : null
      platformKeys.push({ keys: next, signed_by: crossSigned ? previous.serial_no : null, signature })
      return { serial_no: next.serial_no }
    },
  }
}

/** JSON with object keys sorted at every level: the same request always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .filter((key) => (value as Json)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Json)[key])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}
