import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { encodeForm, signBankRequest, startBankSimulator, verifyBankNotification, type BankSimulator } from '../../sim/bank/index.js'
import { bankCall, newOrderParams, orderNo, receivedFor } from './bank-client.js'
import { eventually, sleep, startReceiver, type Receiver } from './helpers.js'

describe('bank simulator: fault knobs', () => {
  let bank: BankSimulator
  let receiver: Receiver
  let key: string
  before(async () => {
    receiver = await startReceiver()
    bank = await startBankSimulator({ bank: 'cmb-sim', seed: 11, notifications: { backoffMs: 20, attemptsMax: 4, timeoutMs: 2_000 } })
    key = bank.merchants[0]?.key ?? ''
  })
  after(async () => {
    await bank.close()
    await receiver.close()
  })

  const merchantId = (): string => bank.merchants[0]?.merchant_id ?? ''

  async function paidOrder(no: string): Promise<void> {
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    assert.equal(bank.pay(created.bank_order_id ?? '', 'alice'), 'paid')
  }

  it('notify_drop: the notification never comes, the query still says PAID', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'notify_drop', order_no: no }])
    await paidOrder(no)
    await bank.notificationsSettled()
    await sleep(50)
    assert.equal(receivedFor(receiver.received, no).length, 0)
    assert.equal(bank.notifications().find((record) => record.order_no === no)?.outcome, 'dropped')
    assert.equal((await bankCall(bank, '/gateway/orders/query', { order_no: no })).status, 'PAID')
  })

  it('notify_duplicate: the same notification (same notify_id) arrives twice', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'notify_duplicate', order_no: no }])
    await paidOrder(no)
    await bank.notificationsSettled()
    const arrived = receivedFor(receiver.received, no)
    assert.equal(arrived.length, 2)
    const ids = arrived.map((entry) => {
      const verified = verifyBankNotification(entry.body, key)
      return verified.ok ? verified.report.notify_id : 'invalid'
    })
    assert.equal(ids[0], ids[1])
  })

  it('notify_delay: the first attempt comes delayMs late', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'notify_delay', order_no: no, delayMs: 300 }])
    const paidAt = Date.now()
    await paidOrder(no)
    await sleep(150)
    assert.equal(receivedFor(receiver.received, no).length, 0, 'not yet')
    const [late] = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    assert.ok((late?.at_ms ?? 0) - paidAt >= 280)
  })

  it('pay_after_close: the bank answers the close, yet the payer pays; PAID arrives after CLOSED and the query says PAID', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'pay_after_close', order_no: no }])
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    const closed = await bankCall(bank, '/gateway/orders/close', { order_no: no })
    assert.deepEqual([closed.ret_code, closed.status], ['0000', 'CLOSED'])
    const page = await fetch(created.pay_url ?? '')
    assert.equal(page.status, 200, 'the payer still gets the login page')
    await page.text()
    assert.equal(bank.pay(created.bank_order_id ?? '', 'alice'), 'paid')
    await bank.notificationsSettled()
    const statuses = receivedFor(receiver.received, no).map((entry) => {
      const verified = verifyBankNotification(entry.body, key)
      return verified.ok ? verified.report.status : 'invalid'
    })
    assert.deepEqual(statuses, ['CLOSED', 'PAID'])
    assert.equal((await bankCall(bank, '/gateway/orders/query', { order_no: no })).status, 'PAID')
  })

  it('request_delay: a close sent during a slow creation finds no order, and the order is created after it', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'request_delay', operation: 'create', order_no: no, delayMs: 300 }])
    const creating = bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    await sleep(50)
    const closed = await bankCall(bank, '/gateway/orders/close', { order_no: no })
    assert.equal(closed.ret_code, '2002', 'the close overtook the creation: order not found')
    const created = await creating
    assert.equal(created.ret_code, '0000')
    assert.equal((await bankCall(bank, '/gateway/orders/query', { order_no: no })).status, 'WAITING', 'the order is open at the bank')
  })

  it('notify_out_of_order: a held-back notification arrives after the newer one', async () => {
    const no = orderNo()
    bank.setFaults([
      { action: 'notify_out_of_order', order_no: no, status: 'closed', delayMs: 5_000 },
      { action: 'pay_after_close', order_no: no },
    ])
    const created = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    await bankCall(bank, '/gateway/orders/close', { order_no: no })
    await sleep(50)
    assert.equal(receivedFor(receiver.received, no).length, 0, 'CLOSED is held back')
    bank.pay(created.bank_order_id ?? '', 'alice')
    await bank.notificationsSettled()
    const statuses = receivedFor(receiver.received, no).map((entry) => {
      const verified = verifyBankNotification(entry.body, key)
      return verified.ok ? verified.report.status : 'invalid'
    })
    assert.deepEqual(statuses, ['PAID', 'CLOSED'], 'the stale CLOSED comes last')
  })

  it('notify_out_of_order with no newer notification: sent when the hold runs out', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'notify_out_of_order', order_no: no, delayMs: 200 }])
    const started = Date.now()
    await paidOrder(no)
    const [arrived] = await eventually(() => (receivedFor(receiver.received, no).length > 0 ? receivedFor(receiver.received, no) : undefined))
    assert.ok((arrived?.at_ms ?? 0) - started >= 180)
  })

  for (const forgery of ['bad_signature', 'wrong_amount', 'unknown_order'] as const) {
    it(`notify_forge ${forgery}: a forged notification comes first, once; the genuine one follows`, async () => {
      const no = orderNo()
      bank.setFaults([{ action: 'notify_forge', order_no: no, forgery }])
      // Kassa's part, played here: verify, check the order and amount, refuse what does not match.
      receiver.answerWith((entry) => {
        const verified = verifyBankNotification(entry.body, key)
        const genuine = verified.ok && verified.report.order_no === no && verified.report.amount_minor === 12_345n
        return { status: 200, body: genuine ? 'success' : 'fail' }
      })
      await paidOrder(no)
      await bank.notificationsSettled()
      receiver.answerWith(() => ({ status: 200, body: 'success' }))
      const records = bank.notifications().filter((record) => record.order_no === no)
      const forged = records.filter((record) => record.forged === forgery)
      assert.equal(forged.length, 1)
      assert.deepEqual([forged[0]?.outcome, forged[0]?.attempts.length], ['forgery_refused', 1], 'a forgery is sent once, never retried')
      const genuine = records.find((record) => record.forged === undefined)
      assert.equal(genuine?.outcome, 'delivered')
      assert.ok((forged[0]?.id ?? 0) < (genuine?.id ?? 0), 'the forgery goes first')
      const verified = verifyBankNotification(forged[0]?.body ?? '', key)
      if (forgery === 'bad_signature') assert.deepEqual(verified.ok ? 'ok' : verified.reason, 'signature_invalid')
      if (forgery === 'wrong_amount') assert.equal(verified.ok && verified.report.amount_minor, 12_346n)
      if (forgery === 'unknown_order') assert.match(verified.ok ? verified.report.order_no : '', /^FORGED/)
    })
  }

  it('query_hang: the query answers only after delayMs; a client timeout fires first', async () => {
    const no = orderNo()
    await paidOrder(no)
    bank.setFaults([{ action: 'query_hang', order_no: no, delayMs: 800, timesMax: 1 }])
    const body = encodeForm(signBankRequest({ merchant_id: merchantId(), order_no: no }, key))
    // The client's 200 ms timeout fires while the bank still hangs (an answer would resolve the fetch).
    await assert.rejects(fetch(`${bank.url}/gateway/orders/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(200) }), /TimeoutError|aborted/)
    const next = await bankCall(bank, '/gateway/orders/query', { order_no: no })
    assert.equal(next.status, 'PAID', 'timesMax 1: the next query answers at once')
    const hung = await startBankSimulator({ faults: [{ action: 'query_hang', delayMs: 300 }] })
    try {
      const waited = Date.now()
      const answer = await bankCall(hung, '/gateway/orders/query', { order_no: 'unknown' })
      assert.ok(Date.now() - waited >= 280, 'a patient client gets its answer after delayMs')
      assert.equal(answer.ret_code, '2002')
    } finally {
      await hung.close()
    }
  })

  it('server_error: a 502 HTML page from the proxy, the order not created; a retry creates it', async () => {
    const no = orderNo()
    bank.setFaults([{ action: 'server_error', operation: 'create', order_no: no, timesMax: 1 }])
    const body = encodeForm(signBankRequest({ merchant_id: merchantId(), ...newOrderParams(no, receiver.url) }, key))
    const failed = await fetch(`${bank.url}/gateway/orders`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    assert.equal(failed.status, 502)
    assert.match(failed.headers.get('content-type') ?? '', /text\/html/)
    assert.match(await failed.text(), /502 Bad Gateway/)
    assert.equal(bank.order(merchantId(), no), undefined)
    const retried = await bankCall(bank, '/gateway/orders', newOrderParams(no, receiver.url))
    assert.equal(retried.ret_code, '0000')
  })

  it('server_error afterProcessing: the refund happened, its answer was lost; the retry answers the same refund', async () => {
    const no = orderNo()
    await paidOrder(no)
    bank.setFaults([{ action: 'server_error', operation: 'refund', httpStatus: 504, afterProcessing: true, timesMax: 1 }])
    const params = { merchant_id: merchantId(), order_no: no, refund_no: `${no}_r`, amount: 100n }
    const lost = await fetch(`${bank.url}/gateway/refunds`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeForm(signBankRequest(params, key)) })
    assert.equal(lost.status, 504)
    await lost.text()
    assert.equal(bank.order(params.merchant_id, no)?.refunded_minor, 100n, 'the refund was carried out')
    const retried = await bankCall(bank, '/gateway/refunds', { order_no: no, refund_no: `${no}_r`, amount: 100n })
    assert.deepEqual([retried.ret_code, retried.refunded_total], ['0000', '100'])
    assert.equal(bank.order(params.merchant_id, no)?.refunded_minor, 100n, 'and not twice')
  })

  it('ratio faults are drawn from the seed: the same seed picks the same orders', async () => {
    const picks: string[][] = []
    for (let run = 0; run < 2; run++) {
      const seeded = await startBankSimulator({ seed: 99, faults: [{ action: 'notify_drop', ratio: 0.5 }], notifications: { backoffMs: 10 } })
      try {
        const dropped: string[] = []
        for (let i = 0; i < 12; i++) {
          const no = `ratio_${i}`
          const created = await bankCall(seeded, '/gateway/orders', newOrderParams(no, receiver.url))
          seeded.pay(created.bank_order_id ?? '', 'alice')
        }
        await seeded.notificationsSettled()
        for (const record of seeded.notifications()) if (record.outcome === 'dropped') dropped.push(record.order_no)
        picks.push(dropped)
      } finally {
        await seeded.close()
      }
    }
    assert.deepEqual(picks[0], picks[1])
    assert.ok((picks[0]?.length ?? 0) > 0 && (picks[0]?.length ?? 0) < 12, `some, not all: ${picks[0]?.length}`)
  })
})
