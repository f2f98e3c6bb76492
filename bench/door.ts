import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../src/config.js'
import { seedDeliveryDemo } from '../src/demo/delivery.js'
import { createKassa } from '../src/kassa.js'
import { verifyLedger } from '../src/ledger/verify.js'
import { createLogger } from '../src/logger.js'
import { masterKeyFrom } from '../src/security/secrets.js'

export type DoorFlowResult = {
  flows: number
  seconds: number
  flowsPerSecond: number
  notifyP50Ms: number
  notifyP99Ms: number
  flowP99Ms: number
  errors: number
  ledgerOk: boolean
}

const parcelsPerOrder = 4

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

/**
 * The door, end to end over real HTTP on SQLite (synchronous=FULL): the courier asks for a parcel's
 * code, the shop app resolves it and pays it, and the courier's open Server-Sent-Events stream says
 * "paid". Counts flows per second at `concurrency` doors at once, and the notification latency from
 * the moment the pay request is sent to the moment the event arrives on the courier's stream.
 */
export async function benchDoorFlow(options: { parcels: number; concurrency: number }): Promise<DoorFlowResult> {
  const directory = mkdtempSync(join(tmpdir(), 'kassa-door-bench-'))
  const kassa = await createKassa({
    config: loadConfig({ KASSA_DEMO: '0', LOG_LEVEL: 'silent' }),
    storeOptions: { kind: 'sqlite', path: join(directory, 'kassa.db') },
    logger: createLogger('silent'),
    masterKey: masterKeyFrom(randomBytes(32).toString('base64')),
  })
  try {
    const demo = await seedDeliveryDemo(kassa)
    const base = await kassa.app.listen({ port: 0, host: '127.0.0.1' })
    const post = async (token: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const json = (await response.json()) as Record<string, any>
      if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`)
      return json
    }
    // COD orders of a few parcels each, as orders ship, all for one courier; the shopper's wallet can pay them all.
    const merchant = demo.merchant.key
    const parcels: string[] = []
    let payment: Record<string, any> = {}
    for (let i = 0; i < options.parcels; i++) {
      if (i % parcelsPerOrder === 0) {
        payment = await post(merchant, '/v1/payments', { amount: parcelsPerOrder * 100, currency: 'CNY', order_reference: `door-bench-${i}`, confirm: true, payment_method: { type: 'cod' } })
      }
      const delivery = await post(merchant, '/v1/deliveries', { payment: payment['id'], parcel_number: `BENCH-${i}`, amount: 100, courier: demo.courier.id })
      parcels.push(delivery['id'] as string)
    }
    const session = await post('', '/courier/v1/sessions', { username: demo.courier.username, password: demo.courier.password }).catch(async () => {
      const response = await fetch(`${base}/courier/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: demo.courier.username, password: demo.courier.password }) })
      return (await response.json()) as Record<string, any>
    })
    const courierToken = session['token'] as string

    const waiting = new Map<string, (at: number) => void>()
    const abort = new AbortController()
    const stream = await fetch(`${base}/courier/v1/events?token=${courierToken}`, { signal: abort.signal })
    const reader = stream.body!.getReader()
    const decoder = new TextDecoder()
    void (async () => {
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done === true) return
        buffer += decoder.decode(value)
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (block.startsWith('event: delivery.paid') && data !== undefined) {
            const id = (JSON.parse(data) as { delivery: string }).delivery
            waiting.get(id)?.(performance.now())
            waiting.delete(id)
          }
        }
      }
    })()

    const notifyLatencies: number[] = []
    const flowLatencies: number[] = []
    let errors = 0
    let next = 0
    const started = performance.now()
    const door = async () => {
      for (let index = next++; index < parcels.length; index = next++) {
        const parcel = parcels[index] as string
        const flowStart = performance.now()
        try {
          const code = await post(courierToken, `/courier/v1/deliveries/${parcel}/code`)
          await post(demo.shopperToken, '/shopper/v1/codes/resolve', { payload: code['payload'] })
          const heard = new Promise<number>((resolve) => waiting.set(parcel, resolve))
          const paySent = performance.now()
          await post(demo.shopperToken, '/shopper/v1/codes/pay', { payload: code['payload'] })
          const at = await Promise.race([heard, new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 5_000))])
          if (Number.isNaN(at)) errors += 1
          else notifyLatencies.push(at - paySent)
          flowLatencies.push(performance.now() - flowStart)
        } catch {
          errors += 1
        }
      }
    }
    await Promise.all(Array.from({ length: options.concurrency }, door))
    const seconds = (performance.now() - started) / 1000
    abort.abort()
    notifyLatencies.sort((a, b) => a - b)
    flowLatencies.sort((a, b) => a - b)
    const verification = await verifyLedger(kassa.store.db)
    return {
      flows: flowLatencies.length,
      seconds,
      flowsPerSecond: flowLatencies.length / seconds,
      notifyP50Ms: percentile(notifyLatencies, 50),
      notifyP99Ms: percentile(notifyLatencies, 99),
      flowP99Ms: percentile(flowLatencies, 99),
      errors,
      ledgerOk: verification.ok,
    }
  } finally {
    await kassa.close()
    rmSync(directory, { recursive: true, force: true })
  }
}

if (process.argv[1]?.endsWith('door.js') === true) {
  const result = await benchDoorFlow({ parcels: Number(process.argv[2] ?? 1000), concurrency: Number(process.argv[3] ?? 16) })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
