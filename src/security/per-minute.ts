/**
 * At most `max` per key in each minute of the clock; a key's count starts again each minute. At
 * most `keysMax` keys are counted in a minute, so a spray of new keys cannot grow it without bound;
 * keys beyond that go uncounted (each of them sends little, or it would have been counted earlier).
 */
export class PerMinuteBudget {
  private minute = -1
  private readonly used = new Map<string, number>()

  constructor(
    private readonly max: number,
    private readonly keysMax = 10_000,
  ) {}

  /** Counts one against `key`; false when its minute's budget was spent already. */
  take(key: string, nowMs: number): boolean {
    this.roll(nowMs)
    const used = this.used.get(key) ?? 0
    if (used >= this.max) return false
    if (used === 0 && this.used.size >= this.keysMax) return true
    this.used.set(key, used + 1)
    return true
  }

  /** Has `key` spent this minute's budget? */
  spent(key: string, nowMs: number): boolean {
    this.roll(nowMs)
    return (this.used.get(key) ?? 0) >= this.max
  }

  /** Seconds until the budgets start again. */
  secondsLeft(nowMs: number): number {
    return 60 - Math.trunc((nowMs % 60_000) / 1000)
  }

  private roll(nowMs: number): void {
    const minute = Math.trunc(nowMs / 60_000)
    if (minute === this.minute) return
    this.minute = minute
    this.used.clear()
  }
}
