// Netbank, quick pay and third-party wallets end to end through the merchant API, against the
// bank and wallet simulators over real HTTP: notifications (duplicated, forged, dropped, late),
// queries, cancels, refunds, and what every path leaves in the ledger.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FaultRule } from '../../sim/common/faults.js'
import { DIALECTS } from '../helpers/dialects.js'
import { openCheckoutWorld, type CheckoutWorld } from '../helpers/counterparts.js'
import { accountBalance, assertLedgerSound, seedMerchant, seedOperator, seedShopper } from '../helpers/factories.js'
import { until } from '../helpers/until.js'

type Json = Record<string, any>

for (const dialect of DIALECTS) {
  describe(`${dialect}: checkout channels against their counterparts`, () => {
    let world: CheckoutWorld
    let shop: Awaited<ReturnType<typeof seedMerchant>>
    let operator: Awaited<ReturnType<typeof seedOperator>>
    let shopper: string
    let order = 0

    const bank = (id: string) => world.bank(id)
    const wallet = (id: string) => world.wallet(id)
    const pay = async (method: Json, amount = 12_345, extra: Json = {}) => {
      order += 1
      const response = await shop.api.post('/v1/payments', { amount, currency: 'CNY', order_reference: `o-${order}`, shopper, confirm: true, payment_method: method, ...extra }, { 'idempotency-key': `k-${dialect}-${order}-${Math.random()}` })
      return response
    }
    const payment = async (id: string): Promise<Json> => (await shop.api.get(`/v1/payments/${id}`)).json()
    const settled = (id: string, status = 'succeeded') => until(`${id} ${status}`, async () => ((await payment(id)).status === status ? payment(id) : undefined))
    const attemptOf = async (paymentId: string) => {
      const attempt = await world.kassa.counterparts.latestAttempt(paymentId)
      assert.ok(attempt)
      return attempt
    }
    const captureTransfers = async (paymentId: string) =>
      world.kassa.store.db.selectFrom('ledger_transfers').select(['id', 'code']).where('reference_id', '=', paymentId).execute()

    before(async () => {
      world = await openCheckoutWorld(dialect, { queryAfterMs: 800 })
      shop = await seedMerchant(world.kassa, 'Channel Shop', 60)
      operator = await seedOperator(world.kassa)
      shopper = await seedShopper(world.kassa, 0n)
    })
    after(async () => {
      await world?.dispose()
    })

    it('netbank: redirects to the bank, books the payment when the signed notification comes, once, with a duplicate', async () => {
      const icbc = bank('icbc-sim')
      icbc.setFaults([{ action: 'notify_duplicate' }])
      const before = icbc.account('alice')?.balance_minor ?? 0n
      const created = await pay({ type: 'netbank', bank: 'icbc-sim' })
      assert.equal(created.statusCode, 200, created.body)
      const body = created.json()
      assert.equal(body.status, 'processing')
      assert.equal(body.channel, 'netbank.icbc-sim')
      assert.equal(body.next_action.type, 'redirect_to_url')
      assert.match(body.next_action.url, new RegExp(`^${icbc.url}/pay/`))
      assert.match(body.checkout_url, /\/pay\/pay_[0-9a-z]+\?t=/)
      const attempt = await attemptOf(body.id)
      assert.equal(icbc.pay(attempt.provider_order_id ?? '', 'alice'), 'paid')
      const paid = await settled(body.id)
      assert.equal(paid.amount_received, 12_345)
      assert.equal(paid.fee_amount, 74)
      await icbc.notificationsSettled(10_000)
      assert.equal((await captureTransfers(body.id)).length, 1, 'one capture transfer despite two notifications')
      const receivable = await accountBalance(world.kassa, 'acc_provider_receivable_netbank.icbc-sim_CNY')
      assert.ok(receivable !== undefined && receivable.debits_posted >= 12_345n)
      assert.equal((icbc.account('alice')?.balance_minor ?? 0n), before - 12_345n)
      const notes = await world.kassa.store.db.selectFrom('channel_notifications').select(['outcome']).where('order_no', '=', attempt.id).execute()
      assert.deepEqual(notes.map((n) => n.outcome).sort(), ['applied', 'duplicate'])
      icbc.setFaults([])
      await assertLedgerSound(world.kassa)
    })

    it('refuses forged notifications (bad signature, wrong amount, unknown order) and still books the genuine one', async () => {
      const cmb = bank('cmb-sim')
      for (const forgery of ['bad_signature', 'wrong_amount', 'unknown_order'] as const) {
        cmb.setFaults([{ action: 'notify_forge', forgery, status: 'paid' } as FaultRule])
        const created = (await pay({ type: 'netbank', bank: 'cmb-sim' }, 5_000)).json()
        const attempt = await attemptOf(created.id)
        assert.equal(cmb.pay(attempt.provider_order_id ?? '', 'alice'), 'paid')
        const paid = await settled(created.id)
        assert.equal(paid.amount_received, 5_000, forgery)
        await cmb.notificationsSettled(10_000)
        const record = cmb.notifications().find((n) => n.outcome === 'forgery_refused' || n.outcome === 'forgery_accepted')
        assert.ok(record, `the bank sent the ${forgery} forgery`)
        assert.ok(cmb.notifications().every((n) => n.outcome !== 'forgery_accepted'), `${forgery} was refused`)
        assert.equal((await captureTransfers(created.id)).length, 1)
      }
      const rejected = await world.kassa.store.db.selectFrom('channel_notifications').select(['reason']).where('channel_id', '=', 'netbank.cmb-sim').where('outcome', '=', 'rejected').execute()
      const reasons = rejected.map((row) => row.reason ?? '')
      assert.ok(reasons.includes('bad_signature'), reasons.join())
      assert.ok(reasons.includes('unknown_order'), reasons.join())
      assert.ok(reasons.some((reason) => reason.startsWith('amount ')), reasons.join())
      cmb.setFaults([])
      await assertLedgerSound(world.kassa)
    })

    it('resolves a payment whose notification never came by querying the bank; stays processing until then', async () => {
      const icbc = bank('icbc-sim')
      icbc.setFaults([{ action: 'notify_drop' }])
      const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 777)).json()
      const attempt = await attemptOf(created.id)
      assert.equal(icbc.pay(attempt.provider_order_id ?? '', 'alice'), 'paid')
      assert.equal((await payment(created.id)).status, 'processing')
      const paid = await settled(created.id)
      assert.equal(paid.amount_received, 777)
      icbc.setFaults([])
    })

    it("a bank whose queries hang holds back only its own payments' checks, not another bank's", async () => {
      const icbc = bank('icbc-sim')
      const cmb = bank('cmb-sim')
      // Both lose their notifications; icbc's queries also hang past the client's 5 s timeout.
      icbc.setFaults([{ action: 'notify_drop' }, { action: 'query_hang', delayMs: 8_000 }])
      cmb.setFaults([{ action: 'notify_drop' }])
      try {
        const stuck = []
        for (let n = 0; n < 3; n++) {
          const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 501 + n)).json()
          assert.equal(icbc.pay((await attemptOf(created.id)).provider_order_id ?? '', 'alice'), 'paid')
          stuck.push(created.id as string)
        }
        // Another bank's payment made once icbc's checks are under way (due after 1 s, each pass 200 ms
        // apart): it must not wait for that pass to end.
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        const other = (await pay({ type: 'netbank', bank: 'cmb-sim' }, 611)).json()
        assert.equal(cmb.pay((await attemptOf(other.id)).provider_order_id ?? '', 'alice'), 'paid')
        // Behind the three hanging queries, one after the other, it would wait 15 s.
        const paid = await until(`${other.id} succeeded while icbc hangs`, async () => ((await payment(other.id)).status === 'succeeded' ? payment(other.id) : undefined), 6_000)
        assert.equal(paid.amount_received, 611)
        for (const id of stuck) assert.equal((await payment(id)).status, 'processing', 'still unknown: its bank has not answered')
      } finally {
        icbc.setFaults([])
        cmb.setFaults([])
      }
    })

    it('an order the bank still calls unpaid is asked about again later, less and less often', async () => {
      const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 321)).json()
      const attempt = await attemptOf(created.id)
      await world.kassa.counterparts.check(attempt.id)
      const once = await attemptOf(created.id)
      await world.kassa.counterparts.check(attempt.id)
      const twice = await attemptOf(created.id)
      assert.equal(twice.status, 'pending')
      assert.equal(Number(twice.queries), Number(attempt.queries) + 2)
      assert.ok(Number(twice.next_check_at) - Number(twice.updated_at) > Number(once.next_check_at) - Number(once.updated_at), 'the next question waits longer')
      await shop.api.post(`/v1/payments/${created.id}/cancel`, {}, { 'idempotency-key': `cancel-${created.id}` })
    })

    it('a declined bank payment leaves the payment open for another method, with the reason', async () => {
      const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 99_999)).json()
      const attempt = await attemptOf(created.id)
      assert.equal(bank('icbc-sim').pay(attempt.provider_order_id ?? '', 'bob'), 'insufficient_balance')
      const open = await settled(created.id, 'requires_payment_method')
      assert.match(open.last_payment_error.code, /insufficient_balance/)
      const again = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'wallet', provider: 'alipay-like' } }, { 'idempotency-key': `again-${created.id}` })
      assert.equal(again.statusCode, 200, again.body)
      assert.equal(again.json().next_action.type, 'display_qr_code')
    })

    it('cancels a payment waiting at the bank by closing the order there; a payer who pays as it closes is refunded', async () => {
      const icbc = bank('icbc-sim')
      const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 4_321)).json()
      const canceled = await shop.api.post(`/v1/payments/${created.id}/cancel`, {}, { 'idempotency-key': `cancel-${created.id}` })
      assert.equal(canceled.statusCode, 200, canceled.body)
      assert.equal(canceled.json().status, 'canceled')
      const attempt = await attemptOf(created.id)
      assert.equal(icbc.order(icbc.merchants[0]?.merchant_id ?? '', attempt.id)?.status, 'closed')

      icbc.setFaults([{ action: 'pay_after_close' }])
      const late = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 2_468)).json()
      const lateAttempt = await attemptOf(late.id)
      const alice = icbc.account('alice')?.balance_minor ?? 0n
      assert.equal((await shop.api.post(`/v1/payments/${late.id}/cancel`, {}, { 'idempotency-key': `cancel-${late.id}` })).json().status, 'canceled')
      assert.equal(icbc.pay(lateAttempt.provider_order_id ?? '', 'alice'), 'paid')
      const refund = await until('the late money returned', async () => {
        const rows = await world.kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', late.id).where('status', '=', 'succeeded').execute()
        return rows[0]
      })
      assert.equal(refund.reason, 'late_funds')
      assert.equal(refund.amount, 2_468n)
      assert.equal(icbc.account('alice')?.balance_minor, alice, 'the payer has the money back')
      assert.equal((await payment(late.id)).status, 'canceled')
      const unapplied = await accountBalance(world.kassa, 'acc_unapplied_funds_netbank.icbc-sim_CNY')
      assert.equal((unapplied?.credits_posted ?? 0n) - (unapplied?.debits_posted ?? 0n), 0n, 'nothing left owed')
      icbc.setFaults([])
      await assertLedgerSound(world.kassa)
    })

    it('a source that floods forged notifications is answered 429 for the minute; other sources are served', async () => {
      const forged = (remoteAddress: string) =>
        world.kassa.app.inject({
          method: 'POST',
          url: '/hooks/channels/netbank.icbc-sim',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'merchant_id=M&order_no=pay_forged&amount=100&currency=CNY&status=PAID&sign=00',
          remoteAddress,
        })
      // The budget is per clock minute: start where the 62 requests end inside the same minute.
      const intoMinuteMs = Date.now() % 60_000
      if (intoMinuteMs > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinuteMs + 50))
      const answers = []
      for (let i = 0; i < 61; i++) answers.push((await forged('203.0.113.9')).statusCode)
      assert.deepEqual([...new Set(answers.slice(0, 60))], [400], 'each forgery refused on its own merits')
      const blocked = await forged('203.0.113.9')
      assert.equal(blocked.statusCode, 429)
      assert.match(blocked.headers['retry-after'] as string, /^[0-9]+$/)
      assert.equal((await forged('198.51.100.7')).statusCode, 400, 'another source is still heard')
    })

    it('late money the bank refuses to return is listed for operators, and a retry returns it', async () => {
      const icbc = bank('icbc-sim')
      icbc.setFaults([{ action: 'pay_after_close' }, { action: 'refund_refuse' }])
      const late = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 3_210)).json()
      const lateAttempt = await attemptOf(late.id)
      const alice = icbc.account('alice')?.balance_minor ?? 0n
      assert.equal((await shop.api.post(`/v1/payments/${late.id}/cancel`, {}, { 'idempotency-key': `cancel-${late.id}` })).json().status, 'canceled')
      assert.equal(icbc.pay(lateAttempt.provider_order_id ?? '', 'alice'), 'paid')
      const refused = await until('the late refund refused', async () => {
        const rows = await world.kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', late.id).where('status', '=', 'failed').execute()
        return rows[0]
      })
      assert.equal(refused.reason, 'late_funds')
      const owed = async () => {
        const account = await accountBalance(world.kassa, 'acc_unapplied_funds_netbank.icbc-sim_CNY')
        return (account?.credits_posted ?? 0n) - (account?.debits_posted ?? 0n)
      }
      assert.ok((await owed()) >= 3_210n, 'the money is held as owed to the payer')

      const listed = await operator.api.get('/console/v1/late_funds')
      assert.equal(listed.statusCode, 200, listed.body)
      const row = listed.json().data.find((r: Json) => r.refund === refused.id)
      assert.ok(row, listed.body)
      assert.equal(row.amount, 3_210)
      assert.equal(row.channel, 'netbank.icbc-sim')
      assert.equal(row.payment, late.id)
      assert.equal(row.failure_code, 'refund_exceeds_paid')

      const support = await seedOperator(world.kassa, 'support')
      const forbidden = await support.api.post(`/console/v1/refunds/${refused.id}/retry`)
      assert.equal(forbidden.statusCode, 403, forbidden.body)

      icbc.setFaults([])
      const retried = await operator.api.post(`/console/v1/refunds/${refused.id}/retry`)
      assert.equal(retried.statusCode, 200, retried.body)
      assert.equal(retried.json().status, 'succeeded', retried.body)
      assert.equal(retried.json().amount, 3_210)
      assert.equal(icbc.account('alice')?.balance_minor, alice, 'the payer has the money back')
      const again = await operator.api.post(`/console/v1/refunds/${refused.id}/retry`)
      assert.equal(again.statusCode, 409, again.body)
      assert.equal(again.json().error.code, 'refund_not_retryable')
      assert.equal((await operator.api.get('/console/v1/late_funds')).json().data.some((r: Json) => r.refund === refused.id), false)
      const audit = await world.kassa.store.db.selectFrom('audit_log').selectAll().where('action', '=', 'late_funds.refund_retry').execute()
      assert.equal(audit.length, 1)
      assert.equal((await payment(late.id)).status, 'canceled')
      await assertLedgerSound(world.kassa)
    })

    it('a stale CLOSED arriving after PAID (out of order) changes nothing: the late money is refunded once', async () => {
      const icbc = bank('icbc-sim')
      icbc.setFaults([{ action: 'pay_after_close' }, { action: 'notify_out_of_order', status: 'closed', delayMs: 5_000 }])
      const late = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 1_357)).json()
      const attempt = await attemptOf(late.id)
      const alice = icbc.account('alice')?.balance_minor ?? 0n
      assert.equal((await shop.api.post(`/v1/payments/${late.id}/cancel`, {}, { 'idempotency-key': `cancel-${late.id}` })).json().status, 'canceled')
      assert.equal(icbc.pay(attempt.provider_order_id ?? '', 'alice'), 'paid')
      await icbc.notificationsSettled(15_000)
      const deliveries = icbc.notifications().filter((record) => record.order_no === attempt.id)
      const order = deliveries.map((record) => `${record.status}:${record.attempts[0]?.at_ms ?? 0}`)
      const paidAt = deliveries.find((record) => record.status === 'paid')?.attempts[0]
      const closedAt = deliveries.find((record) => record.status === 'closed')?.attempts[0]
      assert.ok(paidAt && closedAt, order.join())
      assert.ok(closedAt.at_ms >= paidAt.at_ms, `CLOSED arrived after PAID (${order.join()})`)
      const refunds = await until('the late money returned', async () => {
        const rows = await world.kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', late.id).where('status', '=', 'succeeded').execute()
        return rows.length > 0 ? rows : undefined
      })
      assert.equal(refunds.length, 1)
      assert.equal(refunds[0]?.amount, 1_357n)
      assert.equal(icbc.account('alice')?.balance_minor, alice)
      const notes = await world.kassa.store.db.selectFrom('channel_notifications').select(['outcome']).where('order_no', '=', attempt.id).execute()
      assert.ok(notes.some((n) => n.outcome === 'duplicate'), `the stale CLOSED was recorded and changed nothing (${notes.map((n) => n.outcome).join()})`)
      assert.equal((await payment(late.id)).status, 'canceled')
      icbc.setFaults([])
      await assertLedgerSound(world.kassa)
    })

    it('a channel with its own fee charges it instead of the merchant\'s', async () => {
      assert.equal((await operator.api.post('/console/v1/channels/wallet.wechat-like', { fee_basis_points: 100 })).statusCode, 200)
      try {
        const created = (await pay({ type: 'wallet', provider: 'wechat-like' }, 10_000)).json()
        assert.equal(wallet('wechat-like').pay((await attemptOf(created.id)).provider_order_id ?? '', 'wang'), 'paid')
        const paid = await settled(created.id)
        assert.equal(paid.fee_amount, 100, '1.00 % of 100.00, not the merchant\'s 0.60 %')
      } finally {
        await operator.api.post('/console/v1/channels/wallet.wechat-like', { fee_basis_points: null })
      }
    })

    it('refunds through the bank: partial, repeated, never beyond what was paid; a lost answer settles once', async () => {
      const icbc = bank('icbc-sim')
      const created = (await pay({ type: 'netbank', bank: 'icbc-sim' }, 10_000)).json()
      assert.equal(icbc.pay((await attemptOf(created.id)).provider_order_id ?? '', 'alice'), 'paid')
      await settled(created.id)
      const alice = icbc.account('alice')?.balance_minor ?? 0n
      const first = await shop.api.post('/v1/refunds', { payment: created.id, amount: 3_000 }, { 'idempotency-key': `r1-${created.id}` })
      assert.equal(first.statusCode, 200, first.body)
      assert.equal(first.json().status, 'succeeded')
      icbc.setFaults([{ action: 'server_error', operation: 'refund', afterProcessing: true, timesMax: 1 }])
      const second = await shop.api.post('/v1/refunds', { payment: created.id, amount: 2_000 }, { 'idempotency-key': `r2-${created.id}` })
      assert.equal(second.statusCode, 200, second.body)
      const secondId = second.json().id as string
      await until('the second refund settled', async () => {
        const row = await world.kassa.store.db.selectFrom('refunds').select('status').where('id', '=', secondId).executeTakeFirst()
        return row?.status === 'succeeded' ? row : undefined
      })
      const over = await shop.api.post('/v1/refunds', { payment: created.id, amount: 5_001 }, { 'idempotency-key': `r3-${created.id}` })
      assert.equal(over.statusCode, 400)
      assert.equal(over.json().error.code, 'refund_exceeds_captured')
      assert.equal(icbc.account('alice')?.balance_minor, alice + 5_000n, 'refunded exactly 5,000 once each')
      assert.equal((await payment(created.id)).amount_refunded, 5_000)
      icbc.setFaults([])
      await assertLedgerSound(world.kassa)
    })

    for (const provider of ['alipay-like', 'wechat-like'] as const) {
      it(`wallet ${provider}: shows its QR code, books the notification, refunds through the provider`, async () => {
        const w = wallet(provider)
        const created = await pay({ type: 'wallet', provider }, 8_800)
        assert.equal(created.statusCode, 200, created.body)
        const body = created.json()
        assert.equal(body.next_action.type, 'display_qr_code')
        assert.match(body.next_action.qr_code, new RegExp(`^${w.url}/qr/`))
        const attempt = await attemptOf(body.id)
        assert.equal(w.pay(attempt.provider_order_id ?? '', 'wang'), 'paid')
        await settled(body.id)
        const wang = w.user('wang')?.balance_minor ?? 0n
        const refund = await shop.api.post('/v1/refunds', { payment: body.id, amount: 800 }, { 'idempotency-key': `wr-${body.id}` })
        assert.equal(refund.json().status, 'succeeded', refund.body)
        assert.equal(w.user('wang')?.balance_minor, wang + 800n)
        await assertLedgerSound(world.kassa)
      })
    }

    it('quick pay: binds an account with an SMS code, pays with a fresh code, refuses a wrong one, unbinds', async () => {
      const icbc = bank('icbc-sim')
      const first = (await shop.api.post('/v1/payments', { amount: 1_500, currency: 'CNY', order_reference: 'qp-1', shopper }, { 'idempotency-key': `qp-${dialect}-1` })).json()
      const link = new URL(first.checkout_url)
      const t = link.searchParams.get('t') ?? ''
      const checkout = (path: string, payload: Json) =>
        world.kassa.app.inject({ method: 'POST', url: `/pay/${first.id}/api/${path}?t=${t}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
      const started = await checkout('quickpay/bindings', { channel: 'quickpay.icbc-sim', account_no: '6222021000000000017', holder_name: 'Alice Zhang', phone: '13800000001' })
      assert.equal(started.statusCode, 200, started.body)
      assert.equal(started.json().phone_masked, '138****0001')
      const wrongBinding = await checkout('quickpay/bindings/confirm', { channel: 'quickpay.icbc-sim', binding_request_id: started.json().binding_request_id, sms_code: '000000' === icbc.smsCodeFor('13800000001') ? '111111' : '000000' })
      assert.equal(wrongBinding.statusCode, 400)
      assert.equal(wrongBinding.json().error.code, 'sms_code_invalid')
      const bound = await checkout('quickpay/bindings/confirm', { channel: 'quickpay.icbc-sim', binding_request_id: started.json().binding_request_id, sms_code: icbc.smsCodeFor('13800000001') })
      assert.equal(bound.statusCode, 200, bound.body)
      const saved = bound.json()
      assert.equal(saved.display.account_no_masked.endsWith('0017'), true)
      const row = await world.kassa.store.db.selectFrom('saved_methods').selectAll().where('id', '=', saved.id).executeTakeFirstOrThrow()
      assert.ok(!row.token_sealed.includes('bnd_'), 'the binding token is sealed')

      const confirmed = await shop.api.post(`/v1/payments/${first.id}/confirm`, { payment_method: { type: 'quickpay', saved_method: saved.id } }, { 'idempotency-key': `qp-c-${first.id}` })
      assert.equal(confirmed.statusCode, 200, confirmed.body)
      assert.equal(confirmed.json().next_action.type, 'enter_sms_code')
      const wrong = await shop.api.post(`/v1/payments/${first.id}/sms_code`, { sms_code: icbc.smsCodeFor('13800000001') === '123456' ? '654321' : '123456' })
      assert.equal(wrong.statusCode, 400)
      assert.equal(wrong.json().error.code, 'sms_code_invalid')
      const right = await shop.api.post(`/v1/payments/${first.id}/sms_code`, { sms_code: icbc.smsCodeFor('13800000001') })
      assert.equal(right.statusCode, 200, right.body)
      assert.equal(right.json().status, 'succeeded')

      const methodsAnswer = await shop.api.get(`/v1/payments/${first.id}/payment_methods`)
      assert.equal(methodsAnswer.statusCode, 200, methodsAnswer.body)
      const methods = methodsAnswer.json()
      assert.ok(methods.saved_methods.some((m: Json) => m.id === saved.id))

      const unbound = await world.kassa.app.inject({ method: 'DELETE', url: `/pay/${first.id}/api/saved_methods/${saved.id}?t=${t}` })
      assert.equal(unbound.statusCode, 200, unbound.body)
      const next = (await shop.api.post('/v1/payments', { amount: 100, currency: 'CNY', order_reference: 'qp-2', shopper, confirm: true, payment_method: { type: 'quickpay', saved_method: saved.id } }, { 'idempotency-key': `qp-${dialect}-2` }))
      assert.equal(next.statusCode, 400)
      assert.equal(next.json().error.code, 'saved_method_missing')
      await assertLedgerSound(world.kassa)
    })

    it('lists what a payment can use now, and follows the operators: limits, merchants, draining, disabled', async () => {
      const created = (await shop.api.post('/v1/payments', { amount: 50_000, currency: 'CNY', order_reference: 'pm-1', shopper }, { 'idempotency-key': `pm-${dialect}-1` })).json()
      const ids = async () => ((await shop.api.get(`/v1/payments/${created.id}/payment_methods`)).json().channels as Json[]).map((c) => c.id)
      const all = await ids()
      for (const id of ['wallet_balance', 'netbank.icbc-sim', 'netbank.cmb-sim', 'quickpay.icbc-sim', 'wallet.alipay-like', 'wallet.wechat-like']) assert.ok(all.includes(id), id)
      const set = (id: string, body: Json) => operator.api.post(`/console/v1/channels/${id}`, body)
      assert.equal((await set('netbank.cmb-sim', { max_amount: 10_000 })).statusCode, 200)
      assert.equal((await set('wallet.wechat-like', { merchants: ['mch_00000000000000000000000000'] })).statusCode, 200)
      assert.equal((await set('wallet.alipay-like', { state: 'draining' })).statusCode, 200)
      const now = await ids()
      assert.ok(!now.includes('netbank.cmb-sim') && !now.includes('wallet.wechat-like') && !now.includes('wallet.alipay-like'), now.join())
      const refused = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'wallet', provider: 'alipay-like' } }, { 'idempotency-key': `pm-c-${created.id}` })
      assert.equal(refused.statusCode, 409)
      assert.equal(refused.json().error.code, 'channel_unavailable')
      const tooMuch = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'netbank', bank: 'cmb-sim' } }, { 'idempotency-key': `pm-d-${created.id}` })
      assert.equal(tooMuch.json().error.code, 'channel_not_allowed')
      assert.equal((await set('wallet.alipay-like', { state: 'disabled' })).statusCode, 200)
      const hidden = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'wallet', provider: 'alipay-like' } }, { 'idempotency-key': `pm-e-${created.id}` })
      assert.equal(hidden.json().error.code, 'payment_method_unsupported')
      const unknownBank = await shop.api.post(`/v1/payments/${created.id}/confirm`, { payment_method: { type: 'netbank', bank: 'nobank' } }, { 'idempotency-key': `pm-f-${created.id}` })
      assert.equal(unknownBank.statusCode, 400)
      assert.equal(unknownBank.json().error.param, 'payment_method.type')
      const badState = await set('wallet.alipay-like', { state: 'off' })
      assert.equal(badState.statusCode, 400)
      const audit = await world.kassa.store.db.selectFrom('audit_log').select(['action', 'actor_id']).where('target_id', '=', 'wallet.alipay-like').execute()
      assert.ok(audit.length >= 2 && audit.every((row) => row.action === 'channel.updated' && row.actor_id === operator.id))
      for (const id of ['netbank.cmb-sim', 'wallet.wechat-like', 'wallet.alipay-like']) await set(id, { state: 'enabled', merchants: null, max_amount: null })
    })
  })
}
