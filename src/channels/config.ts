import type { CurrencyCode } from '../domain/currency.js'
import type { ChannelConfigRow, ChannelState } from '../store/schema.js'

/**
 * A channel's live configuration as the core reads it, and the one rule that decides whether a
 * payment may use it. Pure: the store loads the row, this decides.
 *
 * enabled  — takes new payments.
 * draining — takes no new payments; attempts in flight complete, notifications, queries and
 *            refunds of its past payments still work; shoppers' saved methods on it are shown
 *            with a notice.
 * disabled — as draining, and hidden everywhere.
 */
export type ChannelConfig = {
  readonly id: string
  readonly kind: string
  readonly provider: string | null
  readonly display_name: string
  readonly state: ChannelState
  /** null: every merchant. */
  readonly merchants: readonly string[] | null
  readonly currencies: readonly string[]
  readonly min_amount: bigint | null
  readonly max_amount: bigint | null
  readonly display_order: number
  readonly fee_basis_points: number | null
  readonly version: bigint
  readonly updated_at: bigint
}

export const channelStates = ['enabled', 'draining', 'disabled'] as const satisfies readonly ChannelState[]

/** The lists as stored (JSON arrays) parsed once each: every confirm reads its channel's row. */
const parsedLists = new Map<string, readonly string[]>()

function parsedList(text: string): readonly string[] {
  let list = parsedLists.get(text)
  if (list === undefined) {
    if (parsedLists.size >= 256) parsedLists.clear()
    list = Object.freeze(JSON.parse(text) as string[])
    parsedLists.set(text, list)
  }
  return list
}

/** Where a unit's batch remembers a channel's configuration (`Tx.remembered`); whoever changes the row forgets it. */
export function channelConfigKey(id: string): string {
  return `channel_config:${id}`
}

export function configFromRow(row: ChannelConfigRow): ChannelConfig {
  return {
    ...row,
    // SQLite hands back every integer as a bigint; the small ones are numbers here.
    display_order: Number(row.display_order),
    fee_basis_points: row.fee_basis_points === null ? null : Number(row.fee_basis_points),
    min_amount: row.min_amount === null ? null : BigInt(row.min_amount),
    max_amount: row.max_amount === null ? null : BigInt(row.max_amount),
    merchants: row.merchants === null ? null : parsedList(row.merchants),
    currencies: parsedList(row.currencies),
  }
}

export type Unavailable = { readonly reason: 'channel_unavailable' | 'channel_not_allowed'; readonly message: string }

/** May this payment start on this channel now? */
export function unavailableFor(
  config: ChannelConfig,
  payment: { readonly merchant_id: string; readonly amount: bigint; readonly currency: CurrencyCode },
): Unavailable | undefined {
  if (config.state !== 'enabled') return { reason: 'channel_unavailable', message: `${config.display_name} takes no new payments (${config.state}).` }
  if (config.merchants !== null && !config.merchants.includes(payment.merchant_id)) {
    return { reason: 'channel_not_allowed', message: `${config.display_name} is not offered to this merchant.` }
  }
  if (!config.currencies.includes(payment.currency)) return { reason: 'channel_not_allowed', message: `${config.display_name} does not take ${payment.currency}.` }
  if (config.min_amount !== null && payment.amount < config.min_amount) {
    return { reason: 'channel_not_allowed', message: `${config.display_name} takes at least ${config.min_amount} minor units.` }
  }
  if (config.max_amount !== null && payment.amount > config.max_amount) {
    return { reason: 'channel_not_allowed', message: `${config.display_name} takes at most ${config.max_amount} minor units.` }
  }
  return undefined
}

/** The channel id a provider channel gets: `netbank.icbc-sim`, `wallet.alipay-like`. */
export function providerChannelId(kind: string, provider: string): string {
  return `${kind}.${provider}`
}

/** Channels in the order a checkout shows them. */
export function byDisplayOrder(a: ChannelConfig, b: ChannelConfig): number {
  return a.display_order - b.display_order || a.id.localeCompare(b.id)
}
