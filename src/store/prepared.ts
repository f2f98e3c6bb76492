import type { Compilable, Kysely, OperationNode, TableNode } from 'kysely'
import { assert, AssertionError } from '../domain/assert.js'
import type { DialectCapabilities } from './dialect.js'
import type { Database } from './schema.js'

/**
 * A query built once by Kysely for this dialect and then run many times with new parameters.
 * Building and compiling a Kysely query costs tens of microseconds; the payment path runs a dozen
 * statements per payment, so it builds them at start-up and binds values by name at run time.
 *
 * @example
 * const byId = prepare(db, (db) => db.selectFrom('payments').selectAll().where('id', '=', param('id')))
 * const rows = await tx.run(byId, { id })
 */
export class PreparedQuery<R> {
  constructor(
    readonly sqlText: string,
    readonly parameterNames: readonly string[],
    /**
     * The tables a plain SELECT reads, so a read of none of the tables a unit's queued writes
     * change need not run them first (Tx.run). Undefined for a write, or when raw SQL hides them.
     */
    readonly tablesRead?: ReadonlySet<string>,
    /** The tables a write changes; undefined for a read, or when raw SQL may change more. */
    readonly tablesChanged?: ReadonlySet<string>,
  ) {}

  bind(values: Readonly<Record<string, unknown>>): unknown[] {
    // A plain loop, and the message built only on failure: a payment binds some 150 parameters.
    const names = this.parameterNames
    const bound = new Array<unknown>(names.length)
    for (let index = 0; index < names.length; index++) {
      const value = values[names[index] as string]
      if (value === undefined) throw new AssertionError(`prepared query parameter "${names[index]}" is missing`)
      bound[index] = value
    }
    return bound
  }

  /** Only a type witness for the rows; never read. */
  declare readonly __rows?: R
}

const markerPrefix = '\u0001kassa-param:'

/** A named placeholder for `prepare`; typed as the column it stands for. */
export function param<T = never>(name: string): T {
  return `${markerPrefix}${name}` as unknown as T
}

/**
 * Placeholders named as the columns they fill, for a prepared insert whose values are named so.
 * @example db.insertInto('ledger_postings').values({ ...params('transfer_id', 'leg'), created_at: param('now') })
 */
export function params<const C extends string>(...columns: C[]): Record<C, never> {
  return Object.fromEntries(columns.map((column) => [column, param(column)])) as Record<C, never>
}

export function prepare<R>(db: Kysely<Database>, build: (db: Kysely<Database>) => Compilable<R>): PreparedQuery<R> {
  const compiled = build(db).compile()
  const names = compiled.parameters.map((value, index) => {
    assert(
      typeof value === 'string' && value.startsWith(markerPrefix),
      `prepared query parameter ${index} is a literal, not param(): ${compiled.sql}`,
    )
    return value.slice(markerPrefix.length)
  })
  const touched = tablesTouched(compiled.query)
  return new PreparedQuery<R>(compiled.sql, names, touched.read, touched.changed)
}

type TablesTouched = {
  /** The tables a plain SELECT reads, subqueries included; undefined for a write, or a read whose raw SQL may name more. */
  read: ReadonlySet<string> | undefined
  /** The tables a write changes; undefined for a read, or a write whose raw SQL may change more. */
  changed: ReadonlySet<string> | undefined
}

const writeNodes = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode'])

/** Visits every node under `root`; `visit` answers which of a node's values to walk into (all, when it answers nothing). */
function walk(root: unknown, visit: (node: Record<string, unknown>) => unknown[] | undefined): void {
  const pending: unknown[] = [root]
  while (pending.length > 0) {
    const node = pending.pop()
    if (node === null || typeof node !== 'object') continue
    if (Array.isArray(node)) pending.push(...node)
    else pending.push(...(visit(node as Record<string, unknown>) ?? Object.values(node)))
  }
}

/** Table names under `root`. */
function tableNames(root: unknown): Set<string> {
  const names = new Set<string>()
  walk(root, (node) => {
    if (node.kind === 'TableNode') {
      names.add((node as unknown as TableNode).table.identifier.name)
      return []
    }
    // A column's table (`p.id`) is an alias or a table the statement names in FROM or JOIN anyway.
    if (node.kind === 'ReferenceNode') return [node.column]
    return undefined
  })
  return names
}

/**
 * What a statement reads or changes, from Kysely's operation tree. Raw SQL fragments (`sql` in a
 * builder, here casts of parameters) are text Kysely cannot see into: a read whose fragments say
 * FROM or JOIN, or a write whose fragments say INSERT, UPDATE or DELETE, is counted as touching
 * anything. Triggers here only refuse (append-only tables), so they change nothing further.
 */
export function tablesTouched(root: OperationNode): TablesTouched {
  const changed = new Set<string>()
  const raw: string[] = []
  walk(root, (node) => {
    if (node.kind === 'RawNode') raw.push(...(node.sqlFragments as string[]))
    if (typeof node.kind === 'string' && writeNodes.has(node.kind)) {
      for (const name of tableNames(node.into ?? node.table ?? node.from)) changed.add(name)
    }
    return undefined
  })
  const rawText = raw.join(' ')
  if (root.kind === 'SelectQueryNode') return { read: /\b(from|join)\b/i.test(rawText) ? undefined : tableNames(root), changed: undefined }
  return { read: undefined, changed: /\b(insert|update|delete|merge)\b/i.test(rawText) ? undefined : changed }
}

/**
 * Builds the prepared queries of one module lazily, once per database handle.
 * @example
 * const queries = preparedQueries((db, dialect) => ({ byId: prepare(db, …) }))
 * await tx.run(queries(tx).byId, { id })
 */
export function preparedQueries<Q>(
  build: (db: Kysely<Database>, dialect: DialectCapabilities) => Q,
): (handle: { builder: Kysely<Database>; dialect: DialectCapabilities }) => Q {
  const cache = new WeakMap<Kysely<Database>, Q>()
  return ({ builder, dialect }) => {
    let queries = cache.get(builder)
    if (queries === undefined) {
      queries = build(builder, dialect)
      cache.set(builder, queries)
    }
    return queries
  }
}
