// `npm test`: runs every *.test.js under dist/ (built by `npm run build`) with node's test runner.
// PostgreSQL suites run when the server answers; KASSA_REQUIRE_PG=1 (set by .ci/run) makes a
// missing server a failure instead of a one-line skip.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'

const url = process.env.KASSA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const requirePg = process.env.KASSA_REQUIRE_PG === '1'

async function postgresAnswers() {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const problem = await postgresAnswers()
if (problem !== undefined) {
  if (requirePg) {
    console.error(`PostgreSQL is required (KASSA_REQUIRE_PG=1) but ${url} does not answer: ${problem}`)
    process.exit(1)
  }
  console.log(`PostgreSQL at ${url} does not answer (${problem}): skipping the PostgreSQL suites; SQLite suites run.`)
}

// The browser suites need Debian's chromium; the project installs it itself when it can.
const runsBrowserTests = process.argv.length <= 2 || process.argv.slice(2).some((part) => 'dist/test/browser/'.includes(part) || part.includes('browser'))
if (runsBrowserTests && !existsSync('/usr/bin/chromium')) {
  const installed = spawnSync('bash', ['scripts/ensure-chromium.sh'], { stdio: 'inherit' })
  if (installed.status !== 0) console.log('chromium could not be installed: the browser suites will say they skip (or fail under KASSA_REQUIRE_BROWSER=1).')
}

const only = process.argv.slice(2)
const files = readdirSync('dist', { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.test.js'))
  .map((file) => join('dist', file))
  .filter((file) => only.length === 0 || only.some((part) => file.includes(part)))
  .sort()

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, KASSA_TEST_PG: problem === undefined ? '1' : '0', KASSA_TEST_DATABASE_URL: url },
})
process.exit(result.status ?? 1)
