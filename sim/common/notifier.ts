/**
 * Asynchronous notifications from a simulated provider to the merchant (Kassa): each one is POSTed
 * to its `notify_url` and retried with exponential backoff until the merchant answers with what the
 * provider counts as success, at most `attemptsMax` times. Notification faults (drop, duplicate,
 * delay, out of order, forged) are applied here; the provider decides which and builds the bodies.
 */
import { assert } from '../../src/domain/assert.js'
import type { Clock } from '../../src/domain/clock.js'
import { faultDelayMsMax, outOfOrderHoldMsDefault, type FaultAction, type Forgery, type NotificationFaultRule, type NotifiedStatus } from './faults.js'
import type { Timers } from './timers.js'

export type OutgoingNotification = {
  /** The merchant's order number: notifications of one order are ordered among themselves. */
  readonly order_no: string
  readonly merchant_id: string
  readonly status: NotifiedStatus
  readonly url: string
  readonly body: string
  readonly headers: Readonly<Record<string, string>>
}

export type DeliveryOutcome =
  /** Still being sent or waiting for its next attempt. */
  | 'pending'
  /** The merchant answered success. */
  | 'delivered'
  /** Every attempt failed; the provider stops trying. */
  | 'gave_up'
  /** A `notify_drop` fault (or a full queue): never sent. */
  | 'dropped'
  /** A forged notification the merchant refused (what it should do). */
  | 'forgery_refused'
  /** A forged notification the merchant answered success to (what it must not do). */
  | 'forgery_accepted'
  /** The simulator closed before it finished. */
  | 'abandoned'

export type DeliveryAttempt = {
  readonly at_ms: number
  /** The merchant's HTTP status, when it answered. */
  readonly http_status?: number
  /** The first 200 characters of its answer. */
  readonly answer?: string
  /** Why no answer came (timeout, refused connection). */
  readonly error?: string
  readonly success: boolean
}

export type DeliveryRecord = {
  readonly id: number
  readonly order_no: string
  readonly merchant_id: string
  readonly status: NotifiedStatus
  readonly url: string
  readonly body: string
  readonly headers: Readonly<Record<string, string>>
  /** Set on a forged notification. */
  readonly forged?: Forgery
  /** The fault applied to the genuine notification this delivery belongs to. */
  readonly fault?: FaultAction
  readonly attempts: readonly DeliveryAttempt[]
  readonly outcome: DeliveryOutcome
}

export type NotifierOptions = {
  /** Attempts per notification, 1 to 20. Default 5. */
  readonly attemptsMax?: number
  /** The wait after the first failed attempt, doubled after each further one. Default 1,000 ms. */
  readonly backoffMs?: number
  /** The longest wait between attempts. Default 60,000 ms. */
  readonly backoffMsMax?: number
  /** How long one attempt waits for the merchant's answer, 1 to 60,000 ms. Default 5,000 ms. */
  readonly timeoutMs?: number
  /** Notifications being delivered or waiting at once; more are dropped (and logged). Default 10,000. */
  readonly pendingMax?: number
}

export type NotifierLogEntry = {
  readonly event: 'notification_attempt' | 'notification_dropped' | 'notification_gave_up'
  readonly order_no: string
  readonly status: NotifiedStatus
  readonly attempt?: number
  readonly success?: boolean
  readonly http_status?: number
  readonly error?: string
  readonly forged?: Forgery
  readonly fault?: FaultAction
}

type MutableRecord = {
  -readonly [K in keyof DeliveryRecord]: DeliveryRecord[K]
} & { attempts: DeliveryAttempt[] }

type Held = { readonly record: MutableRecord; readonly release: () => void }

const answerBytesMax = 64 * 1024
const recordsMax = 10_000

export class Notifier {
  private readonly attemptsMax: number
  private readonly backoffMs: number
  private readonly backoffMsMax: number
  private readonly timeoutMs: number
  private readonly pendingMax: number
  private readonly records: MutableRecord[] = []
  private readonly held = new Map<string, Held[]>()
  private nextId = 1
  private inFlight = 0
  private waiters: (() => void)[] = []

