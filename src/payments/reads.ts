import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'
import type { Payment } from './decide.js'
import type { RefundRecord } from './view.js'

export type Page<T> = { data: T[]; has_more: boolean }

export type Cursor = { limit: number; starting_after?: string | undefined; ending_before?: string | undefined }

/**
 * Newest first; `starting_after` pages towards older objects, `ending_before` towards newer ones.
 * Ids sort by creation time, so the id is the cursor.
 */
export async function pageById<T extends { id: string }>(
  build: (order: 'asc' | 'desc') => { where(column: 'id', op: '<' | '>', value: string): unknown; execute(): Promise<T[]> } & {
    limit(n: number): unknown
  },
  cursor: Cursor,
): Promise<Page<T>> {
  const forward = cursor.ending_before === undefined
  let query = build(forward ? 'desc' : 'asc') as any
  if (cursor.starting_after !== undefined) query = query.where('id', '<', cursor.starting_after)
  if (cursor.ending_before !== undefined) query = query.where('id', '>', cursor.ending_before)
  const rows: T[] = await query.limit(cursor.limit + 1).execute()
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

export function getPayment(db: Kysely<Database>, merchantId: string, id: string): Promise<Payment | undefined> {
  return db.selectFrom('payments').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst() as Promise<Payment | undefined>
}

export function listPayments(db: Kysely<Database>, merchantId: string | undefined, filter: PaymentFilter, cursor: Cursor): Promise<Page<Payment>> {
  return pageById<Payment>((order) => {
    let query = db.selectFrom('payments').selectAll()
    if (merchantId !== undefined) query = query.where('merchant_id', '=', merchantId)
    if (filter.status !== undefined) query = query.where('status', '=', filter.status as Payment['status'])
    if (filter.order_reference !== undefined) query = query.where('order_reference', '=', filter.order_reference)
    if (filter.shopper !== undefined) query = query.where('shopper_id', '=', filter.shopper)
    if (filter.created_gte !== undefined) query = query.where('created_at', '>=', BigInt(filter.created_gte))
    if (filter.created_lt !== undefined) query = query.where('created_at', '<', BigInt(filter.created_lt))
    return query.orderBy('id', order) as never
  }, cursor)
}

export function getRefund(db: Kysely<Database>, merchantId: string, id: string): Promise<RefundRecord | undefined> {
  return db.selectFrom('refunds').selectAll().where('id', '=', id).where('merchant_id', '=', merchantId).executeTakeFirst()
}

export function listRefunds(db: Kysely<Database>, merchantId: string, paymentId: string | undefined, cursor: Cursor): Promise<Page<RefundRecord>> {
  return pageById<RefundRecord>((order) => {
    let query = db.selectFrom('refunds').selectAll().where('merchant_id', '=', merchantId)
    if (paymentId !== undefined) query = query.where('payment_id', '=', paymentId)
    return query.orderBy('id', order) as never
  }, cursor)
}
