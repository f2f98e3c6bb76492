import { sql, type Kysely } from 'kysely'
import type { DialectName } from '../dialect.js'
import { appendOnlyTables } from './0001_core.js'

/**
 * PostgreSQL row triggers do not see TRUNCATE, so a journal could still be emptied in one
 * statement; a statement trigger refuses it. SQLite has no TRUNCATE (DELETE is already refused).
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect !== 'postgres') return
  for (const table of appendOnlyTables) {
    await sql.raw(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION kassa_append_only()`).execute(db)
  }
}
