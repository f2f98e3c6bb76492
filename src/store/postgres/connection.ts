import { createHash } from 'node:crypto'
import pg from 'pg'
import type { SqlConnection } from '../connection.js'
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

/**
 * One dedicated connection for the writer. Statements are prepared once per connection by name,
 * so the hot path sends only parameters.
 */
export class PostgresConnection implements SqlConnection {
  private readonly names = new Map<string, string>()

  constructor(private readonly client: pg.Client) {}

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
    const result = await this.client.query({
      name: this.nameOf(sqlText),
      text: sqlText,
      values: parameters.map(normalizeParameter),
    })
    return result.rows as Record<string, unknown>[]
  }

  async change(sqlText: string, parameters: readonly unknown[]): Promise<number> {
    const result = await this.client.query({ name: this.nameOf(sqlText), text: sqlText, values: parameters.map(normalizeParameter) })
    return result.rowCount ?? 0
  }

  async exec(sqlText: string): Promise<void> {
    await this.client.query(sqlText)
  }

  async close(): Promise<void> {
    await this.client.end()
  }
}
