/**
 * The wallet providers' wire protocols, as functions Kassa's third-party-wallet channel mirrors (and
 * the tests use). Two providers, two schemes (byte-exact in `docs/simulators.md`):
 *
 * - **alipay-like**: one gateway endpoint `POST /gateway.do`, form-encoded; common parameters plus a
 *   JSON `biz_content`. Signature: every parameter except `sign`, empty ones dropped, sorted by key,
 *   `key=value` joined by `&` (no percent-encoding), HMAC-SHA256 with the app's shared key,
 *   **base64**; `sign_type=HMAC-SHA256` is itself signed. Answers are JSON
 *   `{ "<method>_response": {…}, "sign": "…" }`, the sign covering the response object's members the
 *   same way. Notifications are forms signed the same way.
 * - **wechat-like**: REST + JSON under `/v3/…`. Kassa signs each request with its RSA private key:
 *   RSA-SHA256 (PKCS#1 v1.5), base64, over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`, sent as
 *   `Authorization: WECHATLIKE-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
 *   The wallet signs every answer and notification with its own private key over
 *   `TIMESTAMP\nNONCE\nBODY\n` in the `Wechatlike-Timestamp/-Nonce/-Signature/-Serial` headers.
 *
 * Pure apart from randomness (`generateWechatLikeMerchantKeys`, `randomNonce`).
 */
