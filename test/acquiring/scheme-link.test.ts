import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { SimulatedClock } from '../../src/domain/clock.js'
import { decodeMessage, encodeMessage, type Iso8583Message } from '../../src/acquiring/iso8583/index.js'
import { encodeFrame, openSchemeLink, readFrames } from '../../src/acquiring/scheme-link/index.js'
import { startSchemeSimulator, testCards } from '../../sim/scheme/index.js'
import { availableOf, eventually, purchase, responseCodeOf, sleep, startHarness } from './scheme-helpers.js'

const approvePan = testCards.approve.pan

describe('scheme link: matching many requests on one connection', () => {
  it('keeps 500 requests in flight with unique STANs and RRNs, each answer matched to its own request', async () => {
    const harness = await startHarness()
    try {
      const { link, scheme } = harness
      const availableBefore = availableOf(scheme)
      const count = 500
      // Each request has its own amount, so an answer given to the wrong request would show.
      const results = await Promise.all(Array.from({ length: count }, (_, index) => link.send(purchase(approvePan, { amountMinor: BigInt(index + 1) }), { timeoutMs: 10_000 })))
      const stans = new Set<string>()
      const rrns = new Set<string>()
      results.forEach((result, index) => {
        assert.equal(result.outcome, 'answered')
        if (result.outcome !== 'answered') return
        assert.equal(result.message.fields[39], '00')
        assert.equal(result.message.fields[11], result.request.fields[11])
        assert.equal(result.message.fields[4], String(index + 1).padStart(12, '0'))
        stans.add(result.request.fields[11] ?? '')
        rrns.add(result.request.fields[37] ?? '')
      })
      assert.equal(stans.size, count)
      assert.equal(rrns.size, count)
      assert.equal(scheme.stats().connections_accepted, 1)
      assert.equal(scheme.decisions().filter((decision) => decision.reason === 'duplicate_transmission').length, 0)
      assert.equal(availableOf(scheme), availableBefore - BigInt((count * (count + 1)) / 2))
      assert.deepEqual([link.stats().duplicate, link.stats().late, link.stats().unmatched, link.stats().in_flight, link.stats().stans_held], [0, 0, 0, 0, 0])
    } finally {
      await harness.close()
    }
  })

  it('refuses requests over inFlightMax as not_sent, and a message that does not encode', async () => {
    const harness = await startHarness({ link: { inFlightMax: 2 } })
    try {
      const { link, scheme } = harness
      scheme.setFaults([{ action: 'delay', delayMs: 100 }])
      const first = link.send(purchase(approvePan))
      const second = link.send(purchase(approvePan))
      const third = await link.send(purchase(approvePan))
      assert.deepEqual(third, { outcome: 'not_sent', reason: 'in_flight_max', detail: '2 requests in flight, the maximum is 2' })
      assert.equal((await first).outcome, 'answered')
      assert.equal((await second).outcome, 'answered')
      const invalid = await link.send(purchase(approvePan, { extra: { 4: '12.50' } }))
      assert.equal(invalid.outcome, 'not_sent')
      assert.match(invalid.outcome === 'not_sent' ? invalid.detail : '', /^field 4: /)
    } finally {
      await harness.close()
    }
  })

  it('gives back the STAN of a stamped request that will never be sent, and only of such a request', async () => {
    const harness = await startHarness()
    try {
      const { link, scheme } = harness
      const discarded = link.stamp(purchase(approvePan))
      assert.equal(link.stats().stans_held, 1)
      link.release(discarded)
      assert.equal(link.stats().stans_held, 0, 'its transaction rolled back: the STAN is free again')
      link.release(discarded)
      assert.equal(link.stats().stans_held, 0)

      scheme.setFaults([{ action: 'delay', delayMs: 100 }])
      const sent = link.stamp(purchase(approvePan))
      const answer = link.sendStamped(sent)
      link.release(sent)
      assert.equal(link.stats().stans_held, 1, 'a request on its way keeps its STAN until it settles')
      assert.equal((await answer).outcome, 'answered')
      assert.equal(link.stats().stans_held, 0)
    } finally {
      await harness.close()
    }
  })

  it('gives back the STAN of a reversal that never left, and of one that was answered', async () => {
    const harness = await startHarness({ link: { inFlightMax: 1 } })
    try {
      const { link, scheme } = harness
      const original = await link.send(purchase(approvePan))
      assert.equal(original.outcome, 'answered')
      scheme.setFaults([{ action: 'delay', delayMs: 150 }])
      const busy = link.send(purchase(approvePan))
      const refused = await link.reverse(original.request, { attemptsMax: 1, timeoutMs: 1_000 })
      assert.equal(refused.acknowledged, false)
      assert.equal(refused.acknowledged ? '' : refused.lastOutcome, 'not_sent')
      assert.equal((await busy).outcome, 'answered')
      assert.equal(link.stats().stans_held, 0, 'the 0400 that never left holds no STAN')
      scheme.setFaults([])
      const reversed = await link.reverse(original.request, { attemptsMax: 2, timeoutMs: 1_000 })
      assert.equal(reversed.acknowledged, true)
      assert.equal(link.stats().stans_held, 0, 'an answered reversal holds no STAN either')
    } finally {
      await harness.close()
    }
  })

  it('refuses a repeat (0221) while its original is still awaiting its answer, keeping the STAN held; sends it once the original settled', async () => {
    const harness = await startHarness()
    try {
      const { link, scheme } = harness
      scheme.setFaults([{ action: 'delay', delayMs: 100 }])
      const stamped = link.stamp(purchase(approvePan, { mti: '0220' }))
      const original = link.sendStamped(stamped)
      const repeat = { mti: '0221', fields: stamped.fields }
      const early = await link.sendStamped(repeat)
      assert.equal(early.outcome, 'not_sent')
      assert.equal(early.outcome === 'not_sent' ? early.reason : '', 'original_in_flight')
      const answered = await original
      assert.equal(answered.outcome, 'answered')
      scheme.setFaults([])
      const later = await link.sendStamped(repeat)
      assert.equal(later.outcome, 'answered')
      assert.equal(later.outcome === 'answered' ? later.message.fields[11] : '', stamped.fields[11])
      assert.equal(link.stats().stans_held, 0, 'every STAN given out is free again')
    } finally {
      await harness.close()
    }
  })

  it('asserts that callers leave the STAN to the link', async () => {
    const harness = await startHarness()
    try {
      await assert.rejects(async () => harness.link.send(purchase(approvePan, { extra: { 11: '000001' } })), /the link assigns the STAN/)
    } finally {
      await harness.close()
    }
  })
})

