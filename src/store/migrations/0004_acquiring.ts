import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/** Card acquiring: the card vault (sealed PANs) and the card transactions sent to the scheme. */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('vault_cards')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('card_sealed', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('bin', 'text', (c) => c.notNull())
    .addColumn('last4', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('vault_cards_fingerprint').on('vault_cards').columns(['merchant_id', 'fingerprint']).execute()

  await db.schema
    .createTable('card_transactions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('original_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('masked_pan', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('amount_captured', 'bigint', (c) => c.notNull())
    .addColumn('amount_refunded', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('entry_mode', 'text', (c) => c.notNull())
    .addColumn('stan', 'text')
    .addColumn('rrn', 'text')
    .addColumn('transmitted_at', 'text')
    .addColumn('auth_code', 'text')
    .addColumn('response_code', 'text')
    .addColumn('transfer_id', 'text')
    .addColumn('reference_id', 'text')
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('card_transactions_merchant').on('card_transactions').columns(['merchant_id', 'id']).execute()
  await db.schema.createIndex('card_transactions_status').on('card_transactions').columns(['status', 'updated_at']).execute()
  await db.schema.createIndex('card_transactions_original').on('card_transactions').column('original_id').execute()
}