import { createHash, createPublicKey, createSign, createVerify, generateKeyPair, randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { findCurrency, type CurrencyCode } from '../../src/domain/currency.js'
import { AMOUNT_MINOR_MAX } from '../../src/domain/money.js'
import { parseAmountMinor } from '../common/amount.js'
import { canonicalString, flatParamsFromJson, hmacSha256, parseFormParams, signaturesEqual, type WireParams } from '../common/canonical.js'
import { beijingDateTime } from '../common/time.js'

export { encodeForm, parseFormParams, type WireParams } from '../common/canonical.js'
export { parseAmountMinor } from '../common/amount.js'

// ---- alipay-like ---------------------------------------------------------------------------------

export type AlipayLikeMethod = 'alipay.trade.precreate' | 'alipay.trade.query' | 'alipay.trade.close' | 'alipay.trade.refund' | 'alipay.trade.fastpay.refund.query'
export const alipayLikeMethods: readonly AlipayLikeMethod[] = ['alipay.trade.precreate', 'alipay.trade.query', 'alipay.trade.close', 'alipay.trade.refund', 'alipay.trade.fastpay.refund.query']

/** `WAIT_BUYER_PAY`, `TRADE_SUCCESS`, `TRADE_CLOSED` (closed unpaid, **or fully refunded**), `TRADE_FINISHED` (never sent here). */
export type AlipayLikeTradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED'
export const alipayLikeTradeStatuses: readonly AlipayLikeTradeStatus[] = ['WAIT_BUYER_PAY', 'TRADE_SUCCESS', 'TRADE_CLOSED', 'TRADE_FINISHED']

/** The gateway's `code`s; `sub_code` says more. */
export const alipayLikeCodes = { success: '10000', unavailable: '20000', missing_argument: '40001', invalid_argument: '40002', business_failed: '40004' } as const

/** What a merchant answers a notification with, as the whole body, to stop the retries. */
export const alipayLikeNotificationAcknowledgement = 'success'

/** The key of the response object for a method: `alipay.trade.query` → `alipay_trade_query_response`. */
export function alipayLikeResponseKey(method: string): string {
  return `${method.replace(/\./g, '_')}_response`
}

/** The string an alipay-like signature covers: every parameter but `sign`, non-empty, sorted. */
export function alipayLikeCanonicalString(params: WireParams): string {
  return canonicalString(params, ['sign'])
}

/** Base64 HMAC-SHA256 of the canonical string under the app's key. */
export function alipayLikeSignature(params: WireParams, key: string): string {
  return hmacSha256(key, alipayLikeCanonicalString(params), 'base64')
}

/** The gateway's timestamp layout, Beijing time. @example alipayLikeTimestamp(Date.UTC(2026, 0, 1)) // '2026-01-01 08:00:00' */
export function alipayLikeTimestamp(ms: number): string {
  return beijingDateTime(ms)
}

export type AlipayLikeRequest = {
  readonly app_id: string
  readonly method: AlipayLikeMethod
  /** Serialised with `JSON.stringify` as given; amounts are integers of minor units. */
  readonly biz_content: Readonly<Record<string, string | number>>
  /** `yyyy-MM-dd HH:mm:ss`, Beijing time (`alipayLikeTimestamp`). */
  readonly timestamp: string
  readonly notify_url?: string
  readonly return_url?: string
}

/**
 * The form fields of a signed gateway request.
 * @example
 * const fields = signAlipayLikeRequest({ app_id, method: 'alipay.trade.query', biz_content: { out_trade_no: 'pay_1' }, timestamp: alipayLikeTimestamp(Date.now()) }, key)
 * await fetch(`${walletUrl}/gateway.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(fields) })
 */
export function signAlipayLikeRequest(request: AlipayLikeRequest, key: string): Record<string, string> {
  const params: Record<string, string> = {
    app_id: request.app_id,
    method: request.method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'HMAC-SHA256',
    timestamp: request.timestamp,
    version: '1.0',
    biz_content: JSON.stringify(request.biz_content),
  }
  if (request.notify_url !== undefined) params.notify_url = request.notify_url
  if (request.return_url !== undefined) params.return_url = request.return_url
  return { ...params, sign: alipayLikeSignature(params, key) }
}

export type AlipayLikeFailure = { readonly ok: false; readonly reason: 'malformed' | 'signature_missing' | 'signature_invalid'; readonly message: string }

/**
 * Checks a gateway answer for `method` and gives its response object (members as text). Answers to
 * requests the gateway could not tie to an app key (a bad signature, an unknown app) carry no `sign`:
 * the result is `signature_missing` with the response for its `code` and `sub_code`.
 */
export function verifyAlipayLikeAnswer(json: unknown, method: string, key: string): { readonly ok: true; readonly response: WireParams } | (AlipayLikeFailure & { readonly response?: WireParams }) {
  if (typeof json !== 'object' || json === null) return { ok: false, reason: 'malformed', message: 'the answer is not a JSON object' }
  const record = json as Record<string, unknown>
  const body = record[alipayLikeResponseKey(method)] ?? record.error_response
  const flat = flatParamsFromJson(body)
  if (!flat.ok) return { ok: false, reason: 'malformed', message: flat.message }
  const sign = record.sign
  if (typeof sign !== 'string') return { ok: false, reason: 'signature_missing', message: 'the answer is not signed', response: flat.params }
  if (!signaturesEqual(sign, hmacSha256(key, canonicalString(flat.params, []), 'base64'))) return { ok: false, reason: 'signature_invalid', message: 'the answer signature does not verify' }
  return { ok: true, response: flat.params }
}

export type AlipayLikeTradeReport = {
  readonly app_id: string
  readonly out_trade_no: string
  readonly trade_no: string
  readonly trade_status: AlipayLikeTradeStatus
  readonly total_amount_minor: bigint
  readonly currency: CurrencyCode
  /** `yyyy-MM-dd HH:mm:ss`, Beijing time, once paid. */
  readonly gmt_payment: string | undefined
  readonly buyer_id: string | undefined
}

export type AlipayLikeNotification = AlipayLikeTradeReport & { readonly notify_id: string; readonly notify_time: string; readonly notify_type: string }

/**
 * Verifies and reads an asynchronous notification (a form). Compare its trade with yours: a valid
 * signature does not make the amount right.
 */
export function verifyAlipayLikeNotification(body: string | WireParams, key: string): { readonly ok: true; readonly report: AlipayLikeNotification } | AlipayLikeFailure {
  const parsed = typeof body === 'string' ? parseFormParams(body) : ({ ok: true, params: body } as const)
  if (!parsed.ok) return { ok: false, reason: 'malformed', message: parsed.message }
  const report = readAlipayLikeTrade(parsed.params, key)
  if (!report.ok) return report
  const { notify_id, notify_time, notify_type } = parsed.params
  if (notify_id === undefined || notify_time === undefined || notify_type === undefined) return { ok: false, reason: 'malformed', message: 'notify_id, notify_time and notify_type are required' }
  return { ok: true, report: { ...report.report, notify_id, notify_time, notify_type } }
}

/** Verifies the signed query string the wallet appends to `return_url` after a payment. */
export function verifyAlipayLikeReturn(query: string | URLSearchParams, key: string): { readonly ok: true; readonly report: AlipayLikeTradeReport } | AlipayLikeFailure {
  const search = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query
  const params: Record<string, string> = {}
  for (const [name, value] of search) {
    if (Object.hasOwn(params, name)) return { ok: false, reason: 'malformed', message: `${name} is repeated` }
    params[name] = value
  }
  return readAlipayLikeTrade(params, key)
}

function readAlipayLikeTrade(params: WireParams, key: string): { readonly ok: true; readonly report: AlipayLikeTradeReport } | AlipayLikeFailure {
  if (params.sign === undefined) return { ok: false, reason: 'signature_missing', message: 'no sign parameter' }
  if (params.sign_type !== 'HMAC-SHA256') return { ok: false, reason: 'malformed', message: 'sign_type must be HMAC-SHA256' }
  if (!signaturesEqual(params.sign, alipayLikeSignature(params, key))) return { ok: false, reason: 'signature_invalid', message: 'the signature does not verify' }
  const { app_id, out_trade_no, trade_no, trade_status, total_amount, currency } = params
  if (app_id === undefined || out_trade_no === undefined || trade_no === undefined) return { ok: false, reason: 'malformed', message: 'app_id, out_trade_no and trade_no are required' }
  if (!alipayLikeTradeStatuses.includes(trade_status as AlipayLikeTradeStatus)) return { ok: false, reason: 'malformed', message: `unknown trade_status ${String(trade_status)}` }
  const amount = parseAmountMinor(total_amount)
  if (amount === undefined) return { ok: false, reason: 'malformed', message: 'total_amount is not a positive integer of minor units' }
  const found = currency === undefined ? undefined : findCurrency(currency)
  if (found === undefined) return { ok: false, reason: 'malformed', message: 'currency is not an ISO 4217 code' }
  return { ok: true, report: { app_id, out_trade_no, trade_no, trade_status: trade_status as AlipayLikeTradeStatus, total_amount_minor: amount, currency: found.code, gmt_payment: params.gmt_payment, buyer_id: params.buyer_id } }
}

// ---- wechat-like ---------------------------------------------------------------------------------

export const wechatLikeAuthorizationScheme = 'WECHATLIKE-SHA256-RSA2048'

/** `NOTPAY`, `SUCCESS`, `REFUND` (paid, some refunded), `CLOSED`, `PAYERROR`. */
export type WechatLikeTradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'PAYERROR'
export const wechatLikeTradeStates: readonly WechatLikeTradeState[] = ['NOTPAY', 'SUCCESS', 'REFUND', 'CLOSED', 'PAYERROR']
export type WechatLikeEventType = 'TRANSACTION.SUCCESS' | 'TRANSACTION.CLOSED' | 'TRANSACTION.PAYERROR'

/** Signed timestamps older or newer than this (5 minutes) are refused, both ways. */
export const wechatLikeTimestampSkewMsMax = 5 * 60_000

/**
 * The message a request signature covers.
 * @example wechatLikeRequestMessage('GET', '/v3/pay/transactions/out-trade-no/A1?mchid=1900000001', '1767225600', 'n1', '')
 * // 'GET\n/v3/pay/transactions/out-trade-no/A1?mchid=1900000001\n1767225600\nn1\n\n'
 */
export function wechatLikeRequestMessage(method: string, url: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`
}

/** The message an answer or notification signature covers. */
export function wechatLikeResponseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`
}

/** RSA-SHA256 (PKCS#1 v1.5) of a message, base64. */
export function rsaSha256Sign(message: string, privateKeyPem: string): string {
  return createSign('sha256').update(Buffer.from(message, 'utf8')).sign(privateKeyPem, 'base64')
}

export function rsaSha256Verify(message: string, signature: string, publicKeyPem: string): boolean {
  try {
    return createVerify('sha256').update(Buffer.from(message, 'utf8')).verify(publicKeyPem, signature, 'base64')
  } catch {
    return false
  }
}

/** A key's serial number: the first 40 hex digits (upper case) of SHA-256 over its SPKI DER bytes. */
export function wechatLikeSerialNo(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex').slice(0, 40).toUpperCase()
}

/** What a platform key signs to vouch for the next one in `/v3/certificates`. */
export function wechatLikeCertificateMessage(serialNo: string, publicKeyPem: string): string {
  return `${serialNo}\n${publicKeyPem}\n`
}

export type WechatLikeKeys = { readonly public_key_pem: string; readonly private_key_pem: string; readonly serial_no: string }

/** A fresh RSA 2048 key pair (SPKI / PKCS#8 PEM) and its serial number. */
export async function generateWechatLikeMerchantKeys(): Promise<WechatLikeKeys> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  return { public_key_pem: publicKey, private_key_pem: privateKey, serial_no: wechatLikeSerialNo(publicKey) }
}

