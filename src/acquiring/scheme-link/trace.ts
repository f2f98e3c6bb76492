/**
 * The numbers that identify a message on the scheme link, as pure functions of the clock:
 *
 * - **STAN** (field 11, `n 6`): a counter per link, 000001 to 999999, restarting at 000001 at the
 *   start of each UTC day. Within a day it only increases; after 999999 it rolls over to 000001
 *   (skipping any STAN still in flight), so STANs are unique per link and day up to 999,999 messages a
 *   day, and a busier acquirer opens more links.
 * - **RRN** (field 37, `an 12`): `YDDD` (last digit of the year, day of the year) + `hh` (hour) + the
 *   STAN, all UTC: "6001" + "13" + "000042" = "600113000042". Unique per link and day with the STAN,
 *   and it reads back to the day and hour the transaction began. Messages that continue a
 *   transaction (an advice capturing an authorization, a reversal) carry the original's RRN.
 * - **Transmission date and time** (field 7, `n 10`): `MMDDhhmmss` in UTC (GMT, as the standard says).
 * - **Original data elements** (field 90, `n 42`): original MTI (4), STAN (6), transmission date and
 *   time (10), acquiring institution id (11, zero-padded on the left) and forwarding institution id
 *   (11 zeros: Kassa connects directly). Advices, reversals and referenced refunds point at their
 *   original with it.
 */
import { assert } from '../../domain/assert.js'
import type { Clock } from '../../domain/clock.js'

export const stanMin = 1
export const stanMax = 999_999
const millisecondsPerDay = 86_400_000

/**
 * STANs for one link. `next(inFlight)` skips STANs for which `inFlight` says true, so a rollover never
 * reuses a STAN whose answer is still awaited.
 *
 * @example
 * const stans = new StanSequence({ clock: new SimulatedClock() })
 * stans.next() // '000001'
 * stans.next() // '000002'
 */
export class StanSequence {
  private readonly clock: Clock
  private day: number
  private last: number
  private rollovers = 0

  /**
   * `first` is the first STAN handed out today, for a process that restarts during a day and has kept
   * the last STAN it used (STANs must not repeat within the day). Defaults to 1.
   */
  constructor(options: { readonly clock: Clock; readonly first?: number }) {
    const first = options.first ?? stanMin
    assert(Number.isSafeInteger(first) && first >= stanMin && first <= stanMax, `the first STAN must be ${stanMin} to ${stanMax}`)
    this.clock = options.clock
    this.day = utcDay(this.clock.now())
    this.last = first - 1
  }

  next(inFlight: (stan: string) => boolean = () => false): string {
    const today = utcDay(this.clock.now())
    if (today !== this.day) {
      this.day = today
      this.last = stanMin - 1
    }
    // At most every STAN once: if all 999,999 were in flight the link would be far past its in-flight maximum.
    for (let tried = 0; tried < stanMax; tried++) {
      if (this.last >= stanMax) {
        this.last = stanMin
        this.rollovers++
      } else {
        this.last++
      }
      const stan = formatStan(this.last)
      if (!inFlight(stan)) return stan
    }
    assert(false, 'every STAN is in flight')
  }

  /** How many times today's sequence went past 999999 (then STANs of the day repeat). */
  get rolloverCount(): number {
    return this.rollovers
  }
}

export function formatStan(value: number): string {
  assert(Number.isSafeInteger(value) && value >= stanMin && value <= stanMax, 'a STAN is 1 to 999999')
  return String(value).padStart(6, '0')
}

/**
 * The RRN for a transaction begun at `nowMs` with `stan`: YDDD + hh + STAN, UTC.
 *
 * @example
 * retrievalReferenceNumber(Date.UTC(2026, 0, 1, 13), '000042') // '600113000042'
 */
export function retrievalReferenceNumber(nowMs: number, stan: string): string {
  assert(/^[0-9]{6}$/.test(stan), 'a STAN is 6 digits')
  const date = new Date(nowMs)
  const year = date.getUTCFullYear()
  const dayOfYear = Math.floor((Date.UTC(year, date.getUTCMonth(), date.getUTCDate()) - Date.UTC(year, 0, 1)) / millisecondsPerDay) + 1
  return `${year % 10}${pad(dayOfYear, 3)}${pad(date.getUTCHours(), 2)}${stan}`
}

/**
 * Field 7, MMDDhhmmss in UTC.
 *
 * @example
 * transmissionDateTime(Date.UTC(2026, 0, 1, 13, 5, 9)) // '0101130509'
 */
export function transmissionDateTime(nowMs: number): string {
  const date = new Date(nowMs)
  return pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2) + pad(date.getUTCHours(), 2) + pad(date.getUTCMinutes(), 2) + pad(date.getUTCSeconds(), 2)
}

export type OriginalDataElements = {
  readonly mti: string
  readonly stan: string
  readonly transmissionDateTime: string
  readonly acquirerId: string
  readonly forwarderId: string
}

/**
 * Field 90 pointing at `original`, which must carry fields 11 and 7 (as every message the link sent does).
 *
 * @example
 * originalDataElements({ mti: '0100', fields: { 7: '0101130509', 11: '000042', 32: '12345678' } })
 * // '0100' + '000042' + '0101130509' + '00012345678' + '00000000000'
 */
export function originalDataElements(original: { readonly mti: string; readonly fields: { readonly [field: number]: string } }): string {
  const stan = original.fields[11]
  const sentAt = original.fields[7]
  assert(stan !== undefined && /^[0-9]{6}$/.test(stan), 'the original message has no STAN (field 11)')
  assert(sentAt !== undefined && /^[0-9]{10}$/.test(sentAt), 'the original message has no transmission date and time (field 7)')
  assert(/^[0-9]{4}$/.test(original.mti), 'the original MTI is 4 digits')
  const acquirerId = original.fields[32] ?? ''
  assert(/^[0-9]{0,11}$/.test(acquirerId), 'field 32 is up to 11 digits')
  return original.mti + stan + sentAt + acquirerId.padStart(11, '0') + '0'.repeat(11)
}

/** Reads field 90 back; undefined unless it is 42 digits. */
export function parseOriginalDataElements(field90: string | undefined): OriginalDataElements | undefined {
  if (field90 === undefined || !/^[0-9]{42}$/.test(field90)) return undefined
  return {
    mti: field90.slice(0, 4),
    stan: field90.slice(4, 10),
    transmissionDateTime: field90.slice(10, 20),
    acquirerId: field90.slice(20, 31),
    forwarderId: field90.slice(31, 42),
  }
}

function utcDay(nowMs: number): number {
  return Math.floor(nowMs / millisecondsPerDay)
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}
