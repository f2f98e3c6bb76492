import type { Kysely, Migration, MigrationProvider } from 'kysely'
import type { DialectName } from '../dialect.js'
import * as core from './0001_core.js'
import * as delivery from './0002_delivery.js'
import * as truncateGuard from './0003_truncate_guard.js'
import * as acquiring from './0004_acquiring.js'
import * as terminals from './0005_terminals.js'
import * as channels from './0006_channels.js'
import * as doorCounterparts from './0007_door_counterparts.js'
import * as cardRefundOnce from './0008_card_refund_once.js'
import * as vaultCardLookup from './0009_vault_card_lookup.js'
import * as checkoutCards from './0010_checkout_cards.js'

type DialectMigration = { up(db: Kysely<any>, dialect: DialectName): Promise<void> }

/** One ordered set of migrations for both engines; a migration branches on the dialect where SQL differs. */
const all: Record<string, DialectMigration> = {
  '0001_core': core,
  '0002_delivery': delivery,
  '0003_truncate_guard': truncateGuard,
  '0004_acquiring': acquiring,
  '0005_terminals': terminals,
  '0006_channels': channels,
  '0007_door_counterparts': doorCounterparts,
  '0008_card_refund_once': cardRefundOnce,
  '0009_vault_card_lookup': vaultCardLookup,
  '0010_checkout_cards': checkoutCards,
}

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const result: Record<string, Migration> = {}
      for (const [name, migration] of Object.entries(all)) {
        result[name] = { up: (db) => migration.up(db, dialect) }
      }
      return result
    },
  }
}
