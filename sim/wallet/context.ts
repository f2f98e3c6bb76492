/**
 * What both wallet providers share inside one simulator: the book of orders and balances, faults,
 * timers, the log, the merchants and users; and the shape each provider's shell gives back.
 */
import type { FastifyReply } from 'fastify'
import type { Clock } from '../../src/domain/clock.js'
import type { Order, OrderBook, OrderStatus } from '../common/book.js'
import type { FaultAction, FaultBook, Forgery, NotifiedStatus, Operation } from '../common/faults.js'
import { sendProxyError } from '../common/http.js'
import type { BoundedLog } from '../common/log.js'
import type { NotifierLogEntry, OutgoingNotification } from '../common/notifier.js'
import type { Timers } from '../common/timers.js'
import type { WalletMerchant, WalletProvider, WalletUser } from './users.js'

/** A line of a wallet's log. */
export type WalletLogEntry =
  | { readonly event: 'request'; readonly operation: Operation | 'unknown'; readonly merchant_id?: string; readonly order_no?: string; readonly http_status: number; readonly code: string }
  | { readonly event: 'fault'; readonly action: FaultAction; readonly order_no?: string; readonly operation?: Operation }
  | { readonly event: 'order_status'; readonly order_no: string; readonly trade_no: string; readonly from: OrderStatus; readonly to: OrderStatus }
  | { readonly event: 'page_login'; readonly trade_no: string; readonly username: string; readonly success: boolean }
  | NotifierLogEntry

export type WalletContext = {
  readonly provider: WalletProvider
  readonly clock: Clock
  readonly book: OrderBook
  readonly faults: FaultBook
  readonly timers: Timers
  readonly log: BoundedLog<WalletLogEntry>
  readonly merchants: ReadonlyMap<string, WalletMerchant>
  readonly users: ReadonlyMap<string, WalletUser>
  /** The simulator's base URL (known once it listens). */
  readonly baseUrl: () => string
  /** Increasing numbers for ids. */
  readonly serial: (kind: 'order' | 'refund' | 'notification' | 'forgery') => number
  /** Where an order's notifications go: its own URL, its merchant's, or the simulator's. */
  readonly notifyUrlOf: (order: Order) => string | undefined
}

/** What a provider's shell gives the shared parts. */
export type ProviderShell = {
  /** The genuine notification of an order's new status, and how to forge one like it. */
  notification(order: Order, status: NotifiedStatus, url: string): { readonly genuine: OutgoingNotification; forge(forgery: Forgery): OutgoingNotification }
  /** Whether the merchant's answer to a notification stops the retries. */
  isAcknowledgement(httpStatus: number, answer: string): boolean
  /** Where the payer page sends the browser after paying (or undefined: a result page). */
  returnUrl(order: Order): string | undefined
  /** The provider's name of the order's status, for pages and logs. */
  statusName(order: Order): string
  /**
   * wechat-like: a new platform key signs every answer and notification from now on; the
   * certificate list gains it, signed by the key before it (`crossSigned`), or not (a rogue key).
   */
  rotateKey?(options: { readonly crossSigned: boolean }): Promise<{ readonly serial_no: string }>
}

/** An answer ready to send, so a `server_error` fault after processing can replace it. */
export type Prepared = { readonly status: number; readonly body: string; readonly headers: Readonly<Record<string, string>> }

/**
 * Runs a request under the `server_error` fault: answered by the "proxy" before processing, or
 * processed and then answered by the proxy (`afterProcessing`), or answered normally.
 */
export async function answerWithFaults(context: WalletContext, reply: FastifyReply, operation: Operation, orderNo: string | undefined, run: () => Prepared | Promise<Prepared>): Promise<FastifyReply> {
  const fault = context.faults.serverError(operation, orderNo)
  if (fault !== undefined) {
    context.log.write({ event: 'fault', action: 'server_error', operation, ...(orderNo === undefined ? {} : { order_no: orderNo }) })
    if (fault.afterProcessing !== true) return sendProxyError(reply, fault.httpStatus ?? 502)
  }
  const prepared = await run()
  if (fault !== undefined) return sendProxyError(reply, fault.httpStatus ?? 502)
  return reply.code(prepared.status).headers(prepared.headers).send(prepared.body)
}

/** Waits out a `query_hang` fault for this order, if one applies. */
export async function hangIfFaulty(context: WalletContext, orderNo: string | undefined): Promise<void> {
  const hang = context.faults.queryHang(orderNo)
  if (hang === undefined) return
  context.log.write({ event: 'fault', action: 'query_hang', ...(orderNo === undefined ? {} : { order_no: orderNo }) })
  await context.timers.sleep(hang.delayMs)
}

export const orderNoPattern = /^[A-Za-z0-9_-]{1,64}$/

/** An http(s) URL of at most 512 characters, or why not. */
export function urlProblem(value: string): string | undefined {
  if (value.length > 512) return 'must be at most 512 characters'
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must be an http or https URL'
  } catch {
    return 'must be an absolute URL'
  }
}