describe('scheme link: connection', () => {
  it('reconnects after the simulator is restarted on the same port', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1, 12))
    let scheme = await startSchemeSimulator({ port: 0, clock })
    const port = scheme.port
    const link = openSchemeLink({ host: '127.0.0.1', port, clock, echoIntervalMs: 0, reconnectDelayMsMin: 10, reconnectDelayMsMax: 50 })
    try {
      assert.equal(await link.waitUntilUp(2_000), true)
      assert.equal(responseCodeOf(await link.send(purchase(approvePan))), '00')
      await scheme.close()
      await eventually(() => link.state() !== 'up')
      assert.deepEqual(await link.send(purchase(approvePan)), { outcome: 'link_down' })
      await sleep(100) // a few reconnection attempts fail meanwhile
      scheme = await startSchemeSimulator({ port, clock })
      assert.equal(await link.waitUntilUp(2_000), true)
      const after = await link.send(purchase(approvePan))
      assert.equal(responseCodeOf(after), '00')
      assert.equal(link.stats().connections, 2)
      assert.ok(link.stats().connect_failures >= 1)
    } finally {
      await link.close()
      await scheme.close()
    }
  })

  it('answers link_down at once while no scheme listens, and waitUntilUp gives up in time', async () => {
    const probe = await startSchemeSimulator({ port: 0 })
    const port = probe.port
    await probe.close()
    const link = openSchemeLink({ host: '127.0.0.1', port, echoIntervalMs: 0, reconnectDelayMsMin: 10, reconnectDelayMsMax: 20 })
    try {
      assert.equal(await link.waitUntilUp(100), false)
      assert.deepEqual(await link.send(purchase(approvePan)), { outcome: 'link_down' })
      const reversal = await link.reverse({ mti: '0100', fields: { 2: approvePan, 7: '0101120000', 11: '000001' } }, { attemptsMax: 2, timeoutMs: 50, backoffMsMin: 5, backoffMsMax: 5 })
      assert.deepEqual(reversal, { acknowledged: false, attempts: 2, request: undefined, lastOutcome: 'link_down' })
      assert.ok(link.stats().connect_failures >= 2)
    } finally {
      await link.close()
    }
  })

  it('echoes periodically, and reconnects when echoes go unanswered', async () => {
    const harness = await startHarness({ link: { echoIntervalMs: 20, echoTimeoutMs: 30, echoFailuresMax: 2, reconnectDelayMsMin: 5, reconnectDelayMsMax: 10 } })
    try {
      const { link, scheme } = harness
      await eventually(() => scheme.decisions().filter((decision) => decision.mti === '0800').length >= 3)
      assert.equal(link.stats().echo_failures, 0)
      scheme.setFaults([{ action: 'drop', mtis: ['0800'], timesMax: 2 }])
      await eventually(() => link.stats().connections === 2)
      assert.equal(link.stats().echo_failures, 2)
      assert.equal(await link.waitUntilUp(1_000), true)
      assert.equal(responseCodeOf(await link.send(purchase(approvePan))), '00')
    } finally {
      await harness.close()
    }
  })

  it('resolves requests in flight as timeout when closed', async () => {
    const harness = await startHarness()
    const pending = harness.link.send(purchase(testCards.no_answer.pan), { timeoutMs: 10_000 })
    await sleep(20)
    await harness.close()
    const result = await pending
    assert.equal(result.outcome, 'timeout')
    assert.equal(harness.link.state(), 'closed')
    assert.deepEqual(await harness.link.send(purchase(approvePan)), { outcome: 'link_down' })
  })
})