export type WechatLikeSigner = { readonly mchid: string; readonly serial_no: string; readonly private_key_pem: string }

/**
 * The `Authorization` header of a request. `url` is the path with its query, exactly as sent; `body`
 * the exact body text ('' for GET).
 * @example
 * const body = JSON.stringify({ appid, mchid, description: 'Order 1', out_trade_no: 'pay_1', notify_url, amount: { total: 100, currency: 'CNY' } })
 * const authorization = signWechatLikeRequest(signer, { method: 'POST', url: '/v3/pay/transactions/native', body, timestamp: String(Math.floor(Date.now() / 1000)), nonce: randomNonce() })
 */
export function signWechatLikeRequest(signer: WechatLikeSigner, request: { readonly method: string; readonly url: string; readonly body: string; readonly timestamp: string; readonly nonce: string }): string {
  const signature = rsaSha256Sign(wechatLikeRequestMessage(request.method, request.url, request.timestamp, request.nonce, request.body), signer.private_key_pem)
  return `${wechatLikeAuthorizationScheme} mchid="${signer.mchid}",nonce_str="${request.nonce}",timestamp="${request.timestamp}",serial_no="${signer.serial_no}",signature="${signature}"`
}

/** 32 random hex digits. */
export function randomNonce(): string {
  return randomBytes(16).toString('hex')
}

