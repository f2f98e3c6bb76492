import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { loadMasterKey, type Config } from './config.js'
import { systemClock, type Clock } from './domain/clock.js'
import { LiveDeliveries } from './delivery/live.js'
import { DeliveryService } from './delivery/service.js'
import { DeliveryWorker } from './events/delivery-worker.js'
import { buildApp } from './http/app.js'
import { createLogger } from './logger.js'
import { Authenticator } from './merchants/service.js'
import { PaymentService } from './payments/service.js'
import type { MasterKey } from './security/secrets.js'
import { openStore, storeOptionsFromUrl, type Store, type StoreOptions } from './store/store.js'

export type Kassa = {
  readonly config: Config
  readonly store: Store
  readonly clock: Clock
  readonly logger: Logger
  readonly masterKey: MasterKey
  readonly app: FastifyInstance
  readonly payments: PaymentService
  readonly authenticator: Authenticator
  readonly deliveryWorker: DeliveryWorker
  readonly delivery: DeliveryService
  readonly live: LiveDeliveries
  close(): Promise<void>
}

export type KassaOptions = {
  config: Config
  clock?: Clock
  logger?: Logger
  /** Overrides DATABASE_URL, e.g. a test's own PostgreSQL schema. */
  storeOptions?: StoreOptions
  masterKey?: MasterKey
  fetch?: typeof fetch
}

/**
 * The composition root: config → store → clock → services → HTTP. Nothing else wires things.
 * Migrations run here, so every process that opens the store sees the latest schema.
 */
export async function createKassa(options: KassaOptions): Promise<Kassa> {
  const { config } = options
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createLogger(config.logLevel)
  const store = await openStore(options.storeOptions ?? storeOptionsFromUrl(config.databaseUrl, config.dataDirectory))
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  const masterKey = options.masterKey ?? loadMasterKey(config)
  const deliveryWorker = new DeliveryWorker({
    store,
    clock,
    masterKey,
    logger,
    timeoutMs: config.webhookTimeoutMs,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  })
  const payments = new PaymentService(store, clock, () => deliveryWorker.nudge())
  const authenticator = new Authenticator(store.db, clock)
  const live = new LiveDeliveries(store.pgPool, logger)
  await live.start()
  const delivery = new DeliveryService({ store, clock, live, qrTtlMs: config.qrTtlMs, notifyEvents: () => deliveryWorker.nudge() })
  const app = await buildApp({ store, clock, masterKey, authenticator, payments, logger, deliveryWorker, delivery, live })
  return {
    config,
    store,
    clock,
    logger,
    masterKey,
    app,
    payments,
    authenticator,
    deliveryWorker,
    delivery,
    live,
    async close() {
      await deliveryWorker.stop()
      await app.close()
      await live.stop()
      await store.close()
    },
  }
}
