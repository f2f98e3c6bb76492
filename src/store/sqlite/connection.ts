import Sqlite from 'better-sqlite3'
import type { SqlConnection } from '../connection.js'
import { normalizeParameter } from '../connection.js'

/**
 * Opens a better-sqlite3 database the way Kassa needs it: WAL so readers never wait for the
 * writer, synchronous=FULL so an acknowledged payment survives power loss (this build would
 * otherwise run WAL at NORMAL), integers as bigint so no amount is ever rounded through a double.
 */
export function openSqliteDatabase(path: string): Sqlite.Database {
  const database = new Sqlite(path)
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = FULL')
  database.pragma('busy_timeout = 5000')
  database.pragma('foreign_keys = ON')
  database.defaultSafeIntegers(true)
  return database
}

const statementCacheMax = 512

export class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Sqlite.Statement>()

  constructor(readonly database: Sqlite.Database) {}

  private statement(sqlText: string): Sqlite.Statement {
    let statement = this.statements.get(sqlText)
    if (statement === undefined) {
      statement = this.database.prepare(sqlText)
      if (this.statements.size >= statementCacheMax) this.statements.clear()
      this.statements.set(sqlText, statement)
    }
    return statement
  }

  async query(sqlText: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]> {
    return this.querySync(sqlText, parameters)
  }

  querySync(sqlText: string, parameters: readonly unknown[]): Record<string, unknown>[] {
    const statement = this.statement(sqlText)
    const bound = parameters.map(normalizeParameter)
    if (statement.reader) return statement.all(...bound) as Record<string, unknown>[]
    statement.run(...bound)
    return []
  }

  async exec(sqlText: string): Promise<void> {
    this.statement(sqlText).run()
  }

  async close(): Promise<void> {
    this.statements.clear()
    this.database.close()
  }
}
