/** A simulator's log: handed to the `log` callback and kept (the last `entriesMax`) for tests. */
export class BoundedLog<Entry> {
  private readonly entries: Entry[] = []
  constructor(
    private readonly sink: ((entry: Entry) => void) | undefined,
    private readonly entriesMax = 10_000,
  ) {}

  write(entry: Entry): void {
    this.entries.push(entry)
    if (this.entries.length > this.entriesMax) this.entries.splice(0, this.entries.length - this.entriesMax)
    this.sink?.(entry)
  }

  list(): readonly Entry[] {
    return [...this.entries]
  }
}
