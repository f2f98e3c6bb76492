/**
 * The terminal's side of the protocol, for the terminal simulator (`kassa pos …`), the load driver
 * and tests: building requests as a terminal sends them, MACing them, and one TCP connection to the
 * host that matches answers to requests by response MTI and STAN.
 */
import { connect, type Socket } from 'node:net'
import { assert } from '../../domain/assert.js'
import { decodeMessage, responseMtiFor, type Iso8583Message } from '../iso8583/index.js'
import { encodeFrame, frameLengthMaxDefault, readFrames } from '../scheme-link/framing.js'
import { transmissionDateTime } from '../scheme-link/trace.js'
import { encodeWithMac, macKeyFromHex, verifyMac } from './mac.js'

/** What a terminal knows about itself. */
export type TerminalCredentials = {
  readonly terminal_id: string
  /** Hex, as `registerTerminal` gave it. */
  readonly mac_key: string
  /** Field 42; left out of requests when undefined (the host then uses the terminal's own). */
  readonly card_acceptor_id?: string | undefined
}

export type TerminalCard = {
  readonly pan: string
  /** YYMM. */
  readonly expiry: string
  /** Field 22: 051 chip (default), 071 contactless, 021 magnetic stripe, 012 keyed. */
  readonly entry_mode?: string
  readonly pin_block?: string | undefined
  /** Field 55 as hex (a tapped token's ATC and cryptogram: `tokenIccData`). */
  readonly icc_hex?: string | undefined
}

type Common = {
  readonly terminal: TerminalCredentials
  /** Field 11, 1 to 999999. */
  readonly stan: number
  /** Fields 7, 12, 13 are taken from it (UTC). */
  readonly nowMs: number
  /** ISO 4217 numeric; 156 (CNY) by default. */
  readonly currency_numeric?: string
}

/** The original a refund or reversal names: the terminal's own STAN (field 90) or the RRN (field 37). */
export type TerminalOriginal = { readonly stan: number; readonly mti?: '0100' | '0200' | '0220' } | { readonly rrn: string }

function header(input: Common): Record<number, string> {
  const stamp = transmissionDateTime(input.nowMs)
  const fields: Record<number, string> = {
    7: stamp,
    11: stanText(input.stan),
    12: stamp.slice(4, 10),
    13: stamp.slice(0, 4),
    41: input.terminal.terminal_id,
  }
  if (input.terminal.card_acceptor_id !== undefined) fields[42] = input.terminal.card_acceptor_id
  return fields
}

export function stanText(stan: number): string {
  assert(Number.isSafeInteger(stan) && stan >= 1 && stan <= 999_999, 'a STAN is 1 to 999999')
  return String(stan).padStart(6, '0')
}

function amountText(amount: bigint): string {
  assert(amount >= 0n && amount <= 999_999_999_999n, 'an amount is 0 to 12 digits of minor units')
  return amount.toString().padStart(12, '0')
}

/** Field 90 naming the terminal's own earlier request: its MTI and STAN (the rest is zeros). */
export function originalField(original: { readonly stan: number; readonly mti?: string }): string {
  return `${original.mti ?? '0200'}${stanText(original.stan)}${'0'.repeat(32)}`
}

/**
 * A sale (0200) or an authorization (0100) as a terminal sends it (MAC not yet added).
 *
 * @example
 * paymentRequest({ terminal, stan: 1, nowMs: Date.now(), amount: 2_500n, card: { pan: '6220010000000018', expiry: '3012' } })
 */
export function paymentRequest(input: Common & { readonly amount: bigint; readonly card: TerminalCard; readonly kind?: 'sale' | 'authorization' }): Iso8583Message {
  const fields: Record<number, string> = {
    ...header(input),
    2: input.card.pan,
    3: '000000',
    4: amountText(input.amount),
    14: input.card.expiry,
    22: input.card.entry_mode ?? '051',
    49: input.currency_numeric ?? '156',
  }
  if (input.card.pin_block !== undefined) fields[52] = input.card.pin_block
  if (input.card.icc_hex !== undefined) fields[55] = input.card.icc_hex
  return { mti: input.kind === 'authorization' ? '0100' : '0200', fields }
}