export type AuthorizationFields = { readonly mchid: string; readonly nonce_str: string; readonly timestamp: string; readonly serial_no: string; readonly signature: string }

/** Reads an `Authorization` header of the wechat-like scheme, or undefined. */
export function parseWechatLikeAuthorization(header: string | undefined): AuthorizationFields | undefined {
  if (header === undefined || !header.startsWith(`${wechatLikeAuthorizationScheme} `)) return undefined
  const fields: Record<string, string> = {}
  for (const match of header.slice(wechatLikeAuthorizationScheme.length + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) {
    const [, name, value] = match
    if (name !== undefined && value !== undefined) fields[name] = value
  }
  const { mchid, nonce_str, timestamp, serial_no, signature } = fields
  if (mchid === undefined || nonce_str === undefined || timestamp === undefined || serial_no === undefined || signature === undefined) return undefined
  return { mchid, nonce_str, timestamp, serial_no, signature }
}

/** Header bags as node (`IncomingHttpHeaders`) or fetch (`Headers`) give them; names match in any case. */
export type HeaderBag = Headers | Readonly<Record<string, string | readonly string[] | undefined>>

function headerOf(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const wanted = name.toLowerCase()
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === wanted)
  const value = key === undefined ? undefined : headers[key]
  return typeof value === 'string' ? value : undefined
}

export type WechatLikeVerifyFailure = { readonly ok: false; readonly reason: 'signature_missing' | 'signature_invalid' | 'timestamp_out_of_window' | 'serial_unknown' | 'malformed'; readonly message: string }

/**
 * Checks a wallet answer's or notification's signature headers against the wallet's public key and
 * the clock.
 */
