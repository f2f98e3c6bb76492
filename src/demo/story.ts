import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { formatMinor } from '../domain/money.js'
import { verifySignature } from '../events/signing.js'
import type { Kassa } from '../kassa.js'
import { verifyLedger } from '../ledger/verify.js'
import { createMerchant, createOperator } from '../merchants/service.js'
import { bindDemoQuickpay, seedDeliveryDemo } from './delivery.js'
import { runChannelsStory } from './channels.js'
import { runPosStory } from './pos.js'
import type { DemoCounterparts } from './simulators.js'

type Say = (line: string) => void

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * `kassa demo`: the core story told through the real HTTP API, as a merchant and an operator would
 * tell it: merchant, shopper top-up, payment, partial capture, refund, signed webhooks received,
 * pay on delivery, card sales at a POS terminal, and the ledger verified at the end. Answers whether every step held.
 */
export async function runDemoStory(kassa: Kassa, say: Say, counterparts?: DemoCounterparts): Promise<boolean> {
  const received: { type: string; verified: boolean }[] = []
  let webhookSecret = ''
  const receiver = createServer((request, response) => {
    void readBody(request).then((body) => {
      const check = verifySignature(webhookSecret, request.headers['kassa-signature'] as string | undefined, body, Date.now() / 1000)
      const event = JSON.parse(body) as { type: string }
      received.push({ type: event.type, verified: check.ok })
      response.writeHead(check.ok ? 200 : 400).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kassa-webhooks`
  const base = await kassa.app.listen({ port: 0, host: '127.0.0.1' })
  kassa.setPublicUrl(base)
  kassa.deliveryWorker.start()
  kassa.counterparts.startWorker()
  try {
    const actor = { type: 'cli' as const, id: 'kassa-demo' }
    const operator = await createOperator(kassa.store, kassa.clock, actor, { name: 'Demo story operator', role: 'admin' })
    const { merchant, api_key } = await createMerchant(kassa.store, kassa.clock, actor, { name: 'Demo Story Books', kind: 'third_party', fee_basis_points: 60 })
    say(`1. merchant ${merchant.id} "${merchant.name}" created with a secret key ending …${api_key.secret.slice(-4)} (MDR 0.60 %)`)

    const call = async (key: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': `demo-${path}-${Date.now()}-${Math.random()}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const json = (await response.json()) as Record<string, any>
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`)
      return json
    }

    const endpoint = await call(api_key.secret, 'POST', '/v1/webhook_endpoints', { url: receiverUrl, enabled_events: ['*'] })
    webhookSecret = endpoint['secret'] as string
    say(`2. webhook endpoint ${endpoint['id']} registered at ${receiverUrl}`)

    const shopper = await call(operator.secret, 'POST', '/console/v1/shoppers', { name: 'Zhang Min', external_reference: `demo-${Date.now()}` })
    await call(operator.secret, 'POST', `/console/v1/shoppers/${shopper['id']}/top_ups`, { amount: 50_000, currency: 'CNY', reference: 'bank transfer 4471' })
    say(`3. shopper ${shopper['id']} topped up with CNY ${formatMinor(50_000n, 'CNY')} by the operator`)

    // The shopper agrees in the shop app, which hands the seller's checkout a one-time token.
    const appLogin = await call(operator.secret, 'POST', `/console/v1/shoppers/${shopper['id']}/sessions`, {})
    const consent = await call(appLogin['token'] as string, 'POST', '/shopper/v1/payment_tokens', {})
    let payment = await call(api_key.secret, 'POST', '/v1/payments', {
      amount: 19_900,
      currency: 'CNY',
      order_reference: 'ORDER-1001',
      description: 'Three books',
      capture_method: 'manual',
      confirm: true,
      payment_method: { type: 'wallet_balance', token: consent['token'] },
    })
    say(`4. payment ${payment['id']} for CNY 199.00 authorized from the wallet with the shopper's one-time consent token: ${payment['status']}`)

    payment = await call(api_key.secret, 'POST', `/v1/payments/${payment['id']}/capture`, { amount_to_capture: 15_000 })
    say(`5. partial capture of CNY 150.00 (one book was out of stock): ${payment['status']}, fee CNY ${formatMinor(BigInt(payment['fee_amount']), 'CNY')}, CNY 49.00 released`)

    const refund = await call(api_key.secret, 'POST', '/v1/refunds', { payment: payment['id'], amount: 5_000, reason: 'item_returned' })
    say(`6. refund ${refund['id']} of CNY 50.00 to the wallet: ${refund['status']}`)

    const expected = ['payment.created', 'payment.requires_capture', 'payment.succeeded', 'payment.refunded', 'refund.succeeded']
    for (let waited = 0; waited < 15_000 && !expected.every((type) => received.some((r) => r.type === type)); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const allVerified = received.length > 0 && received.every((r) => r.verified)
    const allArrived = expected.every((type) => received.some((r) => r.type === type))
    say(`7. webhooks received: ${received.map((r) => r.type).join(', ')} — signatures ${allVerified ? 'verified' : 'NOT verified'}`)

    const wallet = await call(operator.secret, 'GET', `/console/v1/shoppers/${shopper['id']}`)
    const balance = await call(api_key.secret, 'GET', '/v1/balance')
    const available = (wallet['balances'] as { currency: string; available: number }[]).find((b) => b.currency === 'CNY')?.available ?? 0
    const owed = (balance['available'] as { currency: string; amount: number }[]).find((b) => b.currency === 'CNY')?.amount ?? 0
    say(`8. shopper wallet CNY ${formatMinor(BigInt(available), 'CNY')} (500.00 − 150.00 + 50.00); merchant is owed CNY ${formatMinor(BigInt(owed), 'CNY')} (150.00 − 0.90 fee − 50.00)`)

    // The door: a pay-on-delivery order, the courier's QR code, the shopper's scan-and-pay, cash.
    const door = await seedDeliveryDemo(kassa, { merchant: { id: merchant.id, key: api_key.secret } })
    const [first, second] = door.deliveries
    if (first === undefined || second === undefined) throw new Error('the door demo has no parcels')
    say(`9. pay-on-delivery order ${door.payment} shipped in ${door.deliveries.length} parcels; courier ${door.courier.username} has two`)
    let notifiedAfterMs = -1
    let paidAt = 0
    const unsubscribe = kassa.live.subscribe(door.courier.id, () => {
      notifiedAfterMs = performance.now() - paidAt
    })
    const code = await kassa.delivery.issueCode(door.courier.id, first.id)
    say(`10. courier shows the parcel's dynamic QR code (${code.payload.length} characters, reference ${code.reference}, expires ${code.expires_at})`)
    const resolved = await call(door.shopperToken, 'POST', '/shopper/v1/codes/resolve', { payload: code.payload })
    paidAt = performance.now()
    const paid = await call(door.shopperToken, 'POST', '/shopper/v1/codes/pay', { payload: code.payload })
    for (let waited = 0; notifiedAfterMs < 0 && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10))
    unsubscribe()
    say(`11. shopper scanned it: ${resolved['merchant_name']}, parcel ${resolved['parcel_number']}, CNY ${resolved['amount_display']} — paid (${(paid['receipt'] as Record<string, unknown>)['delivery']}); courier told "paid" after ${notifiedAfterMs.toFixed(1)} ms`)
    await kassa.delivery.recordCash(door.courier.id, second.id, second.amount)
    const remittance = await kassa.delivery.remit(actor, { courier: door.courier.id, amount_counted: second.amount, currency: 'CNY' })
    say(`12. second parcel paid in cash (CNY ${formatMinor(second.amount, 'CNY')}), handed in at the station: difference ${formatMinor(remittance.difference, 'CNY')}`)

    // The third parcel, paid at the door with the shopper's saved quick-pay account and the SMS code the bank sends.
    const third = door.deliveries[2]
    let doorQuickpayOk = true
    const icbc = counterparts?.banks.find((bank) => bank.bank.id === 'icbc-sim')
    if (third !== undefined && icbc !== undefined) {
      const saved = await bindDemoQuickpay(kassa, door.shopperId, icbc, 'alice')
      const thirdCode = await kassa.delivery.issueCode(door.otherCourier.id, third.id)
      const started = await call(door.shopperToken, 'POST', '/shopper/v1/codes/pay', { payload: thirdCode.payload, saved_method: saved.id })
      const confirmed = await call(door.shopperToken, 'POST', `/shopper/v1/door_payments/${started['attempt']}/sms_code`, { sms_code: icbc.smsCodeFor(saved.phone) ?? '' })
      doorQuickpayOk = started['status'] === 'requires_sms_code' && confirmed['status'] === 'paid'
      say(`13. third parcel at the door: the shopper pays with a saved ICBC quick-pay account (${saved.display.account_no_masked}); the bank's SMS code confirms it: ${confirmed['status']}, CNY ${formatMinor(third.amount, 'CNY')}`)
    }
    const afterDoor = icbc === undefined ? 13 : 14

    // Online banking and a third-party wallet at their simulated counterparts (src/demo/channels.ts).
    const channelsOk = counterparts === undefined ? true : await runChannelsStory(kassa, counterparts, { merchant: api_key.secret, operator: operator.secret, shopper: shopper['id'] as string }, call, say, afterDoor)
    const next = counterparts === undefined ? afterDoor : afterDoor + 4

    // Card acquiring at the point of sale (src/demo/pos.ts).
    const posOk = await runPosStory(kassa, merchant.id, say, next)

    const verification = await verifyLedger(kassa.store.db)
    say(
      verification.ok
        ? `${next + 1}. kassa ledger verify: ok (${verification.checked.transfers} transfers, ${verification.checked.postings} postings, ${verification.checked.accounts} accounts)`
        : `${next + 1}. kassa ledger verify FAILED: ${verification.violations[0]}`,
    )
    return verification.ok && allArrived && allVerified && available === 40_000 && owed === 9_910 && notifiedAfterMs >= 0 && remittance.difference === 0n && posOk && channelsOk && doorQuickpayOk
  } finally {
    await kassa.counterparts.stop()
    await kassa.deliveryWorker.stop()
    await new Promise<void>((resolve) => receiver.close(() => resolve()))
  }
}
