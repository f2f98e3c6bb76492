/**
 * What differs between the engines, as flags read by the code that cares (Kysely DialectAdapter
 * style), instead of `if (postgres)` scattered around.
 */
export type DialectName = 'sqlite' | 'postgres'

export type DialectCapabilities = {
  readonly name: DialectName
  /** `SELECT … FOR UPDATE [SKIP LOCKED]`: rows a transaction reads can be locked against other writers. */
  readonly rowLocks: boolean
  /** Several processes may write at once (so workers must claim rows); SQLite keeps one writer. */
  readonly concurrentWriters: boolean
  /** Other nodes can be told of a commit through the database (LISTEN/NOTIFY). */
  readonly notifications: boolean
  /** Each statement is a round trip to a server, so reads known ahead are worth sending together (Tx.prefetch). */
  readonly roundTrips: boolean
}

export const dialects: Record<DialectName, DialectCapabilities> = {
  sqlite: { name: 'sqlite', rowLocks: false, concurrentWriters: false, notifications: false, roundTrips: false },
  postgres: { name: 'postgres', rowLocks: true, concurrentWriters: true, notifications: true, roundTrips: true },
}
