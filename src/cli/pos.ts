/**
 * `kassa pos …`: a POS terminal simulator against Kassa's terminal host, and terminal registration.
 *
 *   kassa pos terminal create --merchant <mch_…> [--terminal <id>]
 *     → {"terminal_id":"K…","merchant_id":"mch_…","card_acceptor_id":"…","mac_key":"…"}   (the key, once)
 *   kassa pos sale --terminal <id> --key <hex> --amount <minor units>
 *                  (--card <pan> [--expiry YYMM] [--pin 1234] | --token <token> --token-key <hex> --atc <n>)
 *   kassa pos refund   … --amount <minor units> (--rrn <rrn> | --original-stan <n>)
 *   kassa pos reversal … --original-stan <n> [--amount <minor units>]
 *   kassa pos echo     …
 *     → 00 Approved  auth 123456  stan 000042  rrn 600112000003
 *   kassa pos load --terminals 50 --duration 30s [--merchant <mch_…>]
 *     → 50 terminals, 30.0 s: 12345 sales, 411.5 sales/s, p50 …, p99 …, codes 00=12340 …
 *
 * Every terminal command takes [--host 127.0.0.1] [--port 8583]. Exit codes: 0 approved (a reversal
 * also on 25: nothing to undo), 1 declined or refused, 2 no answer, or an answer whose MAC is wrong.
 */
import { InvalidArgumentError, type Command } from 'commander'
import { pinBlockFormat0, tokenIccData } from '../../sim/scheme/card-security.js'
import { testCards } from '../../sim/scheme/test-cards.js'
import { cardAcceptorId } from '../acquiring/acquirer.js'
import { luhnValid } from '../acquiring/iso8583/index.js'
import { formatLoadReport, loadDurationMsMax, loadTerminalsMax, runPosLoad } from '../acquiring/pos-host/load.js'
import { macKeyFromHex } from '../acquiring/pos-host/mac.js'
import { responseMeaning } from '../acquiring/pos-host/protocol.js'
import {
  networkRequest,
  paymentRequest,
  PosTerminalConnection,
  refundRequest,
  reversalRequest,
  stanText,
  type TerminalCard,
  type TerminalCredentials,
  type TerminalExchange,
} from '../acquiring/pos-host/terminal.js'
import { registerTerminal, terminalIdPattern } from '../acquiring/pos-host/terminals.js'
import { loadConfig } from '../config.js'
import { integerIn, minorUnits } from './arguments.js'
import { assert } from '../domain/assert.js'
import { createMerchant } from '../merchants/service.js'
import type { Kassa } from '../kassa.js'

/** Where the commands print and how they end; the process by default, a recorder in tests. */
export type PosCliIo = {
  writeOut(text: string): void
  writeErr(text: string): void
  setExitCode(code: number): void
}

export type PosCliDeps = {
  readonly io?: PosCliIo
  /** Opens Kassa for the commands that need its database (terminal create, load). */
  readonly withKassa?: <T>(work: (kassa: Kassa) => Promise<T>) => Promise<T>
  /** Fields 7, 12, 13; the system clock by default. */
  readonly now?: () => number
}

export const exitCodeDeclined = 1
export const exitCodeNoAnswer = 2

const processIo: PosCliIo = {
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code
  },
}

const actor = { type: 'cli' as const, id: 'kassa-cli' }

async function openKassa<T>(work: (kassa: Kassa) => Promise<T>): Promise<T> {
  const { createKassa } = await import('../kassa.js')
  const { createLogger } = await import('../logger.js')
  // Registering terminals needs no link to the card scheme.
  const kassa = await createKassa({ config: loadConfig(), logger: createLogger(process.env['LOG_LEVEL'] ?? 'warn'), acquiring: false })
  try {
    return await work(kassa)
  } finally {
    await kassa.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Option parsers
// ---------------------------------------------------------------------------------------------

function terminalId(text: string): string {
  if (!terminalIdPattern.test(text)) throw new InvalidArgumentError('8 upper-case letters or digits (field 41)')
  return text
}

function hexKey(text: string): string {
  if (macKeyFromHex(text) === undefined) throw new InvalidArgumentError('16 to 64 bytes as hex')
  return text
}

function cardNumber(text: string): string {
  if (!/^[0-9]{12,19}$/.test(text)) throw new InvalidArgumentError('12 to 19 digits')
  return text
}

function yymm(text: string): string {
  if (!/^[0-9]{2}(0[1-9]|1[0-2])$/.test(text)) throw new InvalidArgumentError('YYMM, e.g. 3012')
  return text
}

function pin(text: string): string {
  if (!/^[0-9]{4,12}$/.test(text)) throw new InvalidArgumentError('4 to 12 digits')
  return text
}

function acceptor(text: string): string {
  if (!/^[\x20-\x7e]{15}$/.test(text)) throw new InvalidArgumentError('15 printable characters (field 42)')
  return text
}

/** `30s`, `2m`, `500ms`, or a number of seconds. */
export function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text)
  if (match === null) throw new InvalidArgumentError('a duration such as 30s, 2m or 500ms')
  const value = Number(match[1])
  const ms = match[2] === 'ms' ? value : match[2] === 'm' ? value * 60_000 : value * 1000
  if (!Number.isFinite(ms) || ms < 1 || ms > loadDurationMsMax) throw new InvalidArgumentError(`a duration from 1 ms to ${loadDurationMsMax / 60_000} minutes`)
  return Math.ceil(ms)
}

