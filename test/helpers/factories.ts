import type { LightMyRequestResponse } from 'fastify'
import type { Actor } from '../../src/audit/log.js'
import { newId } from '../../src/domain/ids.js'
import type { Kassa } from '../../src/kassa.js'
import { verifyLedger } from '../../src/ledger/verify.js'
import { createMerchant, createOperator } from '../../src/merchants/service.js'
import { createShopper, topUp } from '../../src/shoppers/service.js'

export const testActor: Actor = { type: 'system', id: 'test' }

export type Caller = {
  get(url: string): Promise<LightMyRequestResponse>
  post(url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** Calls the API the way a merchant or operator would: JSON over HTTP with a bearer key. */
export function caller(kassa: Kassa, key: string): Caller {
  const headers = { authorization: `Bearer ${key}` }
  return {
    get: (url) => kassa.app.inject({ method: 'GET', url, headers }),
    post: (url, body, extra = {}) =>
      kassa.app.inject({
        method: 'POST',
        url,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra },
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
  }
}

/** A merchant and its key; the shop's own store by default (it may charge wallets by shopper id). */
export async function seedMerchant(kassa: Kassa, name = 'Test Store', feeBasisPoints = 60, kind: 'self_operated' | 'third_party' = 'self_operated') {
  const created = await createMerchant(kassa.store, kassa.clock, testActor, { name, kind, fee_basis_points: feeBasisPoints })
  return { id: created.merchant.id, key: created.api_key.secret, api: caller(kassa, created.api_key.secret) }
}

export async function seedOperator(kassa: Kassa, role: 'admin' | 'finance' | 'support' = 'admin') {
  const created = await createOperator(kassa.store, kassa.clock, testActor, { name: `Test ${role}`, role })
  return { id: created.id, key: created.secret, api: caller(kassa, created.secret) }
}

/** The test helper for wallet top-ups: a shopper with this balance, in one transaction. */
export async function seedShopper(kassa: Kassa, balance: bigint = 0n, currency: 'CNY' | 'JPY' | 'KWD' | 'USD' = 'CNY') {
  return kassa.store.writer.submit(async (tx) => {
    const nowMs = kassa.clock.now()
    const shopper = await createShopper(tx, testActor, { external_reference: null, name: 'Test Shopper', email: null, phone: null }, nowMs)
    if (balance > 0n) {
      await topUp(tx, testActor, { shopper_id: shopper.id, amount: balance, currency, reference: null, top_up_id: newId('top_up', nowMs), transfer_id: newId('transfer', nowMs) }, nowMs)
    }
    return shopper.id
  })
}

export async function walletAvailable(kassa: Kassa, shopperId: string, currency = 'CNY'): Promise<bigint> {
  const row = await kassa.store.db
    .selectFrom('ledger_accounts')
    .select(['credits_posted', 'debits_posted', 'debits_pending'])
    .where('id', '=', `acc_shopper_balance_${shopperId}_${currency}`)
    .executeTakeFirst()
  return row === undefined ? 0n : row.credits_posted - row.debits_posted - row.debits_pending
}

export async function accountBalance(kassa: Kassa, accountId: string) {
  return kassa.store.db.selectFrom('ledger_accounts').selectAll().where('id', '=', accountId).executeTakeFirst()
}

/** Every money test ends here: the journal must satisfy every invariant. */
export async function assertLedgerSound(kassa: Kassa): Promise<void> {
  const result = await verifyLedger(kassa.store.db)
  if (!result.ok) throw new Error(`ledger verify failed:\n${result.violations.join('\n')}`)
}
