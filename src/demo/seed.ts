import type { Actor } from '../audit/log.js'
import { newId } from '../domain/ids.js'
import type { Kassa } from '../kassa.js'
import { createMerchant, createOperator } from '../merchants/service.js'
import { createShopper, topUp } from '../shoppers/service.js'
import { bindDemoQuickpay, seedDeliveryDemo, type DeliveryDemo } from './delivery.js'
import type { DemoCounterparts } from './simulators.js'
import { seedPosTerminal } from './pos.js'
import type { RegisteredTerminal } from '../acquiring/pos-host/terminals.js'

export type DemoCredentials = {
  operator_key: string
  merchant_id: string
  merchant_key: string
  seller_id: string
  seller_key: string
  shopper_id: string
  delivery: DeliveryDemo
  /** A payment of the demo store waiting on its hosted checkout page: every channel offered. */
  checkout_url: string
  /** The demo store's POS terminal, with its MAC key (shown once). */
  pos_terminal: RegisteredTerminal
  /** The door shopper's saved quick-pay account, when the demo banks run: pays a parcel with an SMS code. */
  door_quickpay: { saved_method: string; account_no_masked: string; phone: string; sms_url: string } | undefined
}

const system: Actor = { type: 'system', id: 'demo-seed' }

/** True when the database has no merchant yet: a first start. */
export async function isEmpty(kassa: Kassa): Promise<boolean> {
  const row = await kassa.store.db.selectFrom('merchants').select('id').limit(1).executeTakeFirst()
  return row === undefined
}

/**
 * The demo world every capability adds itself to: an operator, the retailer's own store, a
 * third-party seller, a shopper with CNY 1,000.00 in the wallet, and a POS terminal of the store.
 */
export async function seedDemo(kassa: Kassa, counterparts?: DemoCounterparts): Promise<DemoCredentials> {
  const operator = await createOperator(kassa.store, kassa.clock, system, { name: 'Demo Operator', role: 'admin' })
  const store = await createMerchant(kassa.store, kassa.clock, system, { name: 'Kassa Demo Store', kind: 'self_operated', fee_basis_points: 30 })
  const seller = await createMerchant(kassa.store, kassa.clock, system, { name: 'Demo Third-Party Seller', kind: 'third_party', fee_basis_points: 60 })
  const shopper = await kassa.store.writer.submit(async (tx) => {
    const nowMs = kassa.clock.now()
    const created = await createShopper(tx, system, { external_reference: 'demo-shopper-1', name: 'Lin Wei', email: 'lin.wei@example.com', phone: '+86 138 0013 8000' }, nowMs)
    await topUp(tx, system, { shopper_id: created.id, amount: 100_000n, currency: 'CNY', reference: 'demo opening balance', top_up_id: newId('top_up', nowMs), transfer_id: newId('transfer', nowMs) }, nowMs)
    return created
  })
  const delivery = await seedDeliveryDemo(kassa, { merchant: { id: store.merchant.id, key: store.api_key.secret } })
  const icbc = counterparts?.banks.find((bank) => bank.bank.id === 'icbc-sim')
  const doorQuickpay = icbc === undefined ? undefined : await bindDemoQuickpay(kassa, delivery.shopperId, icbc, 'alice')
  const posTerminal = await seedPosTerminal(kassa, store.merchant.id)
  const checkoutUrl = await seedCheckoutPayment(kassa, store.api_key.secret, shopper.id)
  return {
    checkout_url: checkoutUrl,
    pos_terminal: posTerminal,
    door_quickpay:
      doorQuickpay === undefined || icbc === undefined
        ? undefined
        : { saved_method: doorQuickpay.id, account_no_masked: doorQuickpay.display.account_no_masked ?? '', phone: doorQuickpay.phone, sms_url: `${icbc.url}/test/sms/${doorQuickpay.phone}` },
    delivery,
    operator_key: operator.secret,
    merchant_id: store.merchant.id,
    merchant_key: store.api_key.secret,
    seller_id: seller.merchant.id,
    seller_key: seller.api_key.secret,
    shopper_id: shopper.id,
  }
}

/** A payment of the demo store for the demo shopper, not yet paid: its hosted checkout link. */
async function seedCheckoutPayment(kassa: Kassa, merchantKey: string, shopperId: string): Promise<string> {
  const response = await kassa.app.inject({
    method: 'POST',
    url: '/v1/payments',
    headers: { authorization: `Bearer ${merchantKey}`, 'content-type': 'application/json', 'idempotency-key': 'demo-checkout-payment' },
    payload: JSON.stringify({ amount: 12_900, currency: 'CNY', order_reference: 'DEMO-1001', description: 'Oolong tea, 250 g', shopper: shopperId }),
  })
  const body = response.json() as { checkout_url?: string }
  if (response.statusCode !== 200 || body.checkout_url === undefined) throw new Error(`the demo checkout payment was refused: ${response.body}`)
  return body.checkout_url
}
