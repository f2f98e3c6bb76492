import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/** Pay on delivery: stations, couriers and their sessions, parcels, their one-time QR codes, cash remittances. */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('stations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('city', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('couriers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('station_id', 'text', (c) => c.notNull().references('stations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('payment_id', 'text', (c) => c.notNull().references('payments.id'))
    .addColumn('parcel_number', 'text', (c) => c.notNull())
    .addColumn('courier_id', 'text', (c) => c.notNull().references('couriers.id'))
    .addColumn('station_id', 'text', (c) => c.notNull().references('stations.id'))
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('amount_original', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('paid_by', 'text')
    .addColumn('shopper_id', 'text')
    .addColumn('shopper_phone', 'text')
    .addColumn('transfer_id', 'text')
    .addColumn('delivery_date', 'text', (c) => c.notNull())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('paid_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('deliveries_merchant_parcel').unique().on('deliveries').columns(['merchant_id', 'parcel_number']).execute()
  await db.schema.createIndex('deliveries_courier_date').on('deliveries').columns(['courier_id', 'delivery_date']).execute()
  await db.schema.createIndex('deliveries_payment').on('deliveries').column('payment_id').execute()

  await db.schema
    .createTable('delivery_codes')
    .addColumn('reference', 'text', (c) => c.primaryKey())
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('courier_id', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('delivery_codes_delivery').on('delivery_codes').columns(['delivery_id', 'status']).execute()

  await db.schema
    .createTable('cash_remittances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('courier_id', 'text', (c) => c.notNull().references('couriers.id'))
    .addColumn('station_id', 'text', (c) => c.notNull().references('stations.id'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('amount_expected', 'bigint', (c) => c.notNull())
    .addColumn('amount_counted', 'bigint', (c) => c.notNull())
    .addColumn('remittance_date', 'text', (c) => c.notNull())
    .addColumn('transfer_id', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('cash_remittances_courier').on('cash_remittances').columns(['courier_id', 'remittance_date']).execute()
}
