import { currencyCodes } from '../domain/currency.js'
import { idSchemaPattern, type IdKind } from '../domain/ids.js'
import { AMOUNT_MINOR_MAX } from '../domain/money.js'

/** JSON-schema pieces shared by routes; every object schema refuses unknown properties. */
export const amountSchema = {
  type: 'integer',
  minimum: 1,
  maximum: Number(AMOUNT_MINOR_MAX),
  description: 'A positive integer count of the currency\'s minor units (cents, fen; yen for JPY).',
} as const

/** A name or reference someone reads: some text besides spaces (`validationError` says "must not be blank"). */
export const notBlankPattern = '\\S'

/** Required text of 1 to `max` characters, not only spaces. */
export function textSchema(max: number, description?: string) {
  return { type: 'string', minLength: 1, maxLength: max, pattern: notBlankPattern, ...(description === undefined ? {} : { description }) } as const
}

export const currencySchema = { type: 'string', enum: currencyCodes, description: 'ISO 4217 alphabetic code.' } as const

export const metadataSchema = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { maxLength: 40 },
  additionalProperties: { type: 'string', maxLength: 500 },
  description: 'Up to 50 string key-value pairs for your own use.',
} as const

export function idSchema(kind: IdKind) {
  return { type: 'string', pattern: idSchemaPattern(kind) } as const
}

export function idParams(kind: IdKind) {
  return { type: 'object', additionalProperties: false, required: ['id'], properties: { id: idSchema(kind) } } as const
}

export const idempotencyHeader = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', description: 'Retries with the same key and body replay the first answer.' },
  },
} as const

export function listQuery(kind: IdKind, extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
      starting_after: idSchema(kind),
      ending_before: idSchema(kind),
      ...extra,
    },
  } as const
}

