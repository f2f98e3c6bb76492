/**
 * Runs the QR codec benchmark and prints a table: `node dist/bench/qr-main.js [durationMs]`.
 * docs/benchmarks.md is assembled elsewhere from benchQrCodec's rows.
 */
import { benchQrCodec } from './qr.js'

const durationMs = Number(process.argv[2] ?? 1000)
if (!Number.isInteger(durationMs) || durationMs <= 0 || durationMs > 60_000) {
  process.stderr.write('usage: node dist/bench/qr-main.js [durationMs, 1 to 60000]\n')
  process.exitCode = 1
} else {
  const rows = await benchQrCodec({ durationMs })
  const header = ['library', 'version', 'ops/s', 'measurement']
  const lines = rows.map((row) => [row.library, row.version, row.opsPerSecond.toLocaleString('en-US'), row.name])
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)))
  const format = (cells: string[]) => cells.map((cell, column) => (column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ')
  process.stdout.write(`${format(header)}\n${format(widths.map((width) => '-'.repeat(width)))}\n`)
  for (const line of lines) process.stdout.write(`${format(line)}\n`)
}
