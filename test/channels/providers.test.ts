// The counterpart adapters on their own, against the simulators: what a bank or wallet says is
// believed only when it is signed with the right key; no answer, a 5xx, a hang or a forgery is
// "unknown" (ask again), and a definitive "no" carries a code Kassa acts on.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Provider, ProviderOrder, RawNotification } from '../../src/channels/provider.js'
import { bankNetbankProvider } from '../../src/channels/netbank/bank-provider.js'
import { alipayLikeProvider } from '../../src/channels/wallet/alipay-like-provider.js'
import { wechatLikeProvider } from '../../src/channels/wallet/wechat-like-provider.js'
import { startDemoCounterparts, type DemoCounterparts } from '../../src/demo/simulators.js'
import { signBankRequest } from '../../sim/bank/protocol.js'

let n = 0
const show = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
const order = (amount = 1_000n): ProviderOrder => {
  n += 1
  return { order_no: `att_test${Date.now()}x${n}`, amount, currency: 'CNY', subject: `Order ${n}`, return_url: 'http://127.0.0.1:9/pay/pay_1/return?t=x', notify_url: 'http://127.0.0.1:9/hooks' }
}
const raw = (record: { body: string; headers: Readonly<Record<string, string>> }): RawNotification => ({
  body: record.body,
  headers: Object.fromEntries(Object.entries(record.headers).map(([key, value]) => [key.toLowerCase(), value])),
  content_type: record.headers['content-type'],
})

