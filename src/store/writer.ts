import type { Compilable, Kysely } from 'kysely'
import { assert } from '../domain/assert.js'
import type { DialectCapabilities } from './dialect.js'
import type { SqlConnection } from './connection.js'
import type { PreparedQuery } from './prepared.js'
import type { Database } from './schema.js'

type Deferred = {
  readonly sqlText: string
  readonly parameters: readonly unknown[]
  readonly tables: ReadonlySet<string> | undefined
  readonly onChanged: ((changed: number) => void) | undefined
}

/** A read a unit knows it is about to make, for `Tx.prefetch`. */
export type ReadAhead = { readonly query: PreparedQuery<unknown>; readonly values: Readonly<Record<string, unknown>> }

type Prefetched = { readonly rows: Record<string, unknown>[]; readonly tablesRead: ReadonlySet<string> | undefined }

/** A read's identity: its SQL and the values bound to it, each tagged with its type. */
function readKey(sqlText: string, parameters: readonly unknown[]): string {
  let key = sqlText
  for (const value of parameters) key += `\u0000${typeof value}:${String(value)}`
  return key
}

function overlaps(changed: ReadonlySet<string> | undefined, read: ReadonlySet<string> | undefined): boolean {
  if (changed === undefined || read === undefined) return true
  for (const table of changed) if (read.has(table)) return true
  return false
}

/** One unit of work's view of the open batch transaction. */
export class Tx {
  private hooks: (() => void)[] | undefined
  private discardHooks: (() => void)[] | undefined
  private deferred: Deferred[] = []
  private prefetched: Map<string, Prefetched> | undefined

  constructor(
    private readonly connection: SqlConnection,
    readonly dialect: DialectCapabilities,
    /** Builds (never runs) queries for this dialect. */
    readonly builder: Kysely<Database>,
    private readonly batchMemo: Map<string, unknown> = new Map(),
  ) {}

