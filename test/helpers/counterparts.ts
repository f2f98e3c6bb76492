import type { DialectName } from '../../src/store/dialect.js'
import assert from 'node:assert/strict'
import { startDemoCounterparts, type DemoCounterparts } from '../../src/demo/simulators.js'
import { openTestKassa, type TestKassa } from './dialects.js'

export type CheckoutWorld = {
  readonly kassa: TestKassa
  /** The banks and wallets, started in process: test hooks (pay, faults, SMS codes) on each. */
  readonly counterparts: DemoCounterparts
  /** Where Kassa listens: counterparts notify it there, browsers open the checkout there. */
  readonly url: string
  /** A simulated bank or wallet by id; fails the test when it is not running. */
  bank(id: string): DemoCounterparts['banks'][number]
  wallet(id: string): DemoCounterparts['wallets'][number]
  dispose(): Promise<void>
}

/**
 * A Kassa listening on a real port with the demo banks and wallets beside it, so notifications
 * travel over HTTP as in production. Counterpart checks run fast (tests wait for them).
 */
export async function openCheckoutWorld(
  dialect: DialectName,
  options: { queryAfterMs?: number; checkEveryMs?: number; orderTtlMs?: number; worker?: boolean } = {},
): Promise<CheckoutWorld> {
  const counterparts = await startDemoCounterparts({ testEndpoints: true, seed: 7 })
  const kassa = await openTestKassa(dialect, {
    providers: counterparts.providers,
    counterpartTimings: { queryAfterMs: options.queryAfterMs ?? 1_000, checkEveryMs: options.checkEveryMs ?? 200, orderTtlMs: options.orderTtlMs ?? 30 * 60_000 },
  })
  const url = await kassa.app.listen({ port: 0, host: '127.0.0.1' })
  kassa.setPublicUrl(url)
  if (options.worker !== false) kassa.counterparts.startWorker()
  return {
    kassa,
    counterparts,
    url,
    bank(id) {
      const found = counterparts.banks.find((candidate) => candidate.bank.id === id)
      assert.ok(found, `no simulated bank ${id}`)
      return found
    },
    wallet(id) {
      const found = counterparts.wallets.find((candidate) => candidate.provider.id === id)
      assert.ok(found, `no simulated wallet ${id}`)
      return found
    },
    async dispose() {
      await kassa.dispose()
      await counterparts.close()
    },
  }
}
