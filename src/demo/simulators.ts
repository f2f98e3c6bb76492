/**
 * The demo's banks and wallets: the simulators started in this process, and Kassa's providers
 * configured against them with the simulators' demo merchants and keys. Production configures
 * the same provider adapters with real URLs and keys instead.
 */
import { startBankSimulator, type BankSimulator } from '../../sim/bank/index.js'
import { startWalletSimulator, type WalletSimulator } from '../../sim/wallet/index.js'
import type { Clock } from '../domain/clock.js'
import { bankNetbankProvider } from '../channels/netbank/bank-provider.js'
import type { Provider } from '../channels/provider.js'
import { bankQuickpayProvider } from '../channels/quickpay/bank-quickpay-provider.js'
import { alipayLikeProvider } from '../channels/wallet/alipay-like-provider.js'
import { wechatLikeProvider } from '../channels/wallet/wechat-like-provider.js'

export type DemoCounterparts = {
  readonly providers: readonly Provider[]
  readonly banks: readonly BankSimulator[]
  readonly wallets: readonly WalletSimulator[]
  close(): Promise<void>
}

export async function startDemoCounterparts(options: { testEndpoints?: boolean; seed?: number; clock?: Clock; host?: string } = {}): Promise<DemoCounterparts> {
  const common = { seed: options.seed ?? 1, host: options.host ?? '127.0.0.1', ...(options.clock === undefined ? {} : { clock: options.clock }) }
  const started: { close(): Promise<void> }[] = []
  try {
    const banks: BankSimulator[] = []
    for (const bank of ['icbc-sim', 'cmb-sim'] as const) {
      const simulator = await startBankSimulator({ ...common, bank, testEndpoints: options.testEndpoints ?? false })
      started.push(simulator)
      banks.push(simulator)
    }
    const wallets: WalletSimulator[] = []
    for (const provider of ['alipay-like', 'wechat-like'] as const) {
      const simulator = await startWalletSimulator({ ...common, provider })
      started.push(simulator)
      wallets.push(simulator)
    }
    const providers: Provider[] = []
    for (const bank of banks) {
      const merchant = bank.merchants[0]
      if (merchant === undefined) throw new Error(`${bank.bank.id} started with no merchant`)
      const config = { id: bank.bank.id, display_name: bank.bank.name, base_url: bank.url, merchant_id: merchant.merchant_id, key: merchant.key }
      providers.push(bankNetbankProvider(config), bankQuickpayProvider(config))
    }
    for (const wallet of wallets) {
      const merchant = wallet.merchants[0]
      if (merchant === undefined) throw new Error(`${wallet.provider.id} started with no merchant`)
      if (wallet.provider.id === 'alipay-like') {
        providers.push(alipayLikeProvider({ id: wallet.provider.id, display_name: wallet.provider.name, base_url: wallet.url, app_id: merchant.merchant_id, key: merchant.key ?? '' }))
        continue
      }
      const demo = wallet.demoMerchant
      if (demo === undefined || wallet.walletPublicKeyPem === undefined || wallet.walletSerialNo === undefined) throw new Error('the wechat-like simulator gave no demo keys')
      providers.push(
        wechatLikeProvider({
          id: wallet.provider.id,
          display_name: wallet.provider.name,
          base_url: wallet.url,
          mchid: demo.merchant_id,
          appid: demo.app_id ?? '',
          private_key_pem: demo.private_key_pem,
          serial_no: demo.serial_no,
          wallet_public_key_pem: wallet.walletPublicKeyPem,
          wallet_serial_no: wallet.walletSerialNo,
        }),
      )
    }
    return {
      providers,
      banks,
      wallets,
      async close() {
        await Promise.all(started.map((s) => s.close()))
      },
    }
  } catch (error) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)))
    throw error
  }
}

/** The demo text's lines for the simulated banks and wallets: where they are and who can pay there. */
export function counterpartDemoLines(counterparts: DemoCounterparts): string[] {
  return [
    ...counterparts.banks.map((bank) => `  bank ${bank.bank.id.padEnd(17)}${bank.url}   online banking and quick pay; pay as alice / alice123 (bob has too little); SMS codes at ${bank.url}/test/sms/13800000001`),
    ...counterparts.wallets.map((wallet) => `  wallet ${wallet.provider.id.padEnd(15)}${wallet.url}   pay as wang / wang123 (li has too little)`),
  ]
}