export function verifyWechatLikeSignature(input: { readonly headers: HeaderBag; readonly body: string; readonly wallet_public_key_pem: string; readonly now_ms: number; readonly skew_ms_max?: number }): { readonly ok: true } | WechatLikeVerifyFailure {
  const timestamp = headerOf(input.headers, 'Wechatlike-Timestamp')
  const nonce = headerOf(input.headers, 'Wechatlike-Nonce')
  const signature = headerOf(input.headers, 'Wechatlike-Signature')
  const serial = headerOf(input.headers, 'Wechatlike-Serial')
  if (timestamp === undefined || nonce === undefined || signature === undefined || serial === undefined) return { ok: false, reason: 'signature_missing', message: 'Wechatlike-Timestamp, -Nonce, -Signature and -Serial are required' }
  if (serial !== wechatLikeSerialNo(input.wallet_public_key_pem)) return { ok: false, reason: 'serial_unknown', message: `no wallet key with serial ${serial}` }
  if (!/^[0-9]{1,12}$/.test(timestamp) || Math.abs(input.now_ms - Number(timestamp) * 1000) > (input.skew_ms_max ?? wechatLikeTimestampSkewMsMax)) return { ok: false, reason: 'timestamp_out_of_window', message: 'the signed timestamp is too old or too new' }
  if (!rsaSha256Verify(wechatLikeResponseMessage(timestamp, nonce, input.body), signature, input.wallet_public_key_pem)) return { ok: false, reason: 'signature_invalid', message: 'the signature does not verify' }
  return { ok: true }
}

export type WechatLikeTransaction = {
  readonly appid: string
  readonly mchid: string
  readonly out_trade_no: string
  readonly transaction_id: string
  readonly trade_state: WechatLikeTradeState
  readonly amount_total_minor: bigint
  readonly currency: CurrencyCode
  /** RFC 3339 (+08:00), once paid. */
  readonly success_time: string | undefined
  readonly payer_openid: string | undefined
}

export type WechatLikeNotification = { readonly id: string; readonly event_type: WechatLikeEventType; readonly create_time: string; readonly transaction: WechatLikeTransaction }

/** Reads a transaction object (a query answer, or a notification's `resource`). */
export function readWechatLikeTransaction(value: unknown): WechatLikeTransaction | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  const amount = record.amount as Record<string, unknown> | undefined
  const payer = record.payer as Record<string, unknown> | undefined
  const { appid, mchid, out_trade_no, transaction_id, trade_state, success_time } = record
  if (typeof appid !== 'string' || typeof mchid !== 'string' || typeof out_trade_no !== 'string' || typeof transaction_id !== 'string') return undefined
  if (!wechatLikeTradeStates.includes(trade_state as WechatLikeTradeState)) return undefined
  const total = amount?.total
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0 || BigInt(total) > AMOUNT_MINOR_MAX) return undefined
  const currency = typeof amount?.currency === 'string' ? findCurrency(amount.currency) : undefined
  if (currency === undefined) return undefined
  return {
    appid,
    mchid,
    out_trade_no,
    transaction_id,
    trade_state: trade_state as WechatLikeTradeState,
    amount_total_minor: BigInt(total),
    currency: currency.code,
    success_time: typeof success_time === 'string' ? success_time : undefined,
    payer_openid: typeof payer?.openid === 'string' ? payer.openid : undefined,
  }
}

/**
 * Verifies and reads a notification (`POST notify_url`, JSON, signed in its headers). Answer HTTP
 * 200 or 204 to stop the retries. Compare its transaction with yours: a valid signature does not make
 * the amount right.
 */
export function verifyWechatLikeNotification(input: { readonly headers: HeaderBag; readonly body: string; readonly wallet_public_key_pem: string; readonly now_ms: number; readonly skew_ms_max?: number }): { readonly ok: true; readonly notification: WechatLikeNotification } | WechatLikeVerifyFailure {
  const verified = verifyWechatLikeSignature(input)
  if (!verified.ok) return verified
  let json: unknown
  try {
    json = JSON.parse(input.body)
  } catch {
    return { ok: false, reason: 'malformed', message: 'the body is not JSON' }
  }
  const record = json as Record<string, unknown>
  const transaction = readWechatLikeTransaction(record.resource)
  const { id, event_type, create_time } = record
  if (typeof id !== 'string' || typeof create_time !== 'string' || !['TRANSACTION.SUCCESS', 'TRANSACTION.CLOSED', 'TRANSACTION.PAYERROR'].includes(event_type as string) || transaction === undefined) {
    return { ok: false, reason: 'malformed', message: 'not a transaction notification' }
  }
  return { ok: true, notification: { id, event_type: event_type as WechatLikeEventType, create_time, transaction } }
}