/** A refund (0200, processing code 200000) of an earlier sale. */
export function refundRequest(input: Common & { readonly amount: bigint; readonly original: TerminalOriginal; readonly pan?: string | undefined }): Iso8583Message {
  const fields: Record<number, string> = { ...header(input), 3: '200000', 4: amountText(input.amount), 49: input.currency_numeric ?? '156' }
  if (input.pan !== undefined) fields[2] = input.pan
  if ('rrn' in input.original) fields[37] = input.original.rrn
  else fields[90] = originalField(input.original)
  return { mti: '0200', fields }
}

/** The completion (0220) of an earlier authorization. */
export function completionRequest(input: Common & { readonly amount: bigint; readonly original: TerminalOriginal }): Iso8583Message {
  const fields: Record<number, string> = { ...header(input), 3: '000000', 4: amountText(input.amount), 49: input.currency_numeric ?? '156' }
  if ('rrn' in input.original) fields[37] = input.original.rrn
  else fields[90] = originalField({ mti: '0100', stan: input.original.stan })
  return { mti: '0220', fields }
}

/** The terminal's reversal (0400, or 0401 when `repeat`) of its own sale or authorization. */
export function reversalRequest(
  input: Common & { readonly original: { readonly stan: number; readonly mti?: '0100' | '0200' }; readonly amount?: bigint | undefined; readonly pan?: string | undefined; readonly repeat?: boolean },
): Iso8583Message {
  const fields: Record<number, string> = { ...header(input), 3: '000000', 90: originalField(input.original) }
  if (input.amount !== undefined) {
    fields[4] = amountText(input.amount)
    fields[49] = input.currency_numeric ?? '156'
  }
  if (input.pan !== undefined) fields[2] = input.pan
  return { mti: input.repeat === true ? '0401' : '0400', fields }
}

/** An 0800: 301 echo (default), 001 sign-on, 002 sign-off. */
export function networkRequest(input: Common & { readonly code?: '001' | '002' | '301' }): Iso8583Message {
  return { mti: '0800', fields: { ...header(input), 70: input.code ?? '301' } }
}

/** The request's bytes with its MAC (field 64, or 128 with a secondary bitmap). */
export function signedRequest(message: Iso8583Message, macKeyHex: string): Buffer {
  const key = macKeyFromHex(macKeyHex)
  assert(key !== undefined, 'a MAC key is 16 to 64 bytes of hex')
  const encoded = encodeWithMac(message, key)
  if (!encoded.ok) throw new Error(`the request does not encode: ${encoded.error.message}`)
  return encoded.value
}

export type TerminalExchange =
  | {
      readonly outcome: 'answered'
      readonly answer: Iso8583Message
      /** `valid`: MACed with the terminal's key; `absent`: the host could not authenticate the request; `invalid`: do not trust it. */
      readonly mac: 'valid' | 'absent' | 'invalid'
    }
  /** No answer within the timeout. */
  | { readonly outcome: 'timeout' }
  /** The connection closed before the answer. */
  | { readonly outcome: 'closed' }

type Waiter = { readonly resolve: (exchange: TerminalExchange) => void; readonly timer: NodeJS.Timeout }

/**
 * One terminal's connection to the host. Answers are matched by response MTI and STAN; an answer
 * without a STAN (to a message the host could not read) goes to the oldest `exchangeRaw` waiting.
 *
 * @example
 * const connection = await PosTerminalConnection.open('127.0.0.1', 8583)
 * const result = await connection.exchange(paymentRequest({ terminal, stan: 1, nowMs: Date.now(), amount: 100n, card }), terminal.mac_key)
 * if (result.outcome === 'answered') result.answer.fields[39] // '00'
 * connection.close()
 */
