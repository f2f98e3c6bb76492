/** A tiny Kassa-side client of the bank simulator, built only from `sim/bank/protocol.ts`. */
import assert from 'node:assert/strict'
import { encodeForm, signBankRequest, verifyBankAnswer, type BankParamsInput } from '../../sim/bank/index.js'
import type { BankSimulator } from '../../sim/bank/index.js'
import { formAction, hiddenInput, postForm, type Received } from './helpers.js'

export type BankAnswer = Record<string, string>

/** Signs, POSTs as a form (or JSON), checks the answer's signature when it has one, returns its fields as text. */
export async function bankCall(bank: BankSimulator, path: string, params: BankParamsInput, options: { json?: boolean; key?: string } = {}): Promise<BankAnswer> {
  const merchant = bank.merchants[0]
  assert.ok(merchant !== undefined)
  const key = options.key ?? merchant.key
  const signed = signBankRequest({ merchant_id: merchant.merchant_id, ...params }, key)
  const response = await fetch(`${bank.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': options.json === true ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: options.json === true ? JSON.stringify(signed) : encodeForm(signed),
  })
  assert.equal(response.status, 200, `${path} answered HTTP ${response.status}`)
  const json: unknown = await response.json()
  const verified = verifyBankAnswer(json, merchant.key)
  if (verified.ok) return { ...verified.params }
  assert.equal(verified.reason, 'signature_missing', `the answer of ${path} is signed wrongly`)
  return Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([name, value]) => [name, String(value)]))
}

/** The notifications that reached `receiver` for one order. */
export function receivedFor(received: readonly Received[], no: string): Received[] {
  return received.filter((entry) => entry.path === `/notify/${no}`)
}

let orderSerial = 0

/** A fresh order number. */
export function orderNo(prefix = 'pay'): string {
  orderSerial++
  return `${prefix}_${process.pid}_${orderSerial}`
}

export function newOrderParams(no: string, receiverUrl: string, amount = 12_345n): BankParamsInput {
  return { order_no: no, amount, currency: 'CNY', notify_url: `${receiverUrl}/notify/${no}`, return_url: `https://kassa.example/return?payment=${no}`, subject: `Order ${no}` }
}

/** Drives the payer page: GET pay_url, log in, confirm. Answers the final response (a 303 when it went through). */
export async function payThroughPage(payUrl: string, username: string, password: string): Promise<{ login: Response; confirm: Response | undefined; loginHtml: string }> {
  const page = await fetch(payUrl)
  assert.equal(page.status, 200)
  const html = await page.text()
  const origin = new URL(payUrl).origin
  const login = await postForm(`${origin}${formAction(html, 'login-form')}`, { username, password })
  const loginHtml = await login.text()
  if (login.status !== 200) return { login, confirm: undefined, loginHtml }
  const confirm = await postForm(`${origin}${formAction(loginHtml, 'confirm-form')}`, { session: hiddenInput(loginHtml, 'session') })
  return { login, confirm, loginHtml }
}
