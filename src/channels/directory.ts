import { recordAudit, type Actor } from '../audit/log.js'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import type { ChannelState } from '../store/schema.js'
import type { Store } from '../store/store.js'
import { byDisplayOrder, channelConfigKey, configFromRow, unavailableFor, type ChannelConfig } from './config.js'

/** A channel this node can run, as offered when its configuration row is first made. */
export type ChannelOffer = {
  readonly id: string
  readonly kind: string
  readonly provider: string | null
  readonly display_name: string
  readonly currencies: readonly string[]
}

/**
 * Makes the configuration row of every channel this node offers that has none yet (enabled, every
 * merchant, no limits). Rows that exist are left alone: what operators set wins over defaults.
 */
export async function ensureChannelConfigs(store: Store, clock: Clock, offers: readonly ChannelOffer[]): Promise<void> {
  const existing = new Set((await store.db.selectFrom('channel_configs').select('id').execute()).map((row) => row.id))
  const missing = offers.filter((offer) => !existing.has(offer.id))
  if (missing.length === 0) return
  await store.writer.submit(async (tx) => {
    const nowMs = clock.now()
    for (const offer of missing) {
      const [already] = await tx.execute(tx.builder.selectFrom('channel_configs').select('id').where('id', '=', offer.id))
      if (already !== undefined) continue
      tx.forget(channelConfigKey(offer.id))
      await tx.execute(
        tx.builder.insertInto('channel_configs').values({
          id: offer.id,
          kind: offer.kind,
          provider: offer.provider,
          display_name: offer.display_name,
          state: 'enabled',
          merchants: null,
          currencies: JSON.stringify(offer.currencies),
          min_amount: null,
          max_amount: null,
          display_order: (offers.indexOf(offer) + 1) * 10,
          fee_basis_points: null,
          version: 0,
          updated_at: nowMs,
        }),
      )
    }
  })
}

export async function listChannelConfigs(store: Store): Promise<ChannelConfig[]> {
  const rows = await store.db.selectFrom('channel_configs').selectAll().execute()
  return rows.map(configFromRow).sort(byDisplayOrder)
}

export async function channelConfig(store: Store, id: string): Promise<ChannelConfig> {
  const row = await store.db.selectFrom('channel_configs').selectAll().where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such channel: ${id}` })
  return configFromRow(row)
}

export type ChannelChanges = {
  readonly state?: ChannelState
  readonly merchants?: readonly string[] | null
  readonly currencies?: readonly string[]
  readonly min_amount?: bigint | null
  readonly max_amount?: bigint | null
  readonly display_order?: number
  readonly fee_basis_points?: number | null
  readonly display_name?: string
}

/**
 * Changes a channel's configuration, audited in the same transaction. Every node reads the row in
 * each payment's own transaction, so the change holds from the commit on, everywhere.
 */
export async function updateChannelConfig(store: Store, clock: Clock, actor: Actor, id: string, changes: ChannelChanges): Promise<ChannelConfig> {
  return store.writer.submit(async (tx) => {
    const nowMs = clock.now()
    let query = tx.builder.selectFrom('channel_configs').selectAll().where('id', '=', id)
    if (tx.dialect.rowLocks) query = query.forUpdate()
    const [row] = await tx.execute(query)
    if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such channel: ${id}` })
    const before = configFromRow(row)
    const after: ChannelConfig = { ...before, ...changes, version: before.version + 1n, updated_at: BigInt(nowMs) }
    if (after.min_amount !== null && after.max_amount !== null && after.min_amount > after.max_amount) {
      throw new KassaError('parameter_invalid', { param: 'min_amount', message: 'min_amount is above max_amount.' })
    }
    if (after.currencies.length === 0) throw new KassaError('parameter_invalid', { param: 'currencies', message: 'A channel takes at least one currency.' })
    tx.forget(channelConfigKey(id))
    await tx.execute(
      tx.builder
        .updateTable('channel_configs')
        .set({
          state: after.state,
          merchants: after.merchants === null ? null : JSON.stringify(after.merchants),
          currencies: JSON.stringify(after.currencies),
          min_amount: after.min_amount,
          max_amount: after.max_amount,
          display_order: after.display_order,
          fee_basis_points: after.fee_basis_points,
          display_name: after.display_name,
          version: after.version,
          updated_at: nowMs,
        })
        .where('id', '=', id),
    )
    const changed = Object.fromEntries(
      Object.keys(changes).map((key) => [key, { from: before[key as keyof ChannelConfig], to: after[key as keyof ChannelConfig] }]),
    )
    await recordAudit(tx, actor, 'channel.updated', { id, merchant_id: null }, changed, nowMs)
    return after
  })
}

