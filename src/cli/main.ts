#!/usr/bin/env node
import { Command } from 'commander'
import { loadConfig } from '../config.js'
import { calendarDay, currencyCode, integerIn, minorUnits, textOf } from './arguments.js'
import { registerChannelCommands } from './channel.js'
import { newId } from '../domain/ids.js'
import { toJson } from '../domain/json.js'
import { formatMinor } from '../domain/money.js'
import { startDemoCounterparts } from '../demo/simulators.js'
import { runDemoStory } from '../demo/story.js'
import { createKassa, type Kassa, type KassaOptions } from '../kassa.js'
import { createLogger } from '../logger.js'
import { verifyLedger } from '../ledger/verify.js'
import { createApiKey, createMerchant, createOperator, revokeApiKey } from '../merchants/service.js'
import { serve } from '../server.js'
import { createShopper, topUp } from '../shoppers/service.js'
import { openStore, storeOptionsFromUrl } from '../store/store.js'
import { registerIso8583Commands } from './iso8583.js'
import { registerPosCommands } from './pos.js'
import { registerQrCommands } from './qr.js'

/** The CLI is thin: parse, call a service, print one line (or JSON); errors are one line and a non-zero exit. */
const actor = { type: 'cli' as const, id: 'kassa-cli' }

async function withKassa<T>(work: (kassa: Kassa) => Promise<T>, logLevel = 'warn', options: Pick<KassaOptions, 'providers'> = {}): Promise<T> {
  const config = loadConfig()
  // No command here talks to the card scheme: no link is opened, whatever SCHEME_ADDRESS says.
  const kassa = await createKassa({ config, logger: createLogger(process.env['LOG_LEVEL'] ?? logLevel), acquiring: false, ...options })
  try {
    return await work(kassa)
  } finally {
    await kassa.close()
  }
}

