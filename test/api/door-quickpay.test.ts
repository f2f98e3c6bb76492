import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { bindDemoQuickpay, seedDeliveryDemo, type DeliveryDemo } from '../../src/demo/delivery.js'
import type { DeliveryPaidEvent } from '../../src/delivery/live.js'
import { openCheckoutWorld, type CheckoutWorld } from '../helpers/counterparts.js'
import { DIALECTS } from '../helpers/dialects.js'
import { feeFor } from '../../src/payments/decide.js'
import { accountBalance, assertLedgerSound, caller, seedOperator, walletAvailable } from '../helpers/factories.js'

type Json = Record<string, any>

/** Waits until `probe` answers something other than undefined, or fails after a few seconds. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let tries = 0; tries < 100; tries++) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail(`timed out waiting for ${what}`)
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: paying a parcel at the door with a saved quick-pay account`, () => {
    let world: CheckoutWorld
    let demo: DeliveryDemo
    let shopper: ReturnType<typeof caller>
    let courier: ReturnType<typeof caller>
    let otherCourier: ReturnType<typeof caller>
    let alice: { id: string; phone: string }
    let bob: { id: string; phone: string }
    let operator: ReturnType<typeof caller>
    let merchant: ReturnType<typeof caller>
    const events: DeliveryPaidEvent[] = []

    const login = async (username: string, password: string) => {
      const response = await world.kassa.app.inject({ method: 'POST', url: '/courier/v1/sessions', payload: { username, password } })
      assert.equal(response.statusCode, 200, response.body)
      return caller(world.kassa, response.json().token as string)
    }
    const codeOf = async (who: ReturnType<typeof caller>, deliveryId: string): Promise<Json> => {
      const answer = await who.post(`/courier/v1/deliveries/${deliveryId}/code`)
      assert.equal(answer.statusCode, 200, answer.body)
      return answer.json()
    }
    /** More parcels of the demo merchant, with their own courier and shopper, who pays with alice's saved quick-pay account. */
    const anotherDoorWithAlice = async () => {
      const more = await seedDeliveryDemo(world.kassa, { merchant: demo.merchant })
      const moreCourier = await login(more.courier.username, more.courier.password)
      const laterShopper = caller(world.kassa, more.shopperToken)
      const saved = await bindDemoQuickpay(world.kassa, more.shopperId, icbc(), 'alice')
      const bankMerchant = icbc().merchants[0]?.merchant_id ?? ''
      const aliceBefore = icbc().account('alice')?.balance_minor ?? 0n
      return { more, moreCourier, laterShopper, saved, bankMerchant, aliceBefore }
    }
    const receivable = async () => (await accountBalance(world.kassa, 'acc_provider_receivable_quickpay.icbc-sim_CNY'))?.debits_posted ?? 0n
    const icbc = () => world.bank('icbc-sim')

    before(async () => {
      world = await openCheckoutWorld(dialect)
      demo = await seedDeliveryDemo(world.kassa)
      shopper = caller(world.kassa, demo.shopperToken)
      courier = await login(demo.courier.username, demo.courier.password)
      otherCourier = await login(demo.otherCourier.username, demo.otherCourier.password)
      alice = await bindDemoQuickpay(world.kassa, demo.shopperId, icbc(), 'alice')
      bob = await bindDemoQuickpay(world.kassa, demo.shopperId, icbc(), 'bob')
      world.kassa.live.subscribe(demo.courier.id, (event) => events.push(event))
      operator = (await seedOperator(world.kassa)).api
      merchant = caller(world.kassa, demo.merchant.key)
    })
    after(async () => {
      await assertLedgerSound(world.kassa)
      await world.dispose()
    })

    it("offers the shopper's saved accounts, holds the code during the SMS step, pays once, and tells the courier", async () => {
      const parcel = demo.deliveries[0]!
      const code = await codeOf(courier, parcel.id)
      const resolved = (await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json()
      assert.equal(resolved.status, 'payable')
      assert.deepEqual(resolved.saved_methods.map((m: Json) => m.id).sort(), [alice.id, bob.id].sort())
      assert.ok(resolved.saved_methods.every((m: Json) => m.channel === 'quickpay.icbc-sim' && /\*+\d{4}$/.test(m.display.account_no_masked)))

      // Operators priced quick pay at 1 %: the door charges the channel's fee, as checkout does.
      const priced = await operator.post('/console/v1/channels/quickpay.icbc-sim', { fee_basis_points: 100 })
      assert.equal(priced.statusCode, 200, priced.body)

      const aliceBefore = icbc().account('alice')?.balance_minor ?? 0n
      const walletBefore = await walletAvailable(world.kassa, demo.shopperId)
      const receivableBefore = await receivable()
      const started = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id })
      assert.equal(started.statusCode, 200, started.body)
      const attempt = started.json()
      assert.equal(attempt.status, 'requires_sms_code')
      assert.equal(attempt.next_action.type, 'enter_sms_code')
      assert.equal(attempt.code_status, 'paying')

      // A retried Pay (a lost answer, a reloaded page) resumes the same bank payment; no second order at the bank.
      const retry = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id })
      assert.equal(retry.statusCode, 200, retry.body)
      assert.equal(retry.json().attempt, attempt.attempt)
      assert.equal((await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json().door_payment, attempt.attempt)
      const attemptsOfCode = await world.kassa.store.db.selectFrom('channel_attempts').select('id').where('delivery_code', '=', code.reference).execute()
      assert.equal(attemptsOfCode.length, 1)

      // The merchant sees the payment waiting for its parcels, not the shopper's bank step, and cannot disturb it.
      const seen = (await merchant.get(`/v1/payments/${demo.payment}`)).json()
      assert.equal(seen.status, 'processing')
      assert.equal(seen.next_action, undefined, 'no SMS step (nor the bank phone) shown to the merchant')
      const merchantSms = await merchant.post(`/v1/payments/${demo.payment}/sms_code`, { sms_code: '123456' })
      assert.equal(merchantSms.statusCode, 409)
      await merchant.post(`/v1/payments/${demo.payment}/cancel`, {}, { 'idempotency-key': `door-cancel-${dialect}` })
      const bankOrder = icbc().order(icbc().merchants[0]?.merchant_id ?? '', attempt.attempt)
      assert.notEqual(bankOrder?.status, 'closed', "a merchant's cancel does not close the shopper's bank order")

      // Held: nobody can pay it another way meanwhile, and the courier sees it under way.
      assert.equal((await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json().status, 'paying')
      const second = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(second.statusCode, 409)
      assert.equal(second.json().error.code, 'qr_payment_in_progress')
      const listed = (await courier.get('/courier/v1/deliveries')).json().data.find((d: Json) => d.id === parcel.id)
      assert.equal(listed.code.status, 'paying')
      assert.equal(listed.status, 'out_for_delivery')

      const smsCode = icbc().smsCodeFor(alice.phone) ?? ''
      const wrong = await shopper.post(`/shopper/v1/door_payments/${attempt.attempt}/sms_code`, { sms_code: smsCode === '123456' ? '654321' : '123456' })
      assert.equal(wrong.statusCode, 400, wrong.body)
      assert.equal(wrong.json().error.code, 'sms_code_invalid')
      assert.equal(wrong.json().error.param, 'sms_code')

      const paid = await shopper.post(`/shopper/v1/door_payments/${attempt.attempt}/sms_code`, { sms_code: smsCode })
      assert.equal(paid.statusCode, 200, paid.body)
      const receipt = paid.json()
      assert.equal(receipt.status, 'paid')
      assert.equal(receipt.receipt.amount, 12_900)
      assert.equal(receipt.receipt.paid_with, 'quickpay.icbc-sim')
      assert.equal(receipt.receipt.parcel_number, parcel.parcel_number)

      // Money: the bank took it from alice and owes it to Kassa; the wallet was not touched.
      assert.equal(icbc().account('alice')?.balance_minor, aliceBefore - 12_900n)
      assert.equal(await receivable(), receivableBefore + 12_900n)
      assert.equal(await walletAvailable(world.kassa, demo.shopperId), walletBefore)
      const event = await eventually(async () => events.find((e) => e.delivery === parcel.id && e.status === 'paid'), 'the courier to hear of the payment')
      assert.equal(event.amount, 12_900)
      assert.ok(events.some((e) => e.delivery === parcel.id && e.status === 'code_paying'), 'the courier heard the bank payment start')
      const delivery = await world.kassa.store.db.selectFrom('deliveries').selectAll().where('id', '=', parcel.id).executeTakeFirstOrThrow()
      assert.equal(delivery.status, 'paid')
      assert.equal(delivery.paid_with, 'quickpay.icbc-sim')
      const transfer = await world.kassa.store.db.selectFrom('ledger_transfers').selectAll().where('id', '=', delivery.transfer_id ?? '').executeTakeFirstOrThrow()
      assert.equal(transfer.reference_id, parcel.id)
      const payment = await world.kassa.store.db.selectFrom('payments').selectAll().where('id', '=', demo.payment).executeTakeFirstOrThrow()
      assert.equal(payment.fee_amount, 129n, "1 % of CNY 129.00: the channel's fee")
      await operator.post('/console/v1/channels/quickpay.icbc-sim', { fee_basis_points: null })

      // Paid once: the code is spent, and a retried SMS code changes nothing.
      const again = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id })
      assert.equal(again.statusCode, 409)
      assert.equal(again.json().error.code, 'qr_already_paid')
      const retried = await shopper.post(`/shopper/v1/door_payments/${attempt.attempt}/sms_code`, { sms_code: smsCode })
      assert.equal(retried.statusCode, 200, retried.body)
      assert.equal(retried.json().status, 'paid', 'a repeated confirm answers the receipt again')
      assert.equal(icbc().account('alice')?.balance_minor, aliceBefore - 12_900n)
      await assertLedgerSound(world.kassa)
    })

    it('a bank that declines leaves the code payable, and the wallet balance pays it', async () => {
      const parcel = demo.deliveries[1]!
      const code = await codeOf(courier, parcel.id)
      const started = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: bob.id })
      assert.equal(started.statusCode, 200, started.body)
      let answer = started.json()
      if (answer.status === 'requires_sms_code') {
        const confirmed = await shopper.post(`/shopper/v1/door_payments/${answer.attempt}/sms_code`, { sms_code: icbc().smsCodeFor(bob.phone) ?? '' })
        assert.equal(confirmed.statusCode, 200, confirmed.body)
        answer = confirmed.json()
      }
      assert.equal(answer.status, 'failed', JSON.stringify(answer))
      assert.match(answer.failure_code, /insufficient/)
      assert.equal(answer.code_status, 'payable')
      assert.equal((await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json().status, 'payable')
      await eventually(async () => (events.some((e) => e.delivery === parcel.id && e.status === 'code_payable') ? true : undefined), 'the courier to hear the code is payable again')

      const walletBefore = await walletAvailable(world.kassa, demo.shopperId)
      const paid = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(paid.statusCode, 200, paid.body)
      assert.equal(paid.json().receipt.paid_with, 'wallet_balance')
      assert.equal(await walletAvailable(world.kassa, demo.shopperId), walletBefore - parcel.amount)
      // Both parcels of this courier are paid, the third is still out: the payment waits for it.
      const payment = await world.kassa.store.db.selectFrom('payments').selectAll().where('id', '=', demo.payment).executeTakeFirstOrThrow()
      assert.equal(payment.status, 'processing')
      assert.equal(payment.amount_received, 12_900n + 4_550n)
    })

    it('the shopper can give up at the SMS step: the order closes at the bank and the code can be paid again', async () => {
      const parcel = demo.deliveries[2]!
      const code = await codeOf(otherCourier, parcel.id)
      const started = (await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id })).json()
      assert.equal(started.status, 'requires_sms_code')
      const attemptRow = await world.kassa.store.db.selectFrom('channel_attempts').selectAll().where('id', '=', started.attempt).executeTakeFirstOrThrow()
      const canceled = await shopper.post(`/shopper/v1/door_payments/${started.attempt}/cancel`)
      assert.equal(canceled.statusCode, 200, canceled.body)
      assert.equal(canceled.json().status, 'failed')
      assert.equal(canceled.json().code_status, 'payable')
      const merchantId = icbc().merchants[0]?.merchant_id ?? ''
      assert.equal(icbc().order(merchantId, attemptRow.id)?.status, 'closed')
      const late = await shopper.post(`/shopper/v1/door_payments/${started.attempt}/sms_code`, { sms_code: icbc().smsCodeFor(alice.phone) ?? '' })
      assert.equal(late.statusCode, 200, late.body)
      assert.equal(late.json().status, 'failed', 'a given-up payment stays given up')

      const paid = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(paid.statusCode, 200, paid.body)
      const payment = await world.kassa.store.db.selectFrom('payments').selectAll().where('id', '=', demo.payment).executeTakeFirstOrThrow()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.amount_received, payment.amount)
    })

    it('a give-up that overtakes the bank creating the order: the order, created after the close, is closed at the bank too', async () => {
      const { more, moreCourier, laterShopper, saved, bankMerchant, aliceBefore } = await anotherDoorWithAlice()
      const parcel = more.deliveries[0]!
      const code = await codeOf(moreCourier, parcel.id)
      icbc().setFaults([{ action: 'request_delay', operation: 'payment', delayMs: 1_500, timesMax: 1 }])
      try {
        const paying = laterShopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: saved.id })
        const attempt = await eventually(
          () => world.kassa.store.db.selectFrom('channel_attempts').select(['id', 'status']).where('payment_id', '=', more.payment).where('delivery_code', 'is not', null).executeTakeFirst(),
          'the door attempt',
        )
        assert.equal(attempt.status, 'creating', 'the bank is still creating the order')
        const canceled = await laterShopper.post(`/shopper/v1/door_payments/${attempt.id}/cancel`)
        assert.equal(canceled.statusCode, 200, canceled.body)
        assert.equal(canceled.json().code_status, 'payable')
        assert.equal(icbc().order(bankMerchant, attempt.id), undefined, 'the close reached the bank first')
        const answered = await paying
        assert.equal(answered.statusCode, 200, answered.body)
        assert.notEqual(answered.json().status, 'succeeded')
        assert.ok(icbc().order(bankMerchant, attempt.id) !== undefined, 'the creation landed after the close')
        await eventually(async () => (icbc().order(bankMerchant, attempt.id)?.status === 'closed' ? true : undefined), 'the late order closed at the bank')
        const row = await world.kassa.store.db.selectFrom('channel_attempts').selectAll().where('id', '=', attempt.id).executeTakeFirstOrThrow()
        assert.equal(row.status, 'closed')
      } finally {
        icbc().setFaults([])
      }
      const late = await laterShopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: saved.id })
      assert.equal(late.statusCode, 200, late.body)
      assert.equal(late.json().status, 'requires_sms_code', 'the code can be paid again')
      assert.equal(icbc().account('alice')?.balance_minor, aliceBefore, 'alice was never charged')
      await assertLedgerSound(world.kassa)
    })

    it('cash taken or a new code made during the SMS step closes the bank order: the shopper is not charged', async () => {
      const { more, moreCourier, laterShopper, saved, bankMerchant, aliceBefore } = await anotherDoorWithAlice()

      for (const courierActs of ['cash', 'new code'] as const) {
        const parcel = courierActs === 'cash' ? more.deliveries[0]! : more.deliveries[1]!
        const code = await codeOf(moreCourier, parcel.id)
        const started = (await laterShopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: saved.id })).json()
        assert.equal(started.status, 'requires_sms_code')
        const acted =
          courierActs === 'cash'
            ? await moreCourier.post(`/courier/v1/deliveries/${parcel.id}/cash`, { amount: Number(parcel.amount) })
            : await moreCourier.post(`/courier/v1/deliveries/${parcel.id}/code`)
        assert.equal(acted.statusCode, 200, acted.body)
        await eventually(async () => (icbc().order(bankMerchant, started.attempt)?.status === 'closed' ? true : undefined), `the bank order closed after ${courierActs}`)
        const confirmed = await laterShopper.post(`/shopper/v1/door_payments/${started.attempt}/sms_code`, { sms_code: icbc().smsCodeFor(saved.phone) ?? '' })
        assert.equal(confirmed.statusCode, 200, confirmed.body)
        assert.equal(confirmed.json().status, 'failed', confirmed.body)
        assert.match(confirmed.json().message, /not charged/)
      }
      assert.equal(icbc().account('alice')?.balance_minor, aliceBefore, 'alice was never charged')
      const refunds = await world.kassa.store.db.selectFrom('refunds').select('id').where('payment_id', '=', more.payment).execute()
      assert.equal(refunds.length, 0, 'nothing to refund: nothing was taken')
      await assertLedgerSound(world.kassa)
    })

    it('money the bank takes in a race with cash at the door goes back to the payer, never to the merchant', async () => {
      const more = await seedDeliveryDemo(world.kassa, { merchant: demo.merchant })
      const moreCourier = await login(more.courier.username, more.courier.password)
      const laterShopper = caller(world.kassa, more.shopperToken)
      const saved = await bindDemoQuickpay(world.kassa, more.shopperId, icbc(), 'alice')
      const parcel = more.deliveries[0]!
      const code = await codeOf(moreCourier, parcel.id)
      const started = (await laterShopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: saved.id })).json()
      assert.equal(started.status, 'requires_sms_code')
      const payableBefore = (await accountBalance(world.kassa, `acc_merchant_payable_${demo.merchant.id}_CNY`))?.credits_posted ?? 0n
      const aliceBefore = icbc().account('alice')?.balance_minor ?? 0n

      // The bank cannot be reached to close its order, and the shopper's SMS code was already on its way.
      icbc().setFaults([{ action: 'server_error', operation: 'close' }])
      try {
        const cash = await moreCourier.post(`/courier/v1/deliveries/${parcel.id}/cash`, { amount: Number(parcel.amount) })
        assert.equal(cash.statusCode, 200, cash.body)
        await world.kassa.counterparts.confirmSmsCodeOf(started.attempt, icbc().smsCodeFor(saved.phone) ?? '')
      } finally {
        icbc().setFaults([])
      }
      const answer = (await laterShopper.get(`/shopper/v1/door_payments/${started.attempt}`)).json()
      assert.equal(answer.status, 'returned')

      const refund = await eventually(async () => {
        const row = await world.kassa.store.db.selectFrom('refunds').selectAll().where('attempt_id', '=', started.attempt).executeTakeFirst()
        return row?.status === 'succeeded' ? row : undefined
      }, 'the late money to be refunded')
      assert.equal(refund.reason, 'late_funds')
      assert.equal(refund.amount, parcel.amount)
      assert.equal(icbc().account('alice')?.balance_minor, aliceBefore, 'alice has her money back')
      // The merchant got the cash parcel once, and nothing from the bank.
      const payableAfter = (await accountBalance(world.kassa, `acc_merchant_payable_${demo.merchant.id}_CNY`))?.credits_posted ?? 0n
      assert.equal(payableAfter - payableBefore, parcel.amount - feeFor(parcel.amount, 30))
      const delivery = await world.kassa.store.db.selectFrom('deliveries').selectAll().where('id', '=', parcel.id).executeTakeFirstOrThrow()
      assert.equal(delivery.paid_by, 'cash')
      await assertLedgerSound(world.kassa)
    })

    it("refuses another shopper's saved method and attempt, and two racing payments on one code start one", async () => {
      const more = await seedDeliveryDemo(world.kassa, { merchant: demo.merchant })
      const moreCourier = await login(more.courier.username, more.courier.password)
      const stranger = caller(world.kassa, more.shopperToken)
      const parcel = more.deliveries[1]!
      const code = await codeOf(moreCourier, parcel.id)
      const foreign = await stranger.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id })
      assert.equal(foreign.statusCode, 400)
      assert.equal(foreign.json().error.code, 'saved_method_missing')
      assert.equal(foreign.json().error.param, 'saved_method')
      assert.equal((await stranger.post('/shopper/v1/codes/resolve', { payload: code.payload })).json().saved_methods.length, 0)

      const racing = await Promise.all([
        shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id }),
        shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: alice.id }),
        stranger.post('/shopper/v1/codes/pay', { payload: code.payload }),
      ])
      const statuses = racing.map((r) => r.statusCode).sort()
      assert.deepEqual(statuses, [200, 409, 409], racing.map((r) => r.body).join('\n'))
      const won = racing.find((r) => r.statusCode === 200)!.json()
      const attempts = await world.kassa.store.db.selectFrom('channel_attempts').select('id').where('delivery_code', '=', code.reference).execute()
      assert.equal(attempts.length, won.attempt === undefined ? 0 : 1)

      if (won.attempt !== undefined) {
        const peek = await stranger.get(`/shopper/v1/door_payments/${won.attempt}`)
        assert.equal(peek.statusCode, 404)
        const steal = await stranger.post(`/shopper/v1/door_payments/${won.attempt}/sms_code`, { sms_code: '123456' })
        assert.equal(steal.statusCode, 404)
      }
      const bad = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload, saved_method: 7 })
      assert.equal(bad.statusCode, 400)
      assert.match(bad.json().error.param ?? bad.json().error.message, /saved_method/)
    })
  })
}
