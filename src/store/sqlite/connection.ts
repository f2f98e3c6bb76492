import Sqlite from 'better-sqlite3'
import type { SqliteDatabase, SqliteStatement } from 'kysely'
import type { BoundStatement, SqlConnection } from '../connection.js'
import { normalizeParameter } from '../connection.js'

/**
 * Opens a better-sqlite3 database the way Kassa needs it: WAL so readers never wait for the
 * writer, synchronous=FULL so an acknowledged payment survives power loss (this build would
 * otherwise run WAL at NORMAL), integers as bigint so no amount is ever rounded through a double.
 *
 * temp_store=MEMORY keeps statement journals in memory. Inside a transaction SQLite copies each
 * page a savepoint, or a statement that may fail half-way, first touches into such a journal; on a
 * temporary file that cost a batch of payments megabytes of writes it never needed after COMMIT
 * (measured when every unit had a savepoint: ~250 µs CPU per payment). The journal only serves a
 * rollback inside the open transaction; crash recovery uses the WAL, so durability is unchanged.
 * A batch holds at most 256 units, which bounds the memory.
 */
export function openSqliteDatabase(path: string): Sqlite.Database {
  const database = new Sqlite(path)
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = FULL')
  database.pragma('busy_timeout = 5000')
  database.pragma('foreign_keys = ON')
  database.pragma('temp_store = MEMORY')
  database.defaultSafeIntegers(true)
  return database
}

const statementCacheMax = 512

/** A prepared statement and, when it runs in raw mode, its columns' names in order. */
export type Prepared = { readonly statement: Sqlite.Statement; readonly columns: readonly string[] | undefined }

/**
 * A connection's prepared statements by SQL text. Kysely's SQLite driver prepares every query it
 * runs anew (~15 µs for a one-row read); the texts repeat, so each is prepared once. A statement is
 * never run by two callers at once: each connection runs one query at a time (the writer, and
 * Kysely's driver behind its mutex, streams included).
 *
 * With `rawRows`, a statement that names the columns it returns runs in raw mode and `rowsOf`
 * makes the objects: better-sqlite3 sets an object's properties one by one from C++, which for a
 * page of 11 payments rows (23 columns) cost 65 µs against 51 µs this way, and a GET of that page
 * 368 against 275 µs of CPU with the cache. Only where the SQL names the columns: SQLite expands a
 * `*` again when another process changes the schema, and names read at prepare time could then be
 * the wrong ones. The writer keeps better-sqlite3's own rows: its reads are of a few columns,
 * where the two are alike, and no A/B showed a gain there.
 */
export class StatementCache {
  private readonly statements = new Map<string, Prepared>()

  constructor(
    private readonly database: Sqlite.Database,
    private readonly rawRows: boolean,
  ) {}

  prepare(sqlText: string): Prepared {
    let prepared = this.statements.get(sqlText)
    if (prepared === undefined) {
      const statement = this.database.prepare(sqlText)
      const raw = this.rawRows && statement.reader && !sqlText.includes('*')
      if (raw) statement.raw(true)
      prepared = { statement, columns: raw ? statement.columns().map((column) => column.name) : undefined }
      // Texts are Kysely's, from a bounded set of queries; the bound is for one with a list of values inlined.
      if (this.statements.size >= statementCacheMax) this.statements.clear()
      this.statements.set(sqlText, prepared)
    }
    return prepared
  }

  clear(): void {
    this.statements.clear()
  }
}

/** One raw row as an object keyed by column name (a later column of the same name wins, as in better-sqlite3). */
function objectOf(columns: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (let index = 0; index < columns.length; index++) row[columns[index] as string] = values[index]
  return row
}

/** Runs a statement that returns rows; answers them as objects. */
function rowsOf(prepared: Prepared, parameters: readonly unknown[]): Record<string, unknown>[] {
  const columns = prepared.columns
  if (columns === undefined) return prepared.statement.all(...parameters) as Record<string, unknown>[]
  const raw = prepared.statement.all(...parameters) as unknown[][]
  const rows = new Array<Record<string, unknown>>(raw.length)
  for (let index = 0; index < raw.length; index++) rows[index] = objectOf(columns, raw[index] as unknown[])
  return rows
}

/** The reader's database as Kysely's SqliteDialect takes it: each text prepared once, rows made by `rowsOf`. */
export function readerDatabase(database: Sqlite.Database): SqliteDatabase {
  const statements = new StatementCache(database, true)
  return {
    prepare(sqlText: string): SqliteStatement {
      const prepared = statements.prepare(sqlText)
      const { statement, columns } = prepared
      return {
        reader: statement.reader,
        all: (parameters) => rowsOf(prepared, parameters),
        run: (parameters) => statement.run(...parameters),
        *iterate(parameters) {
          if (columns === undefined) return yield* statement.iterate(...parameters)
          for (const values of statement.iterate(...parameters) as IterableIterator<unknown[]>) yield objectOf(columns, values)
        },
      }
    },
    close() {
      statements.clear()
      database.close()
    },
  }
}

export class SqliteConnection implements SqlConnection {
  private readonly statements: StatementCache
  private changes = 0

  constructor(readonly database: Sqlite.Database) {
    this.statements = new StatementCache(database, false)
  }

  private statement(sqlText: string): Sqlite.Statement {
    const { statement } = this.statements.prepare(sqlText)
    // Counted before it runs: a write that fails half-way may still have changed rows.
    if (!statement.readonly) this.changes += 1
    return statement
  }

  changesBegun(): number {
    return this.changes
  }

  async query(sqlText: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]> {
    return this.querySync(sqlText, parameters)
  }

  querySync(sqlText: string, parameters: readonly unknown[]): Record<string, unknown>[] {
    const statement = this.statement(sqlText)
    const bound = parameters.map(normalizeParameter)
    if (!statement.reader) {
      statement.run(...bound)
      return []
    }
    try {
      return statement.all(...bound) as Record<string, unknown>[]
    } catch (error) {
      // Some errors (I/O, a full disk) end the whole transaction in SQLite, reads included.
      this.changes += 1
      throw error
    }
  }

  async change(sqlText: string, parameters: readonly unknown[]): Promise<number> {
    return this.statement(sqlText).run(...parameters.map(normalizeParameter)).changes
  }

  // In process, a statement costs no round trip: one after another is as fast as it gets.
  async changeMany(writes: readonly BoundStatement[]): Promise<number[]> {
    return writes.map((write) => this.statement(write.sqlText).run(...write.parameters.map(normalizeParameter)).changes)
  }

  async queryMany(reads: readonly BoundStatement[]): Promise<Record<string, unknown>[][]> {
    return reads.map((read) => this.querySync(read.sqlText, read.parameters))
  }

  async exec(sqlText: string): Promise<void> {
    this.statement(sqlText).run()
  }

  async close(): Promise<void> {
    this.statements.clear()
    this.database.close()
  }
}
