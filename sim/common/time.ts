/**
 * Dates as the simulated providers write them. Chinese gateways write Beijing time (UTC+8, no
 * daylight saving); each provider has its own layout.
 */
const beijingOffsetMs = 8 * 3_600_000

function beijingParts(ms: number): { y: string; mo: string; d: string; h: string; mi: string; s: string } {
  const date = new Date(ms + beijingOffsetMs)
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0')
  return { y: pad(date.getUTCFullYear(), 4), mo: pad(date.getUTCMonth() + 1), d: pad(date.getUTCDate()), h: pad(date.getUTCHours()), mi: pad(date.getUTCMinutes()), s: pad(date.getUTCSeconds()) }
}

/** `yyyyMMddHHmmss`, Beijing time. @example beijingCompact(Date.UTC(2026, 0, 1)) // '20260101080000' */
export function beijingCompact(ms: number): string {
  const p = beijingParts(ms)
  return `${p.y}${p.mo}${p.d}${p.h}${p.mi}${p.s}`
}

/** `yyyy-MM-dd HH:mm:ss`, Beijing time. @example beijingDateTime(Date.UTC(2026, 0, 1)) // '2026-01-01 08:00:00' */
export function beijingDateTime(ms: number): string {
  const p = beijingParts(ms)
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}:${p.s}`
}

/** RFC 3339 with the +08:00 offset. @example rfc3339Beijing(Date.UTC(2026, 0, 1)) // '2026-01-01T08:00:00+08:00' */
export function rfc3339Beijing(ms: number): string {
  const p = beijingParts(ms)
  return `${p.y}-${p.mo}-${p.d}T${p.h}:${p.mi}:${p.s}+08:00`
}

/** `yyyyMMdd`, Beijing time: the date part of provider order ids. */
export function beijingDate(ms: number): string {
  return beijingCompact(ms).slice(0, 8)
}

/** Parses `yyyy-MM-dd HH:mm:ss` (Beijing time) to epoch ms, or undefined. */
export function parseBeijingDateTime(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - beijingOffsetMs
  return beijingDateTime(ms) === text ? ms : undefined
}
