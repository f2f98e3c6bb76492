import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { verifyLedger } from '../../src/ledger/verify.js'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { seedMerchant, seedShopper } from '../helpers/factories.js'

for (const dialect of DIALECTS) {
  describe(`${dialect}: ledger verify finds journal rows that lie`, () => {
    let kassa: TestKassa
    let wallet: string
    let payable: string
    before(async () => {
      kassa = await openTestKassa(dialect)
      const merchant = await seedMerchant(kassa)
      const shopper = await seedShopper(kassa, 1_000n)
      wallet = `acc_shopper_balance_${shopper}_CNY`
      payable = `acc_merchant_payable_${merchant.id}_CNY`
      const hold = await merchant.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'v', capture_method: 'manual', confirm: true, payment_method: { type: 'wallet_balance', shopper } })
      assert.equal(hold.statusCode, 200, hold.body)
      assert.equal((await verifyLedger(kassa.store.db)).ok, true)
    })
    after(async () => kassa.dispose())

    const insert = async (id: string, kind: string, amount: number, pendingId: string | null, legs: [string, string, string, number][]) => {
      await sql`insert into ledger_transfers (id, kind, pending_id, code, amount, currency, reference_id, merchant_id, created_at) values (${id}, ${kind}, ${pendingId}, 'forged', ${amount}, 'CNY', null, null, 0)`.execute(kassa.store.db)
      let leg = 0
      for (const [account, side, phase, legAmount] of legs) {
        await sql`insert into ledger_postings (transfer_id, leg, account_id, side, phase, amount, currency, merchant_id, created_at) values (${id}, ${leg++}, ${account}, ${side}, ${phase}, ${legAmount}, 'CNY', null, 0)`.execute(kassa.store.db)
      }
    }

    it('names a transfer whose stated amount differs from its postings, and pending legs on a posted transfer', async () => {
      await insert('txf_forged_amount', 'single_phase', 999, null, [[wallet, 'debit', 'pending', 300], [payable, 'credit', 'pending', 300]])
      const result = await verifyLedger(kassa.store.db)
      assert.equal(result.ok, false)
      assert.ok(result.violations.some((v) => v.includes('txf_forged_amount') && v.includes('phase')), result.violations.join('\n'))
      assert.ok(result.violations.some((v) => v.includes('txf_forged_amount') && v.includes('says 999')), result.violations.join('\n'))
    })
  })
}
