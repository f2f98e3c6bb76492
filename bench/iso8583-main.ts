/**
 * Prints the ISO 8583 codec benchmark as a table.
 *
 *   node dist/bench/iso8583-main.js [--duration-ms 1000]
 */
import { benchIso8583Codec } from './iso8583.js'

const durationMsDefault = 1000
const durationMsMax = 60_000

function durationMsOf(args: string[]): number {
  const index = args.indexOf('--duration-ms')
  if (index < 0) return durationMsDefault
  const value = Number(args[index + 1])
  if (!Number.isInteger(value) || value < 1 || value > durationMsMax) {
    throw new Error(`--duration-ms takes an integer from 1 to ${durationMsMax}`)
  }
  return value
}

const rows = await benchIso8583Codec({ durationMs: durationMsOf(process.argv.slice(2)) })
const table = [
  ['benchmark', 'library', 'version', 'messages/s'],
  ...rows.map((row) => [row.name, row.library, row.version, row.opsPerSecond.toLocaleString('en-US')]),
]
const widths = table[0]?.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length))) ?? []
for (const cells of table) {
  console.log(cells.map((cell, column) => (column === 3 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  '))
}
