/**
 * Runs simulated wallet providers on their own, one server per provider:
 *
 *     node dist/sim/wallet/main.js [--providers alipay-like,wechat-like] [--port 9701] [--host 127.0.0.1]
 *                                  [--seed 1] [--notify-url URL] [--key-dir DIR] [--quiet]
 *
 * With `--port P` the providers listen on P, P+1, … in the order given; 0 (the default) picks free
 * ports. Prints each provider's URL and demo merchant. The wechat-like keys are generated at start;
 * with `--key-dir` the wallet's public key and the demo merchant's private key (mode 0600) are
 * written there for Kassa to use. Then one JSON line per log entry unless --quiet. Stops on SIGINT or
 * SIGTERM.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { systemClock } from '../../src/domain/clock.js'
import { startWalletSimulator, type WalletSimulator } from './server.js'
import { walletProviderIds, type WalletProviderId } from './users.js'

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: walletProviderIds.join(',') },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    'notify-url': { type: 'string' },
    'key-dir': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
})

const port = Number(values.port)
const seed = Number(values.seed)
const providers = values.providers.split(',').map((name) => name.trim())
if (!Number.isSafeInteger(port) || port < 0 || port + providers.length - 1 > 65_535) fail(`--port must be 0 to 65535, got ${values.port}`)
if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`)
for (const provider of providers) if (!walletProviderIds.includes(provider as WalletProviderId)) fail(`--providers: unknown provider ${provider}; known: ${walletProviderIds.join(', ')}`)

const started: WalletSimulator[] = []
for (const [index, provider] of providers.entries()) {
  const wallet = await startWalletSimulator({
    provider: provider as WalletProviderId,
    port: port === 0 ? 0 : port + index,
    host: values.host,
    seed,
    clock: systemClock,
    ...(values['notify-url'] === undefined ? {} : { notifyUrl: values['notify-url'] }),
    log: values.quiet ? undefined : (entry) => process.stdout.write(JSON.stringify({ provider, ...entry }) + '\n'),
  })
  started.push(wallet)
  const merchant = wallet.merchants[0]
  const credential = merchant?.key !== undefined ? `key ${merchant.key}` : `app_id ${merchant?.app_id ?? '-'}`
  process.stdout.write(`${provider} wallet simulator listening on ${wallet.url} (merchant ${merchant?.merchant_id ?? '-'}, ${credential})\n`)
  const directory = values['key-dir']
  if (directory !== undefined && wallet.walletPublicKeyPem !== undefined) {
    const publicPath = join(directory, `${provider}-wallet-public.pem`)
    await writeFile(publicPath, wallet.walletPublicKeyPem, { mode: 0o644 })
    process.stdout.write(`${provider} wallet public key written to ${publicPath}\n`)
    if (wallet.demoMerchant !== undefined) {
      const privatePath = join(directory, `${provider}-demo-merchant-private.pem`)
      await writeFile(privatePath, wallet.demoMerchant.private_key_pem, { mode: 0o600 })
      process.stdout.write(`${provider} demo merchant private key (serial ${wallet.demoMerchant.serial_no}) written to ${privatePath}\n`)
    }
  }
}

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  await Promise.all(started.map((wallet) => wallet.close()))
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}
