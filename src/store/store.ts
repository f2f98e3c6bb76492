import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { dialects, type DialectCapabilities } from './dialect.js'
import { migrationProvider } from './migrations/index.js'
import { PostgresConnection, postgresConfig } from './postgres/connection.js'
import type { Database } from './schema.js'
import { openSqliteDatabase, readerDatabase, SqliteConnection } from './sqlite/connection.js'
import { GroupCommitWriter } from './writer.js'

export type StoreOptions =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; schema?: string | undefined; poolSize?: number }

/**
 * The database handle every shell uses: `db` for reads (its own connections, so a read never sees
 * a batch that has not committed) and `writer` for every write.
 */
export type Store = {
  readonly dialect: DialectCapabilities
  readonly db: Kysely<Database>
  readonly writer: GroupCommitWriter
  /** For PostgreSQL LISTEN/NOTIFY between nodes; undefined on SQLite. */
  readonly pgPool: pg.Pool | undefined
  migrate(): Promise<string[]>
  close(): Promise<void>
}

export function storeOptionsFromUrl(databaseUrl: string | undefined, dataDirectory: string): StoreOptions {
  if (databaseUrl === undefined || databaseUrl === '') return { kind: 'sqlite', path: `${dataDirectory}/kassa.db` }
  if (databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://')) {
    return { kind: 'postgres', connectionString: databaseUrl }
  }
  if (databaseUrl.startsWith('sqlite:')) return { kind: 'sqlite', path: databaseUrl.slice('sqlite:'.length) }
  throw new Error(`DATABASE_URL must start with postgres:// or sqlite: (got "${databaseUrl.split(':')[0]}:")`)
}

export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.kind === 'sqlite') return openSqliteStore(options.path)
  return openPostgresStore(options)
}

function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: readerDatabase(openSqliteDatabase(path)) }) })
  const dialect = dialects.sqlite
  const writer = new GroupCommitWriter({
    dialect,
    builder: db,
    // BEGIN IMMEDIATE takes the write lock at once, so a batch never fails half-way on a busy file.
    beginStatement: 'BEGIN IMMEDIATE',
    connect: async () => new SqliteConnection(openSqliteDatabase(path)),
  })
  return {
    dialect,
    db,
    writer,
    pgPool: undefined,
    migrate: () => migrateToLatest(db, dialect),
    async close() {
      await writer.close()
      await db.destroy()
    },
  }
}

async function openPostgresStore(options: Extract<StoreOptions, { kind: 'postgres' }>): Promise<Store> {
  const config = { connectionString: options.connectionString, schema: options.schema }
  if (options.schema !== undefined) {
    const admin = new pg.Client(postgresConfig({ connectionString: options.connectionString }))
    await admin.connect()
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema.replaceAll('"', '')}"`)
    } finally {
      await admin.end()
    }
  }
  const pool = new pg.Pool({ ...postgresConfig(config), max: options.poolSize ?? 10 })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const dialect = dialects.postgres
  const writer = new GroupCommitWriter({
    dialect,
    builder: db,
    beginStatement: 'BEGIN',
    connect: () => PostgresConnection.connect(config),
  })
  return {
    dialect,
    db,
    writer,
    pgPool: pool,
    async migrate() {
      // The migration tables live in this store's own schema; Kysely would otherwise find another schema's.
      const { rows } = await pool.query<{ schema: string }>('select current_schema() as schema')
      return migrateToLatest(db, dialect, rows[0]?.schema)
    },
    async close() {
      await writer.close()
      await db.destroy()
    },
  }
}

/** What PostgreSQL answers when a table or schema it was listing is dropped under it (undefined table, invalid schema, cache lookup failed). */
const vanishedWhileListed = ['42P01', '3F000', 'XX000']

async function migrateToLatest(db: Kysely<Database>, dialect: DialectCapabilities, schema?: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect.name),
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  })
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest()
    // Kysely looks for its own tables by listing every schema's tables; a schema dropped meanwhile
    // (another store on the same server closing) fails that listing before any migration ran.
    if (error !== undefined && results === undefined && vanishedWhileListed.includes((error as { code?: string }).code ?? '') && attempt < 8) {
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
      continue
    }
    if (error !== undefined) throw error
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  }
}
