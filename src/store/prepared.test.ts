import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DummyDriver, Kysely, sql, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely'
import { param, prepare } from './prepared.js'
import type { Database } from './schema.js'

// Builds SQL only: nothing here reaches a database.
const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new SqliteIntrospector(kysely),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
})

const sorted = (tables: ReadonlySet<string> | undefined) => (tables === undefined ? undefined : [...tables].sort())

describe('prepared queries know the tables they touch', () => {
  it('a read names every table it reads, joins and subqueries included', () => {
    const read = prepare(db, (db) =>
      db
        .selectFrom('payments as p')
        .innerJoin('shoppers', 'shoppers.id', 'p.shopper_id')
        .select('p.id')
        .where('p.id', '=', param('id'))
        .where((eb) => eb.exists(eb.selectFrom('events').select('events.id').whereRef('events.object_id', '=', 'p.id'))),
    )
    assert.deepEqual(sorted(read.tablesRead), ['events', 'payments', 'shoppers'])
    assert.equal(read.tablesChanged, undefined)
  })

  it('a write changes only its target, whatever it reads to do so', () => {
    const insertSelect = prepare(db, (db) =>
      db
        .insertInto('webhook_deliveries')
        .columns(['id', 'endpoint_id'])
        .expression((eb) =>
          eb
            .selectFrom('webhook_endpoints')
            .select([sql<string>`cast(${param('prefix')} as text) || webhook_endpoints.id`.as('id'), 'id as endpoint_id'])
            .where('merchant_id', '=', param('merchant_id')),
        ),
    )
    assert.deepEqual(sorted(insertSelect.tablesChanged), ['webhook_deliveries'])
    assert.equal(insertSelect.tablesRead, undefined, 'a write is never a plain read')
    const update = prepare(db, (db) => db.updateTable('ledger_accounts').set({ debits_posted: param('amount') }).where('id', '=', param('id')))
    assert.deepEqual(sorted(update.tablesChanged), ['ledger_accounts'])
    const remove = prepare(db, (db) => db.deleteFrom('webhook_endpoints').where('id', '=', param('id')))
    assert.deepEqual(sorted(remove.tablesChanged), ['webhook_endpoints'])
  })

  it('raw SQL that may name more tables counts as touching any', () => {
    const hiddenRead = prepare(db, (db) =>
      db.selectFrom('payments').select(sql<number>`(select count(*) from events)`.as('n')).where('id', '=', param('id')),
    )
    assert.equal(hiddenRead.tablesRead, undefined)
    const castOnly = prepare(db, (db) => db.selectFrom('payments').select(sql<string>`cast(${param('x')} as text)`.as('x')))
    assert.deepEqual(sorted(castOnly.tablesRead), ['payments'])
  })
})
