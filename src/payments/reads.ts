import { CompiledQuery, type Compilable, type Kysely, type SelectQueryBuilder } from 'kysely'
import { param, prepare, type PreparedQuery } from '../store/prepared.js'
import type { Database, PaymentsTable } from '../store/schema.js'
import type { Payment } from './decide.js'
import type { RefundRecord } from './view.js'

/** A payment's columns, named: reads of one row or a page say which columns they take (see src/store/sqlite/connection.ts). */
export const paymentColumns = [
  'id', 'merchant_id', 'status', 'amount', 'currency', 'capture_method', 'order_reference', 'description', 'metadata',
  'shopper_id', 'payment_method_type', 'channel', 'amount_capturable', 'amount_received', 'amount_refunded',
  'fee_amount', 'hold_transfer_id', 'last_error_code', 'last_error_message', 'cancellation_reason', 'version',
  'created_at', 'updated_at',
] as const

type Exactly<T extends true> = T
/** Fails to compile when the payments table gains a column `paymentColumns` leaves out. */
export type PaymentColumnsComplete = Exactly<[Exclude<keyof PaymentsTable, (typeof paymentColumns)[number]>] extends [never] ? true : false>

export type Page<T> = { data: T[]; has_more: boolean }

export type Cursor = { limit: number; starting_after?: string | undefined; ending_before?: string | undefined }

type Listed = 'payments' | 'refunds'

/** Per reader handle, each read's shapes (a list's: which filters, which way, which cursor), prepared once. */
const shapesByHandle = new WeakMap<Kysely<Database>, Map<string, PreparedQuery<unknown>>>()

/** The read named `shape` on this handle, built and compiled the first time only. */
function preparedRead<R>(db: Kysely<Database>, shape: string, build: (db: Kysely<Database>) => Compilable<R>): PreparedQuery<R> {
  let shapes = shapesByHandle.get(db)
  if (shapes === undefined) shapesByHandle.set(db, (shapes = new Map()))
  let query = shapes.get(shape) as PreparedQuery<R> | undefined
  if (query === undefined) {
    query = prepare(db, build)
    shapes.set(shape, query)
  }
  return query
}

/** Runs a prepared read on the reader's connections. */
async function runRead<R>(db: Kysely<Database>, query: PreparedQuery<R>, values: Readonly<Record<string, unknown>>): Promise<R[]> {
  const { rows } = await db.executeQuery<R>(CompiledQuery.raw(query.sqlText, query.bind(values)))
  return rows
}

/**
 * Newest first; `starting_after` pages towards older objects, `ending_before` towards newer ones.
 * Ids sort by creation time, so the id is the cursor. `build` adds the filters in use with
 * `param()` placeholders, and `shape` names which: each shape is built and compiled once, then
 * bound with `values` (Kysely spends more building a query than SQLite running a page of it).
 */
async function pageById<T extends { id: string }, TB extends Listed>(
  db: Kysely<Database>,
  shape: string,
  build: (db: Kysely<Database>) => SelectQueryBuilder<Database, TB, T>,
  values: Readonly<Record<string, unknown>>,
  cursor: Cursor,
): Promise<Page<T>> {
  const forward = cursor.ending_before === undefined
  const key = `${shape}|${forward ? 'desc' : 'asc'}|${cursor.starting_after === undefined ? '' : 'after'}|${cursor.ending_before === undefined ? '' : 'before'}`
  const query = preparedRead(db, key, (db) => {
    let select = build(db) as unknown as SelectQueryBuilder<Database, Listed, T>
    if (cursor.starting_after !== undefined) select = select.where('id', '<', param('starting_after'))
    if (cursor.ending_before !== undefined) select = select.where('id', '>', param('ending_before'))
    return select.orderBy('id', forward ? 'desc' : 'asc').limit(param('limit'))
  })
  const rows = await runRead(db, query, { ...values, starting_after: cursor.starting_after ?? null, ending_before: cursor.ending_before ?? null, limit: cursor.limit + 1 })
  const has_more = rows.length > cursor.limit
  const data = rows.slice(0, cursor.limit)
  return { data: forward ? data : data.reverse(), has_more }
}

export type PaymentFilter = {
  status?: string | undefined
  order_reference?: string | undefined
  shopper?: string | undefined
  created_gte?: number | undefined
  created_lt?: number | undefined
}

export async function getPayment(db: Kysely<Database>, merchantId: string, id: string): Promise<Payment | undefined> {
  const query = preparedRead(db, 'payment', (db) => db.selectFrom('payments').select(paymentColumns).where('id', '=', param('id')).where('merchant_id', '=', param('merchant_id')))
  const [row] = await runRead(db, query, { id, merchant_id: merchantId })
  return row as Payment | undefined
}

export function listPayments(db: Kysely<Database>, merchantId: string | undefined, filter: PaymentFilter, cursor: Cursor): Promise<Page<Payment>> {
  const values = {
    merchant_id: merchantId,
    status: filter.status,
    order_reference: filter.order_reference,
    shopper_id: filter.shopper,
    created_gte: filter.created_gte === undefined ? undefined : BigInt(filter.created_gte),
    created_lt: filter.created_lt === undefined ? undefined : BigInt(filter.created_lt),
  }
  const used = Object.entries(values).filter(([, value]) => value !== undefined)
  const shape = `payments:${used.map(([name]) => name).join(',')}`
  return pageById<Payment, 'payments'>(
    db,
    shape,
    (db) => {
      let query = db.selectFrom('payments').select(paymentColumns)
      if (values.merchant_id !== undefined) query = query.where('merchant_id', '=', param('merchant_id'))
      if (values.status !== undefined) query = query.where('status', '=', param('status'))
      if (values.order_reference !== undefined) query = query.where('order_reference', '=', param('order_reference'))
      if (values.shopper_id !== undefined) query = query.where('shopper_id', '=', param('shopper_id'))
      if (values.created_gte !== undefined) query = query.where('created_at', '>=', param('created_gte'))
      if (values.created_lt !== undefined) query = query.where('created_at', '<', param('created_lt'))
      return query as unknown as SelectQueryBuilder<Database, 'payments', Payment>
    },
    Object.fromEntries(used),
    cursor,
  )
}

export function getRefund(db: Kysely<Database>, merchantId: string, id: string): Promise<RefundRecord | undefined> {
  return db.selectFrom('refunds').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst()
}

export function listRefunds(db: Kysely<Database>, merchantId: string, paymentId: string | undefined, cursor: Cursor): Promise<Page<RefundRecord>> {
  return pageById<RefundRecord, 'refunds'>(
    db,
    paymentId === undefined ? 'refunds:merchant_id' : 'refunds:merchant_id,payment_id',
    (db) => {
      let query = db.selectFrom('refunds').selectAll().where('merchant_id', '=', param('merchant_id'))
      if (paymentId !== undefined) query = query.where('payment_id', '=', param('payment_id'))
      return query
    },
    { merchant_id: merchantId, payment_id: paymentId ?? null },
    cursor,
  )
}
