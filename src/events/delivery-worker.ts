import type { Logger } from 'pino'
import type { Clock } from '../domain/clock.js'
import { newId } from '../domain/ids.js'
import { unseal, type MasterKey } from '../security/secrets.js'
import { param, prepare, preparedQueries } from '../store/prepared.js'
import type { Store } from '../store/store.js'
import { signatureHeader } from './signing.js'

const queries = preparedQueries((db, dialect) => ({
  // Prepared once: a round runs after nearly every commit that records events, so on the payment path.
  selectDue: prepare(db, (db) => {
    const due = db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', param('pending'))
      .where('next_attempt_at', '<=', param<bigint>('now'))
      // A disabled endpoint gets nothing more; its deliveries wait, listed, in case it is enabled again.
      .where('endpoint_id', 'in', (eb) => eb.selectFrom('webhook_endpoints').select('id').where('status', '=', param('enabled')))
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', param<bigint>('now2'))]))
      .orderBy('next_attempt_at')
      .limit(param<number>('limit'))
    return dialect.rowLocks ? due.forUpdate().skipLocked() : due
  }),
}))

/** Deliveries are retried with exponential backoff for this long after the event, then given up. */
export const retryWindowMs = 3 * 24 * 60 * 60 * 1000
const firstRetryDelayMs = 30_000
const retryDelayMaxMs = 6 * 60 * 60 * 1000
/** A claimed delivery whose sender died is claimable again after this. */
const claimLeaseMs = 60_000

export type DeliveryWorkerOptions = {
  store: Store
  clock: Clock
  masterKey: MasterKey
  logger: Logger
  /** How long one POST may take. */
  timeoutMs?: number
  /** How many deliveries one round claims and sends at once. */
  batchSizeMax?: number
  pollIntervalMs?: number
  /** Jitter source, injectable so tests are deterministic. */
  random?: () => number
  fetch?: typeof fetch
}

/** The delay before attempt `attemptCount + 1`: 30 s, 1 min, 2 min… capped at 6 h, ±20 % jitter. */
export function retryDelayMs(attemptCount: number, random: () => number): number {
  const exponential = Math.min(firstRetryDelayMs * 2 ** Math.max(attemptCount - 1, 0), retryDelayMaxMs)
  return Math.round(exponential * (0.8 + 0.4 * random()))
}

type Claimed = {
  id: string
  merchant_id: string
  event_id: string
  attempt_count: bigint
  created_at: bigint
  url: string
  secret_sealed: string
  data: string
}

/**
 * Sends queued webhook deliveries. State lives only in the database (claimed with a lease, and
 * with SKIP LOCKED on PostgreSQL), so deliveries survive restarts and several nodes share the work.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private nudged = false
  private stopped = true
  private readonly timeoutMs: number
  private readonly batchSizeMax: number
  private readonly random: () => number
  private readonly fetchFn: typeof fetch

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.batchSizeMax = options.batchSizeMax ?? 20
    this.random = options.random ?? Math.random
    this.fetchFn = options.fetch ?? fetch
  }

  start(): void {
    this.stopped = false
    this.timer = setInterval(() => this.nudge(), this.options.pollIntervalMs ?? 1_000)
    this.timer.unref()
    this.nudge()
  }

  /** Asks for a round soon, e.g. right after a commit that recorded events. */
  nudge(): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.nudged = true
      return
    }
    this.running = this.runOnce()
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'webhook delivery round failed')
        return 0
      })
      .finally(() => {
        this.running = undefined
        if (this.nudged) {
          this.nudged = false
          setImmediate(() => this.nudge())
        }
      })
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.running
  }

  /** One round: claim what is due, send it, record each attempt. Answers how many were sent. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim()
    await Promise.all(claimed.map((delivery) => this.send(delivery)))
    return claimed.length
  }

  private claim(): Promise<Claimed[]> {
    const { store, clock } = this.options
    return store.writer.submit(async (tx) => {
      const nowMs = clock.now()
      const due = await tx.run(queries(tx).selectDue, { pending: 'pending', now: BigInt(nowMs), enabled: 'enabled', now2: BigInt(nowMs), limit: this.batchSizeMax })
      const ids = due.map((row) => row.id)
      if (ids.length === 0) return []
      await tx.execute(tx.builder.updateTable('webhook_deliveries').set({ locked_until: nowMs + claimLeaseMs }).where('id', 'in', ids))
      return tx.execute(
        tx.builder
          .selectFrom('webhook_deliveries as d')
          .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
          .innerJoin('events as v', 'v.id', 'd.event_id')
          .select(['d.id', 'd.merchant_id', 'd.event_id', 'd.attempt_count', 'd.created_at', 'e.url', 'e.secret_sealed', 'v.data'])
          .where('d.id', 'in', ids),
      )
    })
  }

  private async send(delivery: Claimed): Promise<void> {
    const { clock, masterKey, logger } = this.options
    const started = clock.now()
    let responseStatus: number | null = null
    let error: string | null = null
    try {
      const secret = unseal(masterKey, delivery.secret_sealed)
      const response = await this.fetchFn(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Kassa-Webhooks/1',
          'kassa-signature': signatureHeader(secret, delivery.data, Math.floor(started / 1000)),
          'kassa-event-id': delivery.event_id,
          'kassa-delivery-id': delivery.id,
        },
        body: delivery.data,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      responseStatus = response.status
      await response.body?.cancel().catch(() => undefined)
    } catch (caught) {
      error = caught instanceof Error ? `${caught.name}: ${caught.message}`.slice(0, 500) : 'request failed'
    }
    const finished = clock.now()
    const succeeded = responseStatus !== null && responseStatus >= 200 && responseStatus < 300
    const attemptCount = Number(delivery.attempt_count) + 1
    const nextAttemptAt = finished + retryDelayMs(attemptCount, this.random)
    const givenUp = !succeeded && nextAttemptAt > Number(delivery.created_at) + retryWindowMs
    await this.options.store.writer.submit(async (tx) => {
      await tx.execute(
        tx.builder.insertInto('webhook_attempts').values({
          id: newId('webhook_attempt', finished),
          merchant_id: delivery.merchant_id,
          delivery_id: delivery.id,
          attempted_at: started,
          duration_ms: Math.max(finished - started, 0),
          response_status: responseStatus,
          error,
        }),
      )
      await tx.execute(
        tx.builder
          .updateTable('webhook_deliveries')
          .set({
            status: succeeded ? 'succeeded' : givenUp ? 'failed' : 'pending',
            attempt_count: attemptCount,
            last_attempt_at: started,
            next_attempt_at: succeeded || givenUp ? finished : nextAttemptAt,
            locked_until: null,
          })
          .where('id', '=', delivery.id),
      )
    })
    if (!succeeded) {
      logger.warn({ delivery: delivery.id, status: responseStatus, error, given_up: givenUp }, 'webhook delivery failed')
    }
  }
}
