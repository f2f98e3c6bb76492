/**
 * The banks and wallets a production node collects through, from a JSON file
 * (`KASSA_PROVIDERS_FILE`). Secrets are not in the file: a shared key is read from the environment
 * variable the entry names, a private key from the file it names.
 *
 * ```json
 * [
 *   { "kind": "bank", "id": "icbc", "display_name": "ICBC", "base_url": "https://gw.icbc.example",
 *     "merchant_id": "102100000001", "key_env": "KASSA_ICBC_KEY", "channels": ["netbank", "quickpay"] },
 *   { "kind": "alipay-like", "id": "alipay", "display_name": "Alipay", "base_url": "https://openapi.example",
 *     "app_id": "2026000000000001", "key_env": "KASSA_ALIPAY_KEY" },
 *   { "kind": "wechat-like", "id": "wechat", "display_name": "WeChat Pay", "base_url": "https://api.example",
 *     "mchid": "1900000001", "appid": "wx0000000000000001", "private_key_file": "/etc/kassa/wechat.pem",
 *     "serial_no": "…", "wallet_public_key_file": "/etc/kassa/wechat-platform.pem", "wallet_serial_no": "…" }
 * ]
 * ```
 */
import { readFileSync } from 'node:fs'
import { bankNetbankProvider } from './netbank/bank-provider.js'
import type { Provider } from './provider.js'
import { bankQuickpayProvider } from './quickpay/bank-quickpay-provider.js'
import { alipayLikeProvider } from './wallet/alipay-like-provider.js'
import { wechatLikeProvider } from './wallet/wechat-like-provider.js'
import { providerIdPattern } from './netbank/index.js'

type Entry = Readonly<Record<string, unknown>>

/** Reads and checks the file; any problem is one Error naming the entry and the field. */
export function loadProvidersFile(path: string, env: NodeJS.ProcessEnv = process.env): Provider[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new Error(`KASSA_PROVIDERS_FILE=${path}: ${(error as Error).message}`)
  }
  if (!Array.isArray(parsed)) throw new Error(`KASSA_PROVIDERS_FILE=${path}: the file is a JSON array of providers`)
  const providers: Provider[] = []
  parsed.forEach((value: unknown, index) => {
    const where = `KASSA_PROVIDERS_FILE=${path}, entry ${index}`
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: each entry is an object`)
    providers.push(...providersOf(value as Entry, where, env))
  })
  const ids = providers.map((provider) => `${provider.kind}.${provider.id}`)
  const repeated = ids.find((id, index) => ids.indexOf(id) !== index)
  if (repeated !== undefined) throw new Error(`KASSA_PROVIDERS_FILE=${path}: channel ${repeated} is configured twice`)
  return providers
}

function providersOf(entry: Entry, where: string, env: NodeJS.ProcessEnv): Provider[] {
  const text = (field: string): string => {
    const value = entry[field]
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`${where}: ${field} is required (a string)`)
    return value
  }
  const secret = (field: string): string => {
    const name = text(field)
    const value = env[name]
    if (value === undefined || value === '') throw new Error(`${where}: ${field} names ${name}, which is not set in the environment`)
    return value
  }
  const pem = (field: string): string => {
    const file = text(field)
    try {
      return readFileSync(file, 'utf8')
    } catch (error) {
      throw new Error(`${where}: ${field} ${file}: ${(error as Error).message}`)
    }
  }
  const id = text('id')
  if (!providerIdPattern.test(id)) throw new Error(`${where}: id is 2 to 40 lower-case letters, digits or -, starting with a letter`)
  const base_url = text('base_url')
  if (!/^https?:\/\/[^\s/]+/.test(base_url)) throw new Error(`${where}: base_url is an http(s) URL`)
  const common = { id, display_name: text('display_name'), base_url }
  switch (entry['kind']) {
    case 'bank': {
      const config = { ...common, merchant_id: text('merchant_id'), key: secret('key_env') }
      const channels = entry['channels'] ?? ['netbank', 'quickpay']
      if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => c === 'netbank' || c === 'quickpay')) {
        throw new Error(`${where}: channels is a list of netbank and/or quickpay`)
      }
      return [...(channels.includes('netbank') ? [bankNetbankProvider(config)] : []), ...(channels.includes('quickpay') ? [bankQuickpayProvider(config)] : [])]
    }
    case 'alipay-like':
      return [alipayLikeProvider({ ...common, app_id: text('app_id'), key: secret('key_env') })]
    case 'wechat-like':
      return [
        wechatLikeProvider({
          ...common,
          mchid: text('mchid'),
          appid: text('appid'),
          private_key_pem: pem('private_key_file'),
          serial_no: text('serial_no'),
          wallet_public_key_pem: pem('wallet_public_key_file'),
          wallet_serial_no: text('wallet_serial_no'),
        }),
      ]
    default:
      throw new Error(`${where}: kind is bank, alipay-like or wechat-like`)
  }
}
