import type pg from 'pg'
import type { Logger } from 'pino'

/** `status`: `paid`, or `code_paying` / `code_payable` while a bank payment of the parcel's code starts and ends unpaid. */
export type DeliveryPaidEvent = { courier_id: string; delivery: string; status: string; paid_by: string; amount: number }

type Listener = (event: DeliveryPaidEvent) => void

const channel = 'kassa_delivery_events'
const listenersPerCourierMax = 20

/**
 * Tells a courier's open pages that a parcel was paid. On one node, an in-process fan-out; with
 * PostgreSQL every node LISTENs and publishing is a NOTIFY, so the courier sees "paid" whichever
 * node the shopper paid on.
 */
export class LiveDeliveries {
  private readonly listeners = new Map<string, Set<Listener>>()
  private client: pg.PoolClient | undefined

  constructor(
    private readonly pool: pg.Pool | undefined,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.pool === undefined || this.client !== undefined) return
    const client = await this.pool.connect()
    client.on('error', (error) => {
      // The LISTEN connection died (database restart): drop it and listen again on a new one.
      this.logger.warn({ err: error }, 'delivery notifications connection lost; reconnecting')
      if (this.client === client) this.client = undefined
      client.release(error)
      setTimeout(() => void this.start().catch((cause: unknown) => this.logger.error({ err: cause }, 'could not listen again')), 1_000).unref()
    })
    client.on('notification', (message) => {
      if (message.channel !== channel || message.payload === undefined) return
      try {
        this.dispatch(JSON.parse(message.payload) as DeliveryPaidEvent)
      } catch (error) {
        this.logger.warn({ err: error }, 'unreadable delivery notification')
      }
    })
    await client.query(`LISTEN ${channel}`)
    this.client = client
  }

  async stop(): Promise<void> {
    const client = this.client
    this.client = undefined
    if (client === undefined) return
    await client.query(`UNLISTEN ${channel}`).catch(() => undefined)
    client.release()
  }

  subscribe(courierId: string, listener: Listener): () => void {
    let set = this.listeners.get(courierId)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(courierId, set)
    }
    if (set.size >= listenersPerCourierMax) {
      const oldest = set.values().next().value
      if (oldest !== undefined) set.delete(oldest)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0) this.listeners.delete(courierId)
    }
  }

  /** Call after the commit that made the parcel paid. */
  publish(event: DeliveryPaidEvent): void {
    if (this.pool === undefined) {
      this.dispatch(event)
      return
    }
    this.pool.query('select pg_notify($1, $2)', [channel, JSON.stringify(event)]).catch((error: unknown) => {
      this.logger.error({ err: error }, 'delivery notification failed; delivering locally only')
      this.dispatch(event)
    })
  }

  private dispatch(event: DeliveryPaidEvent): void {
    for (const listener of this.listeners.get(event.courier_id) ?? []) listener(event)
  }
}