type ConnectionOptions = { host: string; port: number; timeoutMs: number }
type TerminalOptions = ConnectionOptions & { terminal: string; key: string; acceptor?: string; merchant?: string; stan?: number; currency: string }
type CardOptions = { card?: string; expiry: string; pin?: string; entryMode?: string; token?: string; tokenKey?: string; atc?: number }

function withTerminalOptions(command: Command): Command {
  return command
    .requiredOption('--terminal <id>', 'terminal id, field 41', terminalId)
    .requiredOption('--key <hex>', "the terminal's MAC key, as `pos terminal create` printed it", hexKey)
    .option('--acceptor <id>', 'field 42, the card acceptor id (default: left out, the host uses the terminal’s)', acceptor)
    .option('--merchant <mch_…>', 'sets field 42 from the merchant id instead of --acceptor')
    .option('--stan <n>', 'field 11 (default: random)', integerIn(1, 999_999))
    .option('--currency <numeric>', 'field 49, ISO 4217 numeric', '156')
    .option('--host <host>', 'the POS host', '127.0.0.1')
    .option('--port <port>', 'its port', integerIn(1, 65_535), 8583)
    .option('--timeout-ms <ms>', 'how long to wait for the answer', integerIn(1, 300_000), 30_000)
}

function withCardOptions(command: Command, required: boolean): Command {
  return command
    .option('--card <pan>', `card number${required ? ' (or --token)' : ''}`, cardNumber)
    .option('--expiry <YYMM>', 'card expiry, field 14', yymm, '3012')
    .option('--pin <digits>', 'PIN, sent as an ISO 9564 format 0 PIN block (field 52)', pin)
    .option('--entry-mode <n>', 'field 22 (051 chip by default, 071 with --token)')
    .option('--token <token>', 'contactless token (field 2), tapped: field 55 carries its ATC and cryptogram', cardNumber)
    .option('--token-key <hex>', "the token's key, to compute the cryptogram", hexKey)
    .option('--atc <n>', "the token's application transaction counter", integerIn(1, 0xffff))
}

function credentialsOf(options: TerminalOptions): TerminalCredentials {
  const field42 = options.acceptor ?? (options.merchant === undefined ? undefined : cardAcceptorId(options.merchant))
  return { terminal_id: options.terminal, mac_key: options.key, card_acceptor_id: field42 }
}

function cardOf(options: CardOptions, amount: bigint | undefined, currencyNumeric: string): TerminalCard | undefined {
  if (options.token !== undefined) {
    if (options.card !== undefined) throw new Error('give --card or --token, not both')
    if (options.tokenKey === undefined || options.atc === undefined) throw new Error('--token needs --token-key and --atc')
    if (amount === undefined) throw new Error('--token needs --amount (the cryptogram covers it)')
    return {
      pan: options.token,
      expiry: options.expiry,
      entry_mode: options.entryMode ?? '071',
      icc_hex: tokenIccData({ keyHex: options.tokenKey, token: options.token, amountMinor: amount, currencyNumeric, atc: options.atc }),
    }
  }
  if (options.card === undefined) return undefined
  if (!luhnValid(options.card)) throw new Error('the card number fails the Luhn check (send it anyway with a test of the host, not from here)')
  return {
    pan: options.card,
    expiry: options.expiry,
    entry_mode: options.entryMode ?? '051',
    pin_block: options.pin === undefined ? undefined : pinBlockFormat0(options.pin, options.card),
  }
}

