import { randomBytes } from 'node:crypto'
import type { Actor } from '../audit/log.js'
import { newId } from '../domain/ids.js'
import type { Kassa } from '../kassa.js'
import { createMerchant } from '../merchants/service.js'
import { createShopper, topUp } from '../shoppers/service.js'
import { confirmBinding, startBinding } from '../channels/quickpay/bindings.js'
import { isQuickpayProvider } from '../channels/provider.js'
import { bankTestAccounts, type BankSimulator } from '../../sim/bank/index.js'

const system: Actor = { type: 'system', id: 'demo-seed' }

export type DeliveryDemo = {
  merchant: { id: string; key: string }
  station: string
  courier: { id: string; username: string; password: string }
  otherCourier: { id: string; username: string; password: string }
  shopperId: string
  shopperToken: string
  payment: string
  deliveries: { id: string; parcel_number: string; amount: bigint }[]
}

/**
 * The door's demo world: a station, two couriers, a shopper with CNY 2,000.00 and an app login,
 * and a pay-on-delivery order in three parcels (two for the first courier, one for the other).
 */
export async function seedDeliveryDemo(kassa: Kassa, options: { merchant?: { id: string; key: string }; password?: string } = {}): Promise<DeliveryDemo> {
  const suffix = randomBytes(3).toString('hex')
  const password = options.password ?? `door-${randomBytes(6).toString('hex')}`
  const merchant: { id: string; key: string } =
    options.merchant ??
    (await createMerchant(kassa.store, kassa.clock, system, { name: 'Kassa Home Goods', kind: 'self_operated', fee_basis_points: 30 }).then((created) => ({
      id: created.merchant.id,
      key: created.api_key.secret,
    })))
  const station = await kassa.delivery.createStation(system, { name: 'Pudong Station 3', city: 'Shanghai' })
  const courier = await kassa.delivery.createCourier(system, { station: station.id, name: 'Wang Lei', username: `wang.lei.${suffix}`, password })
  const otherCourier = await kassa.delivery.createCourier(system, { station: station.id, name: 'Li Na', username: `li.na.${suffix}`, password })
  const shopperId = await kassa.store.writer.submit(async (tx) => {
    const nowMs = kassa.clock.now()
    const shopper = await createShopper(tx, system, { external_reference: `door-${suffix}`, name: 'Chen Jie', email: null, phone: '+86 139 1234 5678' }, nowMs)
    await topUp(tx, system, { shopper_id: shopper.id, amount: 200_000n, currency: 'CNY', reference: 'demo', top_up_id: newId('top_up', nowMs), transfer_id: newId('transfer', nowMs) }, nowMs)
    return shopper.id
  })
  const session = await kassa.delivery.openShopperSession(system, shopperId)
  const api = async (path: string, body: unknown) => {
    const response = await kassa.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${merchant.key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    if (response.statusCode !== 200) throw new Error(`demo seed: ${path} answered ${response.statusCode}: ${response.body}`)
    return response.json() as { id: string }
  }
  const parcels = [
    { parcel_number: `SF${suffix}001`, amount: 12_900n, courier: courier.id },
    { parcel_number: `SF${suffix}002`, amount: 4_550n, courier: courier.id },
    { parcel_number: `SF${suffix}003`, amount: 8_800n, courier: otherCourier.id },
  ]
  const payment = await api('/v1/payments', {
    amount: Number(parcels.reduce((sum, p) => sum + p.amount, 0n)),
    currency: 'CNY',
    order_reference: `COD-${suffix}`,
    description: 'Kettle, mugs and a lamp, paid at the door',
    shopper: shopperId,
    confirm: true,
    payment_method: { type: 'cod' },
  })
  const deliveries = []
  for (const parcel of parcels) {
    const created = await api('/v1/deliveries', { payment: payment.id, parcel_number: parcel.parcel_number, amount: Number(parcel.amount), courier: parcel.courier, shopper_phone: '+86 139 1234 5678' })
    deliveries.push({ id: created.id, parcel_number: parcel.parcel_number, amount: parcel.amount })
  }
  return {
    merchant,
    station: station.id,
    courier: { id: courier.id, username: courier.username, password },
    otherCourier: { id: otherCourier.id, username: otherCourier.username, password },
    shopperId,
    shopperToken: session.token,
    payment: payment.id,
    deliveries,
  }
}

/**
 * Binds a test account of a simulated bank (alice's: enough balance; bob's: too little) as a
 * shopper's saved quick-pay method, reading the SMS code off the simulator as the shopper's phone.
 */
export async function bindDemoQuickpay(kassa: Kassa, shopperId: string, bank: BankSimulator, username: 'alice' | 'bob' = 'alice') {
  const holder = bankTestAccounts(bank.bank).find((candidate) => candidate.username === username)
  if (holder === undefined) throw new Error(`${bank.bank.id} has no test account ${username}`)
  const channelId = `quickpay.${bank.bank.id}`
  const deps = {
    store: kassa.store,
    clock: kassa.clock,
    masterKey: kassa.masterKey,
    provider: (id: string) => {
      const provider = kassa.counterparts.provider(id)
      return provider !== undefined && isQuickpayProvider(provider) ? provider : undefined
    },
  }
  const started = await startBinding(deps, { channel_id: channelId, account_no: holder.account_no, holder_name: holder.holder_name, phone: holder.phone })
  const smsCode = bank.smsCodeFor(holder.phone)
  if (smsCode === undefined) throw new Error(`${bank.bank.id} sent no SMS code to ${holder.phone}`)
  const saved = await confirmBinding(deps, { shopper_id: shopperId, channel_id: channelId, binding_request_id: started.binding_request_id, sms_code: smsCode })
  return { ...saved, phone: holder.phone }
}
