/**
 * The simulated wallet providers and their test users, as data. `docs/simulators.md` prints the
 * same tables (`test/sim/docs.test.ts` checks they agree).
 */
import type { CurrencyCode } from '../../src/domain/currency.js'

export type WalletProviderId = 'alipay-like' | 'wechat-like'

export type WalletProvider = {
  readonly id: WalletProviderId
  readonly name: string
  /** How the provider signs: `HMAC-SHA256` over sorted parameters, or `RSA-SHA256` over a message. */
  readonly signature: 'HMAC-SHA256' | 'RSA-SHA256'
  /** The page header colour. */
  readonly accent: string
  /** Starts every trade number. */
  readonly order_prefix: string
}

export const walletProviders = {
  'alipay-like': { id: 'alipay-like', name: 'AliPay-like Wallet', signature: 'HMAC-SHA256', accent: '#1677ff', order_prefix: '2026' },
  'wechat-like': { id: 'wechat-like', name: 'WeChat-like Pay', signature: 'RSA-SHA256', accent: '#07c160', order_prefix: '4200' },
} as const satisfies Record<WalletProviderId, WalletProvider>

export const walletProviderIds = Object.keys(walletProviders) as WalletProviderId[]

/** A merchant (Kassa) at a wallet: a shared key for alipay-like, a public key for wechat-like. */
export type WalletMerchant = {
  /** alipay-like: the `app_id`; wechat-like: the `mchid`. */
  readonly merchant_id: string
  /** wechat-like: the `appid` orders must name. */
  readonly app_id?: string
  /** alipay-like: the shared HMAC key (UTF-8 bytes). */
  readonly key?: string
  /** wechat-like: the merchant's RSA public key (SPKI PEM) that verifies its requests. */
  readonly public_key_pem?: string
  /** Where notifications go when an order names no `notify_url`. */
  readonly notify_url?: string
}

/** The merchant an alipay-like simulator registers when given none. */
export const alipayLikeDemoMerchant: WalletMerchant = { merchant_id: '2026000000000001', key: 'alipay-like-demo-key-3c9e1f7a' }
/** The ids of the merchant a wechat-like simulator registers (with a key pair generated at start) when given none. */
export const wechatLikeDemoMerchantIds = { merchant_id: '1900000001', app_id: 'wxl0000000000001' } as const

export type WalletUser = {
  /** The wallet login. */
  readonly username: string
  readonly password: string
  readonly display_name: string
  readonly phone: string
  /** The provider's id for the payer: `buyer_id` (alipay-like) or `openid` (wechat-like). */
  readonly payer_id: string
  readonly currency: CurrencyCode
  readonly balance_minor: bigint
  /** A frozen wallet cannot pay. */
  readonly blocked: boolean
  readonly note: string
}

/** The test users of a wallet: one rich, one poor, one frozen. Same logins at both providers. */
export function walletTestUsers(provider: WalletProvider): WalletUser[] {
  const payerId = (serial: number): string => (provider.id === 'alipay-like' ? `208800000000000${serial}` : `oWxl000000000000000000000${serial}`)
  return [
    { username: 'wang', password: 'wang123', display_name: 'Wang Fang', phone: '13900000001', payer_id: payerId(1), currency: 'CNY', balance_minor: 50_000_000n, blocked: false, note: 'enough balance: 500,000.00 CNY' },
    { username: 'li', password: 'li123', display_name: 'Li Na', phone: '13900000002', payer_id: payerId(2), currency: 'CNY', balance_minor: 500n, blocked: false, note: 'too little: 5.00 CNY' },
    { username: 'zhao', password: 'zhao123', display_name: 'Zhao Lei', phone: '13900000003', payer_id: payerId(3), currency: 'CNY', balance_minor: 2_000_000n, blocked: true, note: 'wallet frozen' },
  ]
}
