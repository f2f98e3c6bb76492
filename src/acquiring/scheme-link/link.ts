/**
 * Kassa's link to the card scheme: one persistent TCP connection carrying ISO 8583 (`ascii` encoding)
 * in 2-byte-length frames, with many requests in flight at once.
 *
 * - **Matching.** The link gives every message its STAN (field 11) and, for a new transaction, its RRN
 *   (field 37), see `trace.ts`. An answer is matched to its request by STAN and response MTI (0110 to a
 *   0100, 0410 to a 0400 or 0401), never by arrival order.
 * - **Outcomes are values.** `send` resolves `answered`, `timeout` (sent, no answer in time: the
 *   scheme may have acted on it, so the caller reverses), `link_down` (not sent: safe to retry or
 *   decline) or `not_sent` (refused before sending). It never throws for an operating problem.
 * - **Late, duplicate and unmatched answers** are counted in `stats()` and logged (MTI and STAN only,
 *   never a PAN), and otherwise ignored.
 * - **Reconnection.** When the connection drops, the link reconnects with exponential backoff
 *   (`reconnectDelayMsMin` doubling to `reconnectDelayMsMax`, half of it jittered). The number of
 *   attempts is deliberately unbounded while the link is open, since the link exists to be up; each
 *   attempt is bounded by `connectTimeoutMs`, and `close()` stops it. Requests in flight when the
 *   connection drops keep waiting until their own timeout, because a scheme may deliver a late answer
 *   on the new connection.
 * - **Echo.** Every `echoIntervalMs` it sends an 0800 echo (70 = 301); `echoFailuresMax` unanswered in
 *   a row close the connection, which then reconnects. After each connect it signs on (70 = 001).
 *
 * Timers are real; the injected clock gives the dates in fields 7, 11 and 37.
 */
import { connect, type Socket } from 'node:net'
import { assert } from '../../domain/assert.js'
import { systemClock, type Clock } from '../../domain/clock.js'
import { decodeMessage, encodeMessage, parseMti, responseMtiFor, type Iso8583Message } from '../iso8583/index.js'
import { frameLengthMaxDefault, readFrames, writeFrame } from './framing.js'
import { originalDataElements, retrievalReferenceNumber, StanSequence, transmissionDateTime } from './trace.js'

export type LinkState = 'connecting' | 'up' | 'waiting' | 'closed'

/** The link's states and the moves between them (`waiting`: for the next reconnection attempt). */
export const linkTransitions = {
  connecting: ['up', 'waiting', 'closed'],
  up: ['waiting', 'closed'],
  waiting: ['connecting', 'closed'],
  closed: [],
} as const satisfies Record<LinkState, readonly LinkState[]>

export type SendResult =
  | { readonly outcome: 'answered'; readonly request: Iso8583Message; readonly message: Iso8583Message }
  /** Sent, and no answer within the timeout (or the link was closed first): the scheme may have acted on it. */
  | { readonly outcome: 'timeout'; readonly request: Iso8583Message }
  /** Not sent: there is no connection. */
  | { readonly outcome: 'link_down' }
  /** Not sent: too many requests in flight, or the message does not encode (the detail names the field). */
  | { readonly outcome: 'not_sent'; readonly reason: 'in_flight_max' | 'message_invalid' | 'original_in_flight'; readonly detail: string }

export type ReversalResult =
  | { readonly acknowledged: true; readonly attempts: number; readonly request: Iso8583Message; readonly message: Iso8583Message }
  | {
      readonly acknowledged: false
      readonly attempts: number
      /** The last reversal sent (0400 or 0401), if any was. */
      readonly request: Iso8583Message | undefined
      readonly lastOutcome: 'timeout' | 'link_down' | 'not_sent'
    }

export type LinkStats = {
  readonly state: LinkState
  /** Connections established. */
  readonly connections: number
  readonly connect_failures: number
  readonly sent: number
  readonly answered: number
  readonly timed_out: number
  /** Answers to requests that had already timed out. */
  readonly late: number
  /** Second answers to requests already answered. */
  readonly duplicate: number
  /** Answers matching nothing the link sent (recently). */
  readonly unmatched: number
  /** Frames that did not decode as ISO 8583. */
  readonly malformed: number
  /** `send` calls refused because there was no connection. */
  readonly link_down: number
  readonly echo_failures: number
  readonly in_flight: number
  /** STANs given out and not yet settled (stamped, or awaiting an answer): 0 when the link is idle. */
  readonly stans_held: number
  readonly stan_rollovers: number
}

