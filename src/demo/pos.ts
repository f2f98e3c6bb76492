/**
 * Card acquiring in the demo: the scheme simulator in process (for `npm start` in demo mode without
 * SCHEME_ADDRESS), the demo merchant's POS terminal and the ready-to-paste `kassa pos sale` lines
 * printed with the other demo credentials, and the POS step of `kassa demo`.
 */
import type { Actor } from '../audit/log.js'
import { systemClock } from '../domain/clock.js'
import { formatMinor } from '../domain/money.js'
import type { Kassa } from '../kassa.js'
import { openAcquiring } from '../acquiring/open.js'
import { startPosHost } from '../acquiring/pos-host/host.js'
import { paymentRequest, PosTerminalConnection, type TerminalCard } from '../acquiring/pos-host/terminal.js'
import { registerTerminal, type RegisteredTerminal } from '../acquiring/pos-host/terminals.js'
import { responseMeaning } from '../acquiring/pos-host/protocol.js'
import { startSchemeSimulator, testCards, testTokens, tokenIccData, type SchemeSimulator } from '../../sim/scheme/index.js'

const system: Actor = { type: 'system', id: 'demo-seed' }

/** The card scheme and its issuers, simulated in this process on a free port of 127.0.0.1 (docs/scheme.md). */
export function startDemoScheme(): Promise<SchemeSimulator> {
  return startSchemeSimulator({ port: 0, host: '127.0.0.1', clock: systemClock, seed: 1 })
}

/** Registers a POS terminal to the merchant; its MAC key is returned this once. */
export function seedPosTerminal(kassa: Kassa, merchantId: string): Promise<RegisteredTerminal> {
  return registerTerminal(kassa.store, kassa.clock, kassa.masterKey, system, { merchant_id: merchantId })
}

/** The demo's three POS sales: approved, declined for insufficient funds (51), and a contactless token tap. */
export const demoPosSales = {
  approve: { amount: 2_500n, card: testCards.approve.pan },
  insufficientFunds: { amount: 6_000n, card: testCards.insufficient_funds.pan },
  token: { amount: 1_200n, token: testTokens.approve.token, tokenKey: testTokens.approve.keyHex, atc: 1 },
} as const

/**
 * The demo text's POS lines. `pos` is where the POS host listens (undefined: not started); the
 * commands name `--host`/`--port` only when they are not the CLI's defaults (127.0.0.1, 8583).
 */
export function posDemoLines(terminal: RegisteredTerminal, pos: { readonly host: string; readonly port: number } | undefined): string[] {
  const lines = [`  POS terminal          ${terminal.terminal_id}  MAC key ${terminal.mac_key}`]
  if (pos === undefined) return [...lines, '  (no POS host: set SCHEME_ADDRESS, or KASSA_DEMO=1 for the scheme simulator in process)']
  const host = pos.host === '0.0.0.0' || pos.host === '::' || pos.host === 'localhost' ? '127.0.0.1' : pos.host
  const where = `${host === '127.0.0.1' ? '' : ` --host ${host}`}${pos.port === 8583 ? '' : ` --port ${pos.port}`}`
  const sale = `npx kassa pos sale --terminal ${terminal.terminal_id} --key ${terminal.mac_key}${where}`
  const { approve, insufficientFunds, token } = demoPosSales
  return [
    ...lines,
    `  POS sale, approved    ${sale} --amount ${approve.amount} --card ${approve.card}`,
    `  POS sale, declined 51 ${sale} --amount ${insufficientFunds.amount} --card ${insufficientFunds.card}`,
    `  contactless token     ${sale} --amount ${token.amount} --token ${token.token} --token-key ${token.tokenKey} --atc ${token.atc}`,
    '                        (each tap needs a higher --atc; test cards: docs/acquiring.md)',
  ]
}

/**
 * `kassa demo`'s POS step: a terminal of `merchantId` sells through a POS host, Kassa's acquirer and
 * the scheme simulator, all in process: one approved chip sale, one declined (51), one token tap.
 * Answers whether each got the answer it should.
 */
export async function runPosStory(kassa: Kassa, merchantId: string, say: (line: string) => void, step: number): Promise<boolean> {
  const scheme = await startDemoScheme()
  const acquiring = await openAcquiring({ store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, logger: kassa.logger }, { scheme: { host: '127.0.0.1', port: scheme.port }, echoIntervalMs: 0 })
  try {
    if (!(await acquiring.link.waitUntilUp(5_000))) throw new Error('the scheme simulator did not answer')
    const host = await startPosHost({ port: 0, store: kassa.store, clock: kassa.clock, masterKey: kassa.masterKey, acquirer: acquiring.acquirer, reverse: acquiring.reverse })
    const connection = await PosTerminalConnection.open('127.0.0.1', host.port)
    try {
      const terminal = await seedPosTerminal(kassa, merchantId)
      say(`${step}. POS terminal ${terminal.terminal_id} registered to ${merchantId}; its sales go through the POS host, Kassa's acquirer and the scheme simulator:`)
      const { approve, insufficientFunds, token } = demoPosSales
      const sales: { label: string; amount: bigint; card: TerminalCard; expected: string }[] = [
        { label: 'chip card', amount: approve.amount, card: { pan: approve.card, expiry: testCards.approve.expiry }, expected: '00' },
        { label: 'chip card', amount: insufficientFunds.amount, card: { pan: insufficientFunds.card, expiry: testCards.insufficient_funds.expiry }, expected: '51' },
        {
          label: 'contactless token',
          amount: token.amount,
          card: { pan: token.token, expiry: testTokens.approve.expiry, entry_mode: '071', icc_hex: tokenIccData({ keyHex: token.tokenKey, token: token.token, amountMinor: token.amount, currencyNumeric: '156', atc: token.atc }) },
          expected: '00',
        },
      ]
      const codes: string[] = []
      for (const [index, sale] of sales.entries()) {
        const result = await connection.exchange(paymentRequest({ terminal, stan: index + 1, nowMs: kassa.clock.now(), amount: sale.amount, card: sale.card }), terminal.mac_key, 15_000)
        const code = result.outcome === 'answered' && result.mac === 'valid' ? (result.answer.fields[39] ?? '??') : result.outcome
        codes.push(code)
        const rrn = result.outcome === 'answered' ? ` rrn ${result.answer.fields[37] ?? '-'}` : ''
        say(`    ${sale.label} sale of CNY ${formatMinor(sale.amount, 'CNY')}: ${code} ${responseMeaning(code)}${rrn}`)
      }
      return sales.every((sale, index) => codes[index] === sale.expected)
    } finally {
      connection.close()
      await host.close(2_000)
    }
  } finally {
    await acquiring.close()
    await scheme.close()
  }
}
