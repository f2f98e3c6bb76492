import { randomBytes } from 'node:crypto'

/**
 * Ids carry their type as a prefix (`pay_…`, `mch_…`) and sort by creation time: 10 characters of
 * millisecond time then 16 of randomness, Crockford base32 in lower case (ULID layout), monotonic
 * within a millisecond so cursor pagination by id is creation order.
 */
export const idPrefixes = {
  merchant: 'mch',
  api_key: 'key',
  operator: 'opr',
  shopper: 'shp',
  payment: 'pay',
  refund: 'rfd',
  transfer: 'txf',
  event: 'evt',
  webhook_endpoint: 'we',
  webhook_delivery: 'whd',
  webhook_attempt: 'wha',
  audit: 'aud',
  request: 'req',
  top_up: 'top',
  payment_attempt: 'att',
  station: 'stn',
  courier: 'cou',
  delivery: 'dlv',
  remittance: 'rmt',
  card: 'card',
  card_transaction: 'ctx',
  saved_method: 'pm',
  channel_notification: 'ntf',
} as const

export type IdKind = keyof typeof idPrefixes
export type IdPrefix = (typeof idPrefixes)[IdKind]
export type Id<K extends IdKind> = `${(typeof idPrefixes)[K]}_${string}` & { readonly __id: K }

export type MerchantId = Id<'merchant'>
export type ShopperId = Id<'shopper'>
export type PaymentId = Id<'payment'>
export type RefundId = Id<'refund'>
export type TransferId = Id<'transfer'>
export type EventId = Id<'event'>

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'
const pool = Buffer.alloc(4096)
let poolOffset = pool.length
let lastTime = -1
const lastRandom = new Uint8Array(16)

function nextRandomDigits(): void {
  if (poolOffset + 16 > pool.length) {
    randomBytes(pool.length).copy(pool)
    poolOffset = 0
  }
  for (let i = 0; i < 16; i++) lastRandom[i] = (pool[poolOffset + i] ?? 0) & 31
  poolOffset += 16
}

/** Adds one to the random part so ids made in the same millisecond still sort in creation order. */
function incrementRandomDigits(): void {
  for (let i = 15; i >= 0; i--) {
    const digit = lastRandom[i] ?? 0
    if (digit < 31) {
      lastRandom[i] = digit + 1
      return
    }
    lastRandom[i] = 0
  }
}

function encodeTime(ms: number): string {
  let text = ''
  let rest = ms
  for (let i = 0; i < 10; i++) {
    text = alphabet[rest % 32] + text
    rest = Math.floor(rest / 32)
  }
  return text
}

export function newId<K extends IdKind>(kind: K, nowMs: number = Date.now()): Id<K> {
  if (nowMs > lastTime) {
    lastTime = nowMs
    nextRandomDigits()
  } else {
    incrementRandomDigits()
  }
  let random = ''
  for (let i = 0; i < 16; i++) random += alphabet[lastRandom[i] ?? 0]
  return `${idPrefixes[kind]}_${encodeTime(lastTime)}${random}` as Id<K>
}

/**
 * An id that stands for a capability, such as a vaulted card a checkout may charge: 80 fresh random
 * bits every time. `newId`'s ids made in one millisecond differ by one, so knowing one names its
 * neighbours; these do not, and they still sort by time, to the millisecond.
 */
export function newUnguessableId<K extends IdKind>(kind: K, nowMs: number = Date.now()): Id<K> {
  const bytes = randomBytes(16)
  let random = ''
  for (let i = 0; i < 16; i++) random += alphabet[(bytes[i] ?? 0) & 31]
  return `${idPrefixes[kind]}_${encodeTime(nowMs)}${random}` as Id<K>
}

const idPattern = /^[a-z]{2,4}_[0-9a-hjkmnp-tv-z]{26}$/

/** True when `value` is a well-formed id of this kind. */
export function isId<K extends IdKind>(kind: K, value: string): value is Id<K> {
  return value.startsWith(`${idPrefixes[kind]}_`) && idPattern.test(value)
}

/** A JSON-schema pattern for ids of one kind, for route schemas. */
export function idSchemaPattern(kind: IdKind): string {
  return `^${idPrefixes[kind]}_[0-9a-hjkmnp-tv-z]{26}$`
}