  /**
   * A read whose answer holds for the rest of the batch: the first unit to ask loads it, the later
   * ones reuse it, and a unit that writes what it read calls `forget` (or `remember`s the row as it
   * leaves it). For rows every payment reads: a channel's configuration, the balances of the
   * merchant and fee accounts. Only where this process is the one writer (SQLite): nobody else can
   * commit during the batch's transaction, so the answer is the one a read would give. Where other
   * nodes write, nothing is remembered and every call loads.
   */
  async remembered<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.batchMemo.has(key)) return this.batchMemo.get(key) as T
    const value = await load()
    this.remember(key, value)
    return value
  }

  /** What `remember` or `remembered` holds under `key` in this batch, if anything. */
  recall<T>(key: string): T | undefined {
    return this.batchMemo.get(key) as T | undefined
  }

  /** Holds `value` under `key` for the batch's later units: the row as this unit's writes leave it. */
  remember(key: string, value: unknown): void {
    if (!this.dialect.concurrentWriters) this.batchMemo.set(key, value)
  }

  /** Drops what is remembered under `key`: the unit is about to change it. */
  forget(key: string): void {
    this.batchMemo.delete(key)
  }

  /**
   * Runs a query prepared at start-up: the hot path. The unit's queued writes run first, unless it
   * is a plain read of none of the tables they change: it cannot see them, so they stay queued for
   * the one round trip at the unit's end (PostgreSQL).
   */
  async run<R>(query: PreparedQuery<R>, values: Readonly<Record<string, unknown>>): Promise<R[]> {
    const parameters = query.bind(values)
    if (this.prefetched !== undefined) {
      if (query.tablesRead === undefined) this.dropPrefetched(query.tablesChanged)
      else {
        const key = readKey(query.sqlText, parameters)
        const ahead = this.prefetched.get(key)
        if (ahead !== undefined) {
          this.prefetched.delete(key)
          return ahead.rows as R[]
        }
      }
    }
    if (this.deferred.length > 0 && this.readsQueued(query.tablesRead)) await this.flush()
    return (await this.connection.query(query.sqlText, parameters)) as R[]
  }

  /**
   * Sends reads this unit is about to make in one round trip, where every statement is one
   * (PostgreSQL): the unit's later `run` of the same query with the same values takes those rows
   * instead of asking again, once. Their locks (FOR UPDATE) are taken now. A write of this unit to a
   * table such a read reads drops it, so that `run` asks again. Where a statement costs no round trip
   * (SQLite) it does nothing: each read runs where it is, and sees what the batch remembers.
   * A read sent ahead that the unit never makes costs nothing but its place in the round trip.
   */
  async prefetch(reads: readonly ReadAhead[]): Promise<void> {
    if (!this.dialect.roundTrips || reads.length < 2) return
    if (this.deferred.length > 0 && reads.some((read) => this.readsQueued(read.query.tablesRead))) await this.flush()
    const statements = reads.map((read) => ({ sqlText: read.query.sqlText, parameters: read.query.bind(read.values) }))
    const answers = await this.connection.queryMany(statements)
    const prefetched = (this.prefetched ??= new Map())
    statements.forEach((statement, index) => {
      prefetched.set(readKey(statement.sqlText, statement.parameters), { rows: answers[index] ?? [], tablesRead: reads[index]?.query.tablesRead })
    })
  }

  /** Forgets the reads sent ahead that a write to `tablesChanged` (undefined: any table) may have changed. */
  private dropPrefetched(tablesChanged: ReadonlySet<string> | undefined): void {
    if (this.prefetched === undefined) return
    for (const [key, ahead] of this.prefetched) if (overlaps(tablesChanged, ahead.tablesRead)) this.prefetched.delete(key)
  }

  private readsQueued(tablesRead: ReadonlySet<string> | undefined): boolean {
    for (const write of this.deferred) if (overlaps(write.tables, tablesRead)) return true
    return false
  }

  /** Runs a prepared write that returns no rows; answers how many rows it changed. */
  async change(query: PreparedQuery<unknown>, values: Readonly<Record<string, unknown>>): Promise<number> {
    const parameters = query.bind(values)
    this.dropPrefetched(query.tablesChanged)
    if (this.deferred.length > 0) await this.flush()
    return this.connection.change(query.sqlText, parameters)
  }

  /**
   * Queues a prepared write that returns no rows, to run before this unit's next statement or at
   * its end, whichever comes first; `onChanged` then hears how many rows it changed (and may throw,
   * which fails the unit). On PostgreSQL the writes queued together go in one round trip, which is
   * what a payment's half-dozen inserts cost there otherwise. Queue only writes whose failure may
   * surface a little later (the unit fails all the same) and that touch no row another queued write
   * of the same run touches: inserts, and updates of rows just read (a read of a table the queue
   * writes runs the queue first).
   */
  defer(query: PreparedQuery<unknown>, values: Readonly<Record<string, unknown>>, onChanged?: (changed: number) => void): void {
    this.dropPrefetched(query.tablesChanged)
    this.deferred.push({ sqlText: query.sqlText, parameters: query.bind(values), tables: query.tablesChanged, onChanged })
  }

  /** Runs the queued writes now. The writer calls it when a unit's work is done. */
  async flush(): Promise<void> {
    if (this.deferred.length === 0) return
    const writes = this.deferred
    this.deferred = []
    const changed = await this.connection.changeMany(writes)
    writes.forEach((write, index) => write.onChanged?.(changed[index] ?? 0))
  }

  /** Builds and runs a Kysely query: for paths off the hot one, where clarity beats microseconds. */
  async execute<R>(query: Compilable<R>): Promise<R[]> {
    const compiled = query.compile()
    // What a query built here changes is not worked out: anything but a SELECT may change anything.
    if (compiled.query.kind !== 'SelectQueryNode') this.dropPrefetched(undefined)
    if (this.deferred.length > 0) await this.flush()
    return (await this.connection.query(compiled.sql, compiled.parameters)) as R[]
  }

  /** Runs `hook` once this unit's batch is durable; never if it rolls back. */
  afterCommit(hook: () => void): void {
    ;(this.hooks ??= []).push(hook)
  }

  takeHooks(): (() => void)[] {
    const hooks = this.hooks ?? []
    this.hooks = undefined
    return hooks
  }

  /**
   * Runs `hook` if this run of the unit comes to nothing: the unit failed, or its batch rolled back
   * (the unit may then run again, as a new run). For what a unit took outside the database, such as
   * a scheme STAN for a request it recorded, so a run that never commits gives it back.
   */
  onDiscard(hook: () => void): void {
    ;(this.discardHooks ??= []).push(hook)
  }

  /** The writer calls it once when this run is thrown away; never after a commit. */
  discarded(onHookError?: (error: unknown) => void): void {
    const hooks = this.discardHooks ?? []
    this.discardHooks = undefined
    runHooks(hooks, onHookError)
  }
}

