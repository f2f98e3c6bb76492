import type { Config } from './config.js'
import { isEmpty, seedDemo, type DemoCredentials } from './demo/seed.js'
import { createKassa, type Kassa } from './kassa.js'
// Card acquiring: the POS terminal host, and the scheme simulator in demo mode.
import { startPosHost, type PosHost } from './acquiring/pos-host/index.js'
import { posDemoLines, startDemoScheme } from './demo/pos.js'
// Checkout channels: the banks and wallets simulated in process in demo mode.
import { counterpartDemoLines, startDemoCounterparts, type DemoCounterparts } from './demo/simulators.js'
import { loadProvidersFile } from './channels/providers-file.js'

function demoText(demo: DemoCredentials, address: string, pos: { host: string; port: number } | undefined, counterparts: DemoCounterparts | undefined): string {
  return [
    '',
    'Demo data created (keys are shown this once; `npx kassa key create --merchant <id>` makes new ones):',
    `  operator key          ${demo.operator_key}`,
    `  demo merchant         ${demo.merchant_id}`,
    `  demo merchant key     ${demo.merchant_key}`,
    `  third-party seller    ${demo.seller_id}  key ${demo.seller_key}`,
    `  shopper with CNY 1000 ${demo.shopper_id}`,
    `  courier page          ${address}/courier   log in as ${demo.delivery.courier.username} / ${demo.delivery.courier.password}`,
    `  shopper page          ${address}/shop#token=${demo.delivery.shopperToken}`,
    ...(demo.door_quickpay === undefined
      ? []
      : [`                        pays from the wallet or quick pay ${demo.door_quickpay.account_no_masked}; the bank's SMS codes: ${demo.door_quickpay.sms_url}`]),
    `  hosted checkout       ${demo.checkout_url}`,
    ...(counterparts === undefined ? [] : counterpartDemoLines(counterparts)),
    ...posDemoLines(demo.pos_terminal, pos),
    '',
  ].join('\n')
}

/** Serves the whole platform; on a first start with demo data on, creates it and prints its keys. */
export async function serve(config: Config): Promise<void> {
  // Card acquiring: without SCHEME_ADDRESS, demo mode runs the scheme simulator in this process.
  const demoScheme = config.demo && config.schemeAddress === undefined ? await startDemoScheme() : undefined
  // Checkout channels: in demo mode the banks and wallets run in this process (docs/simulators.md).
  // Real ones come from KASSA_PROVIDERS_FILE, which wins over the demo's.
  const configured = config.providersFile === undefined ? undefined : (() => {
    try {
      return loadProvidersFile(config.providersFile)
    } catch (error) {
      void demoScheme?.close()
      throw error
    }
  })()
  const demoCounterparts = config.demo && configured === undefined ? await startDemoCounterparts({ testEndpoints: true }).catch(async (error: unknown) => {
    await demoScheme?.close()
    throw error
  }) : undefined
  const providers = configured ?? demoCounterparts?.providers
  const kassa = await createKassa({
    config,
    ...(demoScheme === undefined ? {} : { acquiring: { scheme: { host: '127.0.0.1', port: demoScheme.port } } }),
    ...(providers === undefined ? {} : { providers }),
  }).catch(async (error: unknown) => {
    await demoCounterparts?.close()
    await demoScheme?.close()
    throw error
  })
  let posHost: PosHost | undefined
  const closeAll = async (): Promise<void> => {
    await posHost?.close(5_000)
    await kassa.close()
    await demoCounterparts?.close()
    await demoScheme?.close()
  }
  let address: string
  let demo: DemoCredentials | undefined
  try {
    // Both ports first: demo keys are shown once, so they are made only once Kassa serves.
    address = await explainListenError('PORT', config.host, config.port, () => kassa.app.listen({ port: config.port, host: config.host }))
    // Banks, wallets and shoppers' browsers come back here (unless KASSA_PUBLIC_URL says otherwise).
    kassa.setPublicUrl(address)
    posHost = await startServedPosHost(kassa, config)
    demo = config.demo && (await isEmpty(kassa)) ? await seedDemo(kassa, demoCounterparts) : undefined
  } catch (error) {
    await closeAll().catch(() => undefined)
    throw error
  }
  kassa.deliveryWorker.start()
  kassa.counterparts.startWorker()
  kassa.acquiring?.sweeper.start()
  const pos = posHost === undefined ? undefined : { host: config.posHost, port: posHost.port }
  if (demo !== undefined) process.stdout.write(`${demoText(demo, address, pos, demoCounterparts)}\n`)
  process.stdout.write(`Kassa is serving on ${address} (API /v1, console /console/v1, API reference /docs, courier /courier, shop /shop)\n`)
  process.stdout.write(`${acquiringLine(kassa, pos, demoScheme?.port)}\n`)
  const shutdown = (signal: string) => {
    kassa.logger.info({ signal }, 'shutting down')
    closeAll().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
}

// ---------------------------------------------------------------------------------------------
// Card acquiring (docs/acquiring.md)
// ---------------------------------------------------------------------------------------------

/** The POS terminal host on POS_HOST:POS_PORT, when Kassa acquires cards (a scheme to link to). */
async function startServedPosHost(kassa: Kassa, config: Config): Promise<PosHost | undefined> {
  const acquiring = kassa.acquiring
  if (acquiring === undefined) return undefined
  if (!(await acquiring.link.waitUntilUp(5_000))) {
    kassa.logger.warn({ scheme: acquiring.schemeAddress }, 'the card scheme does not answer yet: card payments are answered 91 until it does')
  }
  const { store, clock, masterKey } = kassa
  const logger = kassa.logger.child({ part: 'pos-host' })
  return explainListenError('POS_PORT', config.posHost, config.posPort, () =>
    startPosHost({ port: config.posPort, host: config.posHost, store, clock, masterKey, acquirer: acquiring.acquirer, reverse: acquiring.reverse, logger }),
  )
}

function acquiringLine(kassa: Kassa, pos: { host: string; port: number } | undefined, simulatorPort: number | undefined): string {
  if (pos === undefined) return 'No card acquiring: set SCHEME_ADDRESS (or KASSA_DEMO=1 for the scheme simulator in process) to serve POS terminals.'
  const scheme = simulatorPort === undefined ? `${kassa.acquiring?.schemeAddress ?? '?'} (SCHEME_ADDRESS)` : `the simulator in this process on 127.0.0.1:${simulatorPort} (docs/scheme.md)`
  return `POS terminal host on ${pos.host}:${pos.port} (ISO 8583 over TCP, docs/pos.md); card scheme: ${scheme}`
}

/** A port that cannot be had is one readable line naming the variable, not a stack trace. */
async function explainListenError<T>(variable: string, host: string, port: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') throw new Error(`${variable}=${port}: ${host}:${port} is already in use; stop what uses it or set ${variable} to another port (0 picks a free one)`)
    if (code === 'EACCES') throw new Error(`${variable}=${port}: not allowed to listen on ${host}:${port}; choose a port above 1023`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new Error(`${variable}=${port}: cannot listen on ${host}, which is not an address of this machine`)
    throw error
  }
}