/** A hand-written scheme: lets a test send whatever bytes it likes to the link. */
async function fakeScheme(onMessage: (message: Iso8583Message, socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => undefined)
    readFrames(socket, {
      onFrame: (frame) => {
        const decoded = decodeMessage(frame)
        if (decoded.ok) onMessage(decoded.value, socket)
      },
      onError: () => socket.destroy(),
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return { server, port: address.port, sockets }
}

function frameOf(message: Iso8583Message): Buffer {
  const encoded = encodeMessage(message)
  assert.ok(encoded.ok)
  const frame = encodeFrame(encoded.value)
  assert.ok(frame.ok)
  return frame.value
}

describe('scheme link: what a scheme may send', () => {
  it('counts unmatched answers and malformed frames without failing requests, and answers the scheme\'s own echo', async () => {
    const echoAnswers: Iso8583Message[] = []
    const fake = await fakeScheme((message, socket) => {
      if (message.mti === '0810') {
        echoAnswers.push(message)
        return
      }
      if (message.mti !== '0100') return
      socket.write(frameOf({ mti: '0110', fields: { 11: '999999', 39: '00' } })) // matches nothing
      socket.write(frameOf({ mti: '0210', fields: { 11: message.fields[11] ?? '', 39: '00' } })) // right STAN, wrong MTI
      socket.write(Buffer.concat([Buffer.from([0x00, 0x04]), Buffer.from('01X0')])) // not ISO 8583
      socket.write(frameOf({ mti: '0800', fields: { 7: '0101120000', 11: '000777', 70: '301' } }))
      socket.write(frameOf({ mti: '0110', fields: { ...message.fields, 39: '05' } }))
    })
    const link = openSchemeLink({ host: '127.0.0.1', port: fake.port, echoIntervalMs: 0, signOn: false })
    try {
      assert.equal(await link.waitUntilUp(2_000), true)
      const result = await link.send(purchase(approvePan), { timeoutMs: 1_000 })
      assert.equal(responseCodeOf(result), '05')
      assert.deepEqual([link.stats().unmatched, link.stats().malformed], [2, 1])
      await eventually(() => echoAnswers.length === 1)
      assert.deepEqual(echoAnswers[0], { mti: '0810', fields: { 7: '0101120000', 11: '000777', 39: '00', 70: '301' } })
    } finally {
      await link.close()
      await new Promise((resolve) => fake.server.close(resolve))
    }
  })

  it('drops a connection whose framing breaks and reconnects', async () => {
    const fake = await fakeScheme((message, socket) => {
      if (message.mti === '0100') socket.write(Buffer.from([0xff, 0xff, 0x00]))
    })
    const link = openSchemeLink({ host: '127.0.0.1', port: fake.port, echoIntervalMs: 0, signOn: false, reconnectDelayMsMin: 5, reconnectDelayMsMax: 10 })
    try {
      assert.equal(await link.waitUntilUp(2_000), true)
      const result = await link.send(purchase(approvePan), { timeoutMs: 200 })
      assert.equal(result.outcome, 'timeout')
      await eventually(() => link.stats().connections === 2)
      assert.equal(fake.sockets.length, 2)
    } finally {
      await link.close()
      await new Promise((resolve) => fake.server.close(resolve))
    }
  })
})
