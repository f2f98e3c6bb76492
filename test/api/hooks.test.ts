// The notification endpoint's guard against floods: per source, and the source as the load
// balancer names it when KASSA_TRUST_PROXY says which proxies to believe.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { SimulatedClock } from '../../src/domain/clock.js'
import { openTestKassa, type TestKassa } from '../helpers/dialects.js'

describe('hooks: refused notifications per source', () => {
  const opened: TestKassa[] = []
  after(async () => {
    for (const kassa of opened) await kassa.dispose()
  })

  const refusedNotification = (kassa: TestKassa, forwardedFor: string) =>
    kassa.app.inject({
      method: 'POST',
      url: '/hooks/channels/netbank.nobank',
      headers: { 'content-type': 'text/plain', 'x-forwarded-for': forwardedFor },
      payload: 'sign=forged',
      remoteAddress: '127.0.0.1',
    })

  it('behind a trusted proxy, each client is limited on its own address', async () => {
    // A clock that stands still: the budget is per minute, and a minute turning mid-test would refill it.
    const kassa = await openTestKassa('sqlite', { env: { KASSA_TRUST_PROXY: '127.0.0.1' }, clock: new SimulatedClock(Date.now()) })
    opened.push(kassa)
    for (let i = 0; i < 60; i++) assert.equal((await refusedNotification(kassa, '203.0.113.50')).statusCode, 404)
    assert.equal((await refusedNotification(kassa, '203.0.113.50')).statusCode, 429)
    assert.equal((await refusedNotification(kassa, '198.51.100.9')).statusCode, 404, 'another client behind the same proxy is still heard')
  })

  it('without one, X-Forwarded-For is not believed: a sender cannot dodge the limit by inventing addresses', async () => {
    const kassa = await openTestKassa('sqlite', { clock: new SimulatedClock(Date.now()) })
    opened.push(kassa)
    for (let i = 0; i < 60; i++) assert.equal((await refusedNotification(kassa, `203.0.113.${i}`)).statusCode, 404)
    assert.equal((await refusedNotification(kassa, '198.51.100.9')).statusCode, 429)
  })

  it('refuses a KASSA_TRUST_PROXY that is neither a hop count nor addresses, naming it', () => {
    assert.throws(() => loadConfig({ KASSA_TRUST_PROXY: 'everyone' }), /KASSA_TRUST_PROXY/)
    assert.equal(loadConfig({ KASSA_TRUST_PROXY: '1' }).trustProxy, 1)
    assert.equal(loadConfig({ KASSA_TRUST_PROXY: '10.0.0.0/8, 192.168.1.5' }).trustProxy, '10.0.0.0/8,192.168.1.5')
  })
})
