/**
 * `kassa demo`'s checkout-channel step, told through the merchant and operator APIs against the
 * bank and wallet simulators in process: online banking paid at the bank and booked from its
 * signed notification, a wallet's QR code paid and partly refunded through the wallet, quick pay
 * bound and paid with SMS codes, and an
 * operator draining a wallet channel live. Answers whether each step ended as it should.
 */
import { formatMinor } from '../domain/money.js'
import type { Kassa } from '../kassa.js'
import type { DemoCounterparts } from './simulators.js'

type Say = (line: string) => void
type Call = (key: string, method: string, path: string, body?: unknown) => Promise<Record<string, any>>

export async function runChannelsStory(kassa: Kassa, counterparts: DemoCounterparts, keys: { merchant: string; operator: string; shopper: string }, call: Call, say: Say, step: number): Promise<boolean> {
  const bank = counterparts.banks.find((candidate) => candidate.bank.id === 'icbc-sim')
  const wallet = counterparts.wallets.find((candidate) => candidate.provider.id === 'alipay-like')
  if (bank === undefined || wallet === undefined) throw new Error('the demo counterparts lack icbc-sim or alipay-like')
  const settled = async (id: string): Promise<Record<string, any>> => {
    for (let waited = 0; waited < 15_000; waited += 50) {
      const payment = await call(keys.merchant, 'GET', `/v1/payments/${id}`)
      if (payment['status'] !== 'processing') return payment
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`payment ${id} stayed processing`)
  }
  const orderAt = async (paymentId: string): Promise<string> => (await kassa.counterparts.latestAttempt(paymentId))?.provider_order_id ?? ''

  const netbank = await call(keys.merchant, 'POST', '/v1/payments', { amount: 26_800, currency: 'CNY', order_reference: 'ORDER-2001', confirm: true, payment_method: { type: 'netbank', bank: 'icbc-sim' } })
  say(`${step}. online banking: payment ${netbank['id']} for CNY 268.00 sends the shopper to ${bank.bank.name} (${netbank['next_action']['url']})`)
  const aliceBefore = bank.account('alice')?.balance_minor ?? 0n
  bank.pay(await orderAt(netbank['id']), 'alice')
  const netbankPaid = await settled(netbank['id'])
  const aliceAfter = bank.account('alice')?.balance_minor ?? 0n
  say(`    alice pays at the bank; its signed notification books it: ${netbankPaid['status']}, alice's account CNY ${formatMinor(aliceBefore - aliceAfter, 'CNY')} lighter`)

  const qr = await call(keys.merchant, 'POST', '/v1/payments', { amount: 8_800, currency: 'CNY', order_reference: 'ORDER-2002', confirm: true, payment_method: { type: 'wallet', provider: 'alipay-like' } })
  say(`${step + 1}. wallet: payment ${qr['id']} shows ${wallet.provider.name}'s QR code (${qr['next_action']['qr_code']})`)
  wallet.pay(await orderAt(qr['id']), 'wang')
  const qrPaid = await settled(qr['id'])
  const wangBefore = wallet.user('wang')?.balance_minor ?? 0n
  const refund = await call(keys.merchant, 'POST', '/v1/refunds', { payment: qr['id'], amount: 1_800, reason: 'requested_by_customer' })
  const wangBack = (wallet.user('wang')?.balance_minor ?? 0n) - wangBefore
  say(`    wang scans and pays: ${qrPaid['status']}; refund of CNY 18.00 through the wallet: ${refund['status']}, wang has CNY ${formatMinor(wangBack, 'CNY')} back`)

  // Quick pay: the shopper binds alice's account once on the checkout page (an SMS code), then pays with a fresh code.
  const first = await call(keys.merchant, 'POST', '/v1/payments', { amount: 4_500, currency: 'CNY', order_reference: 'ORDER-2003', shopper: keys.shopper })
  const checkoutToken = new URL(first['checkout_url'] as string).searchParams.get('t') ?? ''
  const checkout = async (path: string, body: unknown): Promise<Record<string, any>> => {
    const answer = await kassa.app.inject({ method: 'POST', url: `/pay/${first['id']}/api/${path}?t=${checkoutToken}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    if (answer.statusCode !== 200) throw new Error(`checkout ${path} answered ${answer.statusCode}: ${answer.body}`)
    return answer.json() as Record<string, any>
  }
  const phone = '13800000001'
  const started = await checkout('quickpay/bindings', { channel: 'quickpay.icbc-sim', account_no: '6222021000000000017', holder_name: 'Alice Zhang', phone })
  const saved = await checkout('quickpay/bindings/confirm', { channel: 'quickpay.icbc-sim', binding_request_id: started['binding_request_id'], sms_code: bank.smsCodeFor(phone) })
  const quick = await call(keys.merchant, 'POST', `/v1/payments/${first['id']}/confirm`, { payment_method: { type: 'quickpay', saved_method: saved['id'] } })
  const quickPaid = await call(keys.merchant, 'POST', `/v1/payments/${first['id']}/sms_code`, { sms_code: bank.smsCodeFor(phone) })
  say(`${step + 2}. quick pay: alice's account bound with an SMS code (${saved['id']}, ${saved['display']['account_no_masked']}); payment ${first['id']} asks for ${quick['next_action']['type']}, the fresh code pays it: ${quickPaid['status']}`)

  await call(keys.operator, 'POST', '/console/v1/channels/wallet.wechat-like', { state: 'draining' })
  const methods = await call(keys.merchant, 'GET', `/v1/payments/${netbank['id']}/payment_methods`)
  const offered = (methods['channels'] as { id: string }[]).some((channel) => channel.id === 'wallet.wechat-like')
  await call(keys.operator, 'POST', '/console/v1/channels/wallet.wechat-like', { state: 'enabled' })
  say(`${step + 3}. the operator drains wallet.wechat-like: offered to new payments ${offered ? 'still (WRONG)' : 'no more'}; payments already on it would still complete; enabled again`)

  return quickPaid['status'] === 'succeeded' && netbankPaid['status'] === 'succeeded' && aliceBefore - aliceAfter === 26_800n && qrPaid['status'] === 'succeeded' && refund['status'] === 'succeeded' && wangBack === 1_800n && !offered
}
