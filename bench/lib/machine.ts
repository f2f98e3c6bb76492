import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'

const require = createRequire(import.meta.url)

/** A dependency's version from its package.json (read as a file: some packages do not export it). */
function packageVersion(name: string): string {
  try {
    const entry = require.resolve(name)
    const root = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length)
    return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

export type Machine = {
  cpuModel: string
  cpuCount: number
  memoryGiB: number
  node: string
  os: string
  libraries: Record<string, string>
  /** 1, 5 and 15 minute load averages when the benchmark started: other work on the machine shows here. */
  loadAverage: [number, number, number]
}

export function describeMachine(): Machine {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    libraries: Object.fromEntries(['better-sqlite3', 'fastify', 'autocannon', 'pg', 'kysely'].map((name) => [name, packageVersion(name)])),
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100) as [number, number, number],
  }
}

/** Jiffies of the whole machine from /proc/stat (Linux); undefined elsewhere. */
export type CpuTimes = { total: number; idle: number; iowait: number; steal: number }

export function cpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const fields = line.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields
    return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle, iowait, steal }
  } catch {
    return undefined
  }
}

/** Percent of all CPU time between two snapshots that the hypervisor stole, and that sat idle. */
export function cpuShare(before: CpuTimes | undefined, after: CpuTimes | undefined): { steal: number; idle: number } | undefined {
  if (before === undefined || after === undefined) return undefined
  const total = after.total - before.total
  if (total <= 0) return undefined
  return { steal: (100 * (after.steal - before.steal)) / total, idle: (100 * (after.idle + after.iowait - before.idle - before.iowait)) / total }
}
