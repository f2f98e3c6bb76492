/**
 * Real-time waits a simulator can cancel all at once when it closes, so `close()` never leaves a
 * timer or a hanging request behind. (The injected clock dates things; waits are wall-clock time.)
 */
export class Timers {
  private readonly pending = new Map<NodeJS.Timeout, () => void>()
  private closed = false

  /** Resolves `true` after `ms`, or `false` at once if the simulator closes first. */
  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer)
        resolve(true)
      }, ms)
      this.pending.set(timer, () => resolve(false))
    })
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Cancels every wait (each resolves `false`) and refuses new ones. */
  close(): void {
    this.closed = true
    for (const [timer, cancel] of this.pending) {
      clearTimeout(timer)
      cancel()
    }
    this.pending.clear()
  }
}
