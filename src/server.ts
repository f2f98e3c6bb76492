import type { Config } from './config.js'
import { isEmpty, seedDemo, type DemoCredentials } from './demo/seed.js'
import { createKassa } from './kassa.js'

function demoText(demo: DemoCredentials, address: string): string {
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
    '',
  ].join('\n')
}

/** Serves the whole platform; on a first start with demo data on, creates it and prints its keys. */
export async function serve(config: Config): Promise<void> {
  const kassa = await createKassa({ config })
  const demo = config.demo && (await isEmpty(kassa)) ? await seedDemo(kassa) : undefined
  kassa.deliveryWorker.start()
  const address = await kassa.app.listen({ port: config.port, host: config.host })
  if (demo !== undefined) process.stdout.write(`${demoText(demo, address)}\n`)
  process.stdout.write(`Kassa is serving on ${address} (API /v1, console /console/v1, API reference /docs, courier /courier, shop /shop)\n`)
  const shutdown = (signal: string) => {
    kassa.logger.info({ signal }, 'shutting down')
    kassa.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
}
