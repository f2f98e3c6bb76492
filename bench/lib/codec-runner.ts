/**
 * Runs one codec benchmark module in its own process, so a slow or crashing benchmark cannot take
 * the payment benchmark down with it and the runner can kill it at its time limit.
 * Arguments: <absolute path of the compiled module> <export name> <durationMs>.
 */
import { pathToFileURL } from 'node:url'

export type CodecRow = { name: string; library: string; version: string; opsPerSecond: number }

export type CodecMessage =
  | { type: 'result'; rows: CodecRow[] }
  | { type: 'missing'; reason: string }
  | { type: 'failure'; message: string }

function send(message: CodecMessage): Promise<void> {
  return new Promise((resolve) => (process.send === undefined ? resolve() : process.send(message, undefined, {}, () => resolve())))
}

function isRow(value: unknown): value is CodecRow {
  const row = value as Partial<CodecRow> | null
  return (
    row !== null &&
    typeof row === 'object' &&
    typeof row.name === 'string' &&
    typeof row.library === 'string' &&
    typeof row.version === 'string' &&
    typeof row.opsPerSecond === 'number'
  )
}

async function main(): Promise<void> {
  const [path, exportName, durationText] = process.argv.slice(2)
  if (path === undefined || exportName === undefined || durationText === undefined) throw new Error('usage: codec-runner <module> <export> <durationMs>')
  const durationMs = Number(durationText)
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  const bench = module[exportName]
  if (typeof bench !== 'function') {
    await send({ type: 'missing', reason: `it does not export ${exportName}()` })
    process.exit(0)
  }
  const rows: unknown = await (bench as (options: { durationMs: number }) => unknown)({ durationMs })
  if (!Array.isArray(rows) || !rows.every(isRow)) throw new Error(`${exportName}() did not return Array<{ name, library, version, opsPerSecond }>`)
  await send({ type: 'result', rows })
  process.exit(0)
}

main().catch(async (error: unknown) => {
  await send({ type: 'failure', message: error instanceof Error ? error.message : String(error) })
  process.exit(1)
})
