const safeMax = BigInt(Number.MAX_SAFE_INTEGER)
const safeMin = -safeMax

function bigintAsJson(value: bigint): number | string {
  return value <= safeMax && value >= safeMin ? Number(value) : value.toString()
}

/**
 * The value with every bigint replaced (see `toJson`), copying only the objects and arrays on the
 * way to one: JSON.stringify with a replacer function leaves V8's fast path, and a payment's body
 * is serialized three times (the answer, two events), so this walk costs less than the replacer.
 */
function withoutBigints(value: unknown): unknown {
  if (typeof value === 'bigint') return bigintAsJson(value)
  if (value === null || typeof value !== 'object') return value
  // Dates and the like serialize themselves, before any replacer would see them.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index]
      const replaced = withoutBigints(item)
      if (replaced !== item) (copy ??= value.slice())[index] = replaced
    }
    return copy ?? value
  }
  let copy: Record<string, unknown> | undefined
  // for…in, not Object.keys: no array per object; API objects are plain, with no inherited keys.
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    if (typeof item !== 'bigint' && (item === null || typeof item !== 'object')) continue
    const replaced = withoutBigints(item)
    if (replaced === item) continue
    copy ??= { ...(value as Record<string, unknown>) }
    // A key "__proto__" (metadata may have one) must stay a key, not become a prototype.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: replaced, enumerable: true, writable: true, configurable: true })
    else copy[key] = replaced
  }
  return copy ?? value
}

/**
 * JSON for API bodies: bigint amounts become numbers while safe (every amount is, by validation:
 * at most 12 digits); a sum beyond 2^53 becomes a decimal string rather than a rounded number.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(withoutBigints(value))
}
