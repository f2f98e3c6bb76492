import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { seedDeliveryDemo, type DeliveryDemo } from '../../src/demo/delivery.js'
import { crc16Hex, decodeMpm, encodeMpm, type MpmTemplate } from '../../src/qr/index.js'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { accountBalance, assertLedgerSound, caller, seedOperator, walletAvailable } from '../helpers/factories.js'

type Json = Record<string, any>

for (const dialect of DIALECTS) {
  describe(`${dialect}: pay on delivery`, () => {
    let kassa: TestKassa
    let demo: DeliveryDemo
    const clock = new SimulatedClock(Date.now())
    let courier: ReturnType<typeof caller>
    let otherCourier: ReturnType<typeof caller>
    let shopper: ReturnType<typeof caller>

    const login = async (username: string, password: string) => {
      const response = await kassa.app.inject({ method: 'POST', url: '/courier/v1/sessions', payload: { username, password } })
      assert.equal(response.statusCode, 200, response.body)
      return caller(kassa, response.json().token as string)
    }

    before(async () => {
      kassa = await openTestKassa(dialect, { clock })
      demo = await seedDeliveryDemo(kassa)
      courier = await login(demo.courier.username, demo.courier.password)
      otherCourier = await login(demo.otherCourier.username, demo.otherCourier.password)
      shopper = caller(kassa, demo.shopperToken)
    })
    after(async () => {
      await assertLedgerSound(kassa)
      await kassa.dispose()
    })

    it('answers 429 after 10 failed log-ins for one username from one address, or 30 from one address, in a minute, before checking the password', async () => {
      const attempt = (username: string, password: string, remoteAddress?: string) =>
        kassa.app.inject({ method: 'POST', url: '/courier/v1/sessions', payload: { username, password }, ...(remoteAddress === undefined ? {} : { remoteAddress }) })
      const { username, password } = demo.otherCourier
      for (let n = 0; n < 10; n++) assert.equal((await attempt(username, `guess-${n}`)).statusCode, 401)
      const throttled = await attempt(username, password)
      assert.equal(throttled.statusCode, 429, 'the right password too: guessing stops for the minute')
      assert.equal(throttled.json().error.code, 'rate_limited')
      assert.ok(Number(throttled.headers['retry-after']) >= 1)
      assert.equal((await attempt(username, password, '192.0.2.44')).statusCode, 200, 'the courier, from their own handheld, is not locked out')
      assert.equal((await attempt(demo.courier.username, demo.courier.password)).statusCode, 200, 'another courier logs in as before')

      // Many usernames from one address.
      for (let n = 0; n < 30; n++) assert.equal((await attempt(`nobody-${n}`, 'x', '203.0.113.9')).statusCode, 401)
      assert.equal((await attempt(demo.courier.username, demo.courier.password, '203.0.113.9')).statusCode, 429)
      assert.equal((await attempt(demo.courier.username, demo.courier.password, '198.51.100.4')).statusCode, 200)

      clock.advance(60_000)
      assert.equal((await attempt(username, password)).statusCode, 200, 'a minute later the courier gets in')
      assert.equal((await attempt(demo.courier.username, demo.courier.password, '203.0.113.9')).statusCode, 200)
    })

    it('refuses a wrong password and unknown sessions', async () => {
      const wrong = await kassa.app.inject({ method: 'POST', url: '/courier/v1/sessions', payload: { username: demo.courier.username, password: 'nope-nope' } })
      assert.equal(wrong.statusCode, 401)
      assert.equal(wrong.json().error.code, 'courier_credentials_invalid')
      const stranger = await caller(kassa, 'cs_madeup').get('/courier/v1/deliveries')
      assert.equal(stranger.statusCode, 401)
      const merchantKeyOnCourier = await caller(kassa, demo.merchant.key).get('/courier/v1/deliveries')
      assert.equal(merchantKeyOnCourier.statusCode, 401)
    })

    it("shows a courier only their own parcels, with the shopper's phone masked", async () => {
      const list = (await courier.get('/courier/v1/deliveries')).json()
      assert.deepEqual(list.data.map((d: Json) => d.id).sort(), [demo.deliveries[0]?.id, demo.deliveries[1]?.id].sort())
      assert.equal(list.data[0].shopper_phone, '+86*******5678')
      const theirs = await otherCourier.post(`/courier/v1/deliveries/${demo.deliveries[0]?.id}/code`)
      assert.equal(theirs.statusCode, 404)
      const cash = await otherCourier.post(`/courier/v1/deliveries/${demo.deliveries[0]?.id}/cash`, { amount: 12_900 })
      assert.equal(cash.statusCode, 404)
    })

    it('pays a parcel at the door by QR: the amount comes from Kassa, the wallet pays once, the code is single-use', async () => {
      const parcel = demo.deliveries[0]!
      const code = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      assert.match(code.image, /^data:image\/png;base64,/)
      const decoded = decodeMpm(code.payload, { strict: true })
      assert.equal(decoded.valid, true, JSON.stringify(decoded.errors))
      assert.equal(decoded.fields['01'], '12', 'dynamic code')
      assert.equal(decoded.fields['54'], '129.00')
      assert.equal((decoded.fields['62'] as MpmTemplate)['05'], code.reference)

      const resolved = (await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json()
      assert.equal(resolved.status, 'payable')
      assert.equal(resolved.amount, 12_900)
      assert.equal(resolved.parcel_number, parcel.parcel_number)
      assert.equal(resolved.merchant_name, 'Kassa Home Goods')

      const before = await walletAvailable(kassa, demo.shopperId)
      const payableBefore = (await accountBalance(kassa, `acc_merchant_payable_${demo.merchant.id}_CNY`))?.credits_posted ?? 0n
      const paid = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(paid.statusCode, 200, paid.body)
      assert.equal(paid.json().receipt.amount, 12_900)
      assert.equal(await walletAvailable(kassa, demo.shopperId), before - 12_900n)
      const payable = await accountBalance(kassa, `acc_merchant_payable_${demo.merchant.id}_CNY`)
      assert.equal((payable?.credits_posted ?? 0n) - payableBefore, 12_900n - 39n, 'amount less the 0.30 % fee')

      const again = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(again.statusCode, 409)
      assert.equal(again.json().error.code, 'qr_already_paid')
      assert.equal((await shopper.post('/shopper/v1/codes/resolve', { payload: code.payload })).json().status, 'paid')
      assert.equal(await walletAvailable(kassa, demo.shopperId), before - 12_900n, 'charged once')
      const list = (await courier.get('/courier/v1/deliveries')).json()
      const shown = list.data.find((d: Json) => d.id === parcel.id)
      assert.equal(shown.status, 'paid')
      assert.equal(shown.paid_by, 'qr')
      const payment = (await caller(kassa, demo.merchant.key).get(`/v1/payments/${demo.payment}`)).json()
      assert.equal(payment.status, 'processing', 'two parcels are still out')
      assert.equal(payment.amount_received, 12_900)
    })

    it('refuses tampered codes: a wrong CRC, an edited amount with its CRC recomputed, another parcel\'s reference', async () => {
      const parcel = demo.deliveries[1]!
      const code = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      const wrongCrc = code.payload.slice(0, -4) + (code.payload.endsWith('0000') ? '1111' : '0000')
      const crcAnswer = await shopper.post('/shopper/v1/codes/pay', { payload: wrongCrc })
      assert.equal(crcAnswer.statusCode, 400)
      assert.equal(crcAnswer.json().error.code, 'qr_invalid')
      assert.match(crcAnswer.json().error.message, /63/)

      const fields = decodeMpm(code.payload).fields
      const cheaper = encodeMpm({ ...fields, '54': '0.01' })
      assert.ok(cheaper.ok)
      const edited = await shopper.post('/shopper/v1/codes/pay', { payload: cheaper.payload })
      assert.equal(edited.statusCode, 400)
      assert.equal(edited.json().error.code, 'qr_invalid')

      const other = encodeMpm({ ...fields, '62': { ...(fields['62'] as MpmTemplate), '05': 'K000000000000000000000000' } })
      assert.ok(other.ok)
      const unknown = await shopper.post('/shopper/v1/codes/pay', { payload: other.payload })
      assert.equal(unknown.statusCode, 404)
      assert.equal(unknown.json().error.code, 'qr_unknown')
      const garbage = await shopper.post('/shopper/v1/codes/resolve', { payload: 'hello' })
      assert.equal(garbage.statusCode, 400)
      assert.equal(crc16Hex('x').length, 4)
    })

    it('replaces the code when the amount goes down; the refused part is never charged', async () => {
      const parcel = demo.deliveries[1]!
      const old = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      const higher = await courier.post(`/courier/v1/deliveries/${parcel.id}/amount`, { amount: 5_000 })
      assert.equal(higher.statusCode, 400)
      assert.equal(higher.json().error.code, 'delivery_amount_invalid')
      const lowered = (await courier.post(`/courier/v1/deliveries/${parcel.id}/amount`, { amount: 3_000 })).json()
      assert.equal(lowered.amount, 3_000)
      assert.equal(lowered.amount_original, 4_550)
      assert.equal(lowered.code.amount, 3_000)
      const stale = await shopper.post('/shopper/v1/codes/pay', { payload: old.payload })
      assert.equal(stale.statusCode, 409)
      assert.equal(stale.json().error.code, 'qr_replaced')
      assert.equal((await shopper.post('/shopper/v1/codes/resolve', { payload: old.payload })).json().status, 'replaced')

      const expiring = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      clock.advance(15 * 60 * 1000 + 1)
      const expired = await shopper.post('/shopper/v1/codes/pay', { payload: expiring.payload })
      assert.equal(expired.statusCode, 410)
      assert.equal(expired.json().error.code, 'qr_expired')
      // The courier's list gives an expired code no picture to hold up at the door.
      const listedCode = async () => ((await courier.get('/courier/v1/deliveries')).json().data as Json[]).find((d) => d.id === parcel.id)?.code
      const listedExpired = await listedCode()
      assert.equal(listedExpired.reference, expiring.reference)
      assert.equal(listedExpired.status, 'expired')
      assert.equal(listedExpired.image, null)

      const fresh = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      const listedFresh = await listedCode()
      assert.equal(listedFresh.status, 'payable')
      assert.match(listedFresh.image, /^data:image\/png;base64,/)
      const before = await walletAvailable(kassa, demo.shopperId)
      // Two phones race on one code: exactly one wins.
      const [first, second] = await Promise.all([
        shopper.post('/shopper/v1/codes/pay', { payload: fresh.payload }),
        shopper.post('/shopper/v1/codes/pay', { payload: fresh.payload }),
      ])
      assert.deepEqual([first?.statusCode, second?.statusCode].sort(), [200, 409])
      assert.equal(await walletAvailable(kassa, demo.shopperId), before - 3_000n)
    })

    it("collects the last parcel with the shopper's own code; the order completes", async () => {
      const parcel = demo.deliveries[2]!
      const shown = (await shopper.post('/shopper/v1/cpm')).json()
      assert.match(shown.image, /^data:image\/png/)
      const wrongParcel = await otherCourier.post(`/courier/v1/deliveries/${demo.deliveries[1]?.id}/collect`, { payload: shown.payload })
      assert.equal(wrongParcel.statusCode, 404)
      const bad = await otherCourier.post(`/courier/v1/deliveries/${parcel.id}/collect`, { payload: 'aGVsbG8=' })
      assert.equal(bad.statusCode, 400)
      const before = await walletAvailable(kassa, demo.shopperId)
      const collected = await otherCourier.post(`/courier/v1/deliveries/${parcel.id}/collect`, { payload: shown.payload })
      assert.equal(collected.statusCode, 200, collected.body)
      assert.equal(collected.json().paid_by, 'cpm')
      assert.equal(await walletAvailable(kassa, demo.shopperId), before - 8_800n)
      const replay = await otherCourier.post(`/courier/v1/deliveries/${parcel.id}/collect`, { payload: shown.payload })
      assert.equal(replay.statusCode, 409)
      const payment = (await caller(kassa, demo.merchant.key).get(`/v1/payments/${demo.payment}`)).json()
      assert.equal(payment.status, 'succeeded')
      assert.equal(payment.amount_received, 12_900 + 3_000 + 8_800)
      assert.equal(payment.amount, 12_900 + 4_550 + 8_800, 'the refused 15.50 was never charged')
    })

    it('accounts for cash to the cent: custody, remittance with a shortage, and the day report', async () => {
      const merchant = caller(kassa, demo.merchant.key)
      const cod = (await merchant.post('/v1/payments', { amount: 5_000, currency: 'CNY', order_reference: `cash-${dialect}`, confirm: true, payment_method: { type: 'cod' } })).json()
      assert.equal(cod.status, 'processing')
      const over = await merchant.post('/v1/deliveries', { payment: cod.id, parcel_number: `C-${dialect}-1`, amount: 5_001, courier: demo.courier.id })
      assert.equal(over.statusCode, 400)
      assert.equal(over.json().error.code, 'amount_invalid')
      const parcel = (await merchant.post('/v1/deliveries', { payment: cod.id, parcel_number: `C-${dialect}-1`, amount: 5_000, courier: demo.courier.id })).json()
      const wrong = await courier.post(`/courier/v1/deliveries/${parcel.id}/cash`, { amount: 4_000 })
      assert.equal(wrong.statusCode, 400)
      assert.equal(wrong.json().error.code, 'cash_amount_mismatch')
      const paid = await courier.post(`/courier/v1/deliveries/${parcel.id}/cash`, { amount: 5_000 })
      assert.equal(paid.statusCode, 200, paid.body)
      const custody = await accountBalance(kassa, `acc_courier_cash_${demo.courier.id}_CNY`)
      assert.equal((custody?.debits_posted ?? 0n) - (custody?.credits_posted ?? 0n), 5_000n)
      const summary = (await courier.get('/courier/v1/cash')).json()
      assert.equal(summary.outstanding, 5_000)

      const operator = await seedOperator(kassa, 'finance')
      const remitted = await operator.api.post('/console/v1/remittances', { courier: demo.courier.id, amount_counted: 4_990, currency: 'CNY' })
      assert.equal(remitted.statusCode, 200, remitted.body)
      assert.equal(remitted.json().difference, -10)
      const overShort = await accountBalance(kassa, 'acc_cash_over_short_platform_CNY')
      assert.equal(overShort?.debits_posted, 10n, 'the 0.10 shortage is posted')
      const station = await accountBalance(kassa, `acc_station_cash_${demo.station}_CNY`)
      assert.equal(station?.debits_posted, 4_990n)
      const cleared = await accountBalance(kassa, `acc_courier_cash_${demo.courier.id}_CNY`)
      assert.equal((cleared?.debits_posted ?? 0n) - (cleared?.credits_posted ?? 0n), 0n)

      const today = new Date(clock.now()).toISOString().slice(0, 10)
      const report = (await operator.api.get(`/console/v1/cod/report?date=${today}`)).json()
      const row = report.rows.find((r: Json) => r.courier === demo.courier.id)
      assert.deepEqual({ parcels: row.parcels, qr_paid: row.qr_paid, cash_paid: row.cash_paid, remitted: row.remitted, difference: row.difference }, { parcels: 3, qr_paid: 12_900 + 3_000, cash_paid: 5_000, remitted: 4_990, difference: -10 })
    })

    it("charges the pay-on-delivery channel's own fee on a parcel paid in cash, as any channel's", async () => {
      const admin = await seedOperator(kassa, 'admin')
      assert.equal((await admin.api.post('/console/v1/channels/cod', { fee_basis_points: 100 })).statusCode, 200)
      try {
        const merchant = caller(kassa, demo.merchant.key)
        const cod = (await merchant.post('/v1/payments', { amount: 7_000, currency: 'CNY', order_reference: `cod-fee-${dialect}`, confirm: true, payment_method: { type: 'cod' } })).json()
        const parcel = (await merchant.post('/v1/deliveries', { payment: cod.id, parcel_number: `F-${dialect}-1`, amount: 7_000, courier: demo.courier.id })).json()
        const revenue = async () => (await accountBalance(kassa, 'acc_fee_revenue_platform_CNY'))?.credits_posted ?? 0n
        const payable = async () => (await accountBalance(kassa, `acc_merchant_payable_${demo.merchant.id}_CNY`))?.credits_posted ?? 0n
        const before = { revenue: await revenue(), payable: await payable() }
        const paid = await courier.post(`/courier/v1/deliveries/${parcel.id}/cash`, { amount: 7_000 })
        assert.equal(paid.statusCode, 200, paid.body)
        assert.equal((await revenue()) - before.revenue, 70n, "1.00 % of 70.00, the channel's, not the merchant's")
        assert.equal((await payable()) - before.payable, 6_930n)
        assert.equal((await merchant.get(`/v1/payments/${cod.id}`)).json().fee_amount, 70)
      } finally {
        await admin.api.post('/console/v1/channels/cod', { fee_basis_points: null })
      }
    })

    it('tells the courier "paid" over Server-Sent Events within a second', async () => {
      const merchant = caller(kassa, demo.merchant.key)
      const cod = (await merchant.post('/v1/payments', { amount: 700, currency: 'CNY', order_reference: `sse-${dialect}`, confirm: true, payment_method: { type: 'cod' } })).json()
      const parcel = (await merchant.post('/v1/deliveries', { payment: cod.id, parcel_number: `S-${dialect}-1`, amount: 700, courier: demo.courier.id })).json()
      const token = (await kassa.app.inject({ method: 'POST', url: '/courier/v1/sessions', payload: { username: demo.courier.username, password: demo.courier.password } })).json().token
      const base = await kassa.app.listen({ port: 0, host: '127.0.0.1' })
      const abort = new AbortController()
      const stream = await fetch(`${base}/courier/v1/events?token=${token}`, { signal: abort.signal })
      assert.equal(stream.headers.get('content-type'), 'text/event-stream')
      const reader = stream.body!.getReader()
      const decoder = new TextDecoder()
      let text = ''
      while (!text.includes('event: ready')) text += decoder.decode((await reader.read()).value)
      const code = (await courier.post(`/courier/v1/deliveries/${parcel.id}/code`)).json()
      const started = performance.now()
      const paid = await shopper.post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(paid.statusCode, 200)
      while (!text.includes('delivery.paid')) text += decoder.decode((await reader.read()).value)
      const elapsed = performance.now() - started
      abort.abort()
      assert.ok(elapsed < 1000, `notified after ${elapsed} ms`)
      assert.match(text, new RegExp(parcel.id))
    })
  })
}