/** The subset of a pino logger the link uses. */
export type LinkLogger = {
  info(details: object, message: string): void
  warn(details: object, message: string): void
}

export type SchemeLinkOptions = {
  readonly host: string
  readonly port: number
  readonly clock?: Clock
  /** Field 32, up to 11 digits, added to messages that do not carry it. */
  readonly acquirerId?: string
  /** Default per-request timeout; 10,000 ms. At most `requestTimeoutMsMax`. */
  readonly requestTimeoutMs?: number
  /** Requests awaiting an answer at once; 2,048 by default. More are refused as `not_sent`. */
  readonly inFlightMax?: number
  /** 30,000 ms by default; 0 turns the periodic echo off. */
  readonly echoIntervalMs?: number
  readonly echoTimeoutMs?: number
  /** Consecutive unanswered echoes that close the connection; 3 by default. */
  readonly echoFailuresMax?: number
  readonly reconnectDelayMsMin?: number
  readonly reconnectDelayMsMax?: number
  readonly connectTimeoutMs?: number
  readonly frameLengthMax?: number
  /** The first STAN, for a process restarting within a day (see `StanSequence`). */
  readonly stanFirst?: number
  /** Send a sign-on (0800, 70 = 001) after each connect; true by default. */
  readonly signOn?: boolean
  readonly logger?: LinkLogger
}

function isRepeat(message: Iso8583Message): boolean {
  return parseMti(message.mti)?.repeat === true
}

export const requestTimeoutMsMax = 120_000
export const reversalAttemptsMax = 20
/** Answers remembered after completion, to tell a late or duplicate answer from an unmatched one. */
const completedRemembered = 16_384
/** Fields a reversal copies from its original. Never the PIN block, track data or ICC data. */
const reversalCopiedFields = [2, 3, 4, 12, 13, 14, 22, 32, 37, 41, 42, 49] as const

type Pending = {
  readonly request: Iso8583Message
  readonly resolve: (result: SendResult) => void
  readonly timer: NodeJS.Timeout
  /** Whether this send took the STAN (a repeat of another process's request may find it held by a request of this one). */
  readonly heldStan: boolean
}

export type SchemeLink = {
  /**
   * Sends a request or advice and resolves with its outcome. The link sets field 11 (the caller must
   * not), and fields 7, 37 (except for network management) and 32 when absent.
   *
   * @example
   * const result = await link.send({ mti: '0100', fields: { 2: pan, 3: '000000', 4: '000000010000', 49: '156' } }, { timeoutMs: 5_000 })
   * if (result.outcome === 'answered') result.message.fields[39] // '00'
   * if (result.outcome === 'timeout') await link.reverse(result.request, { attemptsMax: 5, timeoutMs: 5_000 })
   */
  send(message: Iso8583Message, options?: { readonly timeoutMs?: number }): Promise<SendResult>
  /**
   * Gives a new request its STAN and fields 7, 37 and 32 now, as `send` would, without sending it:
   * the caller records them durably first and then calls `sendStamped`, so a crash in between
   * leaves a request that names itself and can be reversed.
   */
  stamp(message: Iso8583Message): Iso8583Message
  /**
   * Gives back the STAN of a request `stamp` made that will never be sent: the transaction that
   * recorded it rolled back. A request already sent, or not stamped here, is left alone.
   */
  release(message: Iso8583Message): void
  /** Sends a request `stamp` made (its field 11 set); otherwise as `send`. */
  sendStamped(message: Iso8583Message, options?: { readonly timeoutMs?: number }): Promise<SendResult>
  /**
   * Reverses `original` (a request as sent, with fields 7 and 11): an 0400 with field 90 pointing at it,
   * then the same message as 0401 repeats until an 0410 arrives, at most `attemptsMax` times, waiting
   * `backoffMsMin` doubling to `backoffMsMax` between attempts. Any 0410 acknowledges it (00, or 25
   * when the scheme never saw the original).
   *
   * @example
   * const reversal = await link.reverse(timedOut.request, { attemptsMax: 5, timeoutMs: 2_000 })
   * if (!reversal.acknowledged) queueForLater(reversal.request)
   */
  reverse(
    original: Iso8583Message,
    options: { readonly attemptsMax: number; readonly timeoutMs?: number; readonly backoffMsMin?: number; readonly backoffMsMax?: number },
  ): Promise<ReversalResult>
  /** Sends an 0800 echo test (70 = 301). */
  echo(options?: { readonly timeoutMs?: number }): Promise<SendResult>
  /** Resolves true once the link is up, false after `timeoutMs` or if it is closed. */
  waitUntilUp(timeoutMs: number): Promise<boolean>
  state(): LinkState
  stats(): LinkStats
  /** Stops reconnecting and echoing, closes the connection; requests in flight resolve as `timeout`. */
  close(): Promise<void>
}

