/**
 * Runs the scheme simulator on its own:
 *
 *     node dist/sim/scheme/main.js --port 9583 [--host 127.0.0.1] [--seed 1] [--settlement-dir DIR] [--quiet]
 *
 * Prints `scheme simulator listening on HOST:PORT`, then one JSON line per message (PANs masked)
 * unless --quiet. On SIGINT or SIGTERM it writes the day's settlement file into --settlement-dir (if
 * given) and stops.
 */
import { parseArgs } from 'node:util'
import { systemClock } from '../../src/domain/clock.js'
import { settlementDateOf, startSchemeSimulator } from './server.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9583' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    'settlement-dir': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
})

const port = Number(values.port)
const seed = Number(values.seed)
if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`--port must be 0 to 65535, got ${values.port}\n`)
  process.exit(2)
}
if (!Number.isSafeInteger(seed)) {
  process.stderr.write(`--seed must be an integer, got ${values.seed}\n`)
  process.exit(2)
}

const scheme = await startSchemeSimulator({
  port,
  host: values.host,
  seed,
  clock: systemClock,
  log: values.quiet ? undefined : (entry) => process.stdout.write(JSON.stringify(entry) + '\n'),
})
process.stdout.write(`scheme simulator listening on ${values.host}:${scheme.port}\n`)

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  const directory = values['settlement-dir']
  if (directory !== undefined) {
    const path = await scheme.writeSettlementFile(settlementDateOf(systemClock), directory)
    process.stdout.write(`settlement file written to ${path}\n`)
  }
  await scheme.close()
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