/** Runs each hook; one that throws is reported and the rest still run. */
function runHooks(hooks: readonly (() => void)[], onHookError: ((error: unknown) => void) | undefined): void {
  for (const hook of hooks) {
    try {
      hook()
    } catch (error) {
      // A hook is a notification (a cache, a nudge, a STAN given back); its failure must not strand the other callers.
      onHookError?.(error)
    }
  }
}

type Unit = {
  work: (tx: Tx) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  attempts: number
}

type Outcome = { unit: Unit; ok: boolean; value: unknown; hooks: (() => void)[] }
type Ran = { outcomes: Outcome[]; spoiled: { unit: Unit; error: unknown } | undefined }

/** Errors after which the same unit may simply run again: lock conflicts between writers. */
function isTransient(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown }
  // Another node committed the same idempotency key first: running the unit again reads that
  // request's stored answer and replays it, as if this one had come second.
  if (code === '23505' && constraint === 'idempotency_keys_pk') return true
  return code === '40P01' || code === '40001' || code === '55P03' || code === 'SQLITE_BUSY'
}

export class WriterUnavailableError extends Error {
  override name = 'WriterUnavailableError'
}

export type WriterOptions = {
  dialect: DialectCapabilities
  builder: Kysely<Database>
  connect: () => Promise<SqlConnection>
  beginStatement: string
  /** The most units one transaction commits; bounds a batch's latency and memory. */
  batchSizeMax?: number
  /** How often a unit that hit a lock conflict is tried again before its caller sees the error. */
  attemptsMax?: number
  onHookError?: (error: unknown) => void
}

/**
 * Group commit (PERFORMANCE.md lever 1): every unit submitted during one turn of the event loop
 * runs inside one transaction, and each caller is answered only after the COMMIT is durable. One
 * unit's failure never fails the others: one that wrote nothing is simply left out, and one that
 * did rolls the batch back, the others running again first in a fresh transaction (`runUnits`).
 * One writer connection per process.
 */
export class GroupCommitWriter {
  private queue: Unit[] = []
  private flushing = false
  private scheduled = false
  private connection: SqlConnection | undefined
  private closed = false
  private readonly batchSizeMax: number
  private readonly attemptsMax: number
  /** Committed batches, for tests and metrics. */
  batchesCommitted = 0
  /** Batches rolled back whole because a unit failed after writing with no savepoint of its own. */
  batchesRolledBack = 0
  unitsCommitted = 0

  constructor(private readonly options: WriterOptions) {
    this.batchSizeMax = options.batchSizeMax ?? 256
    this.attemptsMax = options.attemptsMax ?? 5
  }

