/** Shared by the POS host suites: a whole Kassa, the scheme simulator, the link, the acquirer, and the host. */
import assert from 'node:assert/strict'
import { Acquirer } from '../../src/acquiring/acquirer.js'
import { cardReverser, registerTerminal, startPosHost, type PosHost, type RegisteredTerminal } from '../../src/acquiring/pos-host/index.js'
import { paymentRequest, PosTerminalConnection, type TerminalCard, type TerminalCredentials, type TerminalExchange } from '../../src/acquiring/pos-host/terminal.js'
import { openSchemeLink, type SchemeLink } from '../../src/acquiring/scheme-link/index.js'
import type { Iso8583Message } from '../../src/acquiring/iso8583/index.js'
import type { DialectName } from '../../src/store/dialect.js'
import { startSchemeSimulator, type SchemeSimulator } from '../../sim/scheme/index.js'
import { openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { accountBalance, seedMerchant, testActor } from '../helpers/factories.js'

export const acquirerId = '12345678'

export type PosHarness = {
  readonly kassa: TestKassa
  readonly scheme: SchemeSimulator
  readonly link: SchemeLink
  readonly acquirer: Acquirer
  readonly host: PosHost
  readonly merchant: { readonly id: string }
  /** A terminal of `merchant`, with field 42 set. */
  readonly terminal: TerminalCredentials
  /** A terminal of another merchant. */
  readonly otherTerminal: TerminalCredentials
  /** A connection of `terminal` to the host. */
  readonly connection: PosTerminalConnection
  register(merchantId?: string): Promise<TerminalCredentials>
  close(): Promise<void>
}

export const feeBasisPoints = 60

export async function startPosHarness(dialect: DialectName, options: { readonly acquirerTimeoutMs?: number } = {}): Promise<PosHarness> {
  const kassa = await openTestKassa(dialect)
  const scheme = await startSchemeSimulator({ port: 0, clock: kassa.clock, seed: 11 })
  const link = openSchemeLink({ host: '127.0.0.1', port: scheme.port, clock: kassa.clock, acquirerId, echoIntervalMs: 0 })
  assert.equal(await link.waitUntilUp(3_000), true, 'the scheme link comes up')
  const timeoutMs = options.acquirerTimeoutMs ?? 2_000
  const acquirer = new Acquirer({ store: kassa.store, clock: kassa.clock, link, masterKey: kassa.masterKey, timeoutMs, reversalAttemptsMax: 3, acquirerId })
  const reverse = cardReverser({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, link, acquirerId, timeoutMs, reversalAttemptsMax: 3 })
  const host = await startPosHost({ port: 0, store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, acquirer, reverse })
  const merchant = await seedMerchant(kassa, 'Corner Shop', feeBasisPoints)
  const other = await seedMerchant(kassa, 'Other Shop', feeBasisPoints)
  const register = async (merchantId: string = merchant.id): Promise<TerminalCredentials> => credentialsOf(await registerTerminal(kassa.store, kassa.clock, kassa.masterKey, testActor, { merchant_id: merchantId }))
  const terminal = await register()
  const otherTerminal = await register(other.id)
  const connection = await PosTerminalConnection.open('127.0.0.1', host.port)
  return {
    kassa,
    scheme,
    link,
    acquirer,
    host,
    merchant,
    terminal,
    otherTerminal,
    connection,
    register,
    close: async () => {
      connection.close()
      await host.close(2_000)
      await link.close()
      await scheme.close()
      await kassa.dispose()
    },
  }
}

export function credentialsOf(registered: RegisteredTerminal): TerminalCredentials {
  return { terminal_id: registered.terminal_id, mac_key: registered.mac_key, card_acceptor_id: registered.card_acceptor_id }
}

/** STANs for a test: unique across the suite, so no test replays another's. */
let stanNext = 1
export function nextStan(): number {
  return stanNext++
}

/** A chip sale of `amount` with `card`, as `terminal` sends it. */
export function sale(terminal: TerminalCredentials, card: TerminalCard, amount: bigint, stan: number = nextStan()): Iso8583Message {
  return paymentRequest({ terminal, stan, nowMs: Date.now(), amount, card })
}

/** The answer, failing the test if there was none; its MAC must verify unless `mac` says otherwise. */
export function answered(result: TerminalExchange, mac: 'valid' | 'absent' = 'valid'): Iso8583Message {
  assert.equal(result.outcome, 'answered', `expected an answer, got ${result.outcome}`)
  assert.ok(result.outcome === 'answered')
  assert.equal(result.mac, mac, `the answer's MAC is ${result.mac}`)
  return result.answer
}

/** What the scheme owes Kassa (scheme receivable, debits − credits). */
export async function receivable(kassa: TestKassa): Promise<bigint> {
  const row = await accountBalance(kassa, 'acc_scheme_receivable_platform_CNY')
  return (row?.debits_posted ?? 0n) - (row?.credits_posted ?? 0n)
}

/** What Kassa owes the merchant (merchant payable, credits − debits). */
export async function payable(kassa: TestKassa, merchantId: string): Promise<bigint> {
  const row = await accountBalance(kassa, `acc_merchant_payable_${merchantId}_CNY`)
  return (row?.credits_posted ?? 0n) - (row?.debits_posted ?? 0n)
}

export function issuerBalance(scheme: SchemeSimulator, pan: string): bigint {
  const account = scheme.issuers.account(pan)
  assert.ok(account, 'the card is on file')
  return account.balance_minor
}