  constructor(
    options: NotifierOptions,
    private readonly deps: {
      readonly clock: Clock
      readonly timers: Timers
      /** Whether the merchant's answer means "received". */
      readonly isSuccess: (httpStatus: number, answer: string) => boolean
      readonly log: (entry: NotifierLogEntry) => void
    },
  ) {
    this.attemptsMax = options.attemptsMax ?? 5
    this.backoffMs = options.backoffMs ?? 1_000
    this.backoffMsMax = options.backoffMsMax ?? 60_000
    this.timeoutMs = options.timeoutMs ?? 5_000
    this.pendingMax = options.pendingMax ?? 10_000
    assert(Number.isSafeInteger(this.attemptsMax) && this.attemptsMax >= 1 && this.attemptsMax <= 20, 'attemptsMax is 1 to 20')
    assert(Number.isSafeInteger(this.backoffMs) && this.backoffMs >= 0 && this.backoffMs <= this.backoffMsMax, 'backoffMs is 0 to backoffMsMax')
    assert(Number.isSafeInteger(this.backoffMsMax) && this.backoffMsMax <= 3_600_000, 'backoffMsMax is at most an hour')
    assert(Number.isSafeInteger(this.timeoutMs) && this.timeoutMs >= 1 && this.timeoutMs <= 60_000, 'timeoutMs is 1 to 60,000')
    assert(Number.isSafeInteger(this.pendingMax) && this.pendingMax >= 1, 'pendingMax is positive')
  }

  /**
   * Sends a genuine notification under `fault` (if any). `forged` is the forged notification a
   * `notify_forge` fault sends first.
   */
  dispatch(notification: OutgoingNotification, fault: NotificationFaultRule | undefined, forged?: OutgoingNotification): void {
    const key = `${notification.merchant_id}\n${notification.order_no}`
    const action = fault?.action
    if (forged !== undefined) {
      assert(fault?.action === 'notify_forge', 'a forged notification comes with its fault')
      const record = this.newRecord(forged, action, fault.forgery)
      if (record !== undefined) void this.deliver(record, 0, 1)
    }
    if (action === 'notify_drop') {
      const record = this.newRecord(notification, action, undefined, 'dropped')
      if (record !== undefined) this.finish(record, 'dropped')
      this.deps.log({ event: 'notification_dropped', order_no: notification.order_no, status: notification.status, fault: action })
      return
    }
    const record = this.newRecord(notification, action)
    if (record === undefined) return
    if (action === 'notify_out_of_order') {
      this.hold(key, record, fault?.delayMs ?? outOfOrderHoldMsDefault)
      return
    }
    const heldBefore = this.held.get(key) ?? []
    this.held.delete(key)
    const first = this.deliver(record, action === 'notify_delay' ? fault?.delayMs ?? 0 : 0, this.attemptsMax)
    if (action === 'notify_duplicate') {
      const copy = this.newRecord(notification, action)
      if (copy !== undefined) void this.deliver(copy, 0, this.attemptsMax)
    }
    // Notifications held back for this order go out once the newer one has had its first answer.
    if (heldBefore.length > 0) void first.firstAnswered.then(() => heldBefore.forEach((held) => held.release()))
  }

  /** Every delivery so far (the last 10,000), oldest first. */
  deliveries(): readonly DeliveryRecord[] {
    return this.records.map((record) => ({ ...record, attempts: [...record.attempts] }))
  }

