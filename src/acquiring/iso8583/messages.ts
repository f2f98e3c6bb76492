/**
 * What an MTI means, which response answers a request, and what a response code (field 39) says.
 *
 * An MTI is four digits: version, message class, message function, message origin
 * (ISO 8583:1987 clause 4.1). "0401" is a 1987 reversal request from the acquirer, sent again.
 */

const mtiPattern = /^[0-9]{4}$/

export const mtiVersions = { '0': 'iso8583_1987', '1': 'iso8583_1993', '2': 'iso8583_2003', '9': 'private' } as const
export const messageClasses = {
  '1': 'authorization',
  '2': 'financial',
  '3': 'file_action',
  '4': 'reversal',
  '5': 'reconciliation',
  '6': 'administrative',
  '7': 'fee_collection',
  '8': 'network_management',
} as const
export const messageFunctions = {
  '0': 'request',
  '1': 'request_response',
  '2': 'advice',
  '3': 'advice_response',
  '4': 'notification',
} as const
export const messageOrigins = {
  '0': 'acquirer',
  '1': 'acquirer_repeat',
  '2': 'issuer',
  '3': 'issuer_repeat',
  '4': 'other',
  '5': 'other_repeat',
} as const

export type MtiVersion = (typeof mtiVersions)[keyof typeof mtiVersions]
export type MessageClass = (typeof messageClasses)[keyof typeof messageClasses]
export type MessageFunction = (typeof messageFunctions)[keyof typeof messageFunctions]
export type MessageOrigin = (typeof messageOrigins)[keyof typeof messageOrigins]

export type MtiParts = {
  readonly version: MtiVersion
  readonly messageClass: MessageClass
  readonly messageFunction: MessageFunction
  readonly origin: MessageOrigin
  /** A repeat (origin 1, 3, 5) is the same message sent again because no response came. */
  readonly repeat: boolean
}

/**
 * The four positions of an MTI, or undefined when a digit has no meaning in the standard.
 *
 * @example
 * parseMti('0401') // { version: 'iso8583_1987', messageClass: 'reversal', messageFunction: 'request', origin: 'acquirer_repeat', repeat: true }
 */
export function parseMti(mti: string): MtiParts | undefined {
  if (!mtiPattern.test(mti)) return undefined
  const version = lookup(mtiVersions, mti[0])
  const messageClass = lookup(messageClasses, mti[1])
  const messageFunction = lookup(messageFunctions, mti[2])
  const origin = lookup(messageOrigins, mti[3])
  if (version === undefined || messageClass === undefined || messageFunction === undefined || origin === undefined) return undefined
  return { version, messageClass, messageFunction, origin, repeat: Number(mti[3]) % 2 === 1 }
}

/**
 * The MTI of the response to a request or advice: function 0 → 1, 2 → 3, and a repeat is answered
 * like the original (0401 → 0410). Undefined for responses and notifications, which get no response,
 * and for anything that is not an MTI.
 *
 * @example
 * responseMtiFor('0100') // '0110'
 * responseMtiFor('0421') // '0430'
 * responseMtiFor('0210') // undefined
 */
export function responseMtiFor(requestMti: string): string | undefined {
  const parts = parseMti(requestMti)
  if (parts === undefined) return undefined
  if (parts.messageFunction !== 'request' && parts.messageFunction !== 'advice') return undefined
  const responseFunction = Number(requestMti[2]) + 1
  const originWithoutRepeat = Number(requestMti[3]) - (parts.repeat ? 1 : 0)
  return `${requestMti.slice(0, 2)}${responseFunction}${originWithoutRepeat}`
}

/** The message types Kassa's terminal host and scheme link exchange. */
export const messageTypesUsed = {
  '0100': 'Authorization request',
  '0110': 'Authorization request response',
  '0200': 'Financial transaction request',
  '0210': 'Financial transaction request response',
  '0220': 'Financial transaction advice',
  '0230': 'Financial transaction advice response',
  '0400': 'Reversal request',
  '0410': 'Reversal request response',
  '0420': 'Reversal advice',
  '0430': 'Reversal advice response',
  '0800': 'Network management request',
  '0810': 'Network management request response',
} as const satisfies Record<string, string>

export type MessageTypeUsed = keyof typeof messageTypesUsed

/**
 * True for the MTIs in `messageTypesUsed`.
 *
 * @example
 * isMessageTypeUsed('0420') // true
 * isMessageTypeUsed('0500') // false: reconciliation is not spoken on these links
 */
export function isMessageTypeUsed(mti: string): mti is MessageTypeUsed {
  return Object.hasOwn(messageTypesUsed, mti)
}

/**
 * `approved`: the issuer said yes. `declined`: the issuer said no about this card or amount.
 * `error`: the message or a system failed; `transient` ones may succeed if sent again later.
 */
export type ResponseOutcome = 'approved' | 'declined' | 'error'

export type ResponseCodeEntry = {
  readonly meaning: string
  readonly outcome: ResponseOutcome
  readonly transient: boolean
}

/** Field 39 codes Kassa sends and understands (ISO 8583:1987 annex, as the networks use them). */
export const responseCodes = {
  '00': { meaning: 'Approved', outcome: 'approved', transient: false },
  '05': { meaning: 'Do not honour', outcome: 'declined', transient: false },
  '12': { meaning: 'Invalid transaction', outcome: 'declined', transient: false },
  '13': { meaning: 'Invalid amount', outcome: 'declined', transient: false },
  '14': { meaning: 'Invalid card number', outcome: 'declined', transient: false },
  '25': { meaning: 'Unable to locate original transaction', outcome: 'error', transient: false },
  '30': { meaning: 'Format error', outcome: 'error', transient: false },
  '51': { meaning: 'Insufficient funds', outcome: 'declined', transient: false },
  '54': { meaning: 'Expired card', outcome: 'declined', transient: false },
  '55': { meaning: 'Incorrect PIN', outcome: 'declined', transient: false },
  '58': { meaning: 'Transaction not permitted to terminal', outcome: 'declined', transient: false },
  '61': { meaning: 'Exceeds withdrawal amount limit', outcome: 'declined', transient: false },
  '63': { meaning: 'Security violation', outcome: 'error', transient: false },
  '91': { meaning: 'Issuer unavailable or switch inoperative', outcome: 'error', transient: true },
  '94': { meaning: 'Duplicate transmission', outcome: 'error', transient: false },
  '96': { meaning: 'System malfunction', outcome: 'error', transient: true },
} as const satisfies Record<string, ResponseCodeEntry>

export type ResponseCode = keyof typeof responseCodes

/**
 * The entry for a field 39 code, or undefined for a code not in the table. Callers treat an unknown
 * code as not approved: only '00' approves.
 *
 * @example
 * describeResponseCode('51') // { meaning: 'Insufficient funds', outcome: 'declined', transient: false }
 */
export function describeResponseCode(code: string): ResponseCodeEntry | undefined {
  return Object.hasOwn(responseCodes, code) ? responseCodes[code as ResponseCode] : undefined
}

function lookup<T extends Record<string, string>>(table: T, key: string | undefined): T[keyof T] | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? (table[key] as T[keyof T]) : undefined
}
