/**
 * Card acquiring as one part of a running Kassa: the link to the scheme, the `Acquirer` on it, and the
 * reversal a POS terminal asks for. `createKassa` opens it when SCHEME_ADDRESS is set or it is given a
 * scheme or a link (docs/acquiring.md).
 */
import type { Clock } from '../domain/clock.js'
import type { MasterKey } from '../security/secrets.js'
import type { Store } from '../store/store.js'
import { Acquirer } from './acquirer.js'
import { cardReverser, type CardReverser } from './pos-host/reversal.js'
import { reversalSweeper, type ReversalSweeper } from './reversal-sweeper.js'
import { openSchemeLink, stanMax, type LinkLogger, type SchemeLink } from './scheme-link/index.js'

/** Field 32, Kassa's acquiring institution id at the scheme (the simulator accepts any). */
export const acquirerIdDefault = '12345678'

export type AcquiringOptions = {
  /** Where the scheme listens; SCHEME_ADDRESS when absent. */
  readonly scheme?: { readonly host: string; readonly port: number }
  /** A link of the caller's own (tests): used as it is, and not closed by `close()`. */
  readonly link?: SchemeLink
  /** Field 32; must be the link's when a link is given. */
  readonly acquirerId?: string
  /** How long the acquirer waits for the scheme's answer before reversing; 10,000 ms. */
  readonly timeoutMs?: number
  /** 0400 then 0401 repeats; 5. */
  readonly reversalAttemptsMax?: number
  /** The link's echo test interval; 30,000 ms, 0 = off. */
  readonly echoIntervalMs?: number
}

export type Acquiring = {
  readonly acquirer: Acquirer
  readonly link: SchemeLink
  readonly acquirerId: string
  /** A terminal's reversal of its own sale: the POS host's `reverse`. */
  readonly reverse: CardReverser
  /** Sends owed reversals again until the scheme acknowledges them; `serve` starts it. */
  readonly sweeper: ReversalSweeper
  /** `host:port` of the scheme the link was opened to; undefined for a link given. */
  readonly schemeAddress: string | undefined
  /** Closes the link if it was opened here. */
  close(): Promise<void>
}

export type AcquiringDeps = {
  readonly store: Store
  readonly clock: Clock
  readonly masterKey: MasterKey
  readonly logger: LinkLogger
}

/**
 * Opens the link (it connects in the background; `link.waitUntilUp` waits for it) and builds the
 * acquirer on it.
 *
 * @example
 * const acquiring = await openAcquiring({ store, clock, masterKey, logger }, { scheme: { host: '127.0.0.1', port: 9583 } })
 * await acquiring.link.waitUntilUp(5_000)
 * await acquiring.acquirer.acquire({ … })
 */
export async function openAcquiring(deps: AcquiringDeps, options: AcquiringOptions): Promise<Acquiring> {
  const { store, clock, masterKey, logger } = deps
  const acquirerId = options.acquirerId ?? acquirerIdDefault
  const timeoutMs = options.timeoutMs ?? 10_000
  const reversalAttemptsMax = options.reversalAttemptsMax ?? 5
  const scheme = options.scheme
  if (options.link === undefined && scheme === undefined) throw new Error('card acquiring needs a scheme address (SCHEME_ADDRESS) or a link')
  const link =
    options.link ??
    openSchemeLink({
      host: scheme?.host ?? '',
      port: scheme?.port ?? 0,
      clock,
      acquirerId,
      logger,
      stanFirst: await stanToResumeAt(store, clock.now()),
      ...(options.echoIntervalMs === undefined ? {} : { echoIntervalMs: options.echoIntervalMs }),
    })
  const reverse = cardReverser({ store, clock, masterKey, link, acquirerId, timeoutMs, reversalAttemptsMax, logger })
  // A request is in flight at most its own wait and its reversals' (each attempt's wait and a 2 s
  // backoff at most); past that, twice over and at least 5 minutes, a pending row was left by a stopped process.
  const exchangeMsMax = timeoutMs * (reversalAttemptsMax + 1) + 2_000 * reversalAttemptsMax
  const sweeper = reversalSweeper({ store, reverse, clock, logger, staleMs: Math.max(5 * 60_000, 2 * exchangeMsMax) })
  return {
    acquirer: new Acquirer({ store, clock, link, masterKey, timeoutMs, reversalAttemptsMax, acquirerId }),
    link,
    acquirerId,
    reverse,
    sweeper,
    schemeAddress: options.link === undefined && scheme !== undefined ? `${scheme.host}:${scheme.port}` : undefined,
    close: async () => {
      await sweeper.stop()
      if (options.link === undefined) await link.close()
    },
  }
}

/**
 * The first STAN for a link opened during a day on which this database already sent card messages:
 * one past the highest STAN of today's card transactions, so a restart does not hand out a STAN, and
 * so an RRN, that a transaction of the day already has (refunds find their sale by RRN).
 */
async function stanToResumeAt(store: Store, nowMs: number): Promise<number> {
  const dayStartMs = nowMs - (nowMs % 86_400_000)
  const row = await store.db
    .selectFrom('card_transactions')
    .select((eb) => eb.fn.max('stan').as('stan'))
    .where('created_at', '>=', BigInt(dayStartMs))
    .where('stan', 'is not', null)
    .executeTakeFirst()
  const last = Number(row?.stan ?? 0)
  return Number.isSafeInteger(last) && last >= 1 && last < stanMax ? last + 1 : 1
}
