/**
 * The payer pages' sessions: after a login, a random token ties the confirm step to one payer and
 * one order for a few minutes. Bounded: the oldest sessions go first.
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from '../../src/domain/clock.js'

export type PageSession = { readonly order_id: string; readonly payer_id: string; readonly expires_at_ms: number }

export class PageSessions {
  private readonly sessions = new Map<string, PageSession>()
  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 10 * 60_000,
    private readonly sessionsMax = 10_000,
  ) {}

  open(orderId: string, payerId: string): string {
    const token = randomBytes(16).toString('hex')
    this.sessions.set(token, { order_id: orderId, payer_id: payerId, expires_at_ms: this.clock.now() + this.ttlMs })
    while (this.sessions.size > this.sessionsMax) {
      const oldest = this.sessions.keys().next().value
      if (oldest === undefined) break
      this.sessions.delete(oldest)
    }
    return token
  }

  /** The session for this token and order, if it exists and has not expired; used once. */
  take(token: string, orderId: string): PageSession | undefined {
    const session = this.sessions.get(token)
    if (session === undefined || session.order_id !== orderId) return undefined
    this.sessions.delete(token)
    return session.expires_at_ms > this.clock.now() ? session : undefined
  }
}

/** Counts failed logins per order: at most `attemptsMax`, then the page refuses more. */
export class LoginAttempts {
  private readonly failures = new Map<string, number>()
  constructor(
    private readonly attemptsMax: number,
    private readonly ordersMax = 100_000,
  ) {}

  exhausted(orderId: string): boolean {
    return (this.failures.get(orderId) ?? 0) >= this.attemptsMax
  }

  /** Records a failure; answers how many tries are left. */
  fail(orderId: string): number {
    const count = (this.failures.get(orderId) ?? 0) + 1
    this.failures.set(orderId, count)
    if (this.failures.size > this.ordersMax) {
      const oldest = this.failures.keys().next().value
      if (oldest !== undefined) this.failures.delete(oldest)
    }
    return Math.max(0, this.attemptsMax - count)
  }
}
