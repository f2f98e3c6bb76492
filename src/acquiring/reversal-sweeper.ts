/**
 * Reversals the scheme has not acknowledged yet are owed: a row says `reversal_pending` until an
 * 0410 comes. The sweeper sends them again, every `everyMs`, oldest first, until each is
 * acknowledged, so a sale whose answer was lost is never left charged at the issuer, and a refund
 * whose answer was lost is never left paid to the card while Kassa counts it as not made.
 */
import { systemClock, type Clock } from '../domain/clock.js'
import type { Store } from '../store/store.js'
import type { CardReverser } from './pos-host/reversal.js'

/** Requests a reversal undoes; a capture advice is repeated instead (CardPayments.recoverCaptures). */
const reversibleKinds = ['sale', 'authorization', 'refund'] as const

export type ReversalSweeper = {
  /** One pass: every owed reversal sent once more. Answers how many the scheme acknowledged. */
  sweepOnce(): Promise<{ readonly owed: number; readonly reversed: number }>
  start(): void
  stop(): Promise<void>
}

export function reversalSweeper(options: {
  readonly store: Store
  readonly reverse: CardReverser
  readonly clock?: Clock
  /**
   * A sale, authorization or refund still `pending` this long after its last change was sent and never
   * heard of again (the process stopped while it waited): owed a reversal. Longer than any
   * exchange takes, its own reversal attempts included. 5 minutes by default.
   */
  readonly staleMs?: number
  readonly everyMs?: number
  readonly batchMax?: number
  readonly logger?: { warn(details: object, message: string): void }
}): ReversalSweeper {
  const everyMs = options.everyMs ?? 5_000
  const batchMax = options.batchMax ?? 50
  const staleMs = options.staleMs ?? 5 * 60_000
  const clock = options.clock ?? systemClock
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined

  /** Requests left in flight by a stopped process: their outcome is unknown, so they are reversed. */
  async function adoptStale(): Promise<void> {
    const nowMs = clock.now()
    const stale = await options.store.writer.submit((tx) =>
      tx.execute(
        tx.builder
          .updateTable('card_transactions')
          .set((eb) => ({ status: 'reversal_pending', version: eb('version', '+', 1n), updated_at: nowMs }))
          .where('status', '=', 'pending')
          .where('kind', 'in', reversibleKinds)
          .where('stan', 'is not', null)
          .where('updated_at', '<', BigInt(nowMs - staleMs))
          .returning('id'),
      ),
    )
    for (const row of stale) options.logger?.warn({ card_transaction: row.id }, 'a card request was left in flight (the process stopped): reversing it')
  }

  async function sweepOnce(): Promise<{ owed: number; reversed: number }> {
    await adoptStale()
    const owed = await options.store.db
      .selectFrom('card_transactions')
      .select(['id', 'merchant_id'])
      .where('status', '=', 'reversal_pending')
      // Only what a reversal undoes: a row of another kind would be refused every pass and, staying
      // oldest, keep the owed ones behind it from being sent.
      .where('kind', 'in', reversibleKinds)
      .orderBy('updated_at')
      .limit(batchMax)
      .execute()
    let reversed = 0
    for (const row of owed) {
      try {
        const result = await options.reverse(row.merchant_id, row.id)
        if (result.outcome === 'reversed') reversed += 1
      } catch (error) {
        options.logger?.warn({ card_transaction: row.id, err: error }, 'an owed reversal could not be sent; the next sweep tries again')
      }
    }
    return { owed: owed.length, reversed }
  }

  return {
    sweepOnce,
    start() {
      if (timer !== undefined) return
      timer = setInterval(() => {
        if (running !== undefined) return
        running = sweepOnce()
          .catch((error: unknown) => options.logger?.warn({ err: error }, 'reversal sweep failed'))
          .finally(() => (running = undefined))
      }, everyMs)
      timer.unref()
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      await running
    },
  }
}