describe('counterpart adapters against the simulators', () => {
  let world: DemoCounterparts
  const provider = (kind: string, id: string): Provider => {
    const found = world.providers.find((candidate) => candidate.kind === kind && candidate.id === id)
    assert.ok(found, `${kind}.${id}`)
    return found
  }
  before(async () => {
    world = await startDemoCounterparts({ seed: 11 })
  })
  after(async () => {
    await world?.close()
  })

  for (const [kind, id] of [['netbank', 'icbc-sim'], ['wallet', 'alipay-like'], ['wallet', 'wechat-like']] as const) {
    describe(`${kind}.${id}`, () => {
      const simulator = () => (kind === 'netbank' ? world.banks.find((b) => b.bank.id === id) : world.wallets.find((w) => w.provider.id === id))

      it('creates an order once, reads it back, and refunds it partly, idempotently by refund number', async () => {
        const p = provider(kind, id)
        const sent = order(5_000n)
        const created = await p.createOrder(sent)
        assert.equal(created.outcome, 'ok', show(created))
        assert.ok(created.outcome === 'ok' && created.provider_order_id !== null)
        const again = await p.createOrder(sent)
        assert.deepEqual(again, created, 'the same order number answers the same order')
        const pending = await p.queryOrder(sent.order_no)
        assert.ok(pending.outcome === 'ok' && pending.report.status === 'pending' && pending.report.amount === 5_000n)
        assert.equal(simulator()?.pay(created.provider_order_id ?? '', kind === 'netbank' ? 'alice' : 'wang'), 'paid')
        const paid = await p.queryOrder(sent.order_no)
        assert.ok(paid.outcome === 'ok' && paid.report.status === 'paid', show(paid))
        const refund = { order_no: sent.order_no, refund_no: `re_${sent.order_no}`, amount: 1_200n, currency: 'CNY' as const, order_amount: 5_000n, reason: 'requested_by_customer' }
        const refunded = await p.refund(refund)
        assert.ok(refunded.outcome === 'ok' && refunded.amount === 1_200n, show(refunded))
        assert.deepEqual(await p.refund(refund), refunded, 'a repeated refund number refunds nothing more')
        const found = await p.queryRefund(sent.order_no, refund.refund_no)
        assert.ok(found.outcome === 'ok' && found.amount === 1_200n)
        const tooMuch = await p.refund({ ...refund, refund_no: `re2_${sent.order_no}`, amount: 4_000n })
        assert.equal(tooMuch.outcome, 'rejected')
        const closed = await p.closeOrder(sent.order_no)
        assert.ok(closed.outcome === 'rejected' && closed.code === 'order_paid', show(closed))
      })

      it('says "not found" for an order or refund it never saw', async () => {
        const p = provider(kind, id)
        const missing = await p.queryOrder('att_never_created')
        assert.ok(missing.outcome === 'rejected' && missing.code === 'order_not_found', show(missing))
        const sent = order()
        assert.equal((await p.createOrder(sent)).outcome, 'ok')
        const refund = await p.queryRefund(sent.order_no, 're_never_sent')
        assert.ok(refund.outcome === 'rejected' && refund.code === 'refund_not_found', show(refund))
      })

      it('answers unknown, never a guess, for a 5xx page, a hang past its timeout, or a refused connection', async () => {
        const p = provider(kind, id)
        const sim = simulator()
        assert.ok(sim)
        sim.setFaults([{ action: 'server_error', operation: 'query', httpStatus: 503 }])
        const sent = order()
        assert.equal((await p.createOrder(sent)).outcome, 'ok')
        assert.equal((await p.queryOrder(sent.order_no)).outcome, 'unknown')
        sim.setFaults([{ action: 'query_hang', delayMs: 3_000 }])
        const impatient = kind === 'netbank'
          ? bankNetbankProvider({ id, display_name: id, base_url: sim.url, merchant_id: world.banks[0]?.merchants[0]?.merchant_id ?? '', key: world.banks[0]?.merchants[0]?.key ?? '', timeout_ms: 300 })
          : undefined
        if (impatient !== undefined) {
          const startedAt = Date.now()
          assert.equal((await impatient.queryOrder(sent.order_no)).outcome, 'unknown')
          assert.ok(Date.now() - startedAt < 2_000, 'gave up at its timeout')
        }
        sim.setFaults([])
        const gone = kind === 'netbank'
          ? bankNetbankProvider({ id, display_name: id, base_url: 'http://127.0.0.1:9', merchant_id: 'x', key: 'k', timeout_ms: 500 })
          : alipayLikeProvider({ id, display_name: id, base_url: 'http://127.0.0.1:9', app_id: 'x', key: 'k', timeout_ms: 500 })
        assert.equal((await gone.queryOrder(sent.order_no)).outcome, 'unknown')
      })

      it('refuses a notification signed with another key or tampered with, and reads the genuine one', async () => {
        const p = provider(kind, id)
        const sim = simulator()
        assert.ok(sim)
        const sent = order(2_500n)
        // Notifications go to a closed port here: the simulator keeps every delivery's body and headers.
        const created = await p.createOrder(sent)
        assert.ok(created.outcome === 'ok')
        sim.setFaults([{ action: 'notify_forge', forgery: 'bad_signature' }])
        sim.pay(created.provider_order_id ?? '', kind === 'netbank' ? 'alice' : 'wang')
        sim.setFaults([])
        const deliveries = sim.notifications().filter((record) => record.order_no === sent.order_no)
        const forged = deliveries.find((record) => record.forged === 'bad_signature')
        const genuine = deliveries.find((record) => record.forged === undefined)
        assert.ok(forged && genuine)
        const refused = await p.verifyNotification(raw(forged))
        assert.ok(!refused.ok && refused.reason === 'bad_signature')
        const read = await p.verifyNotification(raw(genuine))
        assert.ok(read.ok, show(read))
        assert.equal(read.report.order_no, sent.order_no)
        assert.equal(read.report.status, 'paid')
        assert.equal(read.report.amount, 2_500n)
        const tampered = await p.verifyNotification({ ...raw(genuine), body: genuine.body.replace('2500', '2501') })
        assert.equal(tampered.ok, false, 'one changed digit breaks the signature')
      })
    })
  }

  it('bank: a wrong shared key is no answer at all (the bank answers unsigned)', async () => {
    const icbc = world.banks.find((b) => b.bank.id === 'icbc-sim')
    assert.ok(icbc)
    const wrongKey = bankNetbankProvider({ id: 'icbc-sim', display_name: 'x', base_url: icbc.url, merchant_id: icbc.merchants[0]?.merchant_id ?? '', key: 'not-the-key' })
    const answer = await wrongKey.createOrder(order())
    assert.equal(answer.outcome, 'unknown')
  })

  it('bank: the signed return is read (Kassa\'s own parameters included); a changed or unsigned one is ignored', async () => {
    const p = provider('netbank', 'cmb-sim')
    const cmb = world.banks.find((b) => b.bank.id === 'cmb-sim')
    assert.ok(cmb)
    const sent = order(3_300n)
    const created = await p.createOrder(sent)
    assert.ok(created.outcome === 'ok')
    cmb.pay(created.provider_order_id ?? '', 'alice')
    const paid = await p.queryOrder(sent.order_no)
    assert.ok(paid.outcome === 'ok' && paid.report.status === 'paid')
    // The return URL as the bank builds it is in its page answer; rebuild the report the bank signs.
    const merchant = cmb.merchants[0]
    assert.ok(merchant)
    const signed = signBankRequest({ merchant_id: merchant.merchant_id, order_no: sent.order_no, bank_order_id: created.provider_order_id ?? '', amount: '3300', currency: 'CNY', status: 'PAID', t: 'x', attempt: sent.order_no }, merchant.key)
    const report = p.verifyReturn(signed)
    assert.equal(report?.status, 'paid')
    assert.equal(report?.amount, 3_300n)
    assert.equal(p.verifyReturn({ ...signed, amount: '1' }), undefined, 'a changed amount breaks the signature')
    assert.equal(p.verifyReturn({ ...signed, sign: 'f'.repeat(64) }), undefined, 'a wrong signature is not believed')
  })

  it('wechat-like: an answer signed by a key that is not the wallet’s is no answer', async () => {
    const wallet = world.wallets.find((w) => w.provider.id === 'wechat-like')
    const demo = wallet?.demoMerchant
    assert.ok(wallet && demo)
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const misled = wechatLikeProvider({
      id: 'wechat-like', display_name: 'x', base_url: wallet.url, mchid: demo.merchant_id, appid: demo.app_id ?? '', private_key_pem: demo.private_key_pem, serial_no: demo.serial_no,
      wallet_public_key_pem: other, wallet_serial_no: wallet.walletSerialNo ?? '',
    })
    assert.equal((await misled.queryOrder('att_any')).outcome, 'unknown')
    const clockAhead = wechatLikeProvider({
      id: 'wechat-like', display_name: 'x', base_url: wallet.url, mchid: demo.merchant_id, appid: demo.app_id ?? '', private_key_pem: demo.private_key_pem, serial_no: demo.serial_no,
      wallet_public_key_pem: wallet.walletPublicKeyPem ?? '', wallet_serial_no: wallet.walletSerialNo ?? '', now: () => Date.now() + 10 * 60_000,
    })
    assert.equal((await clockAhead.queryOrder('att_any')).outcome, 'unknown', 'the wallet refuses a stale signature, and its answer is outside our window')
  })
})

