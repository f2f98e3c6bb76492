import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Command } from 'commander'
import { registerPosCommands } from '../../src/cli/pos.js'
import { testCards, testTokens } from '../../sim/scheme/index.js'
import { DIALECTS } from '../helpers/dialects.js'
import { assertLedgerSound, seedMerchant } from '../helpers/factories.js'
import { issuerBalance, receivable, startPosHarness, type PosHarness } from './pos-helpers.js'

type Run = { readonly out: string; readonly err: string; readonly code: number }

for (const dialect of DIALECTS) {
  describe(`${dialect}: kassa pos (terminal simulator)`, () => {
    let h: PosHarness
    let terminal: { terminal_id: string; mac_key: string; card_acceptor_id: string; merchant_id: string }
    let stan = 500_000

    before(async () => {
      h = await startPosHarness(dialect)
    })
    after(async () => {
      await assertLedgerSound(h.kassa)
      await h.close()
    })

    /** Runs `kassa <args>` in-process against the test's Kassa and host. */
    const kassa = async (...args: string[]): Promise<Run> => {
      const recorded = { out: '', err: '', code: 0 }
      const program = new Command('kassa').exitOverride()
      program.configureOutput({ writeOut: (text) => (recorded.out += text), writeErr: (text) => (recorded.err += text) })
      registerPosCommands(program, {
        io: { writeOut: (text) => (recorded.out += text), writeErr: (text) => (recorded.err += text), setExitCode: (code) => (recorded.code = code) },
        withKassa: (work) => work(h.kassa),
      })
      await program.parseAsync(['node', 'kassa', ...args])
      return recorded
    }
    const asTerminal = (...args: string[]) => ['--terminal', terminal.terminal_id, '--key', terminal.mac_key, '--port', String(h.host.port), '--stan', String(stan++), ...args]

    it('registers a terminal and prints its MAC key once', async () => {
      const run = await kassa('pos', 'terminal', 'create', '--merchant', h.merchant.id)
      assert.equal(run.code, 0, run.err)
      terminal = JSON.parse(run.out) as typeof terminal
      assert.match(terminal.terminal_id, /^K[0-9A-Z]{7}$/)
      assert.match(terminal.mac_key, /^[0-9A-F]{64}$/)
      assert.equal(terminal.merchant_id, h.merchant.id)
      const named = JSON.parse((await kassa('pos', 'terminal', 'create', '--merchant', h.merchant.id, '--terminal', 'SHOP0001')).out) as { terminal_id: string }
      assert.equal(named.terminal_id, 'SHOP0001')
      await assert.rejects(kassa('pos', 'terminal', 'create', '--merchant', h.merchant.id, '--terminal', 'SHOP0001'), /already registered/)
      await assert.rejects(kassa('pos', 'terminal', 'create', '--merchant', 'mch_nobody'), /No such merchant/)
    })

    it('sells, refunds and reverses from the command line, one line per answer', async () => {
      const start = { issuer: issuerBalance(h.scheme, testCards.approve.pan), receivable: await receivable(h.kassa) }
      const sold = await kassa('pos', 'sale', ...asTerminal('--amount', '2500', '--card', testCards.approve.pan, '--acceptor', terminal.card_acceptor_id))
      assert.equal(sold.code, 0, sold.err)
      assert.match(sold.out, /^00 Approved {2}auth [0-9A-Za-z]{6} {2}stan [0-9]{6} {2}rrn ([0-9]{12})\n$/)
      const rrn = /rrn ([0-9]{12})/.exec(sold.out)?.[1] ?? ''

      const refunded = await kassa('pos', 'refund', ...asTerminal('--amount', '1000', '--rrn', rrn))
      assert.equal(refunded.code, 0, refunded.err)
      assert.match(refunded.out, /^00 Approved/)

      const saleStan = stan
      const second = await kassa('pos', 'sale', ...asTerminal('--amount', '700', '--card', testCards.approve.pan, '--pin', '1234'))
      assert.match(second.out, /^00 /)
      const reversed = await kassa('pos', 'reversal', ...asTerminal('--original-stan', String(saleStan), '--amount', '700'))
      assert.equal(reversed.code, 0, reversed.err)
      assert.match(reversed.out, /^00 Approved/)
      assert.equal(issuerBalance(h.scheme, testCards.approve.pan), start.issuer - 1_500n)
      assert.equal((await receivable(h.kassa)) - start.receivable, 1_500n)

      const echo = await kassa('pos', 'echo', ...asTerminal())
      assert.match(echo.out, /^00 Approved/)
    })

    it('sells with a tapped token', async () => {
      const { token, keyHex } = testTokens.approve
      const tapped = await kassa('pos', 'sale', ...asTerminal('--amount', '880', '--token', token, '--token-key', keyHex, '--atc', '40'))
      assert.equal(tapped.code, 0, tapped.err)
      assert.match(tapped.out, /^00 Approved/)
      const replayed = await kassa('pos', 'sale', ...asTerminal('--amount', '880', '--token', token, '--token-key', keyHex, '--atc', '40'))
      assert.equal(replayed.code, 1)
      assert.match(replayed.out, /^63 Security violation/)
    })

    it('exits 1 on a decline or refusal and 2 when there is no answer', async () => {
      const declined = await kassa('pos', 'sale', ...asTerminal('--amount', '6000', '--card', testCards.insufficient_funds.pan))
      assert.equal(declined.code, 1)
      assert.match(declined.out, /^51 Insufficient funds {2}auth - {2}stan [0-9]{6} {2}rrn [0-9]{12}\n$/)

      const wrongKey = await kassa('pos', 'sale', '--terminal', terminal.terminal_id, '--key', 'AB'.repeat(32), '--port', String(h.host.port), '--amount', '100', '--card', testCards.approve.pan)
      assert.equal(wrongKey.code, 1)
      assert.match(wrongKey.out, /^63 Security violation .*not MACed/)

      const closedPort = await freePort()
      const nobody = await kassa('pos', 'sale', ...asTerminal('--amount', '100', '--card', testCards.approve.pan, '--port', String(closedPort)))
      assert.equal(nobody.code, 2)
      assert.match(nobody.err, /^no answer: cannot connect/)
      await assert.rejects(kassa('pos', 'sale', ...asTerminal('--amount', '100', '--card', '6220010000000019')), /Luhn/)
    })

    it('drives several terminals for about two seconds and every approved sale is in the ledger', async (t) => {
      const shop = await seedMerchant(h.kassa, 'Load Shop')
      const before = await receivable(h.kassa)
      const run = await kassa('pos', 'load', '--terminals', '4', '--duration', '2s', '--merchant', shop.id, '--port', String(h.host.port))
      assert.equal(run.code, 0, run.err)
      t.diagnostic(run.out.trim())
      const match = /^4 terminals, ([0-9.]+) s: ([0-9]+) sales, ([0-9.]+) sales\/s, p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, codes (.*), approved ([0-9]+) for ([0-9]+) minor units, unanswered 0\n$/.exec(run.out)
      assert.ok(match, run.out)
      const [, seconds, sales, perSecond, , , codes, approved, amount] = match
      assert.ok(Number(seconds) >= 2 && Number(seconds) < 10, `ran ${seconds} s`)
      assert.ok(Number(sales) > 0 && Number(perSecond) > 0)
      assert.equal(codes, `00=${sales}`, 'every sale approved')
      assert.equal(approved, sales)
      const rows = await h.kassa.store.db.selectFrom('card_transactions').select(['amount', 'status']).where('merchant_id', '=', shop.id).execute()
      assert.equal(rows.length, Number(sales), 'one card transaction a sale')
      assert.ok(rows.every((row) => row.status === 'approved'))
      assert.equal(rows.reduce((sum, row) => sum + row.amount, 0n), BigInt(amount ?? '0'))
      assert.equal((await receivable(h.kassa)) - before, BigInt(amount ?? '0'), 'the scheme owes Kassa exactly the approved sales')
      const terminals = await h.kassa.store.db.selectFrom('terminals').select('id').where('merchant_id', '=', shop.id).execute()
      assert.equal(terminals.length, 4)
    })
  })
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}
