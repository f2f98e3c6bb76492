import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Sqlite from 'better-sqlite3'

const cli = join(process.cwd(), 'dist/src/cli/main.js')
const directory = mkdtempSync(join(tmpdir(), 'kassa-cli-'))
const env = { ...process.env, KASSA_DATA_DIR: join(directory, 'data'), DATABASE_URL: '', LOG_LEVEL: 'error' }

function kassa(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('kassa CLI', () => {
  after(() => rmSync(directory, { recursive: true, force: true }))

  it('lists its commands', () => {
    const help = kassa('--help')
    assert.equal(help.code, 0)
    for (const command of ['serve', 'migrate', 'demo', 'merchant', 'shopper', 'channel', 'ledger', 'qr', 'iso8583', 'pos', 'sim']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`))
  })

  it('migrates, creates a merchant with a key shown once, and stores only its hash', () => {
    assert.equal(kassa('migrate').code, 0)
    const created = kassa('merchant', 'create', '--name', 'CLI Shop', '--kind', 'self_operated', '--fee-bps', '45')
    assert.equal(created.code, 0, created.stderr)
    const output = JSON.parse(created.stdout) as { merchant: { id: string; fee_basis_points: number }; secret_key: string }
    assert.match(output.secret_key, /^sk_/)
    assert.equal(output.merchant.fee_basis_points, 45)
    const database = new Sqlite(join(directory, 'data', 'kassa.db'), { readonly: true })
    try {
      const dump = JSON.stringify(database.prepare('select * from api_keys').all(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
      assert.ok(!dump.includes(output.secret_key), 'the key is not stored in clear')
      assert.ok(!dump.includes(output.secret_key.slice(3, 20)))
    } finally {
      database.close()
    }
    assert.match(kassa('merchant', 'list').stdout, /CLI Shop/)
  })

  it('tops up a shopper and verifies the ledger; a tampered balance fails verify naming the account', () => {
    const shopper = JSON.parse(kassa('shopper', 'create', '--name', 'Ann').stdout) as { id: string }
    const topUp = kassa('shopper', 'top-up', shopper.id, '--amount', '12345', '--currency', 'CNY')
    assert.equal(topUp.code, 0, topUp.stderr)
    const ok = kassa('ledger', 'verify')
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /ledger ok/)
    const database = new Sqlite(join(directory, 'data', 'kassa.db'))
    database.prepare('update ledger_accounts set credits_posted = credits_posted + 1 where id = ?').run(`acc_shopper_balance_${shopper.id}_CNY`)
    database.close()
    const broken = kassa('ledger', 'verify')
    assert.equal(broken.code, 1)
    assert.match(broken.stderr, new RegExp(`acc_shopper_balance_${shopper.id}_CNY`))
    assert.equal(broken.stderr.trim().split('\n').length, 1, 'one line')
    const repaired = new Sqlite(join(directory, 'data', 'kassa.db'))
    repaired.prepare('update ledger_accounts set credits_posted = credits_posted - 1 where id = ?').run(`acc_shopper_balance_${shopper.id}_CNY`)
    repaired.close()
  })

  it('lists the channels, drains one (audited, kept), lists who is affected, and refuses bad settings in a readable line', () => {
    const listed = kassa('channel', 'list')
    assert.equal(listed.code, 0, listed.stderr)
    assert.match(listed.stdout, /^wallet_balance\tenabled\t/m)
    const drained = kassa('channel', 'set', 'wallet_balance', '--state', 'draining', '--max', '500000')
    assert.equal(drained.code, 0, drained.stderr)
    assert.match(kassa('channel', 'list').stdout, /^wallet_balance\tdraining\tall\t.*\t500000\t/m)
    const affected = kassa('channel', 'affected', 'wallet_balance')
    assert.equal(affected.code, 0, affected.stderr)
    const database = new Sqlite(join(directory, 'data', 'kassa.db'), { readonly: true })
    try {
      const audit = database.prepare("select actor_type, action from audit_log where target_id = 'wallet_balance'").all() as { actor_type: string; action: string }[]
      assert.deepEqual(audit, [{ actor_type: 'cli', action: 'channel.updated' }])
    } finally {
      database.close()
    }
    assert.equal(kassa('channel', 'set', 'wallet_balance', '--state', 'enabled', '--max', 'none', '--merchants', 'all', '--fee', 'merchant').code, 0)
    assert.match(kassa('channel', 'list').stdout, /^wallet_balance\tenabled\tall\t[^\t]+\t-\t-\t[0-9]+\tmerchant$/m, 'none, all and merchant clear the limits')
    for (const args of [
      ['channel', 'set', 'wallet_balance', '--state', 'off'],
      ['channel', 'set', 'wallet_balance', '--min', '1.5'],
      ['channel', 'set', 'no.such-channel', '--state', 'enabled'],
      ['channel', 'affected', 'no.such-channel'],
    ]) {
      const result = kassa(...args)
      assert.notEqual(result.code, 0, args.join(' '))
      assert.ok(result.stderr.trim().length > 0, args.join(' '))
      assert.doesNotMatch(result.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace`)
    }
  })

  it('answers bad input with one readable line and a non-zero exit', () => {
    for (const args of [
      ['shopper', 'top-up', 'shp_01m84x920yn9vfyb6sdbkg4a9h', '--amount', '1.50'],
      ['shopper', 'top-up', 'shp_01m84x920yn9vfyb6sdbkg4a9h', '--amount', '100', '--currency', 'XXX'],
      ['shopper', 'top-up', 'shp_01m84x920yn9vfyb6sdbkg4a9h', '--amount', '100'],
      ['merchant', 'create', '--name', 'x', '--kind', 'pirate'],
      ['no-such-command'],
    ]) {
      const result = kassa(...args)
      assert.notEqual(result.code, 0, args.join(' '))
      assert.ok(result.stderr.trim().length > 0, args.join(' '))
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
    }
  })

  it('refuses blank and overlong names and references as the API does, naming the option, and creates nothing', () => {
    assert.equal(kassa('migrate').code, 0)
    const database = new Sqlite(join(directory, 'data', 'kassa.db'), { readonly: true })
    const count = (table: string) => (database.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n
    const before = { merchants: count('merchants'), operators: count('operators'), shoppers: count('shoppers') }
    for (const [args, option, words] of [
      [['merchant', 'create', '--name', '   '], '--name', /must not be empty or blank/],
      [['merchant', 'create', '--name', 'x'.repeat(101)], '--name', /at most 100 characters \(got 101\)/],
      [['operator', 'create', '--name', ''], '--name', /must not be empty or blank/],
      [['shopper', 'create', '--external-reference', ' '], '--external-reference', /must not be empty or blank/],
      [['shopper', 'create', '--name', 'y'.repeat(101)], '--name', /at most 100 characters/],
      [['shopper', 'top-up', 'shp_01m84x920yn9vfyb6sdbkg4a9h', '--amount', '100', '--reference', 'r'.repeat(101)], '--reference', /at most 100 characters/],
      [['merchant', 'create', '--name', 'x', '--fee-bps', ' 60'], '--fee-bps', /an integer from 0 to 10000/],
      [['cod', 'report', '--date', '2026-02-31'], '--date', /a day that exists/],
    ] as const) {
      const result = kassa(...args)
      assert.equal(result.code, 1, args.join(' '))
      const [line] = result.stderr.split('\n')
      assert.ok(line?.includes(option), `${args.join(' ')}: ${result.stderr}`)
      assert.match(line ?? '', words)
    }
    assert.deepEqual({ merchants: count('merchants'), operators: count('operators'), shoppers: count('shoppers') }, before)
    database.close()
  })

  it('tells the demo story end to end and ends with a verified ledger', () => {
    const demo = kassa('demo')
    assert.equal(demo.code, 0, demo.stdout + demo.stderr)
    assert.match(demo.stdout, /signatures verified/)
    assert.match(demo.stdout, /ledger verify: ok/)
    assert.match(demo.stdout, /alice pays at the bank; its signed notification books it: succeeded, alice's account CNY 268\.00 lighter/)
    assert.match(demo.stdout, /refund of CNY 18\.00 through the wallet: succeeded, wang has CNY 18\.00 back/)
    assert.match(demo.stdout, /drains wallet\.wechat-like: offered to new payments no more/)
    assert.match(demo.stdout, /quick pay: alice's account bound with an SMS code \(pm_[0-9a-z]+, 622202\*+0017\); .* the fresh code pays it: succeeded/)
  })
})
