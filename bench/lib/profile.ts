import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

type ProfileNode = {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}

type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

export type ProfileLine = { name: string; where: string; selfMs: number; percent: number }
export type ProfileSummary = { file: string; windowMs: number; sampledMs: number; top: ProfileLine[]; byArea: ProfileLine[] }

/** The newest `.cpuprofile` in `directory`. */
export function newestProfile(directory: string): string | undefined {
  const files = readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'))
  files.sort((a, b) => statSync(join(directory, b)).mtimeMs - statSync(join(directory, a)).mtimeMs)
  return files[0] === undefined ? undefined : join(directory, files[0])
}

/** Where a function lives, shortened: `src/ledger/journal.ts`-like paths, package names, node internals. */
function shortUrl(url: string): string {
  if (url === '') return ''
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length)
  const dist = url.lastIndexOf('/dist/')
  if (dist >= 0) return url.slice(dist + '/dist/'.length)
  return url.replace(/^file:\/\//, '')
}

/** The area a function belongs to: a package, a folder of Kassa, node internals, or V8's own buckets. */
function area(node: ProfileNode): string {
  const { url, functionName } = node.callFrame
  if (url === '') return functionName === '' ? '(native)' : functionName.startsWith('(') ? functionName : '(native)'
  const short = shortUrl(url)
  if (url.includes('/node_modules/')) {
    const parts = short.split('/')
    return (parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]) ?? short
  }
  if (short.startsWith('node:')) return 'node: internals'
  const parts = short.split('/')
  return parts.slice(0, Math.min(parts.length - 1, 2)).join('/') || short
}

/**
 * Self time per function from a V8 CPU profile, counted only for samples inside `window`
 * (monotonic microseconds, the clock V8 stamps samples with on Linux), so start-up and the
 * ledger verification after the run do not blur the picture of the time under load.
 */
export function summarizeProfile(file: string, window: [number, number] | undefined, topCount = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfByNode = new Map<number, number>()
  let time = profile.startTime
  let sampled = 0
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = profile.timeDeltas[index] ?? 0
    time += delta
    if (window !== undefined && (time < window[0] || time > window[1])) continue
    const id = profile.samples[index] as number
    // A sample stands for the interval up to the next one.
    const next = profile.timeDeltas[index + 1] ?? delta
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + next)
    sampled += next
  }
  const byFunction = new Map<string, { name: string; where: string; micros: number }>()
  const byArea = new Map<string, number>()
  for (const [id, micros] of selfByNode) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`
    const key = `${functionName}@${where}`
    const entry = byFunction.get(key) ?? { name: functionName === '' ? '(anonymous)' : functionName, where, micros: 0 }
    entry.micros += micros
    byFunction.set(key, entry)
    const areaName = area(node)
    byArea.set(areaName, (byArea.get(areaName) ?? 0) + micros)
  }
  const line = (name: string, where: string, micros: number): ProfileLine => ({
    name,
    where,
    selfMs: Math.round(micros / 100) / 10,
    percent: sampled === 0 ? 0 : Math.round((1000 * micros) / sampled) / 10,
  })
  return {
    file,
    windowMs: window === undefined ? (profile.endTime - profile.startTime) / 1000 : (window[1] - window[0]) / 1000,
    sampledMs: sampled / 1000,
    top: [...byFunction.values()].sort((a, b) => b.micros - a.micros).slice(0, topCount).map((entry) => line(entry.name, entry.where, entry.micros)),
    byArea: [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([name, micros]) => line(name, '', micros)),
  }
}
