import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import type { DeliveryPaidEvent } from '../../src/delivery/live.js'
import { seedDeliveryDemo } from '../../src/demo/delivery.js'
import { createKassa } from '../../src/kassa.js'
import { createLogger } from '../../src/logger.js'
import { masterKeyFrom } from '../../src/security/secrets.js'
import { DIALECTS, freshStoreOptions } from '../helpers/dialects.js'
import { assertLedgerSound, caller } from '../helpers/factories.js'

describe('postgres: the courier hears "paid" on another node', { skip: DIALECTS.includes('postgres') ? false : 'PostgreSQL does not answer' }, () => {
  it('delivers the event from the node the shopper paid on to the node the courier listens on', async () => {
    const store = freshStoreOptions('postgres')
    const masterKey = masterKeyFrom(randomBytes(32).toString('base64'))
    const open = () => createKassa({ config: loadConfig({ KASSA_DEMO: '0' }), storeOptions: store.options, logger: createLogger('error'), masterKey })
    const nodeA = await open()
    const nodeB = await open()
    try {
      const demo = await seedDeliveryDemo(nodeA)
      const parcel = demo.deliveries[0]!
      const heard: { event: DeliveryPaidEvent; at: number }[] = []
      const unsubscribe = nodeA.live.subscribe(demo.courier.id, (event) => heard.push({ event, at: performance.now() }))
      const code = await nodeA.delivery.issueCode(demo.courier.id, parcel.id)
      const started = performance.now()
      const paid = await caller(nodeB, demo.shopperToken).post('/shopper/v1/codes/pay', { payload: code.payload })
      assert.equal(paid.statusCode, 200, paid.body)
      for (let waited = 0; heard.length === 0 && waited < 3_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10))
      unsubscribe()
      assert.equal(heard.length, 1, 'node A heard the payment made on node B exactly once')
      assert.equal(heard[0]?.event.delivery, parcel.id)
      assert.ok((heard[0]?.at ?? Infinity) - started < 1000, 'within a second')
      await assertLedgerSound(nodeA)
    } finally {
      await nodeA.close()
      await nodeB.close()
      await store.cleanup()
    }
  })
})
