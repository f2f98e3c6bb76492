import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { DoorFlowResult } from '../door.js'

export type DoorBenchSettings = { readonly parcels: number; readonly concurrency: number }

export const defaultDoorBenchSettings: DoorBenchSettings = { parcels: 1_200, concurrency: 16 }

const doorTimeoutMs = 120_000

/** Runs bench/door.ts in a process of its own (its Kassa, its SQLite file) and reads its JSON answer. */
export function runDoorBench(settings: DoorBenchSettings): Promise<DoorFlowResult> {
  const script = fileURLToPath(new URL('../door.js', import.meta.url))
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, String(settings.parcels), String(settings.concurrency)], { timeout: doorTimeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`bench/door.ts failed: ${error.message} ${stderr}`.trim()))
      try {
        resolve(JSON.parse(stdout) as DoorFlowResult)
      } catch {
        reject(new Error(`bench/door.ts printed no result: ${stdout.slice(0, 200)}`))
      }
    })
  })
}

export function doorSummaryLine(result: DoorFlowResult): string {
  return `door    ${Math.round(result.flowsPerSecond)} flows/s (code → resolve → pay → courier notified), notification p50 ${result.notifyP50Ms.toFixed(1)} ms, p99 ${result.notifyP99Ms.toFixed(1)} ms, errors ${result.errors}, ledger ${result.ledgerOk ? 'ok' : 'FAILED'}`
}

/** The "Door flow" section of docs/benchmarks.md. */
export function renderDoorSection(result: DoorFlowResult, settings: DoorBenchSettings, context: { date: Date; command: string }): string[] {
  return [
    '## Door flow end to end',
    '',
    `Written by \`${context.command}\` on ${context.date.toISOString().slice(0, 16).replace('T', ' ')} UTC (bench/door.ts). One Kassa on SQLite (synchronous=FULL) over real HTTP; ${settings.concurrency} doors at once work through ${settings.parcels} parcels of one courier (orders of 4 parcels each). Each flow is what happens at a door: the courier asks for the parcel's dynamic QR code, the shop app resolves it and pays it from the wallet, and the courier's open Server-Sent-Events stream says "paid". Notification latency is from the moment the shop app sends Pay to the moment the courier's stream delivers the event.`,
    '',
    '| flows | seconds | flows/s | notification p50 | notification p99 | whole flow p99 | errors | ledger verify |',
    '|---|---|---|---|---|---|---|---|',
    `| ${result.flows} | ${result.seconds.toFixed(1)} | ${Math.round(result.flowsPerSecond)} | ${result.notifyP50Ms.toFixed(1)} ms | ${result.notifyP99Ms.toFixed(1)} ms | ${result.flowP99Ms.toFixed(1)} ms | ${result.errors} | ${result.ledgerOk ? 'ok' : 'FAILED'} |`,
    '',
    'Every flow is four requests (code, resolve, pay, and the event on the stream), so the requests per second are about three times the flows per second plus the stream. The issue\'s promise, "paid" on the courier\'s screen within a second, is the notification p99 here; the browser test (test/browser/door.test.ts) checks it on the real pages.',
    '',
  ]
}
