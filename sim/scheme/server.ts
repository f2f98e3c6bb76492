/**
 * The scheme simulator's TCP shell: accepts the acquirer's connections, reads 2-byte-length-framed ISO
 * 8583 messages (`ascii` encoding), asks `SchemeCore` for the answer, and writes it back, unless a
 * fault knob says to drop, delay or duplicate it.
 *
 * @example
 * const scheme = await startSchemeSimulator({ port: 0, clock: new SimulatedClock(), seed: 7 })
 * // connect Kassa's scheme link to 127.0.0.1:scheme.port …
 * scheme.issuers.account(testCards.approve.pan)?.available_minor // 10_000_000n
 * await scheme.close()
 */
import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { assert } from '../../src/domain/assert.js'
import { systemClock, type Clock } from '../../src/domain/clock.js'
import { decodeMessage, encodeMessage, maskPan, type Iso8583Message } from '../../src/acquiring/iso8583/index.js'
import { readFrames, writeFrame, frameLengthMaxDefault } from '../../src/acquiring/scheme-link/framing.js'
import { seededRandom } from './random.js'
import { SchemeCore, utcDate, type AccountView, type DecisionRecord, type SchemeCoreOptions } from './scheme.js'
import { renderSettlementFile, settlementFileName } from './settlement.js'
import type { IssuerId } from './test-cards.js'

export type FaultAction =
  /** The issuer processes the message, but its answer is lost: the acquirer times out. */
  | 'drop'
  /** The answer is sent `delayMs` later. */
  | 'delay'
  /** The answer is sent twice (the second `delayMs` after the first, default at once). */
  | 'duplicate'

/**
 * One fault knob. A message is affected by the first rule that matches it: same PAN (field 2, card or
 * token) if `pan` is set, one of `mtis` if set, then picked with probability `ratio` (seeded), until
 * the rule has been applied `timesMax` times.
 */
export type FaultRule = {
  readonly action: FaultAction
  readonly pan?: string
  readonly mtis?: readonly string[]
  /** 0 to 1; defaults to 1 (every matching message). */
  readonly ratio?: number
  /** For `delay` and `duplicate`, 0 to 60,000 ms. */
  readonly delayMs?: number
  /** Applied at most this many times (≥ 1); unlimited when absent. */
  readonly timesMax?: number
}

export const faultDelayMsMax = 60_000

/** A line of the simulator's log. PANs appear only masked. */
export type SchemeLogEntry =
  | ({ readonly event: 'message'; readonly fault?: FaultAction } & DecisionRecord)
  | { readonly event: 'malformed'; readonly error: string }
  | { readonly event: 'connection_opened' | 'connection_closed'; readonly remote: string }
  | { readonly event: 'frame_error'; readonly remote: string; readonly error: string }

export type SchemeSimulatorOptions = Omit<SchemeCoreOptions, 'clock'> & {
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** Defaults to 127.0.0.1. */
  readonly host?: string
  /** Dates (expiry checks, settlement days). Defaults to the system clock. */
  readonly clock?: Clock
  readonly faults?: readonly FaultRule[]
  readonly log?: (entry: SchemeLogEntry) => void
  /** Defaults to `frameLengthMaxDefault`. */
  readonly frameLengthMax?: number
  /** Simultaneous acquirer connections; more are refused. Defaults to 64. */
  readonly connectionsMax?: number
}

export type SimulatedIssuers = {
  /** The balances of a card on file, or undefined. */
  account(pan: string): AccountView | undefined
  accounts(): AccountView[]
  /** Takes an issuer down (91 for its cards) or brings it back. */
  setAvailable(issuerId: IssuerId, available: boolean): void
}

export type SchemeSimulatorStats = {
  readonly connections_accepted: number
  readonly messages_received: number
  readonly answers_sent: number
  readonly no_answer: number
  readonly malformed: number
  readonly dropped: number
  readonly delayed: number
  readonly duplicated: number
}

export type SchemeSimulator = {
  readonly port: number
  readonly issuers: SimulatedIssuers
  /** The day's settlement file (`YYYY-MM-DD`, UTC) as text. */
  settlementFile(date: string): string
  /** Writes the day's settlement file into `directory`; returns its path. */
  writeSettlementFile(date: string, directory: string): Promise<string>
  /** Replaces the fault knobs. */
  setFaults(rules: readonly FaultRule[]): void
  /** The last decisions (at most 10,000), PANs masked. */
  decisions(): readonly DecisionRecord[]
  stats(): SchemeSimulatorStats
  /** Stops listening, drops every connection and any delayed answer. */
  close(): Promise<void>
}