export function channelConfigView(config: ChannelConfig) {
  return {
    id: config.id,
    object: 'channel' as const,
    kind: config.kind,
    provider: config.provider,
    display_name: config.display_name,
    state: config.state,
    merchants: config.merchants,
    currencies: config.currencies,
    min_amount: config.min_amount,
    max_amount: config.max_amount,
    display_order: config.display_order,
    fee_basis_points: config.fee_basis_points,
    version: config.version,
    updated_at: new Date(Number(config.updated_at)).toISOString(),
  }
}

export type SavedMethodView = {
  readonly id: string
  readonly object: 'saved_method'
  readonly channel: string
  readonly kind: string
  readonly display: Record<string, string>
  readonly status: 'active' | 'detached'
  readonly created_at: string
}

function savedView(row: { id: string; channel_id: string; kind: string; display: string; status: 'active' | 'detached'; created_at: bigint }): SavedMethodView {
  return {
    id: row.id,
    object: 'saved_method',
    channel: row.channel_id,
    kind: row.kind,
    display: JSON.parse(row.display) as Record<string, string>,
    status: row.status,
    created_at: new Date(Number(row.created_at)).toISOString(),
  }
}

export async function savedMethodsOf(store: Store, shopperId: string): Promise<SavedMethodView[]> {
  const rows = await store.db.selectFrom('saved_methods').selectAll().where('shopper_id', '=', shopperId).where('status', '=', 'active').orderBy('id').execute()
  return rows.map(savedView)
}

export type PaymentMethodsFor = {
  readonly object: 'payment_methods'
  readonly payment: string
  /** Channels this payment can start on now, in display order. */
  readonly channels: readonly { id: string; kind: string; provider: string | null; display_name: string }[]
  /** The shopper's saved methods on those channels. */
  readonly saved_methods: readonly SavedMethodView[]
  /** Saved methods whose channel takes no payments now: kept, shown with a notice. */
  readonly unavailable_saved_methods: readonly (SavedMethodView & { notice: string })[]
}

/**
 * What a payment can use right now: channels enabled, allowed for its merchant, currency and
 * amount, and offered by this node; plus the shopper's saved methods on them.
 */
export async function paymentMethodsFor(
  store: Store,
  payment: { id: string; merchant_id: string; amount: bigint; currency: string; shopper_id: string | null },
  offered: (config: ChannelConfig) => boolean,
): Promise<PaymentMethodsFor> {
  const configs = await listChannelConfigs(store)
  const usable = configs.filter((config) => unavailableFor(config, payment as never) === undefined && offered(config))
  const usableIds = new Set(usable.map((config) => config.id))
  const saved = payment.shopper_id === null ? [] : await savedMethodsOf(store, payment.shopper_id)
  const byId = new Map(configs.map((config) => [config.id, config]))
  return {
    object: 'payment_methods',
    payment: payment.id,
    channels: usable.map((config) => ({ id: config.id, kind: config.kind, provider: config.provider, display_name: config.display_name })),
    saved_methods: saved.filter((method) => usableIds.has(method.channel)),
    unavailable_saved_methods: saved
      .filter((method) => !usableIds.has(method.channel))
      .map((method) => {
        const config = byId.get(method.channel)
        const name = config?.display_name ?? method.channel
        const paused = config !== undefined && config.state !== 'enabled'
        return {
          ...method,
          notice: paused
            ? `${name} is not available at the moment. Your saved account is kept; please choose another way to pay this time.`
            : `${name} cannot be used for this payment; please choose another way to pay.`,
        }
      }),
  }
}

/** Shoppers with saved methods on a channel: whom a switch-off touches. */
export async function affectedShoppers(store: Store, channelId: string): Promise<{ shopper_id: string; saved_method_id: string }[]> {
  await channelConfig(store, channelId)
  const rows = await store.db
    .selectFrom('saved_methods')
    .select(['shopper_id', 'id'])
    .where('channel_id', '=', channelId)
    .where('status', '=', 'active')
    .orderBy('shopper_id')
    .orderBy('id')
    .execute()
  return rows.map((row) => ({ shopper_id: row.shopper_id, saved_method_id: row.id }))
}
