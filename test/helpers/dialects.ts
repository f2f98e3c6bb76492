import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Provider } from '../../src/channels/provider.js'
import { loadConfig } from '../../src/config.js'
import type { Clock } from '../../src/domain/clock.js'
import { createKassa, type Kassa } from '../../src/kassa.js'
import { createLogger } from '../../src/logger.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import type { DialectName } from '../../src/store/dialect.js'
import type { StoreOptions } from '../../src/store/store.js'

/**
 * The engines every storage, ledger and payments suite runs against (Kysely's DIALECTS).
 * scripts/test.mjs probes PostgreSQL once and says so in one line; KASSA_TEST_PG carries its answer.
 */
export const DIALECTS: readonly DialectName[] = process.env['KASSA_TEST_PG'] === '1' ? ['sqlite', 'postgres'] : ['sqlite']

export const postgresUrl = process.env['KASSA_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

export type TestStore = { options: StoreOptions; cleanup(): Promise<void> }

/** A fresh, empty database: a temporary SQLite file, or a PostgreSQL schema of its own. */
export function freshStoreOptions(dialect: DialectName): TestStore {
  if (dialect === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'kassa-test-'))
    return {
      options: { kind: 'sqlite', path: join(directory, 'kassa.db') },
      async cleanup() {
        rmSync(directory, { recursive: true, force: true })
      },
    }
  }
  const schema = `kassa_test_${randomBytes(6).toString('hex')}`
  return {
    options: { kind: 'postgres', connectionString: postgresUrl, schema, poolSize: 4 },
    async cleanup() {
      const client = new pg.Client({ connectionString: postgresUrl })
      await client.connect()
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      } finally {
        await client.end()
      }
    },
  }
}

/** `storeOptions` says where its database is, for a test that runs the CLI on it too. */
export type TestKassa = Kassa & { readonly storeOptions: StoreOptions; dispose(): Promise<void> }

/** A whole Kassa on a fresh database, logging only errors, with a fixed master key. */
export async function openTestKassa(
  dialect: DialectName,
  options: {
    clock?: Clock
    fetch?: typeof fetch
    env?: Record<string, string>
    providers?: readonly Provider[]
    counterpartTimings?: { queryAfterMs?: number; checkEveryMs?: number; orderTtlMs?: number }
  } = {},
): Promise<TestKassa> {
  const store = freshStoreOptions(dialect)
  const config = loadConfig({ LOG_LEVEL: 'error', KASSA_DEMO: '0', ...options.env })
  const kassa = await createKassa({
    config,
    storeOptions: store.options,
    logger: createLogger(process.env['KASSA_TEST_LOG_LEVEL'] ?? 'error'),
    masterKey: masterKeyFrom(randomBytes(32).toString('base64')),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.providers === undefined ? {} : { providers: options.providers }),
    ...(options.counterpartTimings === undefined ? {} : { counterpartTimings: options.counterpartTimings }),
  })
  return Object.assign(kassa, {
    storeOptions: store.options,
    async dispose() {
      await kassa.close()
      await store.cleanup()
    },
  })
}
