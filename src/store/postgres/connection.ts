import { createHash } from 'node:crypto'
import pg from 'pg'
import { assert } from '../../domain/assert.js'
import type { BoundStatement, SqlConnection } from '../connection.js'
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

/** A prepared statement's SQL inside a combined one: its placeholders moved on by `base`. */
function renumbered(statement: BoundStatement, base: number): string {
  // A statement with literals might hold a "$1" that is not a placeholder: not one the writer's callers combine.
  assert(!statement.sqlText.includes("'"), `a combined statement must be a plain prepared one: ${statement.sqlText}`)
  return statement.sqlText.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + base}`)
}

/** The placeholders' offset of each statement once their parameters are laid end to end. */
function offsets(statements: readonly BoundStatement[]): number[] {
  let offset = 0
  return statements.map((statement) => {
    const base = offset
    offset += statement.parameters.length
    return base
  })
}

/** Writes as one statement: each a CTE counting its rows, placeholders renumbered into one list. */
function combinedWrites(writes: readonly BoundStatement[]): string {
  const bases = offsets(writes)
  const parts = writes.map((write, index) => {
    assert(!/\breturning\b/i.test(write.sqlText), `a queued write must not return rows: ${write.sqlText}`)
    return `w${index} as (${renumbered(write, bases[index] ?? 0)} returning 1)`
  })
  const counts = writes.map((_, index) => `(select count(*) from w${index}) as c${index}`).join(', ')
  return `with ${parts.join(', ')} select ${counts}`
}

/**
 * Reads as one statement: each a LATERAL subquery beside the others, its rows numbered in a first
 * column "#<index>" (null when it has none). The rows are the product of the reads' rows, which
 * `splitReads` takes apart again; the reads sent together return one row each, or one of them a few.
 * A read's own locks (FOR UPDATE) are taken as if it ran alone.
 */
function combinedReads(reads: readonly BoundStatement[]): string {
  const bases = offsets(reads)
  const columns = reads.map((_, index) => `r${index}.*`).join(', ')
  const joins = reads.map(
    (read, index) => `left join lateral (select row_number() over () as "#${index}", s.* from (${renumbered(read, bases[index] ?? 0)}) as s) as r${index} on true`,
  )
  return `select ${columns} from (select 1) as one ${joins.join(' ')}`
}

/** Each read's rows out of `combinedReads`' rows (arrays, in `fields` order), in the order the read returned them. */
function splitReads(count: number, fields: readonly { name: string }[], rows: readonly unknown[][]): Record<string, unknown>[][] {
  const starts = Array.from({ length: count }, (_, index) => fields.findIndex((field) => field.name === `#${index}`))
  return starts.map((start, index) => {
    assert(start >= 0, `combined read ${index} is missing from the answer`)
    const end = index + 1 < count ? (starts[index + 1] as number) : fields.length
    const byNumber = new Map<bigint, Record<string, unknown>>()
    for (const values of rows) {
      const number = values[start] as bigint | null
      if (number === null || byNumber.has(number)) continue
      const row: Record<string, unknown> = {}
      for (let column = start + 1; column < end; column++) row[(fields[column] as { name: string }).name] = values[column]
      byNumber.set(number, row)
    }
    return [...byNumber.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row)
  })
}

/**
 * One dedicated connection for the writer. Statements are prepared once per connection by name,
 * so the hot path sends only parameters.
 */
export class PostgresConnection implements SqlConnection {
  private readonly names = new Map<string, string>()
  /** The statement for each sequence of queued writes, or of reads sent together, met so far: a unit's sequences repeat. */
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

  private async send(sqlText: string, config: pg.QueryConfig | pg.QueryArrayConfig | string): Promise<pg.QueryResult> {
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
  async changeMany(writes: readonly BoundStatement[]): Promise<number[]> {
    const [only] = writes
    if (only === undefined) return []
    if (writes.length === 1) return [await this.change(only.sqlText, only.parameters)]
    const rows = await this.query(this.combinedText('w', writes, combinedWrites), writes.flatMap((write) => write.parameters))
    const row = rows[0] ?? {}
    return writes.map((_, index) => Number(row[`c${index}`] as bigint))
  }

  /**
   * Several reads in one round trip, for what a unit knows it will read before it decides (Tx.prefetch):
   * one statement of LATERAL subqueries, answered as arrays so columns of the same name stay apart,
   * every value parsed as the read alone would have it (int8 as bigint).
   */
  async queryMany(reads: readonly BoundStatement[]): Promise<Record<string, unknown>[][]> {
    if (reads.length <= 1) return Promise.all(reads.map((read) => this.query(read.sqlText, read.parameters)))
    const sqlText = this.combinedText('r', reads, combinedReads)
    const parameters = reads.flatMap((read) => read.parameters).map(normalizeParameter)
    const result = await this.send(sqlText, { name: this.nameOf(sqlText), text: sqlText, values: parameters, rowMode: 'array' })
    return splitReads(reads.length, result.fields, result.rows as unknown[][])
  }

  private combinedText(kind: string, statements: readonly BoundStatement[], combine: (statements: readonly BoundStatement[]) => string): string {
    const key = `${kind}\u0000${statements.map((statement) => statement.sqlText).join('\u0000')}`
    let combined = this.combined.get(key)
    if (combined === undefined) {
      combined = combine(statements)
      if (this.combined.size >= combinedCacheMax) this.combined.clear()
      this.combined.set(key, combined)
    }
    return combined
  }

  async exec(sqlText: string): Promise<void> {
    await this.send(sqlText, sqlText)
  }

  async close(): Promise<void> {
    await this.client.end()
  }
}
