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
import { CounterpartPayments } from './payments/counterpart.js'
import { CardPayments } from './payments/card.js'
import type { Acquirer } from './acquiring/acquirer.js'
import type { CardReverser } from './acquiring/pos-host/reversal.js'
import type { Provider } from './channels/provider.js'
import { ensureChannelConfigs, type ChannelOffer } from './channels/directory.js'
import { providerChannelId } from './channels/config.js'
import { currencyCodes } from './domain/currency.js'
import type { MasterKey } from './security/secrets.js'
import { openAcquiring, type Acquiring, type AcquiringOptions } from './acquiring/open.js'
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
  /** Netbank, quick pay and wallet payments at their counterparts. */
  readonly counterparts: CounterpartPayments
  /** Where counterparts and shoppers' browsers reach this node; set by `serve` once listening. */
  setPublicUrl(url: string): void
  /** Takes card payments through this acquirer (checkout's card channel, `POST /v1/cards`). */
  enableCards(acquirer: Acquirer, reverse?: CardReverser): Promise<CardPayments>
  // Card acquiring (docs/acquiring.md) ------------------------------------------------------------
  /** Card acquiring through the scheme; undefined unless SCHEME_ADDRESS is set or `options.acquiring` names a scheme or a link. */
  readonly acquirer: Acquirer | undefined
  /** The acquirer with its scheme link and the terminals' reversal (the POS host needs all three). */
  readonly acquiring: Acquiring | undefined
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
  /** The banks and wallets this node collects through (src/demo/simulators.ts starts local ones). */
  providers?: readonly Provider[]
  /** Tests: how soon and how often unsettled counterpart orders are queried. */
  counterpartTimings?: { queryAfterMs?: number; checkEveryMs?: number; orderTtlMs?: number }
  /** Card acquiring: the scheme to connect to (else SCHEME_ADDRESS) or a link of the caller's; `false`: none, whatever the config says. */
  acquiring?: AcquiringOptions | false
}

/** The channels every node offers, before any counterpart. */
const ownChannels: readonly ChannelOffer[] = [
  { id: 'wallet_balance', kind: 'wallet_balance', provider: null, display_name: 'Shop wallet balance', currencies: currencyCodes },
  { id: 'cod', kind: 'cod', provider: null, display_name: 'Pay on delivery (QR or cash)', currencies: currencyCodes },
]

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
  let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`
  const counterparts = new CounterpartPayments({
    store,
    clock,
    payments,
    masterKey,
    logger,
    publicUrl: () => publicUrl,
    notifyCommitted: () => deliveryWorker.nudge(),
    ...options.counterpartTimings,
  })
  for (const provider of options.providers ?? []) counterparts.register(providerChannelId(provider.kind, provider.id), provider)
  payments.attachCounterparts(counterparts)
  await ensureChannelConfigs(store, clock, [
    ...ownChannels,
    ...(options.providers ?? []).map((provider) => ({
      id: providerChannelId(provider.kind, provider.id),
      kind: provider.kind,
      provider: provider.id,
      display_name: provider.display_name,
      currencies: provider.currencies,
    })),
  ])
  const authenticator = new Authenticator(store.db, clock)
  const live = new LiveDeliveries(store.pgPool, logger)
  await live.start()
  const delivery = new DeliveryService({
    store,
    clock,
    live,
    qrTtlMs: config.qrTtlMs,
    notifyEvents: () => deliveryWorker.nudge(),
    channelFee: (tx, channelId, merchantId) => payments.channelFee(tx, channelId, merchantId),
    counterparts,
  })
  counterparts.attachDoor(delivery)
  // Card acquiring: a link to the scheme and the acquirer on it, when there is a scheme to link to.
  const acquiringOptions = options.acquiring === false ? undefined : { ...(config.schemeAddress === undefined ? {} : { scheme: config.schemeAddress }), ...options.acquiring }
  const acquiring =
    acquiringOptions !== undefined && (acquiringOptions.scheme !== undefined || acquiringOptions.link !== undefined)
      ? await openAcquiring({ store, clock, masterKey, logger: logger.child({ part: 'scheme-link' }) }, acquiringOptions)
      : undefined
  const app = await buildApp({ store, clock, masterKey, authenticator, payments, logger, deliveryWorker, delivery, live, counterparts, trustProxy: config.trustProxy })
  const enableCards = async (acquirer: Acquirer, reverse?: CardReverser): Promise<CardPayments> => {
    const cards = new CardPayments({ store, clock, payments, acquirer, masterKey, logger, notifyCommitted: () => deliveryWorker.nudge(), ...(reverse === undefined ? {} : { reverse }) })
    payments.attachCards(cards)
    counterparts.attachCards(cards)
    await ensureChannelConfigs(store, clock, [{ id: 'card', kind: 'card', provider: null, display_name: 'Card (UnionPay-like scheme)', currencies: currencyCodes }])
    return cards
  }
  // With a scheme to acquire through, online card payments (checkout, POST /v1/cards) go through it too.
  if (acquiring !== undefined) await enableCards(acquiring.acquirer, acquiring.reverse)
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
    counterparts,
    acquirer: acquiring?.acquirer,
    acquiring,
    setPublicUrl(url: string) {
      if (config.publicUrl === undefined) publicUrl = url
    },
    enableCards,
    async close() {
      await counterparts.stop()
      await deliveryWorker.stop()
      await app.close()
      await acquiring?.close()
      await live.stop()
      await store.close()
    },
  }
}
