/** Kassa-side clients of the wallet simulators, built only from `sim/wallet/protocol.ts`. */
import assert from 'node:assert/strict'
import {
  alipayLikeTimestamp,
  encodeForm,
  randomNonce,
  signAlipayLikeRequest,
  signWechatLikeRequest,
  verifyAlipayLikeAnswer,
  verifyWechatLikeSignature,
  type AlipayLikeMethod,
  type WalletSimulator,
  type WechatLikeSigner,
} from '../../sim/wallet/index.js'
import { formAction, hiddenInput, postForm } from './helpers.js'

export type AlipayAnswer = { readonly signed: boolean; readonly response: Record<string, string> }

export async function alipayCall(
  wallet: WalletSimulator,
  method: AlipayLikeMethod,
  biz: Readonly<Record<string, string | number>>,
  options: { notify_url?: string; return_url?: string; key?: string; app_id?: string } = {},
): Promise<AlipayAnswer> {
  const merchant = wallet.merchants[0]
  assert.ok(merchant?.key !== undefined)
  const fields = signAlipayLikeRequest(
    {
      app_id: options.app_id ?? merchant.merchant_id,
      method,
      biz_content: biz,
      timestamp: alipayLikeTimestamp(Date.now()),
      ...(options.notify_url === undefined ? {} : { notify_url: options.notify_url }),
      ...(options.return_url === undefined ? {} : { return_url: options.return_url }),
    },
    options.key ?? merchant.key,
  )
  return alipayPost(wallet, method, encodeForm(fields))
}

export async function alipayPost(wallet: WalletSimulator, method: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<AlipayAnswer> {
  const response = await fetch(`${wallet.url}/gateway.do`, { method: 'POST', headers: { 'content-type': contentType }, body })
  assert.equal(response.status, 200, `the gateway answered HTTP ${response.status}`)
  const json: unknown = await response.json()
  const verified = verifyAlipayLikeAnswer(json, method, wallet.merchants[0]?.key ?? '')
  if (verified.ok) return { signed: true, response: { ...verified.response } }
  assert.equal(verified.reason, 'signature_missing', 'a signed answer verifies')
  return { signed: false, response: { ...(verified.response ?? {}) } }
}

export type WechatAnswer = { readonly status: number; readonly json: Record<string, unknown> | undefined; readonly headers: Headers; readonly body: string; readonly verified: boolean }

/** The demo merchant of a wechat-like simulator, as Kassa's signer. */
export function demoSigner(wallet: WalletSimulator): WechatLikeSigner {
  const demo = wallet.demoMerchant
  assert.ok(demo !== undefined)
  return { mchid: demo.merchant_id, serial_no: demo.serial_no, private_key_pem: demo.private_key_pem }
}

export async function wechatCall(
  wallet: WalletSimulator,
  method: 'GET' | 'POST',
  url: string,
  body: unknown,
  options: { signer?: WechatLikeSigner; timestamp?: string; nonce?: string; tamper?: (body: string) => string; authorization?: string } = {},
): Promise<WechatAnswer> {
  const text = body === undefined ? '' : JSON.stringify(body)
  const authorization =
    options.authorization ??
    signWechatLikeRequest(options.signer ?? demoSigner(wallet), { method, url, body: text, timestamp: options.timestamp ?? String(Math.floor(Date.now() / 1000)), nonce: options.nonce ?? randomNonce() })
  const sent = options.tamper === undefined ? text : options.tamper(text)
  const response = await fetch(`${wallet.url}${url}`, {
    method,
    headers: { authorization, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: sent } : {}),
  })
  const answer = await response.text()
  const verified = verifyWechatLikeSignature({ headers: response.headers, body: answer, wallet_public_key_pem: wallet.walletPublicKeyPem ?? '', now_ms: Date.now() })
  return { status: response.status, json: answer === '' ? undefined : (JSON.parse(answer) as Record<string, unknown>), headers: response.headers, body: answer, verified: verified.ok }
}

/** Scans the QR (follows it to the page), logs in, confirms. */
export async function payThroughWalletPage(qrCode: string, username: string, password: string): Promise<{ login: Response; confirm: Response | undefined; loginHtml: string }> {
  const scanned = await fetch(qrCode, { redirect: 'manual' })
  assert.equal(scanned.status, 302)
  await scanned.text()
  const origin = new URL(qrCode).origin
  const page = await fetch(`${origin}${scanned.headers.get('location') ?? ''}`)
  assert.equal(page.status, 200)
  const html = await page.text()
  const login = await postForm(`${origin}${formAction(html, 'login-form')}`, { username, password })
  const loginHtml = await login.text()
  if (login.status !== 200) return { login, confirm: undefined, loginHtml }
  const confirm = await postForm(`${origin}${formAction(loginHtml, 'confirm-form')}`, { session: hiddenInput(loginHtml, 'session') })
  return { login, confirm, loginHtml }
}
