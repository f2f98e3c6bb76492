import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { masterKeyFrom, type MasterKey } from './security/secrets.js'

/**
 * Configuration comes from the environment only, parsed once at start; a bad value stops the
 * process with the variable's name (Rafiki envString). README.md lists every variable.
 */
export type Config = {
  readonly port: number
  readonly host: string
  readonly databaseUrl: string | undefined
  readonly dataDirectory: string
  readonly logLevel: string
  readonly demo: boolean
  readonly masterKeyBase64: string | undefined
  readonly webhookTimeoutMs: number
  /** How long a courier's parcel QR code may be paid. */
  readonly qrTtlMs: number
  /** Where banks, wallets and shoppers' browsers reach Kassa; unset: the address it listens on. */
  readonly publicUrl: string | undefined
  /**
   * KASSA_TRUST_PROXY: behind a load balancer, which hops' X-Forwarded-For to believe for the
   * client's address (a hop count, or the proxies' addresses and CIDRs); unset: none, the socket's.
   */
  readonly trustProxy: number | string | undefined
  /** KASSA_PROVIDERS_FILE: the banks and wallets to collect through (src/channels/providers-file.ts); unset: the demo's simulators, in demo mode. */
  readonly providersFile: string | undefined
  // Card acquiring (docs/acquiring.md) ------------------------------------------------------------
  /** SCHEME_ADDRESS: the card scheme's TCP address; unset: in demo mode a simulator in process, else no acquiring. */
  readonly schemeAddress: SchemeAddress | undefined
  /** POS_PORT: the POS terminal host's TCP port (8583); 0 picks a free one. */
  readonly posPort: number
  /** POS_HOST: where the POS terminal host listens (127.0.0.1; terminals on the network need 0.0.0.0). */
  readonly posHost: string
}

export type SchemeAddress = { readonly host: string; readonly port: number }

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${text}")`)
  }
  return value
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  if (text === '1' || text === 'true') return true
  if (text === '0' || text === 'false') return false
  throw new Error(`${name} must be 1/true or 0/false (got "${text}")`)
}

function publicUrl(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined
  if (!/^https?:\/\/[^/?#\s]+$/.test(text.replace(/\/$/, ''))) throw new Error(`KASSA_PUBLIC_URL must be an http(s) origin such as https://pay.example.com (got "${text}")`)
  return text.replace(/\/$/, '')
}

/** A hop count (`1`), or comma-separated proxy addresses and CIDRs (`10.0.0.0/8,192.168.1.5`). */
function trustProxy(text: string | undefined): number | string | undefined {
  if (text === undefined || text.trim() === '') return undefined
  const value = text.trim()
  if (/^[0-9]{1,2}$/.test(value)) return Number(value)
  const entries = value.split(',').map((entry) => entry.trim())
  if (entries.every((entry) => /^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/.test(entry))) return entries.join(',')
  throw new Error(`KASSA_TRUST_PROXY must be a hop count such as 1, or proxy addresses/CIDRs such as 10.0.0.0/8,192.168.1.5 (got "${text}")`)
}

/** `host:port` (IPv6 as `[::1]:9583`). */
function schemeAddress(text: string | undefined): SchemeAddress | undefined {
  if (text === undefined || text === '') return undefined
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(text)
  const port = Number(match?.[3])
  if (match === null || port < 1 || port > 65535) throw new Error(`SCHEME_ADDRESS must be host:port, such as 127.0.0.1:9583 (got "${text}")`)
  return { host: match[1] ?? match[2] ?? '', port }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = env['LOG_LEVEL'] ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`)
  }
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env['HOST'] ?? 'localhost',
    databaseUrl: env['DATABASE_URL'] === '' ? undefined : env['DATABASE_URL'],
    dataDirectory: env['KASSA_DATA_DIR'] ?? './data',
    logLevel,
    demo: flag(env, 'KASSA_DEMO', true),
    masterKeyBase64: env['KASSA_MASTER_KEY'] === '' ? undefined : env['KASSA_MASTER_KEY'],
    webhookTimeoutMs: integer(env, 'KASSA_WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    qrTtlMs: integer(env, 'KASSA_QR_TTL_SECONDS', 900, 1, 86_400) * 1000,
    publicUrl: publicUrl(env['KASSA_PUBLIC_URL']),
    trustProxy: trustProxy(env['KASSA_TRUST_PROXY']),
    providersFile: env['KASSA_PROVIDERS_FILE'] === undefined || env['KASSA_PROVIDERS_FILE'] === '' ? undefined : env['KASSA_PROVIDERS_FILE'],
    // Card acquiring
    schemeAddress: schemeAddress(env['SCHEME_ADDRESS']),
    posPort: integer(env, 'POS_PORT', 8583, 0, 65535),
    posHost: env['POS_HOST'] === undefined || env['POS_HOST'] === '' ? '127.0.0.1' : env['POS_HOST'],
  }
}

/**
 * The key that seals stored secrets: KASSA_MASTER_KEY in production; on a development machine a
 * random one kept in the data directory (mode 0600), so `npm start` needs nothing set.
 */
export function loadMasterKey(config: Config): MasterKey {
  if (config.masterKeyBase64 !== undefined) return masterKeyFrom(config.masterKeyBase64)
  const path = join(config.dataDirectory, 'master.key')
  if (!existsSync(path)) {
    mkdirSync(config.dataDirectory, { recursive: true })
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' })
  }
  chmodSync(path, 0o600)
  return masterKeyFrom(readFileSync(path, 'utf8').trim())
}