/** Starts the simulator and resolves once it listens. */
export async function startSchemeSimulator(options: SchemeSimulatorOptions = {}): Promise<SchemeSimulator> {
  const clock = options.clock ?? systemClock
  const seed = options.seed ?? 1
  const core = new SchemeCore({ ...options, clock, seed })
  // A generator of its own for faults, so adding a fault does not change the authorization codes.
  const faultRandom = seededRandom(seed ^ 0x5eed)
  const frameLengthMax = options.frameLengthMax ?? frameLengthMaxDefault
  const connectionsMax = options.connectionsMax ?? 64
  assert(Number.isSafeInteger(connectionsMax) && connectionsMax > 0, 'connectionsMax is a positive integer')
  const log = options.log ?? (() => undefined)
  let faults = validatedFaults(options.faults ?? [])
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const stats = { connections_accepted: 0, messages_received: 0, answers_sent: 0, no_answer: 0, malformed: 0, dropped: 0, delayed: 0, duplicated: 0 }

  const send = (socket: Socket, message: Iso8583Message): void => {
    if (socket.destroyed) return
    const bytes = encodeMessage(message, { encoding: 'ascii' })
    // The answer is built from the request's own fields, which decoded, so it encodes: a failure is a bug.
    assert(bytes.ok, `the scheme built an answer it cannot encode: ${bytes.ok ? '' : bytes.error.message}`)
    const error = writeFrame(socket, bytes.value, { frameLengthMax })
    assert(error === undefined, `the scheme built an answer it cannot frame: ${error?.message ?? ''}`)
    stats.answers_sent++
  }

  const later = (delayMs: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      run()
    }, delayMs)
    timers.add(timer)
  }

  const onMessage = (socket: Socket, request: Iso8583Message): void => {
    stats.messages_received++
    const decision = core.handle(request)
    if (decision.kind !== 'answer') {
      if (decision.kind === 'no_answer') stats.no_answer++
      log({ event: 'message', ...decision.record })
      return
    }
    const fault = pickFault(faults, request, faultRandom)
    log({ event: 'message', ...decision.record, ...(fault === undefined ? {} : { fault: fault.action }) })
    switch (fault?.action) {
      case undefined:
        send(socket, decision.response)
        break
      case 'drop':
        stats.dropped++
        break
      case 'delay':
        stats.delayed++
        later(fault.delayMs ?? 0, () => send(socket, decision.response))
        break
      case 'duplicate':
        stats.duplicated++
        send(socket, decision.response)
        if ((fault.delayMs ?? 0) === 0) send(socket, decision.response)
        else later(fault.delayMs ?? 0, () => send(socket, decision.response))
        break
    }
  }

  const server = createServer((socket) => {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    stats.connections_accepted++
    sockets.add(socket)
    socket.setNoDelay(true)
    log({ event: 'connection_opened', remote })
    socket.on('close', () => {
      sockets.delete(socket)
      log({ event: 'connection_closed', remote })
    })
    socket.on('error', () => undefined) // a reset by the acquirer is reported by 'close'
    readFrames(socket, {
      frameLengthMax,
      onFrame: (frame) => {
        const decoded = decodeMessage(frame, { encoding: 'ascii' })
        if (!decoded.ok) {
          // Codec errors name the field, never its value, so they are safe to log.
          stats.malformed++
          log({ event: 'malformed', error: decoded.error.message })
          return
        }
        onMessage(socket, decoded.value)
      },
      onError: (error) => {
        log({ event: 'frame_error', remote, error: error.message })
        socket.destroy()
      },
    })
  })
  server.maxConnections = connectionsMax

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  assert(address !== null && typeof address === 'object', 'a TCP server has an address')

  return {
    port: address.port,
    issuers: {
      account: (pan) => core.account(pan),
      accounts: () => core.accountList(),
      setAvailable: (issuerId, available) => core.setIssuerAvailable(issuerId, available),
    },
    settlementFile: (date) => renderSettlementFile(date, core.postings()),
    writeSettlementFile: async (date, directory) => {
      const path = join(directory, settlementFileName(date))
      await writeFile(path, renderSettlementFile(date, core.postings()), { mode: 0o600 })
      return path
    },
    setFaults: (rules) => {
      faults = validatedFaults(rules)
    },
    decisions: () => core.decisions(),
    stats: () => ({ ...stats }),
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}

/** Today's date for the simulator's clock, `YYYY-MM-DD` UTC: the settlement day being written. */
export function settlementDateOf(clock: Clock): string {
  return utcDate(clock.now())
}

type ActiveFault = FaultRule & { applied: number }

function validatedFaults(rules: readonly FaultRule[]): ActiveFault[] {
  return rules.map((rule) => {
    assert(rule.ratio === undefined || (rule.ratio >= 0 && rule.ratio <= 1), 'a fault ratio is 0 to 1')
    assert(rule.delayMs === undefined || (Number.isSafeInteger(rule.delayMs) && rule.delayMs >= 0 && rule.delayMs <= faultDelayMsMax), `a fault delay is 0 to ${faultDelayMsMax} ms`)
    assert(rule.timesMax === undefined || (Number.isSafeInteger(rule.timesMax) && rule.timesMax >= 1), 'timesMax is a positive integer')
    assert(rule.pan === undefined || /^[0-9]{8,19}$/.test(rule.pan), `a fault PAN is digits (${rule.pan === undefined ? '' : maskPan(rule.pan)})`)
    return { ...rule, applied: 0 }
  })
}

function pickFault(faults: ActiveFault[], request: Iso8583Message, random: () => number): ActiveFault | undefined {
  for (const fault of faults) {
    if (fault.pan !== undefined && request.fields[2] !== fault.pan) continue
    if (fault.mtis !== undefined && !fault.mtis.includes(request.mti)) continue
    if (fault.timesMax !== undefined && fault.applied >= fault.timesMax) continue
    if (fault.ratio !== undefined && fault.ratio < 1 && random() >= fault.ratio) continue
    fault.applied++
    return fault
  }
  return undefined
}
