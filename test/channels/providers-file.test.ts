// KASSA_PROVIDERS_FILE: the banks and wallets a production node collects through. Secrets come from
// the environment and from key files, never from the file itself; every mistake is one line naming
// the entry and the field.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadProvidersFile } from '../../src/channels/providers-file.js'
import { startDemoCounterparts, type DemoCounterparts } from '../../src/demo/simulators.js'

describe('KASSA_PROVIDERS_FILE', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kassa-providers-'))
  let world: DemoCounterparts
  const file = (name: string, content: unknown) => {
    const path = join(directory, name)
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
    return path
  }
  before(async () => {
    world = await startDemoCounterparts({ seed: 3 })
  })
  after(async () => {
    await world?.close()
    rmSync(directory, { recursive: true, force: true })
  })

  it('builds each bank (online banking and quick pay) and wallet, and they talk to their counterparts', async () => {
    const icbc = world.banks.find((bank) => bank.bank.id === 'icbc-sim')
    const alipay = world.wallets.find((wallet) => wallet.provider.id === 'alipay-like')
    const wechat = world.wallets.find((wallet) => wallet.provider.id === 'wechat-like')
    assert.ok(icbc && alipay && wechat && wechat.demoMerchant)
    const path = file('providers.json', [
      { kind: 'bank', id: 'icbc', display_name: 'ICBC', base_url: icbc.url, merchant_id: icbc.merchants[0]?.merchant_id, key_env: 'TEST_ICBC_KEY' },
      { kind: 'alipay-like', id: 'alipay', display_name: 'Alipay', base_url: alipay.url, app_id: alipay.merchants[0]?.merchant_id, key_env: 'TEST_ALIPAY_KEY' },
      {
        kind: 'wechat-like', id: 'wechat', display_name: 'WeChat Pay', base_url: wechat.url, mchid: wechat.demoMerchant.merchant_id, appid: wechat.demoMerchant.app_id,
        private_key_file: file('merchant.pem', wechat.demoMerchant.private_key_pem), serial_no: wechat.demoMerchant.serial_no,
        wallet_public_key_file: file('wallet.pem', wechat.walletPublicKeyPem ?? ''), wallet_serial_no: wechat.walletSerialNo,
      },
    ])
    const providers = loadProvidersFile(path, { TEST_ICBC_KEY: icbc.merchants[0]?.key, TEST_ALIPAY_KEY: alipay.merchants[0]?.key })
    assert.deepEqual(providers.map((p) => `${p.kind}.${p.id}`), ['netbank.icbc', 'quickpay.icbc', 'wallet.alipay', 'wallet.wechat'])
    for (const provider of providers.filter((p) => p.kind !== 'quickpay')) {
      const created = await provider.createOrder({ order_no: `att_file_${provider.id}_${Date.now()}`, amount: 500n, currency: 'CNY', subject: 'File test', return_url: 'http://127.0.0.1:9/r', notify_url: 'http://127.0.0.1:9/n' })
      assert.equal(created.outcome, 'ok', `${provider.id}: ${created.outcome === 'ok' ? '' : created.message}`)
    }
    const onlyNetbank = loadProvidersFile(file('one.json', [{ kind: 'bank', id: 'icbc', display_name: 'ICBC', base_url: icbc.url, merchant_id: 'm', key_env: 'K', channels: ['netbank'] }]), { K: 'k' })
    assert.deepEqual(onlyNetbank.map((p) => p.kind), ['netbank'])
  })

  it('refuses a bad file in one line naming the entry and the field', () => {
    const bank = { kind: 'bank', id: 'icbc', display_name: 'ICBC', base_url: 'https://gw.example', merchant_id: 'm', key_env: 'K' }
    const cases: [unknown, RegExp][] = [
      ['{not json', /KASSA_PROVIDERS_FILE=.*JSON/],
      [{ kind: 'bank' }, /a JSON array/],
      [[{ ...bank, kind: 'paypal' }], /entry 0: kind is bank, alipay-like or wechat-like/],
      [[{ ...bank, key_env: 'NOT_SET_ANYWHERE' }], /entry 0: key_env names NOT_SET_ANYWHERE, which is not set/],
      [[{ ...bank, id: 'ICBC!' }], /entry 0: id is/],
      [[{ ...bank, base_url: 'gw.example' }], /entry 0: base_url is an http\(s\) URL/],
      [[bank, { ...bank, merchant_id: undefined }], /entry 1: merchant_id is required/],
      [[bank, bank], /channel netbank\.icbc is configured twice/],
      [[{ ...bank, channels: ['cards'] }], /channels is a list of netbank and\/or quickpay/],
      [[{ kind: 'wechat-like', id: 'wx', display_name: 'W', base_url: 'https://w.example', mchid: '1', appid: 'a', private_key_file: '/nonexistent.pem', serial_no: 's', wallet_public_key_file: '/x', wallet_serial_no: 's' }], /private_key_file \/nonexistent\.pem/],
    ]
    cases.forEach(([content, message], index) => {
      const path = file(`bad-${index}.json`, content)
      assert.throws(() => loadProvidersFile(path, { K: 'secret-key' }), (error: Error) => {
        assert.match(error.message, message)
        assert.ok(!error.message.includes('secret-key'), 'no secret in the error')
        assert.equal(error.message.split('\n').length, 1)
        return true
      })
    })
  })
})
