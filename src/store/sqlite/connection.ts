import Sqlite from 'better-sqlite3'
import type { QueuedWrite, SqlConnection } from '../connection.js'
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

export class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Sqlite.Statement>()
  private changes = 0

  constructor(readonly database: Sqlite.Database) {}

  private statement(sqlText: string): Sqlite.Statement {
    let statement = this.statements.get(sqlText)
    if (statement === undefined) {
      statement = this.database.prepare(sqlText)
      if (this.statements.size >= statementCacheMax) this.statements.clear()
      this.statements.set(sqlText, statement)
    }
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

  async changeMany(writes: readonly QueuedWrite[]): Promise<number[]> {
    // In process, a statement costs no round trip: one after another is as fast as it gets.
    return writes.map((write) => this.statement(write.sqlText).run(...write.parameters.map(normalizeParameter)).changes)
  }

  async exec(sqlText: string): Promise<void> {
    this.statement(sqlText).run()
  }

  async close(): Promise<void> {
    this.statements.clear()
    this.database.close()
  }
}
