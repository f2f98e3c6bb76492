/**
 * A seeded pseudo-random generator (mulberry32), so a simulator run with the same seed makes the same
 * authorization codes and picks the same messages for ratio faults. Not for anything secret.
 *
 * @example
 * const random = seededRandom(42)
 * random() // the same number in [0, 1) on every run with seed 42
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000
  }
}
