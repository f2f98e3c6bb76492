/**
 * Programmer errors crash (TigerStyle): an assertion that fails means the code is wrong,
 * not the input. Operating errors (a declined card, insufficient funds) are values, never asserts.
 */
export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}

export function unreachable(value: never, what = 'value'): never {
  throw new AssertionError(`unhandled ${what}: ${String(value)}`)
}
