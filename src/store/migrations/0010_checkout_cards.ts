import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * Which checkout a card was typed on. A vaulted card id is the merchant's (the vault keeps one copy
 * of a returning card), so without this any checkout of the merchant that learned a card id could
 * charge it; the checkout now charges only cards typed on it.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('checkout_cards')
    .addColumn('payment_id', 'text', (c) => c.notNull())
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('checkout_cards_pk', ['payment_id', 'card_id'])
    .execute()
}
