/**
 * `kassa late-funds` as an operator runs it, as a real process on the database of a Kassa serving
 * beside it: the late money a bank refused to return is listed, and `retry` returns it, from the
 * CLI itself when KASSA_PROVIDERS_FILE names the bank, or through the serving Kassa's worker when not.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openCheckoutWorld, type CheckoutWorld } from '../helpers/counterparts.js'
import { accountBalance, assertLedgerSound, seedMerchant, seedShopper } from '../helpers/factories.js'
import { until } from '../helpers/until.js'

const cli = join(process.cwd(), 'dist/src/cli/main.js')

type Run = { code: number | null; stdout: string; stderr: string }

/** Runs the CLI without blocking this process: the Kassa here must go on answering the bank meanwhile. */
function kassaCli(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, LOG_LEVEL: 'error', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('kassa late-funds: listing late money a bank refused to return, and returning it', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kassa-late-funds-'))
  let world: CheckoutWorld
  let shop: Awaited<ReturnType<typeof seedMerchant>>
  let shopper: string
  let env: Record<string, string>
  let order = 0

  /** A netbank payment canceled, then paid at the bank all the same; the bank refuses the refund of it. */
  const refusedLateRefund = async (amount: number) => {
    const icbc = world.bank('icbc-sim')
    icbc.setFaults([{ action: 'pay_after_close' }, { action: 'refund_refuse' }])
    order += 1
    const created = await shop.api.post('/v1/payments', { amount, currency: 'CNY', order_reference: `late-${order}`, shopper, confirm: true, payment_method: { type: 'netbank', bank: 'icbc-sim' } }, { 'idempotency-key': `late-${order}` })
    assert.equal(created.statusCode, 200, created.body)
    const payment = created.json().id as string
    const attempt = await world.kassa.counterparts.latestAttempt(payment)
    assert.ok(attempt)
    assert.equal((await shop.api.post(`/v1/payments/${payment}/cancel`, {}, { 'idempotency-key': `cancel-${payment}` })).json().status, 'canceled')
    assert.equal(icbc.pay(attempt.provider_order_id ?? '', 'alice'), 'paid')
    const refused = await until('the late refund refused', async () => {
      const [row] = await world.kassa.store.db.selectFrom('refunds').selectAll().where('payment_id', '=', payment).where('status', '=', 'failed').execute()
      return row
    })
    icbc.setFaults([])
    return { payment, refused: refused.id }
  }
  const owed = async () => {
    const account = await accountBalance(world.kassa, 'acc_unapplied_funds_netbank.icbc-sim_CNY')
    return (account?.credits_posted ?? 0n) - (account?.debits_posted ?? 0n)
  }

  before(async () => {
    world = await openCheckoutWorld('sqlite', { worker: false, queryAfterMs: 200 })
    shop = await seedMerchant(world.kassa, 'Late Shop', 60)
    shopper = await seedShopper(world.kassa, 0n)
    const path = world.kassa.storeOptions.kind === 'sqlite' ? world.kassa.storeOptions.path : ''
    env = { DATABASE_URL: `sqlite:${path}`, KASSA_DATA_DIR: join(directory, 'cli-data'), KASSA_DEMO: '0' }
  })
  after(async () => {
    await world?.dispose()
    rmSync(directory, { recursive: true, force: true })
  })

  it('lists it, and retry with KASSA_PROVIDERS_FILE returns it from the CLI: once, audited, the ledger sound', async () => {
    const icbc = world.bank('icbc-sim')
    const { refused } = await refusedLateRefund(3_210)
    const aliceBefore = icbc.account('alice')?.balance_minor ?? 0n
    const owedBefore = await owed()
    const listed = await kassaCli(env, 'late-funds')
    assert.equal(listed.code, 0, listed.stderr)
    const line = listed.stdout.split('\n').find((row) => row.startsWith(refused))
    assert.ok(line, listed.stdout)
    assert.match(line, /\tnetbank\.icbc-sim\t3210 CNY\trefund_exceeds_paid\t/)

    const bankMerchant = icbc.merchants[0]
    assert.ok(bankMerchant)
    const providersFile = join(directory, 'providers.json')
    writeFileSync(providersFile, JSON.stringify([{ kind: 'bank', id: 'icbc-sim', display_name: 'ICBC', base_url: icbc.url, merchant_id: bankMerchant.merchant_id, key_env: 'TEST_ICBC_KEY', channels: ['netbank'] }]))
    const retried = await kassaCli({ ...env, KASSA_PROVIDERS_FILE: providersFile, TEST_ICBC_KEY: bankMerchant.key }, 'late-funds', 'retry', refused)
    assert.equal(retried.code, 0, retried.stderr)
    const refund = JSON.parse(retried.stdout) as { id: string; status: string; amount: number }
    assert.equal(refund.status, 'succeeded', retried.stdout)
    assert.equal(refund.amount, 3_210)
    assert.equal(icbc.account('alice')?.balance_minor, aliceBefore + 3_210n, 'the payer has the money back')
    assert.equal(await owed(), owedBefore - 3_210n, 'no longer held as owed')

    const again = await kassaCli(env, 'late-funds', 'retry', refused)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^kassa: .*already being returned, or was returned/)
    assert.equal(again.stderr.trim().split('\n').length, 1, 'one line')
    assert.ok(!(await kassaCli(env, 'late-funds')).stdout.includes(refused), 'no longer listed')
    const audit = await world.kassa.store.db.selectFrom('audit_log').selectAll().where('action', '=', 'late_funds.refund_retry').where('target_id', '=', refund.id).execute()
    assert.equal(audit.length, 1)
    assert.equal(audit[0]?.actor_type, 'cli')
    await assertLedgerSound(world.kassa)
  })

  it('retry without KASSA_PROVIDERS_FILE records the refund as pending, and the serving Kassa sends it', async () => {
    const icbc = world.bank('icbc-sim')
    const { refused } = await refusedLateRefund(1_234)
    const aliceBefore = icbc.account('alice')?.balance_minor ?? 0n
    const retried = await kassaCli(env, 'late-funds', 'retry', refused)
    assert.equal(retried.code, 0, retried.stderr)
    const [view, note] = [retried.stdout.slice(0, retried.stdout.lastIndexOf('}') + 1), retried.stdout.slice(retried.stdout.lastIndexOf('}') + 1)]
    const refund = JSON.parse(view) as { id: string; status: string }
    assert.equal(refund.status, 'pending')
    assert.match(note, /counterpart worker sends it/)
    assert.equal(icbc.account('alice')?.balance_minor, aliceBefore, 'nothing sent yet')
    await until('the worker sent it', async () => {
      await world.kassa.counterparts.checkDue()
      const row = await world.kassa.store.db.selectFrom('refunds').select('status').where('id', '=', refund.id).executeTakeFirst()
      return row?.status === 'succeeded' ? true : undefined
    })
    assert.equal(icbc.account('alice')?.balance_minor, aliceBefore + 1_234n)
    const bad = await kassaCli(env, 'late-funds', 'retry', 'pay_123')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /is not a refund id/)
    await assertLedgerSound(world.kassa)
  })
})
