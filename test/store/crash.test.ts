// The process dies under load (SIGKILL, mid-batch) and starts again on the same database: every
// payment it acknowledged is there, a retry with the same Idempotency-Key gets the same payment or,
// for a request whose answer was lost, exactly one payment; the wallet moved once per payment; the
// ledger verifies. On SQLite and on PostgreSQL, through `npm start`'s own entry point.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import { DIALECTS, postgresUrl } from '../helpers/dialects.js'

type Started = { server: ChildProcess; url: string; printed: () => string }

/** `node dist/src/main.js` as `npm start` runs it; resolves once it serves. */
async function start(env: Record<string, string>): Promise<Started> {
  const server = spawn(process.execPath, ['dist/src/main.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let printed = ''
  server.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()))
  server.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()))
  const deadline = Date.now() + 60_000
  for (;;) {
    const url = /Kassa is serving on (http:\/\/\S+)/.exec(printed)?.[1]
    if (url !== undefined && /POS terminal host on/.test(printed)) return { server, url, printed: () => printed }
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`no start within 60 s:\n${printed}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function exited(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => server.once('exit', () => resolve()))
}

function printedValue(printed: string, label: string): string {
  const line = printed.split('\n').find((text) => text.trimStart().startsWith(label))
  assert.ok(line !== undefined, `the first start prints "${label}"`)
  return line.trim().split(/\s+/).at(-1) as string
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: a crash under load`, () => {
    const directory = mkdtempSync(join(tmpdir(), 'kassa-crash-'))
    const schema = `kassa_crash_${randomBytes(6).toString('hex')}`
    const databaseUrl = dialect === 'sqlite' ? '' : `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
    const env = { KASSA_DATA_DIR: join(directory, 'data'), DATABASE_URL: databaseUrl, LOG_LEVEL: 'error', PORT: '0', POS_PORT: '0', KASSA_DEMO: '1', SCHEME_ADDRESS: '', KASSA_PUBLIC_URL: '' }
    const running: ChildProcess[] = []

    after(async () => {
      for (const server of running) if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
      rmSync(directory, { recursive: true, force: true })
      if (dialect === 'postgres') {
        const client = new pg.Client({ connectionString: postgresUrl })
        await client.connect()
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end())
      }
    })

    it('loses no acknowledged payment, charges none twice, and the ledger verifies', async (t) => {
      if (dialect === 'postgres') {
        const client = new pg.Client({ connectionString: postgresUrl })
        await client.connect()
        await client.query(`CREATE SCHEMA ${schema}`).finally(() => client.end())
      }
      const first = await start(env)
      running.push(first.server)
      const merchantKey = printedValue(first.printed(), 'demo merchant key')
      const operatorKey = printedValue(first.printed(), 'operator key')
      const shopper = printedValue(first.printed(), 'shopper with CNY')
      const available = async (url: string): Promise<number> => {
        const response = await fetch(`${url}/console/v1/shoppers/${shopper}`, { headers: { authorization: `Bearer ${operatorKey}` } })
        assert.equal(response.status, 200)
        const body = (await response.json()) as { balances: { currency: string; available: number }[] }
        return body.balances.find((balance) => balance.currency === 'CNY')?.available ?? 0
      }
      const before = await available(first.url)

      const amount = 100
      const body = (n: number) => JSON.stringify({ amount, currency: 'CNY', order_reference: `crash-${n}`, confirm: true, payment_method: { type: 'wallet_balance', shopper } })
      const pay = (url: string, n: number) =>
        fetch(`${url}/v1/payments`, { method: 'POST', headers: { authorization: `Bearer ${merchantKey}`, 'content-type': 'application/json', 'idempotency-key': `crash-${n}` }, body: body(n) })

      // 24 at a time, until 150 are acknowledged and 20 ms more; then the process is killed with requests in flight.
      const acknowledged = new Map<number, string>()
      let sent = 0
      let killing = false
      let killed = false
      const loop = async () => {
        while (!killed && sent < 800) {
          const n = sent++
          try {
            const response = await pay(first.url, n)
            const payment = (await response.json()) as { id: string; status: string }
            assert.equal(response.status, 200, JSON.stringify(payment))
            assert.equal(payment.status, 'succeeded')
            acknowledged.set(n, payment.id)
            if (acknowledged.size >= 150 && !killing) {
              // 20 ms more of sending: a batch can answer every request in flight at once, and
              // requests the process never answers are the point.
              killing = true
              setTimeout(() => {
                killed = true
                first.server.kill('SIGKILL')
              }, 20)
            }
          } catch (error) {
            // The answer never came: the process died with this request in flight.
            if (!killed) throw error
          }
        }
      }
      await Promise.all(Array.from({ length: 24 }, loop))
      await exited(first.server)
      assert.ok(sent > acknowledged.size, 'some requests were still in flight when the process died')

      const second = await start(env)
      running.push(second.server)
      // Every request again, with its key: an acknowledged one replays its payment; a lost answer
      // gets the payment its request made before the crash, or one made now, never a second.
      const paymentOf = new Map<number, string>()
      for (let n = 0; n < sent; n++) {
        const response = await pay(second.url, n)
        const payment = (await response.json()) as { id: string; status: string }
        assert.equal(response.status, 200, `request ${n}: ${JSON.stringify(payment)}`)
        assert.equal(payment.status, 'succeeded')
        const earlier = acknowledged.get(n)
        if (earlier !== undefined) assert.equal(payment.id, earlier, `request ${n} was acknowledged as ${earlier}`)
        paymentOf.set(n, payment.id)
      }
      assert.equal(new Set(paymentOf.values()).size, sent, 'one payment per request')
      t.diagnostic(`${sent} requests sent, ${acknowledged.size} acknowledged before the process died`)

      // The merchant's list holds exactly those, one per order.
      const listed = new Map<string, string>()
      for (let cursor: string | undefined; ; ) {
        const page = await fetch(`${second.url}/v1/payments?limit=100${cursor === undefined ? '' : `&starting_after=${cursor}`}`, { headers: { authorization: `Bearer ${merchantKey}` } })
        const { data, has_more } = (await page.json()) as { data: { id: string; order_reference: string }[]; has_more: boolean }
        for (const payment of data) if (payment.order_reference.startsWith('crash-')) {
          assert.equal(listed.has(payment.order_reference), false, `${payment.order_reference} is listed once`)
          listed.set(payment.order_reference, payment.id)
        }
        if (!has_more) break
        cursor = data.at(-1)?.id
      }
      assert.deepEqual(listed, new Map([...paymentOf].map(([n, id]) => [`crash-${n}`, id])))
      assert.equal(await available(second.url), before - amount * sent, 'the wallet paid each payment once')

      second.server.kill('SIGTERM')
      await exited(second.server)
      const verify = spawnSync(process.execPath, ['dist/src/cli/main.js', 'ledger', 'verify'], { env: { ...process.env, ...env }, encoding: 'utf8' })
      assert.equal(verify.status, 0, verify.stdout + verify.stderr)
      assert.match(verify.stdout, /^ledger ok: /)
    })
  })
}