export class PosTerminalConnection {
  private readonly waiters = new Map<string, Waiter>()
  private readonly rawWaiters: Waiter[] = []
  private closed = false

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true)
    readFrames(socket, {
      frameLengthMax: frameLengthMaxDefault,
      onFrame: (frame) => this.onFrame(frame),
      onError: () => socket.destroy(),
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      this.closed = true
      for (const waiter of [...this.waiters.values(), ...this.rawWaiters]) {
        clearTimeout(waiter.timer)
        waiter.resolve({ outcome: 'closed' })
      }
      this.waiters.clear()
      this.rawWaiters.length = 0
    })
  }

  /** Connects, or rejects after `connectTimeoutMs` (5,000). */
  static open(host: string, port: number, connectTimeoutMs = 5_000): Promise<PosTerminalConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`no connection to ${host}:${port} within ${connectTimeoutMs} ms`))
      }, connectTimeoutMs)
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(new PosTerminalConnection(socket))
      })
    })
  }

  /** Last keys received, to check answers: the key is per request, since one connection may serve tests of several terminals. */
  private readonly keys = new Map<string, Buffer>()

  /** MACs and sends `message`, and resolves with its answer. */
  exchange(message: Iso8583Message, macKeyHex: string, timeoutMs = 30_000): Promise<TerminalExchange> {
    const key = macKeyFromHex(macKeyHex)
    assert(key !== undefined, 'a MAC key is 16 to 64 bytes of hex')
    const responseMti = responseMtiFor(message.mti)
    assert(responseMti !== undefined, `${message.mti} is not a request`)
    const matchKey = `${responseMti}:${message.fields[11] ?? ''}`
    this.keys.set(matchKey, key)
    return this.await(matchKey, signedRequest(message, macKeyHex), timeoutMs)
  }

  /**
   * Sends `bytes` as one frame (a malformed or unsigned message, for tests) and resolves with the
   * answer matching `match` (response MTI and STAN), or else the next answer that matches no request.
   */
  exchangeRaw(bytes: Buffer, options: { readonly match?: { readonly mti: string; readonly stan: string }; readonly macKeyHex?: string; readonly timeoutMs?: number } = {}): Promise<TerminalExchange> {
    const timeoutMs = options.timeoutMs ?? 30_000
    if (options.match !== undefined) {
      const matchKey = `${options.match.mti}:${options.match.stan}`
      const key = options.macKeyHex === undefined ? undefined : macKeyFromHex(options.macKeyHex)
      if (key !== undefined) this.keys.set(matchKey, key)
      return this.await(matchKey, bytes, timeoutMs)
    }
    const answer = this.nextUnmatched(timeoutMs)
    this.write(bytes)
    return answer
  }

  /** Resolves with the next answer that matches no request awaited by STAN (e.g. to a broken frame). */
  nextUnmatched(timeoutMs = 30_000): Promise<TerminalExchange> {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ outcome: 'closed' })
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const index = this.rawWaiters.indexOf(waiter)
          if (index >= 0) this.rawWaiters.splice(index, 1)
          resolve({ outcome: 'timeout' })
        }, timeoutMs),
      }
      this.rawWaiters.push(waiter)
    })
  }

  /** Writes raw bytes with no framing at all (to test a broken length header). */
  writeUnframed(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  get isClosed(): boolean {
    return this.closed
  }

  close(): void {
    this.socket.destroy()
  }

  private await(matchKey: string, bytes: Buffer, timeoutMs: number): Promise<TerminalExchange> {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ outcome: 'closed' })
      assert(!this.waiters.has(matchKey), `an answer ${matchKey} is already awaited on this connection`)
      const timer = setTimeout(() => {
        this.waiters.delete(matchKey)
        this.keys.delete(matchKey)
        resolve({ outcome: 'timeout' })
      }, timeoutMs)
      this.waiters.set(matchKey, { resolve, timer })
      this.write(bytes)
    })
  }

  private write(bytes: Buffer): void {
    const frame = encodeFrame(bytes)
    if (!frame.ok) throw new Error(frame.error.message)
    this.socket.write(frame.value)
  }

  private onFrame(frame: Buffer): void {
    const decoded = decodeMessage(frame, { encoding: 'ascii' })
    if (!decoded.ok) return
    const answer = decoded.value
    const matchKey = `${answer.mti}:${answer.fields[11] ?? ''}`
    const waiter = this.waiters.get(matchKey) ?? this.rawWaiters.shift()
    if (waiter === undefined) return
    this.waiters.delete(matchKey)
    clearTimeout(waiter.timer)
    const key = this.keys.get(matchKey)
    this.keys.delete(matchKey)
    const hasMac = answer.fields[64] !== undefined || answer.fields[128] !== undefined
    const mac = !hasMac ? 'absent' : key !== undefined && verifyMac(frame, answer, key) === undefined ? 'valid' : 'invalid'
    waiter.resolve({ outcome: 'answered', answer, mac })
  }
}
