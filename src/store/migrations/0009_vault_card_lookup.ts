import type { Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'

/**
 * The vault finds a merchant's returning card by its fingerprint and takes the newest copy
 * (`vaultCard`): one index step, however many copies of a card were sealed before cards were kept
 * once. It replaces the index on (merchant, fingerprint), which this one covers.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.createIndex('vault_cards_card').on('vault_cards').columns(['merchant_id', 'fingerprint', 'kind', 'created_at', 'id']).execute()
  await db.schema.dropIndex('vault_cards_fingerprint').execute()
}
