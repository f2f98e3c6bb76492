const safeMax = BigInt(Number.MAX_SAFE_INTEGER)
const safeMin = -safeMax

/** Bigints as numbers while safe, else as decimal strings; everything else as JSON.stringify has it. */
function bigintAsNumber(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? (v <= safeMax && v >= safeMin ? Number(v) : v.toString()) : v
}

/**
 * JSON for API bodies: bigint amounts become numbers while safe (every amount is, by validation:
 * at most 12 digits); a sum beyond 2^53 becomes a decimal string rather than a rounded number.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, bigintAsNumber)
}
