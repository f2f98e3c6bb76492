import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * Checkout channels: their live configuration (data, changed by operators), the attempts Kassa
 * makes at counterparts for a payment, shoppers' saved methods (quick-pay bindings), the
 * notifications counterparts sent (kept, refused ones too), and what refunds through a
 * counterpart need (pending until the counterpart says).
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('channel_configs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('provider', 'text')
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('merchants', 'text')
    .addColumn('currencies', 'text', (c) => c.notNull())
    .addColumn('min_amount', 'bigint')
    .addColumn('max_amount', 'bigint')
    .addColumn('display_order', 'integer', (c) => c.notNull())
    .addColumn('fee_basis_points', 'integer')
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('channel_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('payment_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('provider_order_id', 'text')
    .addColumn('next_action', 'text')
    .addColumn('saved_method_id', 'text')
    .addColumn('failure_code', 'text')
    .addColumn('failure_message', 'text')
    .addColumn('late', 'integer', (c) => c.notNull())
    .addColumn('transfer_id', 'text')
    .addColumn('queries', 'integer', (c) => c.notNull())
    .addColumn('next_check_at', 'bigint')
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('channel_attempts_payment').on('channel_attempts').columns(['payment_id', 'id']).execute()
  await db.schema.createIndex('channel_attempts_check').on('channel_attempts').columns(['next_check_at']).execute()
  await db.schema.createIndex('channel_attempts_channel').on('channel_attempts').columns(['channel_id', 'created_at']).execute()

  await db.schema
    .createTable('saved_methods')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('shopper_id', 'text', (c) => c.notNull().references('shoppers.id'))
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('token_sealed', 'text', (c) => c.notNull())
    .addColumn('token_fingerprint', 'text', (c) => c.notNull())
    .addColumn('display', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('saved_methods_shopper').on('saved_methods').columns(['shopper_id', 'id']).execute()
  await db.schema.createIndex('saved_methods_channel').on('saved_methods').columns(['channel_id', 'status']).execute()

  await db.schema
    .createTable('channel_notifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('notification_id', 'text')
    .addColumn('order_no', 'text')
    .addColumn('merchant_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('channel_notifications_order').on('channel_notifications').columns(['order_no']).execute()

  await db.schema.alterTable('refunds').addColumn('attempt_id', 'text').execute()
  await db.schema.alterTable('refunds').addColumn('provider_refund_id', 'text').execute()
  await db.schema.alterTable('refunds').addColumn('failure_code', 'text').execute()
  await db.schema.alterTable('refunds').addColumn('next_check_at', 'bigint').execute()
  await db.schema.alterTable('refunds').addColumn('updated_at', 'bigint').execute()
  await db.schema.createIndex('refunds_check').on('refunds').columns(['next_check_at']).execute()
}
