/**
 * JSON for API bodies: bigint amounts become numbers while safe (every amount is, by validation:
 * at most 12 digits); a sum beyond 2^53 becomes a decimal string rather than a rounded number.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
  )
}
