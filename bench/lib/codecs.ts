import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { forkChild } from './child.js'
import type { CodecMessage, CodecRow } from './codec-runner.js'

export type CodecOutcome =
  | { status: 'ok'; title: string; rows: CodecRow[]; elapsedMs: number }
  | { status: 'skipped' | 'failed'; title: string; reason: string }

/**
 * Runs `bench/<file>.ts`'s `exportName({ durationMs })` (compiled) in a child process, killed
 * after `timeoutMs`. Other engineers write these modules; a missing module or export is skipped
 * with a note, a failure is reported and does not stop the payment benchmark.
 */
export async function runCodecBench(title: string, file: string, exportName: string, durationMs: number, timeoutMs: number): Promise<CodecOutcome> {
  const modulePath = fileURLToPath(new URL(`../${file}.js`, import.meta.url))
  // The source must exist too: dist/ may keep a compiled file whose source is gone.
  const sourcePath = fileURLToPath(new URL(`../../../bench/${file}.ts`, import.meta.url))
  if (!existsSync(sourcePath)) return { status: 'skipped', title, reason: `bench/${file}.ts does not exist` }
  if (!existsSync(modulePath)) return { status: 'skipped', title, reason: `bench/${file}.ts did not compile to dist/bench/${file}.js` }
  const started = Date.now()
  const runner = fileURLToPath(new URL('./codec-runner.js', import.meta.url))
  const child = forkChild<CodecMessage>(runner, { args: [modulePath, exportName, String(durationMs)] })
  try {
    const message = await child.next<CodecMessage>('result|missing', timeoutMs)
    if (message.type === 'result') return { status: 'ok', title, rows: message.rows, elapsedMs: Date.now() - started }
    if (message.type === 'missing') return { status: 'skipped', title, reason: `bench/${file}.ts: ${message.reason}` }
    return { status: 'failed', title, reason: 'unexpected message' }
  } catch (error) {
    return { status: 'failed', title, reason: (error as Error).message }
  } finally {
    await child.exited(2_000)
  }
}