function print(value: unknown): void {
  // Amounts are bigints: written as JSON numbers, as the API writes them.
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(JSON.parse(toJson(value)), null, 2)}\n`)
}

export function buildProgram(): Command {
  const program = new Command('kassa')
    .description('Kassa: payments, acquiring, pay-on-delivery QR, double-entry ledger. Configured by environment variables (README.md).')
    .showHelpAfterError('(kassa --help lists the commands)')

  program.command('serve').description('serve the API and web pages (what `npm start` runs)').action(async () => serve(loadConfig()))

  program
    .command('migrate')
    .description('apply database migrations (they also run at every start)')
    .action(async () => {
      const config = loadConfig()
      const store = await openStore(storeOptionsFromUrl(config.databaseUrl, config.dataDirectory))
      try {
        const applied = await store.migrate()
        print(applied.length === 0 ? 'database is up to date' : `applied: ${applied.join(', ')}`)
      } finally {
        await store.close()
      }
    })

  program
    .command('demo')
    .description('tell the story through the API: merchant, top-up, payment, capture, refund, webhooks, pay on delivery, online banking, wallet QR, channel switch-off, POS card sales, ledger verify')
    .action(async () => {
      // The banks and wallets the story pays at, simulated in this process.
      const counterparts = await startDemoCounterparts()
      const ok = await withKassa((kassa) => runDemoStory(kassa, print, counterparts), 'error', { providers: counterparts.providers }).finally(() => counterparts.close())
      if (!ok) throw new Error('the demo story did not end as expected (see above)')
    })

  const merchant = program.command('merchant').description('merchants and their keys')
  merchant
    .command('create')
    .description('create a merchant; prints its first secret key, once')
    .requiredOption('--name <name>', 'display name, at most 100 characters', textOf(100, { required: true }))
    .option('--kind <kind>', 'self_operated or third_party', 'third_party')
    .option('--fee-bps <basis points>', 'merchant discount rate, 60 = 0.60 %', integerIn(0, 10_000))
    .action(async (options: { name: string; kind: string; feeBps?: number }) => {
      if (options.kind !== 'self_operated' && options.kind !== 'third_party') throw new Error('--kind must be self_operated or third_party')
      const kind = options.kind
      const created = await withKassa((kassa) => createMerchant(kassa.store, kassa.clock, actor, { name: options.name, kind, fee_basis_points: options.feeBps }))
      print({ merchant: created.merchant, secret_key: created.api_key.secret, note: 'store the key now: it is not shown again' })
    })
  merchant
    .command('list')
    .description('list merchants')
    .action(async () => {
      const rows = await withKassa((kassa) => kassa.store.db.selectFrom('merchants').select(['id', 'name', 'kind', 'status']).orderBy('id').execute())
      for (const row of rows) print(`${row.id}  ${row.kind.padEnd(13)} ${row.status.padEnd(9)} ${row.name}`)
    })

  const key = program.command('key').description('secret API keys')
  key
    .command('create')
    .requiredOption('--merchant <id>', 'merchant id (mch_…)')
    .description('create another secret key for a merchant; printed once')
    .action(async (options: { merchant: string }) => print(await withKassa((kassa) => createApiKey(kassa.store, kassa.clock, actor, options.merchant))))
  key
    .command('revoke <keyId>')
    .description('revoke a secret key (key_…)')
    .action(async (keyId: string) => {
      await withKassa((kassa) => revokeApiKey(kassa.store, kassa.clock, actor, keyId))
      print(`revoked ${keyId}`)
    })

  program
    .command('operator')
    .description('console operators')
    .command('create')
    .requiredOption('--name <name>', 'who, at most 100 characters', textOf(100, { required: true }))
    .option('--role <role>', 'admin, finance or support', 'admin')
    .description('create an operator; prints the operator key, once')
    .action(async (options: { name: string; role: string }) => {
      if (options.role !== 'admin' && options.role !== 'finance' && options.role !== 'support') throw new Error('--role must be admin, finance or support')
      const role = options.role
      print(await withKassa((kassa) => createOperator(kassa.store, kassa.clock, actor, { name: options.name, role })))
    })

  const shopper = program.command('shopper').description('shoppers and their wallet balances')
  shopper
    .command('create')
    .option('--name <name>', 'at most 100 characters', textOf(100, { required: false }))
    .option('--external-reference <ref>', "the shop's own customer id, at most 64 characters", textOf(64, { required: true }))
    .description('register a shopper')
    .action(async (options: { name?: string; externalReference?: string }) => {
      const created = await withKassa((kassa) =>
        kassa.store.writer.submit((tx) =>
          createShopper(tx, actor, { external_reference: options.externalReference ?? null, name: options.name ?? null, email: null, phone: null }, kassa.clock.now()),
        ),
      )
      print(created)
    })
  shopper
    .command('top-up <shopperId>')
    .requiredOption('--amount <minor units>', 'amount in minor units, e.g. 10000 = CNY 100.00', minorUnits)
    .option('--currency <code>', 'ISO 4217 code', currencyCode, 'CNY')
    .option('--reference <text>', 'bank reference of the money received, at most 100 characters', textOf(100, { required: false }))
    .description("add money to a shopper's wallet")
    .action(async (shopperId: string, options: { amount: bigint; currency: 'CNY'; reference?: string }) => {
      const result = await withKassa((kassa) =>
        kassa.store.writer.submit((tx) => {
          const nowMs = kassa.clock.now()
          return topUp(tx, actor, { shopper_id: shopperId, amount: options.amount, currency: options.currency, reference: options.reference ?? null, top_up_id: newId('top_up', nowMs), transfer_id: newId('transfer', nowMs) }, nowMs)
        }),
      )
      print({ ...result, amount: Number(result.amount) })
    })

  registerChannelCommands(program, (work, options) => withKassa(work, undefined, options), print)

  program
    .command('ledger')
    .description('the double-entry journal')
    .command('verify')
    .description('check every ledger invariant; exits non-zero naming the first violation')
    .action(async () => {
      const result = await withKassa((kassa) => verifyLedger(kassa.store.db))
      if (!result.ok) {
        process.stderr.write(`ledger verify failed: ${result.violations[0]} (${result.violations.length} violation(s) in all)\n`)
        process.exitCode = 1
        return
      }
      print(`ledger ok: ${result.checked.transfers} transfers, ${result.checked.postings} postings, ${result.checked.accounts} accounts; every transfer balances, balances equal the journal, no funded account below zero`)
    })

  program
    .command('cod')
    .description('pay on delivery')
    .command('report')
    .requiredOption('--date <YYYY-MM-DD>', 'the delivery day', calendarDay)
    .description('per courier and station: parcels, QR-paid, cash-paid, remitted, difference')
    .action(async (options: { date: string }) => {
      const report = await withKassa((kassa) => kassa.delivery.codReport(options.date))
      print(`COD report ${report.date}`)
      print(['station', 'courier', 'currency', 'parcels', 'qr_paid', 'cash_paid', 'remitted', 'difference'].join('\t'))
      for (const row of report.rows) {
        print([row.station, row.courier, row.currency, row.parcels, formatMinor(row.qr_paid, row.currency as 'CNY'), formatMinor(row.cash_paid, row.currency as 'CNY'), formatMinor(row.remitted, row.currency as 'CNY'), formatMinor(row.difference, row.currency as 'CNY')].join('\t'))
      }
    })

  const sim = program.command('sim').description('run a counterpart simulator (docs/simulators.md, docs/scheme.md)')
  for (const [name, description] of [
    ['bank', 'simulated banks (online banking gateway and quick pay), one server per bank: [--banks icbc-sim,cmb-sim] [--port 9601] [--host] [--seed] [--notify-url] [--test-endpoints] [--quiet]'],
    ['wallet', 'simulated wallet providers: [--providers alipay-like,wechat-like] [--port 9701] [--host] [--seed] [--notify-url] [--key-dir DIR] [--quiet]'],
  ] as const) {
    sim
      .command(name)
      .description(description)
      .helpOption(false)
      .allowUnknownOption()
      .argument('[options...]')
      .action(async (args: string[]) => {
        process.exitCode = await runSimulatorProcess(name, args)
      })
  }
  sim
    .command('scheme')
    .description('the card scheme and its issuers over TCP (ISO 8583, 2-byte length frames); docs/scheme.md lists the test cards')
    .option('--port <port>', 'TCP port', integerIn(0, 65_535), 9583)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--seed <n>', 'seed for the fault knobs', integerIn(0, 2 ** 31), 1)
    .option('--settlement-dir <dir>', "write the day's settlement file there on exit")
    .option('--quiet', 'no message log')
    .action(async (options: { port: number; host: string; seed: number; settlementDir?: string; quiet?: boolean }) => {
      const { settlementDateOf, startSchemeSimulator } = await import('../../sim/scheme/index.js')
      const { systemClock } = await import('../domain/clock.js')
      const scheme = await startSchemeSimulator({
        port: options.port,
        host: options.host,
        seed: options.seed,
        clock: systemClock,
        log: options.quiet === true ? undefined : (entry: unknown) => process.stdout.write(`${JSON.stringify(entry)}\n`),
      })
      print(`scheme simulator listening on ${options.host}:${scheme.port}`)
      const stop = async () => {
        if (options.settlementDir !== undefined) print(`settlement file written to ${await scheme.writeSettlementFile(settlementDateOf(systemClock), options.settlementDir)}`)
        await scheme.close()
      }
      process.once('SIGINT', () => void stop())
      process.once('SIGTERM', () => void stop())
    })

  registerQrCommands(program)
  registerIso8583Commands(program)
  // Card acquiring: the POS terminal simulator and terminal registration (docs/pos.md).
  registerPosCommands(program)
  return program
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`kassa: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  })

/** Runs a simulator's own entry point (`sim/<name>/main.ts`) as a child with this terminal, and answers its exit code. */
async function runSimulatorProcess(name: 'bank' | 'wallet', args: readonly string[]): Promise<number> {
  const { spawn } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const entry = fileURLToPath(new URL(`../../sim/${name}/main.js`, import.meta.url))
  const child = spawn(process.execPath, [entry, ...args], { stdio: 'inherit' })
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 0))))
}