function randomStan(): number {
  return 1 + Math.floor(Math.random() * 999_999)
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/**
 * Adds `pos sale|refund|reversal|echo|load` and `pos terminal create` to a commander program.
 *
 * @example
 * const program = new Command('kassa')
 * registerPosCommands(program)
 * await program.parseAsync()
 */
export function registerPosCommands(program: Command, deps: PosCliDeps = {}): void {
  const io = deps.io ?? processIo
  const withKassa = deps.withKassa ?? openKassa
  const now = deps.now ?? (() => Date.now())
  const pos = program.command('pos').description('POS terminal simulator (ISO 8583 to the terminal host) and terminal registration')

  /** Sends one request, prints the answer on one line, sets the exit code. */
  const send = async (options: TerminalOptions, build: (terminal: TerminalCredentials, stan: number) => ReturnType<typeof paymentRequest>, accept: readonly string[] = ['00']): Promise<void> => {
    const terminal = credentialsOf(options)
    const stan = options.stan ?? randomStan()
    const message = build(terminal, stan)
    let connection: PosTerminalConnection
    try {
      connection = await PosTerminalConnection.open(options.host, options.port)
    } catch (error) {
      io.writeErr(`no answer: cannot connect to ${options.host}:${options.port} (${error instanceof Error ? error.message : String(error)})\n`)
      io.setExitCode(exitCodeNoAnswer)
      return
    }
    let result: TerminalExchange
    try {
      result = await connection.exchange(message, terminal.mac_key, options.timeoutMs)
    } finally {
      connection.close()
    }
    if (result.outcome !== 'answered') {
      io.writeErr(`no answer: ${result.outcome === 'timeout' ? `none within ${options.timeoutMs} ms` : 'the host closed the connection'} (stan ${stanText(stan)})\n`)
      io.setExitCode(exitCodeNoAnswer)
      return
    }
    io.writeOut(`${answerLine(result, stan)}\n`)
    if (result.mac === 'invalid') io.setExitCode(exitCodeNoAnswer)
    else if (!accept.includes(result.answer.fields[39] ?? '')) io.setExitCode(exitCodeDeclined)
  }

  withCardOptions(withTerminalOptions(pos.command('sale').description('a sale (0200) with a card or a tapped token')), true)
    .requiredOption('--amount <minor units>', 'amount in minor units, e.g. 2500 = CNY 25.00', minorUnits)
    .action(async (options: TerminalOptions & CardOptions & { amount: bigint }) => {
      const card = cardOf(options, options.amount, options.currency)
      if (card === undefined) throw new Error('a sale needs --card or --token')
      await send(options, (terminal, stan) => paymentRequest({ terminal, stan, nowMs: now(), amount: options.amount, card, currency_numeric: options.currency }))
    })

  withTerminalOptions(pos.command('refund').description('a refund (0200, processing code 20) of a sale named by its RRN or STAN'))
    .requiredOption('--amount <minor units>', 'amount to refund, in minor units', minorUnits)
    .option('--rrn <rrn>', "the sale's RRN (field 37), as its answer printed it")
    .option('--original-stan <n>', "the sale's STAN (field 90)", integerIn(1, 999_999))
    .option('--card <pan>', 'the card, checked against the sale', cardNumber)
    .action(async (options: TerminalOptions & { amount: bigint; rrn?: string; originalStan?: number; card?: string }) => {
      if ((options.rrn === undefined) === (options.originalStan === undefined)) throw new Error('name the sale with --rrn or --original-stan (one of them)')
      if (options.rrn !== undefined && !/^[0-9A-Za-z]{12}$/.test(options.rrn)) throw new Error('an RRN is 12 letters or digits')
      const original = options.rrn !== undefined ? { rrn: options.rrn } : { stan: options.originalStan ?? 0 }
      await send(options, (terminal, stan) => refundRequest({ terminal, stan, nowMs: now(), amount: options.amount, original, pan: options.card, currency_numeric: options.currency }))
    })

  withCardOptions(withTerminalOptions(pos.command('reversal').description("the terminal's reversal (0400) of its own sale, named by the sale's STAN")), false)
    .requiredOption('--original-stan <n>', "the sale's STAN", integerIn(1, 999_999))
    .option('--amount <minor units>', "the sale's amount (field 4)", minorUnits)
    .option('--repeat', 'send it as a repeat (0401)')
    .action(async (options: TerminalOptions & CardOptions & { originalStan: number; amount?: bigint; repeat?: boolean }) => {
      const pan = options.card ?? options.token
      await send(
        options,
        (terminal, stan) => reversalRequest({ terminal, stan, nowMs: now(), original: { stan: options.originalStan }, amount: options.amount, pan, repeat: options.repeat === true, currency_numeric: options.currency }),
        ['00', '25'],
      )
    })

  withTerminalOptions(pos.command('echo').description('an echo test (0800, 70 = 301)')).action(async (options: TerminalOptions) => {
    await send(options, (terminal, stan) => networkRequest({ terminal, stan, nowMs: now() }))
  })

  pos
    .command('terminal')
    .description('POS terminals')
    .command('create')
    .description("register a terminal to a merchant; prints its id and MAC key, once")
    .requiredOption('--merchant <mch_…>', 'the merchant it belongs to')
    .option('--terminal <id>', 'its id (field 41, 8 upper-case letters or digits; default: a new one)', terminalId)
    .action(async (options: { merchant: string; terminal?: string }) => {
      const created = await withKassa((kassa) => registerTerminal(kassa.store, kassa.clock, kassa.masterKey, actor, { merchant_id: options.merchant, terminal_id: options.terminal }))
      io.writeOut(`${JSON.stringify({ ...created, note: 'give the MAC key to the terminal now: it is not shown again' })}\n`)
    })

  pos
    .command('load')
    .description('drive many terminals at once (registered for the run) and report sales/s, p50/p99 and the response codes')
    .option('--terminals <n>', 'terminals at once, each with its own connection', integerIn(1, loadTerminalsMax), 50)
    .option('--duration <time>', 'how long, e.g. 30s or 2m', parseDuration, 30_000)
    .option('--merchant <mch_…>', 'register the terminals to this merchant (default: a new merchant "POS load")')
    .option('--card <pan>', 'the card every sale uses', cardNumber, testCards.approve.pan)
    .option('--expiry <YYMM>', 'its expiry', yymm, testCards.approve.expiry)
    .option('--host <host>', 'the POS host', '127.0.0.1')
    .option('--port <port>', 'its port', integerIn(1, 65_535), 8583)
    .action(async (options: { terminals: number; duration: number; merchant?: string; card: string; expiry: string; host: string; port: number }) => {
      const terminals = await withKassa((kassa) => registerLoadTerminals(kassa, options.terminals, options.merchant))
      const report = await runPosLoad({
        host: options.host,
        port: options.port,
        terminals,
        durationMs: options.duration,
        card: { pan: options.card, expiry: options.expiry },
      })
      io.writeOut(`${formatLoadReport(report)}\n`)
      if (report.unanswered > 0 || report.answered === 0) io.setExitCode(exitCodeNoAnswer)
    })
}

/**
 * Registers `count` terminals for a load run (`pos load`, bench/pos.ts) to `merchantId`, or to a new
 * merchant "POS load"; returns them as the terminals will hold them.
 */
export async function registerLoadTerminals(kassa: Kassa, count: number, merchantId?: string): Promise<TerminalCredentials[]> {
  assert(Number.isSafeInteger(count) && count >= 1 && count <= loadTerminalsMax, `1 to ${loadTerminalsMax} terminals`)
  const merchant = merchantId ?? (await createMerchant(kassa.store, kassa.clock, actor, { name: 'POS load', kind: 'third_party', fee_basis_points: undefined })).merchant.id
  const terminals: TerminalCredentials[] = []
  for (let index = 0; index < count; index++) {
    const registered = await registerTerminal(kassa.store, kassa.clock, kassa.masterKey, actor, { merchant_id: merchant })
    terminals.push({ terminal_id: registered.terminal_id, mac_key: registered.mac_key, card_acceptor_id: registered.card_acceptor_id })
  }
  return terminals
}

/** `00 Approved  auth 123456  stan 000042  rrn 600112000003` (and a warning when the MAC is not right). */
export function answerLine(result: Extract<TerminalExchange, { outcome: 'answered' }>, stan: number): string {
  const fields = result.answer.fields
  const code = fields[39] ?? '??'
  const parts = [`${code} ${responseMeaning(code)}`, `auth ${fields[38] ?? '-'}`, `stan ${fields[11] ?? stanText(stan)}`, `rrn ${fields[37] ?? '-'}`]
  if (result.mac === 'absent') parts.push('(answer not MACed: the host could not authenticate the request)')
  if (result.mac === 'invalid') parts.push('(answer MAC WRONG: do not trust it)')
  return parts.join('  ')
}
