import autocannon from 'autocannon'

export type LoadOptions = {
  port: number
  /** The merchant's secret key. */
  key: string
  shoppers: readonly string[]
  connections: number
  durationSeconds: number
  /** Requests per second over all connections; undefined drives as fast as the server answers. */
  overallRate?: number | undefined
  /** Makes idempotency keys and order references unique across the runs of one benchmark. */
  tag: string
}

export type LoadResult = {
  durationSeconds: number
  /** 2xx responses per second over the measured time. */
  rate: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  /** Latency of 2xx responses in milliseconds (autocannon records only those). */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number }
  requestsSent: number
}

/** Bounds on what a caller may ask for. */
const connectionsMax = 1_000
const durationSecondsMax = 120
/** autocannon's per-request timeout: a payment slower than this counts as an error. */
const requestTimeoutSeconds = 10

/**
 * Drives `POST /v1/payments` over HTTP/1.1 with autocannon, one payment per request, each with
 * its own Idempotency-Key and order reference, paid from the wallets of `shoppers` in turn.
 */
export async function drivePayments(options: LoadOptions): Promise<LoadResult> {
  if (!(options.connections >= 1 && options.connections <= connectionsMax)) throw new Error(`connections must be 1 to ${connectionsMax}`)
  if (!(options.durationSeconds >= 1 && options.durationSeconds <= durationSecondsMax)) throw new Error(`duration must be 1 to ${durationSecondsMax} s`)
  if (options.shoppers.length === 0) throw new Error('no shoppers to pay with')
  let sequence = 0
  const { shoppers, tag } = options
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSeconds,
    timeout: requestTimeoutSeconds,
    ...(options.overallRate === undefined ? {} : { overallRate: Math.max(1, Math.round(options.overallRate)) }),
    requests: [
      {
        method: 'POST',
        path: '/v1/payments',
        headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
        setupRequest(request) {
          const n = sequence++
          const shopper = shoppers[n % shoppers.length] as string
          request.headers = { ...request.headers, 'idempotency-key': `${tag}-${n}` }
          request.body = `{"amount":100,"currency":"CNY","order_reference":"bench-${tag}-${n}","confirm":true,"payment_method":{"type":"wallet_balance","shopper":"${shopper}"}}`
          return request
        },
      },
    ],
  })
  const statusCodes: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0
  const latency = result.latency as typeof result.latency & { p50: number; p90: number; p99: number }
  return {
    durationSeconds: result.duration,
    rate: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latency: { p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max, mean: latency.mean },
    requestsSent: result.requests.sent,
  }
}
