import http from 'node:http'

export type PacedOptions = {
  port: number
  key: string
  shoppers: readonly string[]
  /** Keep-alive connections the requests share. */
  connections: number
  /** Requests per second, spread evenly. */
  rate: number
  /**
   * Sent at the same rate before the measured part and not counted: the connections open and the
   * server's queue settles into the steady state (measured: the switch from the load before, and
   * 50 connections opening at once, left a backlog of ~300 ms that took 1.5 s to drain at 80 %).
   */
  warmupSeconds: number
  durationSeconds: number
  tag: string
}

export type PacedResult = {
  durationSeconds: number
  rate: number
  ok: number
  /** 2xx answers to the warm-up's requests, which `ok`, `rate` and the latencies leave out. */
  warmupOk: number
  non2xx: number
  errors: number
  /** Requests not sent because too many were already waiting: the server could not keep up. */
  skipped: number
  statusCodes: Record<string, number>
  /** Milliseconds from each request's scheduled time to its response's end (so queueing counts). */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number }
}

const tickMs = 2
/** Requests waiting or in flight beyond this are not sent (and counted): memory stays bounded. */
const outstandingMax = 5_000
const drainTimeoutMs = 15_000
const rateMax = 100_000

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)
  return Math.round((sorted[Math.max(index, 0)] as number) * 10) / 10
}

/**
 * An open-loop load: request i is due at start + i / rate, whatever happened to the earlier ones,
 * and its latency counts from that due time (no coordinated omission). autocannon's `overallRate`
 * instead gives each connection a budget per second that it spends back to back and then waits
 * for the next second, so at "80 %" the server sees saturated bursts with gaps; this shows what a
 * steady 80 % does. Same request as bench/lib/load.ts, through node:http keep-alive connections.
 */
export async function pacePayments(options: PacedOptions): Promise<PacedResult> {
  if (!(options.rate > 0 && options.rate <= rateMax)) throw new Error(`rate must be in (0, ${rateMax}]`)
  if (!(options.durationSeconds >= 1 && options.durationSeconds <= 120)) throw new Error('duration must be 1 to 120 s')
  if (!(options.warmupSeconds >= 0 && options.warmupSeconds <= 60)) throw new Error('warm-up must be 0 to 60 s')
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections })
  const uncounted = Math.floor(options.rate * options.warmupSeconds)
  const total = uncounted + Math.floor(options.rate * options.durationSeconds)
  const latencies = new Float64Array(total - uncounted)
  const statusCodes: Record<string, number> = {}
  let recorded = 0
  let ok = 0
  let warmupOk = 0
  let non2xx = 0
  let errors = 0
  let skipped = 0
  let outstanding = 0
  let sent = 0
  const headers = { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' }
  const started = performance.now()
  const intervalMs = 1000 / options.rate

  function send(n: number): void {
    const due = started + n * intervalMs
    const shopper = options.shoppers[n % options.shoppers.length] as string
    const body = `{"amount":100,"currency":"CNY","order_reference":"bench-${options.tag}-${n}","confirm":true,"payment_method":{"type":"wallet_balance","shopper":"${shopper}"}}`
    outstanding += 1
    const finish = (status: number | undefined) => {
      outstanding -= 1
      if (status === undefined) errors += 1
      else {
        statusCodes[status] = (statusCodes[status] ?? 0) + 1
        // A failure in the warm-up is a failure all the same; only its latencies are left out.
        if (status < 200 || status >= 300) non2xx += 1
        else if (n < uncounted) warmupOk += 1
        else {
          ok += 1
          latencies[recorded++] = performance.now() - due
        }
      }
    }
    const request = http.request(
      { host: '127.0.0.1', port: options.port, method: 'POST', path: '/v1/payments', agent, headers: { ...headers, 'idempotency-key': `${options.tag}-${n}`, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume()
        response.on('end', () => finish(response.statusCode))
        response.on('error', () => finish(undefined))
      },
    )
    request.setTimeout(10_000, () => request.destroy(new Error('timeout')))
    request.on('error', () => finish(undefined))
    request.end(body)
  }

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const dueCount = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1)
      while (sent < dueCount) {
        if (outstanding < outstandingMax) send(sent)
        else if (sent >= uncounted) skipped += 1
        sent += 1
      }
      if (sent >= total) {
        clearInterval(timer)
        resolve()
      }
    }, tickMs)
  })
  const scheduledSeconds = (performance.now() - started) / 1000 - options.warmupSeconds
  const drainStarted = Date.now()
  while (outstanding > 0 && Date.now() - drainStarted < drainTimeoutMs) await new Promise((resolve) => setTimeout(resolve, 10))
  agent.destroy()
  const sorted = latencies.slice(0, recorded).sort()
  let sum = 0
  for (const value of sorted) sum += value
  return {
    durationSeconds: scheduledSeconds,
    rate: ok / scheduledSeconds,
    ok,
    warmupOk,
    non2xx,
    errors: errors + outstanding,
    skipped,
    statusCodes,
    latency: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: percentile(sorted, 1),
      mean: recorded === 0 ? Number.NaN : Math.round((sum / recorded) * 10) / 10,
    },
  }
}
