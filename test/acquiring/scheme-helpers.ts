/** Shared by the scheme suites: a simulator on port 0 with Kassa's link connected to it. */
import assert from 'node:assert/strict'
import { SimulatedClock } from '../../src/domain/clock.js'
import type { Iso8583Message } from '../../src/acquiring/iso8583/index.js'
import { openSchemeLink, type SchemeLink, type SchemeLinkOptions, type SendResult } from '../../src/acquiring/scheme-link/index.js'
import { startSchemeSimulator, testCards, type SchemeLogEntry, type SchemeSimulator, type SchemeSimulatorOptions } from '../../sim/scheme/index.js'

export const acquirerId = '12345678'

export type SchemeHarness = {
  readonly clock: SimulatedClock
  readonly scheme: SchemeSimulator
  readonly link: SchemeLink
  /** Everything the simulator logged. */
  readonly logged: SchemeLogEntry[]
  close(): Promise<void>
}

/** Starts a simulator on a free port and a link to it, and waits until the link is up. */
export async function startHarness(
  options: { readonly scheme?: SchemeSimulatorOptions; readonly link?: Partial<SchemeLinkOptions> } = {},
): Promise<SchemeHarness> {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1, 12))
  const logged: SchemeLogEntry[] = []
  const scheme = await startSchemeSimulator({ port: 0, clock, seed: 42, log: (entry) => logged.push(entry), ...options.scheme })
  const link = openSchemeLink({ host: '127.0.0.1', port: scheme.port, clock, acquirerId, echoIntervalMs: 0, requestTimeoutMs: 2_000, ...options.link })
  assert.equal(await link.waitUntilUp(2_000), true, 'the link comes up')
  await eventually(() => link.stats().in_flight === 0) // the sign-on is answered, so counters start still
  return {
    clock,
    scheme,
    link,
    logged,
    close: async () => {
      await link.close()
      await scheme.close()
    },
  }
}

/** A purchase (or, with processing code 20, a refund) for `pan`; the link adds fields 7, 11, 32, 37. */
export function purchase(
  pan: string,
  options: { readonly mti?: string; readonly amountMinor?: bigint; readonly processingCode?: string; readonly extra?: Record<number, string> } = {},
): Iso8583Message {
  return {
    mti: options.mti ?? '0100',
    fields: {
      2: pan,
      3: options.processingCode ?? '000000',
      4: (options.amountMinor ?? 10_000n).toString().padStart(12, '0'),
      22: '012',
      41: 'TERM0001',
      42: 'KASSA0000000001',
      49: '156',
      ...options.extra,
    },
  }
}

/** The answer's field 39, failing the test if there was no answer. */
export function responseCodeOf(result: SendResult): string | undefined {
  assert.equal(result.outcome, 'answered', `expected an answer, got ${result.outcome}`)
  return result.outcome === 'answered' ? result.message.fields[39] : undefined
}

/** A capture advice (0220) for an authorization as it was sent. */
export function captureOf(authorization: Iso8583Message, amountMinor: bigint, field90: string): Iso8583Message {
  return {
    mti: '0220',
    fields: {
      2: authorization.fields[2] ?? '',
      3: '000000',
      4: amountMinor.toString().padStart(12, '0'),
      37: authorization.fields[37] ?? '',
      41: 'TERM0001',
      42: 'KASSA0000000001',
      49: '156',
      90: field90,
    },
  }
}

export function availableOf(scheme: SchemeSimulator, pan: string = testCards.approve.pan): bigint {
  const account = scheme.issuers.account(pan)
  assert.ok(account)
  return account.available_minor
}

export function balanceOf(scheme: SchemeSimulator, pan: string = testCards.approve.pan): bigint {
  const account = scheme.issuers.account(pan)
  assert.ok(account)
  return account.balance_minor
}

/** Waits until `condition` holds, polling every 5 ms, for at most `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
