/**
 * The messages a benchmark server process and `bench/run.ts` exchange over the fork IPC channel.
 * A server says `ready` once it listens, the runner drives load over HTTP, then says `finish`; the
 * server drains, checks its database and answers `report` before it exits.
 */

export type Engine = 'sqlite' | 'postgres'

export type ServerReady = {
  type: 'ready'
  port: number
  /** The merchant's secret key (sk_…), for the Authorization header. */
  key: string
  /** Shoppers with a wallet balance large enough for the whole run. */
  shoppers: string[]
  /** The data directory the server writes in, so the runner can remove it if the server dies. */
  dataDirectory: string
  /** The PostgreSQL schema the server made (empty on SQLite), so the runner can drop it if the server dies. */
  postgresSchema: string
  engine: Engine
  /** What the database reports about its durability settings, e.g. "journal_mode=wal synchronous=2 (FULL)". */
  durability: string
  /** e.g. "SQLite 3.53.2" or "PostgreSQL 15.8". */
  databaseVersion: string
}

export type ServerReport = {
  type: 'report'
  /** Responses the HTTP server finished writing, by status code (every request, warm-up included). */
  responsesByStatus: Record<string, number>
  /** Requests whose connection closed before the response was written. */
  responsesAborted: number
  /** Rows in `payments`, by status. */
  paymentsByStatus: Record<string, number>
  /** Rows in `idempotency_keys`, by stored response status. */
  idempotencyByStatus: Record<string, number>
  /** `verifyLedger` on the whole database after the run. */
  ledger: { ok: boolean; violations: string[]; accounts: number; transfers: number; postings: number; ms: number }
  /** Group-commit statistics: transactions committed and the units (payments and other writes) in them. */
  batchesCommitted: number
  unitsCommitted: number
  /**
   * From `ready` sent to `finish` received, on the monotonic clock in microseconds (the clock V8's
   * CPU profiles use on Linux), so a profile can be cut to the time under load.
   */
  loadWindowMicroseconds: [number, number]
  /**
   * CPU time the server process used in that window (process.cpuUsage, user + system). Divided by
   * the payments answered it is steadier than payments/s on a shared machine: another process
   * taking a core slows the rate but hardly changes the CPU a payment costs.
   */
  cpuMicroseconds: { user: number; system: number }
  /**
   * How late the server's event loop ran its timers in that window, in milliseconds
   * (perf_hooks.monitorEventLoopDelay). Everything synchronous blocks every request at once: the
   * batch transaction, its COMMIT's fsync, a WAL checkpoint, garbage collection.
   */
  eventLoopDelayMs: { p50: number; p99: number; max: number }
}

export type ServerFailure = { type: 'failure'; message: string }

export type ServerMessage = ServerReady | ServerReport | ServerFailure

export type RunnerMessage = { type: 'finish' }