/**
 * Opens the link; it connects in the background and stays connected until `close()`.
 *
 * @example
 * const link = openSchemeLink({ host: '127.0.0.1', port: 9583, acquirerId: '12345678' })
 * await link.waitUntilUp(5_000)
 */
export function openSchemeLink(options: SchemeLinkOptions): SchemeLink {
  const clock = options.clock ?? systemClock
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000
  const inFlightMax = options.inFlightMax ?? 2_048
  const echoIntervalMs = options.echoIntervalMs ?? 30_000
  const echoTimeoutMs = options.echoTimeoutMs ?? 5_000
  const echoFailuresMax = options.echoFailuresMax ?? 3
  const reconnectDelayMsMin = options.reconnectDelayMsMin ?? 100
  const reconnectDelayMsMax = options.reconnectDelayMsMax ?? 5_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const frameLengthMax = options.frameLengthMax ?? frameLengthMaxDefault
  const logger = options.logger ?? { info: () => undefined, warn: () => undefined }
  assertTimeout(requestTimeoutMs, 'requestTimeoutMs')
  assertTimeout(echoTimeoutMs, 'echoTimeoutMs')
  assertTimeout(connectTimeoutMs, 'connectTimeoutMs')
  assert(Number.isSafeInteger(inFlightMax) && inFlightMax >= 1 && inFlightMax <= 100_000, 'inFlightMax is 1 to 100,000')
  assert(Number.isSafeInteger(echoIntervalMs) && echoIntervalMs >= 0, 'echoIntervalMs is a non-negative integer')
  assert(Number.isSafeInteger(echoFailuresMax) && echoFailuresMax >= 1, 'echoFailuresMax is a positive integer')
  assert(Number.isSafeInteger(reconnectDelayMsMin) && reconnectDelayMsMin >= 1 && reconnectDelayMsMin <= reconnectDelayMsMax && reconnectDelayMsMax <= 600_000, 'reconnect delays are 1 ≤ min ≤ max ≤ 600,000 ms')
  assert(options.acquirerId === undefined || /^[0-9]{1,11}$/.test(options.acquirerId), 'acquirerId is 1 to 11 digits')

  const stans = new StanSequence({ clock, ...(options.stanFirst === undefined ? {} : { first: options.stanFirst }) })
  const pending = new Map<string, Pending>()
  const stansInFlight = new Set<string>()
  /** STANs `stamp` gave out whose request has not gone to `sendStamped` yet: the only ones `release` frees. */
  const stampedUnsent = new Set<string>()
  const completed = new Map<string, 'answered' | 'timed_out'>()
  const waiters = new Set<{ resolve: (up: boolean) => void; timer: NodeJS.Timeout }>()
  const counters = { connections: 0, connect_failures: 0, sent: 0, answered: 0, timed_out: 0, late: 0, duplicate: 0, unmatched: 0, malformed: 0, link_down: 0, echo_failures: 0 }
  let state: LinkState = 'connecting'
  let socket: Socket | undefined
  /** The connection being attempted or in use, so `close()` can stop it in either case. */
  let latestAttempt: Socket | undefined
  let reconnectTimer: NodeJS.Timeout | undefined
  let consecutiveFailures = 0
  let consecutiveEchoFailures = 0
  let echoInFlight = false

  const moveTo = (next: LinkState): void => {
    assert((linkTransitions[state] as readonly LinkState[]).includes(next), `link: no transition from ${state} to ${next}`)
    state = next
    if (next === 'up' || next === 'closed') {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer)
        waiter.resolve(next === 'up')
      }
      waiters.clear()
    }
  }

  const remember = (key: string, how: 'answered' | 'timed_out'): void => {
    completed.set(key, how)
    if (completed.size > completedRemembered) {
      const oldest = completed.keys().next()
      if (oldest.done !== true) completed.delete(oldest.value)
    }
  }

  const settle = (key: string, entry: Pending, result: SendResult): void => {
    clearTimeout(entry.timer)
    pending.delete(key)
    if (entry.heldStan) stansInFlight.delete(entry.request.fields[11] ?? '')
    remember(key, result.outcome === 'answered' ? 'answered' : 'timed_out')
    if (result.outcome === 'answered') {
      counters.answered++
      // The backoff starts over only once the scheme answers: a peer that accepts connections and
      // drops them at once keeps the delays growing.
      consecutiveFailures = 0
    } else {
      counters.timed_out++
    }
    entry.resolve(result)
  }

  /** Encodes, frames and writes `request` (which carries its STAN), and awaits its answer. */
  const transmit = (request: Iso8583Message, timeoutMs: number): Promise<SendResult> => {
    assertTimeout(timeoutMs, 'timeoutMs')
    const current = socket
    if (state !== 'up' || current === undefined) {
      counters.link_down++
      return Promise.resolve({ outcome: 'link_down' })
    }
    if (pending.size >= inFlightMax) {
      return Promise.resolve({ outcome: 'not_sent', reason: 'in_flight_max', detail: `${pending.size} requests in flight, the maximum is ${inFlightMax}` })
    }
    const responseMti = responseMtiFor(request.mti)
    assert(responseMti !== undefined, `link: ${request.mti} is not a request or advice`)
    const stan = request.fields[11] ?? ''
    const key = `${responseMti}:${stan}`
    const repeat = isRepeat(request)
    if (pending.has(key)) {
      // A repeat (0221, 0401) of a request this link still awaits: the original's answer will do.
      assert(repeat, `link: STAN ${stan} is already awaiting a ${responseMti}`)
      return Promise.resolve({ outcome: 'not_sent', reason: 'original_in_flight', detail: `STAN ${stan} is still awaiting its ${responseMti}` })
    }
    const encoded = encodeMessage(request, { encoding: 'ascii' })
    if (!encoded.ok) return Promise.resolve({ outcome: 'not_sent', reason: 'message_invalid', detail: encoded.error.message })
    return new Promise<SendResult>((resolve) => {
      const timer = setTimeout(() => {
        const entry = pending.get(key)
        if (entry !== undefined) settle(key, entry, { outcome: 'timeout', request })
      }, timeoutMs)
      // An original owns the STAN stamp() gave it; a repeat only one nobody holds.
      const heldStan = !repeat || !stansInFlight.has(stan)
      pending.set(key, { request, resolve, timer, heldStan })
      stansInFlight.add(stan)
      const error = writeFrame(current, encoded.value, { frameLengthMax })
      if (error !== undefined) {
        clearTimeout(timer)
        pending.delete(key)
        if (heldStan) stansInFlight.delete(stan)
        resolve({ outcome: 'not_sent', reason: 'message_invalid', detail: error.message })
        return
      }
      counters.sent++
    })
  }

  /** Gives a new message its STAN and, where absent, fields 7, 37 and 32. */
  const stamped = (message: Iso8583Message): Iso8583Message => {
    assert(message.fields[11] === undefined, 'link: the link assigns the STAN (field 11); do not set it')
    const nowMs = clock.now()
    const stan = stans.next((candidate) => stansInFlight.has(candidate))
    // Held from now: between stamp() and sendStamped() nobody else may take this STAN.
    stansInFlight.add(stan)
    stampedUnsent.add(stan)
    const fields: Record<number, string> = { ...message.fields, 11: stan }
    fields[7] ??= transmissionDateTime(nowMs)
    if (!message.mti.startsWith('08')) fields[37] ??= retrievalReferenceNumber(nowMs, stan)
    if (options.acquirerId !== undefined && !message.mti.startsWith('08')) fields[32] ??= options.acquirerId
    return { mti: message.mti, fields }
  }

  const sendStamped = async (message: Iso8583Message, sendOptions: { readonly timeoutMs?: number } = {}): Promise<SendResult> => {
    const stan = message.fields[11]
    assert(stan !== undefined, 'link: sendStamped takes a message stamp() made')
    stampedUnsent.delete(stan)
    const result = await transmit(message, sendOptions.timeoutMs ?? requestTimeoutMs)
    // Never left: the STAN stamp() held is free again (one that left is freed when it settles). A
    // repeat's STAN is its original's, held, if at all, by that original's send.
    const neverLeft = result.outcome === 'link_down' || result.outcome === 'not_sent'
    if (neverLeft && !isRepeat(message)) stansInFlight.delete(stan)
    return result
  }

  const send = (message: Iso8583Message, sendOptions: { readonly timeoutMs?: number } = {}): Promise<SendResult> => sendStamped(stamped(message), sendOptions)

  const onFrame = (frame: Buffer, from: Socket): void => {
    const decoded = decodeMessage(frame, { encoding: 'ascii' })
    if (!decoded.ok) {
      counters.malformed++
      logger.warn({ error: decoded.error.message }, 'scheme link: a frame that is not an ISO 8583 message')
      return
    }
    const message = decoded.value
    const parts = parseMti(message.mti)
    const stan = message.fields[11]
    // The scheme may test the link too: answer its echo.
    if (parts?.messageClass === 'network_management' && parts.messageFunction === 'request') {
      const answer = encodeMessage({ mti: responseMtiFor(message.mti) ?? '0810', fields: { ...pick(message, [7, 11, 70]), 39: '00' } }, { encoding: 'ascii' })
      if (answer.ok) writeFrame(from, answer.value, { frameLengthMax })
      return
    }
    const key = `${message.mti}:${stan ?? ''}`
    const entry = pending.get(key)
    if (entry !== undefined) {
      settle(key, entry, { outcome: 'answered', request: entry.request, message })
      return
    }
    const before = completed.get(key)
    if (before === 'answered') counters.duplicate++
    else if (before === 'timed_out') counters.late++
    else counters.unmatched++
    logger.warn({ mti: message.mti, stan, kind: before === 'answered' ? 'duplicate' : before === 'timed_out' ? 'late' : 'unmatched' }, 'scheme link: an answer no request awaits')
  }

  const scheduleReconnect = (): void => {
    const exponent = Math.min(consecutiveFailures, 20)
    const ceiling = Math.min(reconnectDelayMsMax, reconnectDelayMsMin * 2 ** exponent)
    const delayMs = Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2)
    consecutiveFailures++
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      if (state !== 'waiting') return
      moveTo('connecting')
      open()
    }, delayMs)
    reconnectTimer.unref()
  }

  const open = (): void => {
    const attempt = connect({ host: options.host, port: options.port })
    latestAttempt = attempt
    let established = false
    const connectTimer = setTimeout(() => attempt.destroy(), connectTimeoutMs)
    attempt.setNoDelay(true)
    attempt.on('error', (error) => logger.warn({ error: error.message }, 'scheme link: connection error'))
    attempt.once('connect', () => {
      clearTimeout(connectTimer)
      if (state !== 'connecting') {
        attempt.destroy()
        return
      }
      established = true
      socket = attempt
      consecutiveEchoFailures = 0
      counters.connections++
      moveTo('up')
      logger.info({ host: options.host, port: options.port }, 'scheme link: up')
      if (options.signOn ?? true) {
        void send({ mti: '0800', fields: { 70: '001' } }, { timeoutMs: echoTimeoutMs }).then((result) => {
          if (result.outcome !== 'answered' || result.message.fields[39] !== '00') logger.warn({ outcome: result.outcome }, 'scheme link: sign-on not acknowledged')
        })
      }
    })
    readFrames(attempt, {
      frameLengthMax,
      onFrame: (frame) => onFrame(frame, attempt),
      onError: (error) => {
        logger.warn({ error: error.message }, 'scheme link: broken framing, closing the connection')
        attempt.destroy()
      },
    })
    attempt.once('close', () => {
      clearTimeout(connectTimer)
      if (socket === attempt) socket = undefined
      if (!established) counters.connect_failures++
      if (state === 'closed') return
      logger.warn({ host: options.host, port: options.port, established }, 'scheme link: down, reconnecting')
      moveTo('waiting')
      scheduleReconnect()
    })
  }

  const echo = (echoOptions: { readonly timeoutMs?: number } = {}): Promise<SendResult> =>
    send({ mti: '0800', fields: { 70: '301' } }, { timeoutMs: echoOptions.timeoutMs ?? echoTimeoutMs })

  const echoTimer =
    echoIntervalMs === 0
      ? undefined
      : setInterval(() => {
          if (state !== 'up' || echoInFlight) return
          echoInFlight = true
          void echo().then((result) => {
            echoInFlight = false
            if (result.outcome === 'answered') {
              consecutiveEchoFailures = 0
              return
            }
            if (result.outcome !== 'timeout') return
            counters.echo_failures++
            consecutiveEchoFailures++
            if (consecutiveEchoFailures >= echoFailuresMax) {
              logger.warn({ consecutiveEchoFailures }, 'scheme link: echo unanswered, closing the connection')
              socket?.destroy()
            }
          })
        }, echoIntervalMs)
  echoTimer?.unref()

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

  const reverse: SchemeLink['reverse'] = async (original, reverseOptions) => {
    const { attemptsMax } = reverseOptions
    const timeoutMs = reverseOptions.timeoutMs ?? requestTimeoutMs
    const backoffMsMin = reverseOptions.backoffMsMin ?? 100
    const backoffMsMax = reverseOptions.backoffMsMax ?? 2_000
    assert(Number.isSafeInteger(attemptsMax) && attemptsMax >= 1 && attemptsMax <= reversalAttemptsMax, `attemptsMax is 1 to ${reversalAttemptsMax}`)
    assert(Number.isSafeInteger(backoffMsMin) && backoffMsMin >= 0 && backoffMsMin <= backoffMsMax && backoffMsMax <= 60_000, 'reversal backoff is 0 ≤ min ≤ max ≤ 60,000 ms')
    const fields: Record<number, string> = { ...pick(original, reversalCopiedFields), 90: originalDataElements(original) }
    let request: Iso8583Message | undefined
    let lastOutcome: 'timeout' | 'link_down' | 'not_sent' = 'link_down'
    for (let attempt = 1; attempt <= attemptsMax; attempt++) {
      if (attempt > 1) await sleep(Math.min(backoffMsMax, backoffMsMin * 2 ** (attempt - 2)))
      if (state === 'closed') return { acknowledged: false, attempts: attempt - 1, request, lastOutcome: 'link_down' }
      let result: SendResult
      if (request === undefined) {
        // The first reversal is a new message with its own STAN; once sent, every later attempt is a
        // repeat of it: the same fields, MTI 0401 (ISO 8583 repeats differ only in the MTI).
        const first: Iso8583Message = { mti: '0400', fields }
        if (state !== 'up') {
          counters.link_down++
          result = { outcome: 'link_down' }
        } else {
          const stampedFirst = stamped(first)
          // As any stamped request: one that never leaves gives its STAN back.
          result = await sendStamped(stampedFirst, { timeoutMs })
          if (result.outcome === 'answered' || result.outcome === 'timeout') request = stampedFirst
        }
      } else {
        request = { mti: '0401', fields: request.fields }
        result = await transmit(request, timeoutMs)
      }
      if (result.outcome === 'answered') return { acknowledged: true, attempts: attempt, request: result.request, message: result.message }
      lastOutcome = result.outcome
      if (result.outcome === 'not_sent') return { acknowledged: false, attempts: attempt, request, lastOutcome }
    }
    return { acknowledged: false, attempts: attemptsMax, request, lastOutcome }
  }

  open()

  return {
    send,
    stamp: stamped,
    release: (message) => {
      const stan = message.fields[11]
      if (stan !== undefined && stampedUnsent.delete(stan)) stansInFlight.delete(stan)
    },
    sendStamped,
    reverse,
    echo,
    waitUntilUp: (timeoutMs) => {
      if (state === 'up') return Promise.resolve(true)
      if (state === 'closed') return Promise.resolve(false)
      return new Promise<boolean>((resolve) => {
        const waiter = {
          resolve,
          timer: setTimeout(() => {
            waiters.delete(waiter)
            resolve(false)
          }, timeoutMs),
        }
        waiters.add(waiter)
      })
    },
    state: () => state,
    stats: () => ({ state, ...counters, in_flight: pending.size, stans_held: stansInFlight.size, stan_rollovers: stans.rolloverCount }),
    close: async () => {
      if (state === 'closed') return
      moveTo('closed')
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
      if (echoTimer !== undefined) clearInterval(echoTimer)
      for (const [key, entry] of pending) settle(key, entry, { outcome: 'timeout', request: entry.request })
      const current = latestAttempt
      socket = undefined
      if (current !== undefined && !current.destroyed) {
        await new Promise<void>((resolve) => {
          current.once('close', () => resolve())
          current.destroy()
        })
      }
    },
  }
}

function pick(message: Iso8583Message, fieldNumbers: readonly number[]): Record<number, string> {
  const fields: Record<number, string> = {}
  for (const field of fieldNumbers) {
    const value = message.fields[field]
    if (value !== undefined) fields[field] = value
  }
  return fields
}

function assertTimeout(ms: number, name: string): void {
  assert(Number.isSafeInteger(ms) && ms >= 1 && ms <= requestTimeoutMsMax, `${name} is 1 to ${requestTimeoutMsMax} ms`)
}
