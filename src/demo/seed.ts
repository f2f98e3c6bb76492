import type { Actor } from '../audit/log.js'
import { newId } from '../domain/ids.js'
import type { Kassa } from '../kassa.js'
import { createMerchant, createOperator } from '../merchants/service.js'
import { createShopper, topUp } from '../shoppers/service.js'
import { seedDeliveryDemo, type DeliveryDemo } from './delivery.js'

export type DemoCredentials = {
  operator_key: string
  merchant_id: string
  merchant_key: string
  seller_id: string
  seller_key: string
  shopper_id: string
  delivery: DeliveryDemo
}

const system: Actor = { type: 'system', id: 'demo-seed' }

/** True when the database has no merchant yet: a first start. */
export async function isEmpty(kassa: Kassa): Promise<boolean> {
  const row = await kassa.store.db.selectFrom('merchants').select('id').limit(1).executeTakeFirst()
  return row === undefined
}

/**
 * The demo world every capability adds itself to: an operator, the retailer's own store, a
 * third-party seller, and a shopper with CNY 1,000.00 in the wallet.
 */
export async function seedDemo(kassa: Kassa): Promise<DemoCredentials> {
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
  return {
    delivery,
    operator_key: operator.secret,
    merchant_id: store.merchant.id,
    merchant_key: store.api_key.secret,
    seller_id: seller.merchant.id,
    seller_key: seller.api_key.secret,
    shopper_id: shopper.id,
  }
}
