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
      .select(['id', 'endpoint_id'])
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
  /** How many deliveries are being sent at once, at most (64). */
  inFlightMax?: number
  /** How many of them go to one endpoint, at most (8): a slow or dead endpoint holds only these. */
  inFlightPerEndpointMax?: number
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
  endpoint_id: string
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
 *
 * Deliveries are sent as slots free up, not in rounds: one that takes its whole timeout holds its
 * slot, not every other merchant's deliveries behind it. Each endpoint gets at most
 * `inFlightPerEndpointMax` of the `inFlightMax` slots, so one slow or dead endpoint slows only its
 * own merchant's webhooks.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined
  private claiming: Promise<Claimed[]> | undefined
  private nudged = false
  private stopped = true
  private readonly sending = new Set<Promise<void>>()
  private readonly sendingTo = new Map<string, number>()
  private readonly timeoutMs: number
  private readonly inFlightMax: number
  private readonly inFlightPerEndpointMax: number
  private readonly random: () => number
  private readonly fetchFn: typeof fetch

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.inFlightMax = options.inFlightMax ?? 64
    this.inFlightPerEndpointMax = options.inFlightPerEndpointMax ?? 8
    this.random = options.random ?? Math.random
    this.fetchFn = options.fetch ?? fetch
  }

  start(): void {
    this.stopped = false
    this.timer = setInterval(() => this.nudge(), this.options.pollIntervalMs ?? 1_000)
    this.timer.unref()
    this.nudge()
  }

  /** Asks for deliveries to be claimed soon, e.g. right after a commit that recorded events, or a slot freed. */
  nudge(): void {
    if (this.stopped) return
    if (this.claiming !== undefined) {
      this.nudged = true
      return
    }
    void this.fill()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.claiming?.catch(() => undefined)
    await Promise.all(this.sending)
  }

  /**
   * Claims what is due, as far as there are free slots, and sends it; answers once those are
   * sent and their attempts recorded, with how many they were. For tests, and for `nudge`.
   */
  async runOnce(): Promise<number> {
    const started: Promise<void>[] = []
    await this.fill(started)
    await Promise.all(started)
    return started.length
  }

  /** One claim for the free slots; each delivery claimed starts at once and frees its slot when done. */
  private async fill(started: Promise<void>[] = []): Promise<void> {
    const free = this.inFlightMax - this.sending.size
    if (free <= 0) return
    this.claiming = this.claim(free)
    let claimed: Claimed[] = []
    try {
      claimed = await this.claiming
    } catch (error) {
      this.options.logger.error({ err: error }, 'webhook delivery claim failed')
    } finally {
      this.claiming = undefined
    }
    for (const delivery of claimed) {
      this.sendingTo.set(delivery.endpoint_id, (this.sendingTo.get(delivery.endpoint_id) ?? 0) + 1)
      const sent: Promise<void> = this.send(delivery)
        .catch((error: unknown) => this.options.logger.error({ err: error, delivery: delivery.id }, 'webhook delivery could not be recorded'))
        .finally(() => {
          this.sending.delete(sent)
          const left = (this.sendingTo.get(delivery.endpoint_id) ?? 1) - 1
          if (left === 0) this.sendingTo.delete(delivery.endpoint_id)
          else this.sendingTo.set(delivery.endpoint_id, left)
          this.nudge()
        })
      this.sending.add(sent)
      started.push(sent)
    }
    if (this.nudged) {
      this.nudged = false
      setImmediate(() => this.nudge())
    }
  }

  /**
   * Claims (leases) up to `free` due deliveries, no more for one endpoint than it has slots left:
   * the candidates are read a few times over, so a busy endpoint's backlog does not fill the claim.
   */
  private claim(free: number): Promise<Claimed[]> {
    const { store, clock } = this.options
    return store.writer.submit(async (tx) => {
      const nowMs = clock.now()
      const candidates = await tx.run(queries(tx).selectDue, { pending: 'pending', now: BigInt(nowMs), enabled: 'enabled', now2: BigInt(nowMs), limit: Math.min(free * 4, 500) })
      const room = new Map<string, number>()
      const ids: string[] = []
      for (const candidate of candidates) {
        if (ids.length === free) break
        const left = room.get(candidate.endpoint_id) ?? this.inFlightPerEndpointMax - (this.sendingTo.get(candidate.endpoint_id) ?? 0)
        if (left <= 0) continue
        room.set(candidate.endpoint_id, left - 1)
        ids.push(candidate.id)
      }
      if (ids.length === 0) return []
      await tx.execute(tx.builder.updateTable('webhook_deliveries').set({ locked_until: nowMs + claimLeaseMs }).where('id', 'in', ids))
      return tx.execute(
        tx.builder
          .selectFrom('webhook_deliveries as d')
          .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
          .innerJoin('events as v', 'v.id', 'd.event_id')
          .select(['d.id', 'd.merchant_id', 'd.endpoint_id', 'd.event_id', 'd.attempt_count', 'd.created_at', 'e.url', 'e.secret_sealed', 'v.data'])
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
