import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * Parcels paid at the door through a counterpart (a saved quick-pay account): the attempt names
 * the parcel code it pays, and a paid parcel says which method paid it.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable('channel_attempts').addColumn('delivery_code', 'text').execute()
  await db.schema.createIndex('channel_attempts_delivery_code').on('channel_attempts').columns(['delivery_code']).execute()
  await db.schema.alterTable('deliveries').addColumn('paid_with', 'text').execute()
}
