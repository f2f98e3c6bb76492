import { createHash } from 'node:crypto'
import pg from 'pg'
import { assert } from '../../domain/assert.js'
import type { QueuedWrite, SqlConnection } from '../connection.js'
import { normalizeParameter } from '../connection.js'

// int8 → bigint on every connection of this process: amounts and times never pass through a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => BigInt(text))

export type PostgresOptions = { connectionString: string; schema?: string | undefined }

export function postgresConfig(options: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: options.connectionString,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  }
}

const combinedCacheMax = 256

/** A plain SELECT as Kysely writes one: it changes nothing (SELECT … FOR UPDATE takes row locks, which the transaction's end lets go). */
function readOnly(sqlText: string): boolean {
  return sqlText.startsWith('select ')
}

/** Writes as one statement: each a CTE counting its rows, placeholders renumbered into one list. */
function combinedWrites(writes: readonly QueuedWrite[]): string {
  const parts: string[] = []
  let offset = 0
  for (const [index, write] of writes.entries()) {
    // A statement with literals or its own RETURNING is not one the writer's callers queue.
    assert(!write.sqlText.includes("'") && !/\breturning\b/i.test(write.sqlText), `a queued write must be a plain prepared statement: ${write.sqlText}`)
    const base = offset
    parts.push(`w${index} as (${write.sqlText.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + base}`)} returning 1)`)
    offset += write.parameters.length
  }
  const counts = writes.map((_, index) => `(select count(*) from w${index}) as c${index}`).join(', ')
  return `with ${parts.join(', ')} select ${counts}`
}

/**
 * One dedicated connection for the writer. Statements are prepared once per connection by name,
 * so the hot path sends only parameters.
 */
export class PostgresConnection implements SqlConnection {
  private readonly names = new Map<string, string>()
  /** The statement for each sequence of queued writes met so far: a unit's sequence repeats. */
  private readonly combined = new Map<string, string>()

  /** Statements that may have changed the open transaction: see `changesBegun`. */
  private changes = 0

  constructor(private readonly client: pg.Client) {}

  /**
   * Counts every statement sent that is not a plain SELECT, and every statement that failed: after
   * any error PostgreSQL refuses the rest of the transaction, so a unit whose statement failed
   * cannot be left behind quietly. A unit that fails in its own logic, after reads only, leaves the
   * count as it was, and the batch goes on without it (GroupCommitWriter.runUnits).
   */
  changesBegun(): number {
    return this.changes
  }

  private async send(sqlText: string, config: pg.QueryConfig | string): Promise<pg.QueryResult> {
    if (!readOnly(sqlText)) this.changes += 1
    try {
      return await this.client.query(config)
    } catch (error) {
      this.changes += 1
      throw error
    }
  }

  /** A statement with parameters, prepared once per connection under its name. */
  private sendPrepared(sqlText: string, parameters: readonly unknown[]): Promise<pg.QueryResult> {
    return this.send(sqlText, { name: this.nameOf(sqlText), text: sqlText, values: parameters.map(normalizeParameter) })
  }

  static async connect(options: PostgresOptions): Promise<PostgresConnection> {
    const client = new pg.Client(postgresConfig(options))
    // A dropped connection (restart, failover, idle kill) must not crash the process: the next query
    // rejects, the writer abandons the connection and opens a new one for the next batch.
    client.on('error', () => undefined)
    await client.connect()
    // Bounds on the write path: one lock wait behind another node cannot stall this node for ever.
    await client.query("SET statement_timeout = '15s'; SET lock_timeout = '5s'; SET idle_in_transaction_session_timeout = '60s'")
    return new PostgresConnection(client)
  }

  private nameOf(sqlText: string): string {
    let name = this.names.get(sqlText)
    if (name === undefined) {
      name = `k_${createHash('sha1').update(sqlText).digest('hex').slice(0, 16)}`
      this.names.set(sqlText, name)
    }
    return name
  }

  async query(sqlText: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]> {
    return (await this.sendPrepared(sqlText, parameters)).rows as Record<string, unknown>[]
  }

  async change(sqlText: string, parameters: readonly unknown[]): Promise<number> {
    return (await this.sendPrepared(sqlText, parameters)).rowCount ?? 0
  }

  /**
   * Several writes in one round trip (PERFORMANCE.md lever 3): one statement whose data-modifying
   * CTEs are the writes, each counting its rows. PostgreSQL runs every CTE of a statement to the
   * end on one snapshot, and checks foreign keys at the end of the statement, so a child row may
   * come before its parent. The writes must not touch the same row twice (the writer's callers
   * queue only inserts and updates of rows they read just before, see Tx.defer).
   */
  async changeMany(writes: readonly QueuedWrite[]): Promise<number[]> {
    const [only] = writes
    if (only === undefined) return []
    if (writes.length === 1) return [await this.change(only.sqlText, only.parameters)]
    const key = writes.map((write) => write.sqlText).join('\u0000')
    let combined = this.combined.get(key)
    if (combined === undefined) {
      combined = combinedWrites(writes)
      if (this.combined.size >= combinedCacheMax) this.combined.clear()
      this.combined.set(key, combined)
    }
    const rows = await this.query(combined, writes.flatMap((write) => write.parameters))
    const row = rows[0] ?? {}
    return writes.map((_, index) => Number(row[`c${index}`] as bigint))
  }

  async exec(sqlText: string): Promise<void> {
    await this.send(sqlText, sqlText)
  }

  async close(): Promise<void> {
    await this.client.end()
  }
}
