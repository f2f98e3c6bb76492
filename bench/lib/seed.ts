import type { Actor } from '../../src/audit/log.js'
import { newId } from '../../src/domain/ids.js'
import type { Kassa } from '../../src/kassa.js'
import { ensureAccount } from '../../src/ledger/journal.js'
import { createMerchant } from '../../src/merchants/service.js'
import { createShopper, topUp } from '../../src/shoppers/service.js'

const actor: Actor = { type: 'system', id: 'bench' }

/** The merchant discount of the benchmark merchant: 0.60 %, so a 1.00 CNY payment has a fee of 0.01 and three postings. */
export const benchFeeBasisPoints = 60

/** Each wallet is topped up to the most it may hold, just under 10^12 minor units: 10^10 payments of 1.00 CNY. */
const topUpCount = 2
const topUpAmountMinor = 499_999_999_999n

export type BenchWorld = { merchantId: string; key: string; shoppers: string[] }

/**
 * The world every payment benchmark runs in, created through Kassa's own services so the ceiling
 * and Kassa start from the same rows: the shop's own (self-operated) store with a secret key (only
 * the shop itself may charge a wallet by shopper id; a third-party seller needs the shopper's
 * one-time token), `shopperCount`
 * shoppers each with ~10^12 minor units in the CNY wallet, and the merchant's payable and the fee
 * revenue accounts already open.
 */
export async function seedBenchWorld(kassa: Kassa, shopperCount: number): Promise<BenchWorld> {
  const created = await createMerchant(kassa.store, kassa.clock, actor, { name: 'Bench Store', kind: 'self_operated', fee_basis_points: benchFeeBasisPoints })
  const merchantId = created.merchant.id
  const shoppers: string[] = []
  for (let index = 0; index < shopperCount; index++) {
    const shopperId = await kassa.store.writer.submit(async (tx) => {
      const nowMs = kassa.clock.now()
      const shopper = await createShopper(tx, actor, { external_reference: `bench-shopper-${index}`, name: `Bench Shopper ${index}`, email: null, phone: null }, nowMs)
      for (let topUpIndex = 0; topUpIndex < topUpCount; topUpIndex++) {
        await topUp(
          tx,
          actor,
          { shopper_id: shopper.id, amount: topUpAmountMinor, currency: 'CNY', reference: 'bench opening balance', top_up_id: newId('top_up', nowMs), transfer_id: newId('transfer', nowMs) },
          nowMs,
        )
      }
      return shopper.id
    })
    shoppers.push(shopperId)
  }
  await kassa.store.writer.submit(async (tx) => {
    const nowMs = kassa.clock.now()
    await ensureAccount(tx, { code: 'merchant_payable', owner_id: merchantId, currency: 'CNY' }, nowMs)
    await ensureAccount(tx, { code: 'fee_revenue', owner_id: undefined, currency: 'CNY' }, nowMs)
  })
  return { merchantId, key: created.api_key.secret, shoppers }
}