  /**
   * Runs `work` in the next batch transaction and resolves with its value once committed.
   * `work` must do all its I/O through `tx`: no calls to counterparts inside a transaction. It may
   * run more than once (its batch rolled back by a lock conflict, or by another unit's failure), so
   * whatever else it does must be safe to repeat; `tx.afterCommit` hooks run once, after the commit.
   */
  submit<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new WriterUnavailableError('the writer is closed'))
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject, attempts: 0 })
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.queue.length === 0) return
    this.scheduled = true
    // setImmediate, not setTimeout(1): the idle core would have to wake up again (PERFORMANCE.md).
    setImmediate(() => void this.flush())
  }

  private async connectionOpen(): Promise<SqlConnection> {
    this.connection ??= await this.options.connect()
    return this.connection
  }

  private async flush(): Promise<void> {
    this.scheduled = false
    this.flushing = true
    const batch = this.queue.splice(0, this.batchSizeMax)
    let ran: Ran
    let connection: SqlConnection | undefined
    // Every run of a unit in this batch, to be told if the batch is thrown away.
    const runs: Tx[] = []
    try {
      connection = await this.connectionOpen()
      ran = await this.runUnits(connection, batch, runs)
      if (ran.spoiled === undefined) await connection.exec('COMMIT')
    } catch (error) {
      await this.abandon(connection)
      this.discard(runs)
      this.flushing = false
      for (const unit of batch) {
        if (isTransient(error) && unit.attempts < this.attemptsMax) this.queue.push(unit)
        else unit.reject(new WriterUnavailableError(`the batch did not commit: ${(error as Error).message}`))
      }
      this.schedule()
      return
    }
    if (ran.spoiled !== undefined) {
      // A unit failed after writing, with no savepoint to undo just its part: the whole batch goes
      // back, and the others, which did nothing wrong, run again first in the next one.
      await this.abandon(connection)
      this.discard(runs)
      this.flushing = false
      this.batchesRolledBack += 1
      const { unit: spoiler, error } = ran.spoiled
      for (const { unit } of ran.outcomes) unit.attempts -= 1
      this.queue.unshift(...batch.filter((unit) => unit !== spoiler))
      this.settleFailed(spoiler, error)
      this.schedule()
      return
    }
    this.flushing = false
    this.batchesCommitted += 1
    for (const { unit, ok, value, hooks } of ran.outcomes) {
      if (!ok) {
        this.settleFailed(unit, value)
        continue
      }
      this.unitsCommitted += 1
      unit.resolve(value)
      runHooks(hooks, this.options.onHookError)
    }
    this.schedule()
  }

  /**
   * Runs the batch's units in one open transaction, in order, with no savepoint each: a unit that
   * fails before writing anything (the connection's `changesBegun` did not move) leaves nothing to
   * undo, and one that fails after stops the batch (`spoiled`). Units validate first and queue
   * their writes to the end, so a failure after writing is rare. A savepoint cost SQLite a copy of
   * every page the unit touched (about a fifth of a payment's statement time, measured), and
   * PostgreSQL a round trip per unit.
   */
  private async runUnits(connection: SqlConnection, batch: readonly Unit[], runs: Tx[]): Promise<Ran> {
    const outcomes: Outcome[] = []
    const memo = new Map<string, unknown>()
    await connection.exec(this.options.beginStatement)
    for (const unit of batch) {
      unit.attempts += 1
      const tx = new Tx(connection, this.options.dialect, this.options.builder, memo)
      runs.push(tx)
      const changesBefore = connection.changesBegun()
      try {
        const value = await unit.work(tx)
        await tx.flush()
        outcomes.push({ unit, ok: true, value, hooks: tx.takeHooks() })
      } catch (error) {
        if (connection.changesBegun() !== changesBefore) return { outcomes, spoiled: { unit, error } }
        // What the failed unit remembered may describe writes that never ran.
        memo.clear()
        tx.discarded(this.options.onHookError)
        outcomes.push({ unit, ok: false, value: error, hooks: [] })
      }
    }
    return { outcomes, spoiled: undefined }
  }

  /** Tells every run of a batch that did not commit; a run told already (it failed) hears nothing more. */
  private discard(runs: readonly Tx[]): void {
    for (const tx of runs) tx.discarded(this.options.onHookError)
  }

  /** A unit that failed: tried again in a later batch if the failure was a lock conflict, else its caller hears it. */
  private settleFailed(unit: Unit, error: unknown): void {
    if (isTransient(error) && unit.attempts < this.attemptsMax) this.queue.push(unit)
    else unit.reject(error)
  }

  /** After a failed batch: roll back if the connection still answers, else drop it and reconnect next time. */
  private async abandon(connection: SqlConnection | undefined): Promise<void> {
    if (connection === undefined) return
    try {
      await connection.exec('ROLLBACK')
    } catch {
      this.connection = undefined
      await connection.close().catch(() => undefined)
    }
  }

  /** Waits for queued units to commit, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true
    for (let waited = 0; (this.flushing || this.queue.length > 0 || this.scheduled) && waited < 10_000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    for (const unit of this.queue.splice(0)) unit.reject(new WriterUnavailableError('the writer closed before this unit ran'))
    await this.connection?.close()
    this.connection = undefined
  }
}