  /** Resolves when no notification is pending (delivered, given up or dropped); rejects after `timeoutMs`. */
  async settled(timeoutMs = 10_000): Promise<void> {
    if (this.inFlight === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      new Promise<void>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`notifications still pending after ${timeoutMs} ms: ${this.inFlight}`)), timeoutMs)
      }),
    ]).finally(() => clearTimeout(timer))
  }

  /** Abandons everything pending (the caller closes the timers). */
  close(): void {
    for (const list of this.held.values()) for (const held of list) this.finish(held.record, 'abandoned')
    this.held.clear()
  }

  private hold(key: string, record: MutableRecord, holdMs: number): void {
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      const list = this.held.get(key)?.filter((held) => held.record !== record) ?? []
      if (list.length === 0) this.held.delete(key)
      else this.held.set(key, list)
      void this.deliver(record, 0, this.attemptsMax)
    }
    const list = this.held.get(key) ?? []
    list.push({ record, release })
    this.held.set(key, list)
    void this.deps.timers.sleep(holdMs).then((elapsed) => {
      if (elapsed) release()
    })
  }

  private newRecord(notification: OutgoingNotification, fault: FaultAction | undefined, forged?: Forgery, outcome?: DeliveryOutcome): MutableRecord | undefined {
    if (this.inFlight >= this.pendingMax) {
      this.deps.log({ event: 'notification_dropped', order_no: notification.order_no, status: notification.status, error: 'queue full' })
      return undefined
    }
    const record: MutableRecord = {
      id: this.nextId++,
      order_no: notification.order_no,
      merchant_id: notification.merchant_id,
      status: notification.status,
      url: notification.url,
      body: notification.body,
      headers: notification.headers,
      ...(forged === undefined ? {} : { forged }),
      ...(fault === undefined ? {} : { fault }),
      attempts: [],
      outcome: outcome ?? 'pending',
    }
    this.records.push(record)
    if (this.records.length > recordsMax) this.records.splice(0, this.records.length - recordsMax)
    if (outcome === undefined) this.inFlight++
    return record
  }

  private deliver(record: MutableRecord, initialDelayMs: number, attemptsMax: number): { firstAnswered: Promise<void> } {
    let answered: () => void = () => undefined
    const firstAnswered = new Promise<void>((resolve) => (answered = resolve))
    const run = async (): Promise<void> => {
      if (initialDelayMs > 0 && !(await this.deps.timers.sleep(Math.min(initialDelayMs, faultDelayMsMax)))) return this.finish(record, 'abandoned')
      for (let attempt = 1; attempt <= attemptsMax; attempt++) {
        if (this.deps.timers.isClosed) return this.finish(record, 'abandoned')
        const result = await this.attempt(record)
        record.attempts.push(result)
        this.deps.log({
          event: 'notification_attempt',
          order_no: record.order_no,
          status: record.status,
          attempt,
          success: result.success,
          ...(result.http_status === undefined ? {} : { http_status: result.http_status }),
          ...(result.error === undefined ? {} : { error: result.error }),
          ...(record.forged === undefined ? {} : { forged: record.forged }),
          ...(record.fault === undefined ? {} : { fault: record.fault }),
        })
        if (attempt === 1) answered()
        if (record.forged !== undefined) return this.finish(record, result.success ? 'forgery_accepted' : 'forgery_refused')
        if (result.success) return this.finish(record, 'delivered')
        if (attempt === attemptsMax) break
        const waitMs = Math.min(this.backoffMsMax, this.backoffMs * 2 ** (attempt - 1))
        if (!(await this.deps.timers.sleep(waitMs))) return this.finish(record, 'abandoned')
      }
      this.deps.log({ event: 'notification_gave_up', order_no: record.order_no, status: record.status, attempt: attemptsMax })
      this.finish(record, 'gave_up')
    }
    void run().finally(answered)
    return { firstAnswered }
  }

  private async attempt(record: MutableRecord): Promise<DeliveryAttempt> {
    const at_ms = this.deps.clock.now()
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        headers: record.headers,
        body: record.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      const answer = await boundedText(response)
      return { at_ms, http_status: response.status, answer: answer.slice(0, 200), success: this.deps.isSuccess(response.status, answer) }
    } catch (error) {
      return { at_ms, error: describe(error), success: false }
    }
  }

  private finish(record: MutableRecord, outcome: DeliveryOutcome): void {
    if (record.outcome !== 'pending') return
    record.outcome = outcome
    this.inFlight--
    if (this.inFlight === 0) {
      const waiters = this.waiters
      this.waiters = []
      for (const wake of waiters) wake()
    }
  }
}

/** Reads at most 64 KiB of an answer; a merchant's "success" is seven bytes. */
async function boundedText(response: Response): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.byteLength
    if (size >= answerBytesMax) {
      await reader.cancel()
      break
    }
  }
  return Buffer.concat(chunks).subarray(0, answerBytesMax).toString('utf8')
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.name}: ${error.message}${cause}`.slice(0, 200)
  }
  return String(error).slice(0, 200)
}