describe('wechat-like: a rotated platform key', () => {
  const opened: DemoCounterparts[] = []
  after(async () => {
    for (const world of opened) await world.close()
  })
  const open = async () => {
    const world = await startDemoCounterparts({ seed: 13 })
    opened.push(world)
    const wallet = world.wallets.find((candidate) => candidate.provider.id === 'wechat-like')
    const provider = world.providers.find((candidate) => candidate.id === 'wechat-like')
    assert.ok(wallet && provider)
    return { wallet, provider }
  }

  it('is trusted once the key before it vouches for it: answers and notifications signed with it are read', async () => {
    const { wallet, provider } = await open()
    const sent = order(3_300n)
    const created = await provider.createOrder(sent)
    assert.ok(created.outcome === 'ok', show(created))
    const rotated = await wallet.rotateKey({ crossSigned: true })
    const queried = await provider.queryOrder(sent.order_no)
    assert.ok(queried.outcome === 'ok' && queried.report.status === 'pending', show(queried))
    assert.equal(wallet.pay(created.provider_order_id ?? '', 'wang'), 'paid')
    const genuine = wallet.notifications().find((record) => record.order_no === sent.order_no && record.forged === undefined)
    assert.ok(genuine)
    assert.equal(raw(genuine).headers['wechatlike-serial'], rotated.serial_no, 'signed with the new key')
    const read = await provider.verifyNotification(raw(genuine))
    assert.ok(read.ok && read.report.status === 'paid', show(read))
  })

  it('refuses a key that no key it trusts vouched for', async () => {
    const { wallet, provider } = await open()
    const sent = order(1_100n)
    const created = await provider.createOrder(sent)
    assert.ok(created.outcome === 'ok', show(created))
    await wallet.rotateKey({ crossSigned: false })
    const queried = await provider.queryOrder(sent.order_no)
    assert.equal(queried.outcome, 'unknown', 'an answer signed with an unvouched key is no answer')
    assert.match(queried.outcome === 'unknown' ? queried.message : '', /not the wallet’s/)
    assert.equal(wallet.pay(created.provider_order_id ?? '', 'wang'), 'paid')
    const genuine = wallet.notifications().find((record) => record.order_no === sent.order_no && record.forged === undefined)
    assert.ok(genuine)
    const refused = await provider.verifyNotification(raw(genuine))
    assert.ok(!refused.ok && refused.reason === 'bad_signature', show(refused))
  })
})
