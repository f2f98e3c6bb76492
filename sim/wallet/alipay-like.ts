/**
 * The alipay-like provider: one form-encoded gateway endpoint, `POST /gateway.do`, dispatching on
 * `method`; HMAC-SHA256 signatures in base64 over the sorted parameters (`./protocol.ts`); answers
 * `{ "<method>_response": { code, msg, sub_code?, sub_msg?, … }, "sign": … }` with HTTP 200, errors
 * included; form notifications acknowledged by the body `success`.
 */
import type { FastifyInstance } from 'fastify'
import { findCurrency, type CurrencyCode } from '../../src/domain/currency.js'
import { parseAmountMinor } from '../common/amount.js'
import type { Order } from '../common/book.js'
import { canonicalString, encodeForm, flatParamsFromJson, hmacSha256, parseFormParams, signaturesEqual, type WireParams } from '../common/canonical.js'
import type { Forgery, NotifiedStatus, Operation } from '../common/faults.js'
import { rawBodyOf } from '../common/http.js'
import type { OutgoingNotification } from '../common/notifier.js'
import { beijingDate, beijingDateTime, parseBeijingDateTime } from '../common/time.js'
import { answerWithFaults, hangIfFaulty, orderNoPattern, urlProblem, type Prepared, type ProviderShell, type WalletContext } from './context.js'
import { alipayLikeCodes, alipayLikeMethods, alipayLikeNotificationAcknowledgement, alipayLikeResponseKey, alipayLikeSignature, type AlipayLikeMethod, type AlipayLikeTradeStatus } from './protocol.js'
import type { WalletMerchant } from './users.js'

export const alipayLikeCurrencies: readonly CurrencyCode[] = ['CNY']

const operations: Readonly<Record<AlipayLikeMethod, Operation>> = {
  'alipay.trade.precreate': 'create',
  'alipay.trade.query': 'query',
  'alipay.trade.close': 'close',
  'alipay.trade.refund': 'refund',
  'alipay.trade.fastpay.refund.query': 'refund_query',
}

type Fields = Record<string, string | number | undefined>
type Result = { readonly code: string; readonly msg: string; readonly sub_code?: string; readonly sub_msg?: string; readonly fields?: Fields }

const msgs: Readonly<Record<string, string>> = {
  [alipayLikeCodes.success]: 'Success',
  [alipayLikeCodes.unavailable]: 'Service Currently Unavailable',
  [alipayLikeCodes.missing_argument]: 'Missing Required Arguments',
  [alipayLikeCodes.invalid_argument]: 'Invalid Arguments',
  [alipayLikeCodes.business_failed]: 'Business Failed',
}

function result(code: string, subCode?: string, subMsg?: string, fields?: Fields): Result {
  return { code, msg: msgs[code] ?? 'Error', ...(subCode === undefined ? {} : { sub_code: subCode }), ...(subMsg === undefined ? {} : { sub_msg: subMsg }), ...(fields === undefined ? {} : { fields }) }
}

const success = (fields: Fields): Result => result(alipayLikeCodes.success, undefined, undefined, fields)
const business = (subCode: string, subMsg: string, fields?: Fields): Result => result(alipayLikeCodes.business_failed, subCode, subMsg, fields)
const invalid = (subCode: string, subMsg: string): Result => result(alipayLikeCodes.invalid_argument, subCode, subMsg)
const missing = (subCode: string, subMsg: string): Result => result(alipayLikeCodes.missing_argument, subCode, subMsg)

/** The fields the wallet sets on the return URL; a merchant's own query parameters must not use them. */
const returnFieldNames = ['app_id', 'method', 'charset', 'sign_type', 'timestamp', 'version', 'out_trade_no', 'trade_no', 'trade_status', 'total_amount', 'currency', 'gmt_payment', 'buyer_id', 'sign']

