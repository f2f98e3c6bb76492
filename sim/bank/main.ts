/**
 * Runs simulated banks on their own, one server per bank:
 *
 *     node dist/sim/bank/main.js [--banks icbc-sim,cmb-sim] [--port 9601] [--host 127.0.0.1] [--seed 1]
 *                                [--notify-url URL] [--test-endpoints] [--quiet]
 *
 * With `--port P` the banks listen on P, P+1, … in the order given; 0 (the default) picks free ports.
 * Prints each bank's URL and demo merchant, then one JSON line per log entry unless --quiet
 * (account numbers and phones masked). Stops on SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { systemClock } from '../../src/domain/clock.js'
import { bankIds, type BankId } from './accounts.js'
import { startBankSimulator, type BankSimulator } from './server.js'

const { values } = parseArgs({
  options: {
    banks: { type: 'string', default: bankIds.join(',') },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    'notify-url': { type: 'string' },
    'test-endpoints': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
})

const port = Number(values.port)
const seed = Number(values.seed)
const banks = values.banks.split(',').map((name) => name.trim())
if (!Number.isSafeInteger(port) || port < 0 || port + banks.length - 1 > 65_535) fail(`--port must be 0 to 65535, got ${values.port}`)
if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`)
for (const bank of banks) if (!bankIds.includes(bank as BankId)) fail(`--banks: unknown bank ${bank}; known: ${bankIds.join(', ')}`)

const started: BankSimulator[] = []
for (const [index, bank] of banks.entries()) {
  const simulator = await startBankSimulator({
    bank: bank as BankId,
    port: port === 0 ? 0 : port + index,
    host: values.host,
    seed,
    clock: systemClock,
    testEndpoints: values['test-endpoints'],
    ...(values['notify-url'] === undefined ? {} : { notifyUrl: values['notify-url'] }),
    log: values.quiet ? undefined : (entry) => process.stdout.write(JSON.stringify({ bank, ...entry }) + '\n'),
  })
  started.push(simulator)
  const merchant = simulator.merchants[0]
  process.stdout.write(`${bank} bank simulator listening on ${simulator.url} (merchant ${merchant?.merchant_id ?? '-'}, key ${merchant?.key ?? '-'})\n`)
}

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  await Promise.all(started.map((simulator) => simulator.close()))
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}
