import type { Compilable, Kysely } from 'kysely'
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
  return new PreparedQuery<R>(compiled.sql, names)
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
