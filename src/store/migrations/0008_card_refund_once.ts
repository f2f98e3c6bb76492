import { sql, type Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * A refund has at most one card request: the database refuses a second card row naming the same
 * refund, so no path (a recovery racing a sender that hung) can send a card refund twice.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createIndex('card_transactions_refund_once')
    .on('card_transactions')
    .column('reference_id')
    .unique()
    .where(sql.ref('kind'), '=', sql.lit('refund'))
    .execute()
}
