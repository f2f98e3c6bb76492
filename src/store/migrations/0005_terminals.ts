import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * POS terminals: the terminals registered to merchants (field 41 → merchant, field 42, the sealed MAC
 * key), and the requests each terminal sent, by STAN, so a repeated STAN replays its first answer and
 * a terminal's reversal or refund finds the sale it names.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('terminals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('card_acceptor_id', 'text', (c) => c.notNull())
    .addColumn('mac_key_sealed', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('terminals_merchant').on('terminals').columns(['merchant_id', 'id']).execute()

  await db.schema
    .createTable('pos_requests')
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('mti', 'text', (c) => c.notNull())
    .addColumn('stan', 'text', (c) => c.notNull())
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('response', 'text')
    .addColumn('card_transaction_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('pos_requests_pk', ['terminal_id', 'mti', 'stan'])
    .execute()
}