export function registerAlipayLike(app: FastifyInstance, context: WalletContext): ProviderShell {
  const { book, clock } = context

  function tradeStatusOf(order: Order): AlipayLikeTradeStatus {
    switch (order.status) {
      case 'waiting':
        return 'WAIT_BUYER_PAY'
      case 'paid':
        // As the real one does: a fully refunded trade reads TRADE_CLOSED.
        return order.refunded_minor === order.amount_minor ? 'TRADE_CLOSED' : 'TRADE_SUCCESS'
      case 'failed':
      case 'closed':
        return 'TRADE_CLOSED'
    }
  }

  function answer(method: string, merchant: WalletMerchant | undefined, outcome: Result): Prepared {
    const body: Record<string, string | number> = { code: outcome.code, msg: outcome.msg }
    if (outcome.sub_code !== undefined) body.sub_code = outcome.sub_code
    if (outcome.sub_msg !== undefined) body.sub_msg = outcome.sub_msg
    for (const [name, value] of Object.entries(outcome.fields ?? {})) if (value !== undefined) body[name] = value
    const key = alipayLikeMethods.includes(method as AlipayLikeMethod) ? alipayLikeResponseKey(method) : 'error_response'
    const text: Record<string, string> = {}
    for (const [name, value] of Object.entries(body)) text[name] = String(value)
    const json = merchant?.key === undefined ? { [key]: body } : { [key]: body, sign: hmacSha256(merchant.key, canonicalString(text, []), 'base64') }
    return { status: 200, body: JSON.stringify(json), headers: { 'content-type': 'application/json; charset=utf-8' } }
  }

  function tradeFields(order: Order): Fields {
    const user = order.payer_id === undefined ? undefined : context.users.get(order.payer_id)
    return {
      out_trade_no: order.order_no,
      trade_no: order.provider_order_id,
      trade_status: tradeStatusOf(order),
      total_amount: Number(order.amount_minor),
      currency: order.currency,
      refund_amount_total: Number(order.refunded_minor),
      buyer_user_id: user?.payer_id,
      buyer_logon_id: user === undefined ? undefined : `${user.phone.slice(0, 3)}****${user.phone.slice(-4)}`,
      send_pay_date: order.paid_at_ms === undefined ? undefined : beijingDateTime(order.paid_at_ms),
    }
  }

  function findOrder(merchant: WalletMerchant, biz: WireParams): Order | undefined {
    if (biz.out_trade_no !== undefined) return book.find(merchant.merchant_id, biz.out_trade_no)
    if (biz.trade_no !== undefined) {
      const order = book.findByProviderId(biz.trade_no)
      return order?.merchant_id === merchant.merchant_id ? order : undefined
    }
    return undefined
  }

  const notFound = (): Result => business('ACQ.TRADE_NOT_EXIST', 'trade does not exist')

  async function run(method: AlipayLikeMethod, params: WireParams, biz: WireParams, merchant: WalletMerchant): Promise<Result> {
    switch (method) {
      case 'alipay.trade.precreate': {
        const outTradeNo = biz.out_trade_no
        if (outTradeNo === undefined || !orderNoPattern.test(outTradeNo)) return invalid('isv.invalid-parameter', 'out_trade_no: 1 to 64 letters, digits, _ or -')
        const amount = parseAmountMinor(biz.total_amount)
        if (amount === undefined) return invalid('isv.invalid-parameter', 'total_amount: an integer of minor units, 1 to 999999999999')
        const currency = findCurrency(biz.currency ?? 'CNY')
        if (currency === undefined) return invalid('isv.invalid-parameter', 'currency: not an ISO 4217 code')
        if (!alipayLikeCurrencies.includes(currency.code)) return business('ACQ.CURRENCY_NOT_SUPPORT', `currency ${currency.code} is not supported`)
        const subject = biz.subject
        if (subject === undefined || subject.length === 0 || subject.length > 256) return invalid('isv.invalid-parameter', 'subject: 1 to 256 characters')
        for (const name of ['notify_url', 'return_url'] as const) {
          const url = params[name]
          const problem = url === undefined ? undefined : urlProblem(url)
          if (problem !== undefined) return invalid('isv.invalid-parameter', `${name}: ${problem}`)
        }
        if (params.return_url !== undefined) {
          const taken = returnFieldNames.find((name) => new URL(params.return_url ?? '').searchParams.has(name))
          if (taken !== undefined) return invalid('isv.invalid-parameter', `return_url: must not carry the wallet's own parameter ${taken}`)
        }
        const tradeNo = `${context.provider.order_prefix}${beijingDate(clock.now()).slice(4)}22${String(context.serial('order')).padStart(10, '0')}`
        const created = book.create({
          merchant_id: merchant.merchant_id,
          order_no: outTradeNo,
          provider_order_id: tradeNo,
          kind: 'wallet',
          amount_minor: amount,
          currency: currency.code,
          subject,
          notify_url: params.notify_url,
          return_url: params.return_url,
          fingerprint: encodeForm({ ...biz, notify_url: params.notify_url ?? '', return_url: params.return_url ?? '' }),
        })
        switch (created.outcome) {
          case 'capacity':
            return result(alipayLikeCodes.unavailable, 'isp.unknow-error', 'system busy')
          case 'order_no_reused':
            return business('ACQ.CONTEXT_INCONSISTENT', 'out_trade_no already used with different parameters')
          case 'replayed':
            return created.order.create_answer as Result
          case 'created': {
            const order = created.order
            const outcome = success({ out_trade_no: order.order_no, trade_no: order.provider_order_id, qr_code: `${context.baseUrl()}/qr/${order.provider_order_id}`, redirect_url: `${context.baseUrl()}/pay/${order.provider_order_id}` })
            book.setCreateAnswer(merchant.merchant_id, order.order_no, outcome)
            return outcome
          }
        }
        break
      }
      case 'alipay.trade.query': {
        await hangIfFaulty(context, biz.out_trade_no)
        const order = findOrder(merchant, biz)
        return order === undefined ? notFound() : success(tradeFields(order))
      }
      case 'alipay.trade.close': {
        const order = findOrder(merchant, biz)
        if (order === undefined) return notFound()
        const late = order.status === 'waiting' && context.faults.payAfterClose(order.order_no)
        if (late) context.log.write({ event: 'fault', action: 'pay_after_close', order_no: order.order_no })
        const closed = book.close(merchant.merchant_id, order.order_no, late)
        if (closed.outcome === 'paid') return business('ACQ.TRADE_STATUS_ERROR', 'the trade has been paid', { out_trade_no: order.order_no, trade_no: order.provider_order_id })
        return success({ out_trade_no: order.order_no, trade_no: order.provider_order_id })
      }
      case 'alipay.trade.refund': {
        const order = findOrder(merchant, biz)
        if (order === undefined) return notFound()
        const amount = parseAmountMinor(biz.refund_amount)
        if (amount === undefined) return invalid('isv.invalid-parameter', 'refund_amount: an integer of minor units, 1 to 999999999999')
        const requestNo = biz.out_request_no
        if (requestNo === undefined || !orderNoPattern.test(requestNo)) return invalid('isv.invalid-parameter', 'out_request_no: 1 to 64 letters, digits, _ or -')
        const refunded = book.refund(merchant.merchant_id, order.order_no, {
          refund_key: `${merchant.merchant_id}\n${order.order_no}\n${requestNo}`,
          refund_no: requestNo,
          provider_refund_id: `${order.provider_order_id}R${String(context.serial('refund')).padStart(6, '0')}`,
          amount_minor: amount,
          fingerprint: encodeForm({ refund_amount: amount.toString(), refund_reason: biz.refund_reason ?? '' }),
        })
        const fields = (fundChange: 'Y' | 'N', refundFeeMinor: bigint, refundAmountMinor: bigint): Fields => ({
          out_trade_no: order.order_no,
          trade_no: order.provider_order_id,
          out_request_no: requestNo,
          refund_amount: Number(refundAmountMinor),
          refund_fee: Number(refundFeeMinor),
          fund_change: fundChange,
          gmt_refund_pay: beijingDateTime(clock.now()),
        })
        switch (refunded.outcome) {
          case 'refunded':
            return success(fields('Y', refunded.refund.refunded_total_minor, refunded.refund.amount_minor))
          case 'replayed':
            return success(fields('N', refunded.refund.refunded_total_minor, refunded.refund.amount_minor))
          case 'refund_no_reused':
            return business('ACQ.CONTEXT_INCONSISTENT', 'out_request_no already used with different parameters')
          case 'not_paid':
            return business('ACQ.TRADE_STATUS_ERROR', 'the trade is not paid')
          case 'exceeds_paid':
            return business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', `refund amount exceeds the refundable ${refunded.refundable_minor}`)
          case 'capacity':
            return result(alipayLikeCodes.unavailable, 'isp.unknow-error', 'system busy')
        }
        break
      }
      case 'alipay.trade.fastpay.refund.query': {
        const order = findOrder(merchant, biz)
        if (order === undefined) return notFound()
        const refund = book.refundByKey(`${merchant.merchant_id}\n${order.order_no}\n${biz.out_request_no ?? ''}`)
        // As the real one does: an unknown refund is a success without refund fields.
        if (refund === undefined) return success({ out_trade_no: order.order_no, trade_no: order.provider_order_id, out_request_no: biz.out_request_no })
        return success({
          out_trade_no: order.order_no,
          trade_no: order.provider_order_id,
          out_request_no: refund.refund_no,
          refund_amount: Number(refund.amount_minor),
          total_amount: Number(order.amount_minor),
          refund_status: 'REFUND_SUCCESS',
          gmt_refund_pay: beijingDateTime(refund.created_at_ms),
        })
      }
    }
  }

  app.post('/gateway.do', async (request, reply) => {
    const raw = rawBodyOf(request)
    const parsed = raw.media === 'form' ? parseFormParams(raw.text) : ({ ok: false, field: undefined, message: 'the body must be application/x-www-form-urlencoded' } as const)
    // As the canonical string does, the gateway treats an empty parameter as an absent one.
    const params: WireParams = parsed.ok ? Object.fromEntries(Object.entries(parsed.params).filter(([, value]) => value !== '')) : {}
    const method = params.method ?? ''
    const known = alipayLikeMethods.includes(method as AlipayLikeMethod)
    let biz: WireParams | undefined
    let bizProblem: string | undefined
    if (params.biz_content !== undefined) {
      try {
        const flat = flatParamsFromJson(JSON.parse(params.biz_content))
        if (flat.ok) biz = flat.params
        else bizProblem = flat.message
      } catch {
        bizProblem = 'biz_content is not JSON'
      }
    }
    const orderNo = biz?.out_trade_no
    const operation = known ? operations[method as AlipayLikeMethod] : undefined
    const respond = async (): Promise<Prepared> => {
      let merchant: WalletMerchant | undefined
      let outcome: Result
      if (!parsed.ok) outcome = invalid('isv.invalid-parameter', parsed.message)
      else if (params.app_id === undefined) outcome = missing('isv.missing-app-id', 'app_id is required')
      else if (context.merchants.get(params.app_id)?.key === undefined) outcome = invalid('isv.invalid-app-id', 'app_id is not registered')
      else if (params.method === undefined) outcome = missing('isv.missing-method', 'method is required')
      else if (!known) outcome = invalid('isv.invalid-method', `method ${method} does not exist`)
      else if (params.sign === undefined) outcome = missing('isv.missing-signature', 'sign is required')
      else if (params.sign_type === undefined) outcome = missing('isv.missing-signature-type', 'sign_type is required')
      else if (params.sign_type !== 'HMAC-SHA256') outcome = invalid('isv.invalid-signature-type', 'sign_type must be HMAC-SHA256')
      else {
        const candidate = context.merchants.get(params.app_id)
        if (candidate?.key === undefined || !signaturesEqual(params.sign, alipayLikeSignature(params, candidate.key))) outcome = invalid('isv.invalid-signature', 'signature verification failed')
        else {
          // From here on the gateway knows the app's key, so it signs its answers.
          merchant = candidate
          if (params.timestamp === undefined) outcome = missing('isv.missing-timestamp', 'timestamp is required')
          else if (parseBeijingDateTime(params.timestamp) === undefined) outcome = invalid('isv.invalid-timestamp', 'timestamp must be yyyy-MM-dd HH:mm:ss')
          else if (params.charset !== undefined && params.charset.toLowerCase() !== 'utf-8') outcome = invalid('isv.invalid-charset', 'charset must be utf-8')
          else if (params.version !== undefined && params.version !== '1.0') outcome = invalid('isv.invalid-parameter', 'version must be 1.0')
          else if (biz === undefined) outcome = bizProblem === undefined ? missing('isv.missing-biz-content', 'biz_content is required') : invalid('isv.invalid-parameter', bizProblem)
          else outcome = await run(method as AlipayLikeMethod, params, biz, merchant)
        }
      }
      context.log.write({ event: 'request', operation: operation ?? 'unknown', ...(params.app_id === undefined ? {} : { merchant_id: params.app_id }), ...(orderNo === undefined ? {} : { order_no: orderNo }), http_status: 200, code: outcome.sub_code ?? outcome.code })
      return answer(method, merchant, outcome)
    }
    if (operation === undefined) {
      const prepared = await respond()
      return reply.code(prepared.status).headers(prepared.headers).send(prepared.body)
    }
    return answerWithFaults(context, reply, operation, orderNo, respond)
  })

  function notificationFields(order: Order, status: NotifiedStatus, merchant: WalletMerchant): Record<string, string> {
    const user = order.payer_id === undefined ? undefined : context.users.get(order.payer_id)
    const fields: Record<string, string> = {
      notify_id: `${order.provider_order_id}N${String(context.serial('notification')).padStart(8, '0')}`,
      notify_time: beijingDateTime(clock.now()),
      notify_type: 'trade_status_sync',
      app_id: merchant.merchant_id,
      charset: 'utf-8',
      version: '1.0',
      sign_type: 'HMAC-SHA256',
      out_trade_no: order.order_no,
      trade_no: order.provider_order_id,
      trade_status: status === 'paid' ? 'TRADE_SUCCESS' : 'TRADE_CLOSED',
      total_amount: order.amount_minor.toString(),
      currency: order.currency,
      subject: order.subject,
      gmt_create: beijingDateTime(order.created_at_ms),
    }
    if (user !== undefined) fields.buyer_id = user.payer_id
    if (status === 'paid' && order.paid_at_ms !== undefined) fields.gmt_payment = beijingDateTime(order.paid_at_ms)
    if (status !== 'paid' && order.closed_at_ms !== undefined) fields.gmt_close = beijingDateTime(order.closed_at_ms)
    return fields
  }

  const outgoing = (order: Order, status: NotifiedStatus, url: string, params: Record<string, string>): OutgoingNotification => ({
    order_no: order.order_no,
    merchant_id: order.merchant_id,
    status,
    url,
    body: encodeForm(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  })

  return {
    notification: (order, status, url) => {
      const merchant = context.merchants.get(order.merchant_id)
      const key = merchant?.key ?? ''
      const fields = notificationFields(order, status, merchant ?? { merchant_id: order.merchant_id })
      return {
        genuine: outgoing(order, status, url, { ...fields, sign: alipayLikeSignature(fields, key) }),
        forge: (forgery: Forgery) => {
          const id = String(context.serial('forgery')).padStart(6, '0')
          switch (forgery) {
            case 'bad_signature':
              return outgoing(order, status, url, { ...fields, sign: hmacSha256(`forger-${id}`, alipayLikeSignature(fields, key), 'base64') })
            case 'wrong_amount': {
              const forged = { ...fields, notify_id: `${fields.notify_id ?? ''}F${id}`, total_amount: (order.amount_minor + 1n).toString() }
              return outgoing(order, status, url, { ...forged, sign: alipayLikeSignature(forged, key) })
            }
            case 'unknown_order': {
              const forged = { ...fields, notify_id: `${fields.notify_id ?? ''}F${id}`, out_trade_no: `FORGED${id}`, trade_no: `${context.provider.order_prefix}99${id.padStart(12, '0')}` }
              return outgoing(order, status, url, { ...forged, sign: alipayLikeSignature(forged, key) })
            }
          }
        },
      }
    },
    isAcknowledgement: (httpStatus, text) => httpStatus === 200 && text.trim() === alipayLikeNotificationAcknowledgement,
    returnUrl: (order) => {
      const merchant = context.merchants.get(order.merchant_id)
      if (order.return_url === undefined || merchant?.key === undefined) return undefined
      const url = new URL(order.return_url)
      const user = order.payer_id === undefined ? undefined : context.users.get(order.payer_id)
      const fields: Record<string, string> = {
        app_id: merchant.merchant_id,
        method: 'alipay.trade.page.pay.return',
        charset: 'utf-8',
        sign_type: 'HMAC-SHA256',
        timestamp: beijingDateTime(clock.now()),
        version: '1.0',
        out_trade_no: order.order_no,
        trade_no: order.provider_order_id,
        trade_status: tradeStatusOf(order),
        total_amount: order.amount_minor.toString(),
        currency: order.currency,
      }
      if (order.paid_at_ms !== undefined) fields.gmt_payment = beijingDateTime(order.paid_at_ms)
      if (user !== undefined) fields.buyer_id = user.payer_id
      for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value)
      const all: Record<string, string> = {}
      for (const [name, value] of url.searchParams) all[name] = value
      url.searchParams.set('sign', alipayLikeSignature(all, merchant.key))
      return url.toString()
    },
    statusName: tradeStatusOf,
  }
}
