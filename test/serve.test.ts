// `npm start` as a newcomer runs it: a fresh data folder, demo on, every counterpart simulated in
// process. What it prints must work: the checkout link offers every channel and a card pays there,
// the banks and wallets answer, the printed `kassa pos sale` line is approved; SIGTERM stops it.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

const directory = mkdtempSync(join(tmpdir(), 'kassa-serve-'))
const env = { ...process.env, KASSA_DATA_DIR: join(directory, 'data'), DATABASE_URL: '', LOG_LEVEL: 'error', PORT: '0', POS_PORT: '0', KASSA_DEMO: '1', SCHEME_ADDRESS: '', KASSA_PUBLIC_URL: '' }

describe('npm start on a fresh machine', () => {
  let server: ChildProcess
  let printed = ''
  const line = (label: string): string => {
    const found = printed.split('\n').find((text) => text.trimStart().startsWith(label))
    assert.ok(found, `the start prints "${label}"`)
    return found
  }

  before(async () => {
    server = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    server.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()))
    server.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()))
    const deadline = Date.now() + 30_000
    while (!/POS terminal host on/.test(printed)) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`no start within 30 s:\n${printed}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
  after(async () => {
    if (server.exitCode === null) {
      server.kill('SIGKILL')
      await new Promise((resolve) => server.once('exit', resolve))
    }
    rmSync(directory, { recursive: true, force: true })
  })

  it('prints a checkout link whose page offers every channel, and a card pays there', async () => {
    const checkout = new URL(line('hosted checkout').split(/\s+/).at(-1) ?? '')
    const paymentId = checkout.pathname.split('/').at(-1) ?? ''
    const token = checkout.searchParams.get('t') ?? ''
    const page = await fetch(checkout)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /checkout\.js/)
    const api = (path: string, body?: unknown) =>
      fetch(`${checkout.origin}/pay/${paymentId}/api${path}?t=${token}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `serve-${path}` }, body: JSON.stringify(body) })
    const state = (await (await api('/state')).json()) as { methods: { channels: { id: string }[] }; wallet_balance: number }
    const channels = state.methods.channels.map((channel) => channel.id)
    for (const id of ['card', 'wallet_balance', 'netbank.icbc-sim', 'netbank.cmb-sim', 'quickpay.icbc-sim', 'wallet.alipay-like', 'wallet.wechat-like']) assert.ok(channels.includes(id), `${id} in ${channels.join()}`)
    assert.equal(state.wallet_balance, 100_000)
    const card = (await (await api('/cards', { number: '6220010000000018', exp_month: 12, exp_year: 2030 })).json()) as { id: string }
    const paid = (await (await api('/confirm', { payment_method: { type: 'card', card: card.id } })).json()) as { status: string; channel: string }
    assert.equal(paid.status, 'succeeded', JSON.stringify(paid))
    assert.equal(paid.channel, 'card')
  })

  it('prints the simulated banks and wallets, and they answer', async () => {
    for (const label of ['bank icbc-sim', 'bank cmb-sim', 'wallet alipay-like', 'wallet wechat-like']) {
      const url = line(label).match(/http:\/\/127\.0\.0\.1:[0-9]+/)?.[0]
      assert.ok(url, label)
      const answer = await fetch(`${url}/pay/unknown`)
      assert.equal(answer.status, 404, `${label} serves its pay pages`)
    }
  })

  it("prints a POS sale line that the terminal host approves", () => {
    const command = line('POS sale, approved').replace(/^\s*POS sale, approved\s+npx kassa /, '').split(/\s+/)
    const sale = spawnSync(process.execPath, ['dist/src/cli/main.js', ...command], { env, encoding: 'utf8', timeout: 30_000 })
    assert.equal(sale.status, 0, sale.stdout + sale.stderr)
    assert.match(sale.stdout, /\b00\b/)
  })

  it('stops on SIGTERM with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)))
    server.kill('SIGTERM')
    assert.equal(await exited, 0)
  })
})
