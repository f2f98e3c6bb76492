/**
 * The narrow waist between Kassa's write path and an engine: run SQL text with positional
 * parameters on one connection. The SQL itself is always built by Kysely, for the right dialect.
 */
export interface SqlConnection {
  /** Runs one statement; answers its rows (empty for statements that return none). */
  query(sqlText: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]>
  /** Runs one statement that returns no rows (an UPDATE without RETURNING); answers how many rows it changed. */
  change(sqlText: string, parameters: readonly unknown[]): Promise<number>
  /**
   * Runs writes that return no rows, in order, as if one after another; answers how many rows each
   * changed. An engine across a network sends them in one round trip.
   */
  changeMany(writes: readonly BoundStatement[]): Promise<number[]>
  /**
   * Runs reads, as if one after another; answers each one's rows. An engine across a network sends
   * them in one round trip (Tx.prefetch).
   */
  queryMany(reads: readonly BoundStatement[]): Promise<Record<string, unknown>[][]>
  /** Runs a statement without parameters or result, such as BEGIN or COMMIT. */
  exec(sqlText: string): Promise<void>
  close(): Promise<void>
  /**
   * A count that moves whenever a statement may have changed the open transaction: a write begun,
   * or any statement that failed (an engine may end the transaction on some errors). The writer
   * runs a batch's units without a savepoint each, and tells by this count whether a unit that
   * failed left anything to undo.
   */
  changesBegun(): number
}

/** A statement with its parameters bound, in the order its placeholders take them. */
export type BoundStatement = { readonly sqlText: string; readonly parameters: readonly unknown[] }

/** Engines bind neither booleans nor undefined; we store neither, but a stray one must not crash a batch. */
export function normalizeParameter(value: unknown): unknown {
  if (value === undefined) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  return value
}
