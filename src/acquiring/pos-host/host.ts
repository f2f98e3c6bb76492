/**
 * The POS terminal host: a TCP server for the terminals of the merchants Kassa acquires. Terminals
 * speak ISO 8583:1987 (`ascii` encoding) in 2-byte-length frames, the same as the scheme link; every
 * message is MACed (`mac.ts`). Card-present payments go through the `Acquirer`, so they land in the
 * same ledger and settlement as online ones.
 *
 * Each message gets an answer on the connection it came on, even when it is wrong (docs/pos.md lists
 * the codes): in order, undecodable → 30, no request MTI → 0810 30, no field 41 → 30, unknown or
 * disabled terminal → 58, MAC missing or wrong → 63, field 42 not the terminal's merchant (or the
 * merchant suspended) → 03, a field the request needs missing → 30. Only a broken length header
 * (0, or beyond the maximum) closes the connection, after a last 0810 30, since the byte stream
 * cannot be followed any further.
 *
 * **Duplicates.** Every request but 0800 is journaled by (terminal, MTI without the repeat digit,
 * STAN) before it is acted on. The same request again (a repeat 0201/0401, or the same bytes) gets the
 * first answer replayed, and no second charge; another request reusing the STAN within 24 hours
 * gets 94. While the first is still being processed, the second waits for its answer.
 *
 * **Terminal reversals.** An 0400/0401 names the terminal's sale by field 90 (or, without it, by its own
 * STAN). If the sale is still being processed, the reversal waits for it, then has it reversed at the
 * scheme and in the ledger (`reversal.ts`). A reversal for a sale the host never saw is answered 25 and
 * remembered, so that sale, should it arrive late, is refused (94) instead of charged.
 *
 * Limits: `connectionsMax` connections (1,024), `inFlightPerConnectionMax` requests processed at once
 * per connection (32; the socket is paused beyond), `idleTimeoutMs` without traffic closes a
 * connection (5 minutes), frames up to `frameLengthMax` (8,192 bytes).
 */
import { createServer, type Socket } from 'node:net'
import { assert } from '../../domain/assert.js'
import type { Clock } from '../../domain/clock.js'
import { KassaError } from '../../domain/errors.js'
import type { MasterKey } from '../../security/secrets.js'
import type { CardTransactionKind, CardTransactionRow } from '../../store/schema.js'
import { param, params, prepare, preparedQueries } from '../../store/prepared.js'
import type { Store } from '../../store/store.js'
import type { Tx } from '../../store/writer.js'
import { AlreadySent, cardOutcomeOf, type Acquirer, type CardOutcome } from '../acquirer.js'
import { decodeMessage, encodeMessage, maskPan, responseMtiFor, type Iso8583Message } from '../iso8583/index.js'
import { encodeFrame, frameLengthMaxDefault, readFrames } from '../scheme-link/framing.js'
import { encodeWithMac, verifyMac } from './mac.js'
import {
  answerTo,
  baseMti,
  parseTerminalRequest,
  requestDigest,
  salvageMessage,
  unknownRequestResponseMti,
  type OriginalReference,
  type TerminalRequest,
} from './protocol.js'
import type { CardReverser } from './reversal.js'
import { TerminalDirectory, type KnownTerminal } from './terminals.js'

/** A terminal request's journal row: read, claimed and answered once per sale, so prepared once. */
const journalQueries = preparedQueries((db, dialect) => {
  const byRequest = { terminal_id: param<string>('terminal_id'), mti: param<string>('mti'), stan: param<string>('stan') }
  const select = db.selectFrom('pos_requests').selectAll().where('terminal_id', '=', byRequest.terminal_id).where('mti', '=', byRequest.mti).where('stan', '=', byRequest.stan)
  // A claim's row, new or taken over again (a STAN come round, a reversal to retry): processing, unanswered.
  const claimed = {
    ...params('merchant_id', 'digest', 'state', 'response', 'card_transaction_id'),
    created_at: param('now'),
    updated_at: param('now'),
  }
  return {
    select: prepare(db, () => (dialect.rowLocks ? select.forUpdate() : select)),
    claim: prepare(db, (db) =>
      db
        .insertInto('pos_requests')
        .values({ ...byRequest, ...claimed })
        .onConflict((conflict) => conflict.doNothing())
        .returning('stan'),
    ),
    retake: prepare(db, (db) =>
      db.updateTable('pos_requests').set(claimed).where('terminal_id', '=', byRequest.terminal_id).where('mti', '=', byRequest.mti).where('stan', '=', byRequest.stan),
    ),
    answer: prepare(db, (db) =>
      db
        .updateTable('pos_requests')
        .set({ ...params('state', 'response', 'card_transaction_id'), updated_at: param('now') })
        .where('terminal_id', '=', byRequest.terminal_id)
        .where('mti', '=', byRequest.mti)
        .where('stan', '=', byRequest.stan),
    ),
  }
})

/** What the host needs of the acquirer (`Acquirer` has it). */
export type PosAcquirer = Pick<Acquirer, 'acquire' | 'refund' | 'capture'>

/** The subset of a pino logger the host uses. */
export type PosHostLogger = {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export type PosHostOptions = {
  /** 8583 by default; 0 picks a free port. */
  readonly port?: number
  /** The address to listen on; 127.0.0.1 by default (terminals on the network need 0.0.0.0). */
  readonly host?: string
  readonly store: Store
  readonly clock: Clock
  readonly masterKey: MasterKey
  readonly acquirer: PosAcquirer
  /** Carries out a terminal's reversal: `cardReverser(…)` from this folder, until `Acquirer` has one. */
  readonly reverse: CardReverser
  readonly logger?: PosHostLogger
  readonly connectionsMax?: number
  readonly inFlightPerConnectionMax?: number
  readonly idleTimeoutMs?: number
  /** How long a (terminal, MTI, STAN) stays taken: a repeat within it is a duplicate. 24 hours by default. */
  readonly duplicateWindowMs?: number
  readonly frameLengthMax?: number
  /** How long a terminal's registration is cached; 30,000 ms by default. */
  readonly terminalCacheTtlMs?: number
}

export type PosHostStats = {
  readonly connections_accepted: number
  readonly connections_open: number
  readonly messages: number
  /** Answers sent, by field 39. */
  readonly response_codes: Readonly<Record<string, number>>
  /** Answers replayed for a repeated STAN. */
  readonly replayed: number
  /** Connections closed because their length header was broken. */
  readonly frame_errors: number
}

export type PosHost = {
  readonly port: number
  stats(): PosHostStats
  /** Stops accepting, lets requests being processed finish (at most `graceMs`, 15 s), closes every connection. */
  close(graceMs?: number): Promise<void>
}

/** An answer and what it belongs to. */
type Outcome = { readonly answer: Iso8583Message; readonly cardTransactionId?: string | null }
type InFlight = { readonly digest: string; readonly done: Promise<Iso8583Message> }
type Claim = { readonly kind: 'claimed' } | { readonly kind: 'replay'; readonly answer: Iso8583Message } | { readonly kind: 'differs' } | { readonly kind: 'busy' }

/** The digest of a journal row standing for a sale that was reversed before it arrived. */
const reversedBeforeArrival = 'reversed_before_arrival'

/**
 * Starts the host and resolves once it listens.
 *
 * @example
 * const host = await startPosHost({ port: 0, store, clock, masterKey, acquirer, reverse: cardReverser({ store, clock, masterKey, link, acquirerId }) })
 * // terminals connect to 127.0.0.1:host.port
 * await host.close()
 */
export async function startPosHost(options: PosHostOptions): Promise<PosHost> {
  const { store, clock, masterKey, acquirer } = options
  const logger = options.logger ?? { info: () => undefined, warn: () => undefined, error: () => undefined }
  const connectionsMax = options.connectionsMax ?? 1_024
  const inFlightPerConnectionMax = options.inFlightPerConnectionMax ?? 32
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000
  const duplicateWindowMs = options.duplicateWindowMs ?? 86_400_000
  const frameLengthMax = options.frameLengthMax ?? frameLengthMaxDefault
  assert(Number.isSafeInteger(connectionsMax) && connectionsMax >= 1 && connectionsMax <= 100_000, 'connectionsMax is 1 to 100,000')
  assert(Number.isSafeInteger(inFlightPerConnectionMax) && inFlightPerConnectionMax >= 1 && inFlightPerConnectionMax <= 1_024, 'inFlightPerConnectionMax is 1 to 1,024')
  assert(Number.isSafeInteger(idleTimeoutMs) && idleTimeoutMs >= 1_000, 'idleTimeoutMs is at least 1,000')
  assert(Number.isSafeInteger(duplicateWindowMs) && duplicateWindowMs >= 60_000, 'duplicateWindowMs is at least a minute')
  const directory = new TerminalDirectory(store, masterKey, clock, options.terminalCacheTtlMs === undefined ? {} : { ttlMs: options.terminalCacheTtlMs })
  const inFlight = new Map<string, InFlight>()
  const handling = new Set<Promise<void>>()
  const sockets = new Set<Socket>()
  const counters = { connections_accepted: 0, messages: 0, replayed: 0, frame_errors: 0 }
  const responseCodes: Record<string, number> = {}

  // ---------------------------------------------------------------------------------------------
  // Answers
  // ---------------------------------------------------------------------------------------------

  /** The answer's bytes: MACed with the terminal's key when the request was authenticated, else plain. */
  const encodeAnswer = (answer: Iso8583Message, key: Buffer | undefined): Buffer => {
    const encoded = key === undefined ? encodeMessage(answer, { encoding: 'ascii' }) : encodeWithMac(answer, key)
    // Answers are made of fields that decoded (or were checked one by one), so they encode.
    assert(encoded.ok, `the POS host built an answer it cannot encode: ${encoded.ok ? '' : encoded.error.message}`)
    return encoded.value
  }

  const count = (answer: Iso8583Message): void => {
    const code = answer.fields[39] ?? '??'
    responseCodes[code] = (responseCodes[code] ?? 0) + 1
  }

  // ---------------------------------------------------------------------------------------------
  // One message
  // ---------------------------------------------------------------------------------------------

  const handle = async (bytes: Buffer): Promise<Buffer> => {
    const startedMs = Date.now()
    counters.messages++
    const decoded = decodeMessage(bytes, { encoding: 'ascii' })
    if (!decoded.ok) {
      const salvaged = salvageMessage(bytes)
      const mti = (salvaged.mti === undefined ? undefined : responseMtiFor(salvaged.mti)) ?? unknownRequestResponseMti
      const answer: Iso8583Message = { mti, fields: { ...salvaged.fields, 39: '30' } }
      count(answer)
      // The codec names the field, never its value: safe to log.
      logger.warn({ terminal_id: salvaged.fields[41], stan: salvaged.fields[11], error: decoded.error.message }, 'pos: malformed message')
      return encodeAnswer(answer, undefined)
    }
    const message = decoded.value
    const { answer, key } = await answerFor(bytes, message).catch((error: unknown) => {
      // The store failed before the request was journaled: nothing was done; say so, unsigned.
      logger.error({ terminal_id: message.fields[41], stan: message.fields[11], error: error instanceof Error ? error.message : String(error) }, 'pos: request failed')
      return { answer: answerTo(message, '96'), key: undefined }
    })
    count(answer)
    logger.info(
      {
        terminal_id: message.fields[41],
        mti: message.mti,
        stan: message.fields[11],
        pan_masked: message.fields[2] === undefined ? undefined : maskPan(message.fields[2]),
        response_code: answer.fields[39],
        duration_ms: Date.now() - startedMs,
      },
      'pos: answered',
    )
    return encodeAnswer(answer, key)
  }

  const answerFor = async (bytes: Buffer, message: Iso8583Message): Promise<{ answer: Iso8583Message; key: Buffer | undefined }> => {
    if (responseMtiFor(message.mti) === undefined) return { answer: answerTo(message, '30', {}, unknownRequestResponseMti), key: undefined }
    const terminalId = message.fields[41]
    if (terminalId === undefined) return { answer: answerTo(message, '30'), key: undefined }
    const terminal = await directory.find(terminalId)
    if (terminal === undefined || !terminal.active) return { answer: answerTo(message, '58'), key: undefined }
    const macProblem = verifyMac(bytes, message, terminal.key)
    if (macProblem !== undefined) {
      logger.warn({ terminal_id: terminal.id, stan: message.fields[11], problem: macProblem }, 'pos: MAC not accepted')
      return { answer: answerTo(message, macProblem === 'mac_misplaced' ? '30' : '63'), key: undefined }
    }
    const acceptor = message.fields[42]
    if ((acceptor !== undefined && acceptor !== terminal.card_acceptor_id) || !terminal.merchant_active) {
      return { answer: answerTo(message, '03'), key: terminal.key }
    }
    const parsed = parseTerminalRequest(message)
    if (!parsed.ok) {
      logger.warn({ terminal_id: terminal.id, stan: message.fields[11], field: parsed.problem.field, detail: parsed.problem.detail }, 'pos: request refused')
      return { answer: answerTo(message, parsed.problem.code), key: terminal.key }
    }
    if (parsed.request.kind === 'network') return { answer: answerTo(message, '00', { 70: message.fields[70] }), key: terminal.key }
    return { answer: await journaled(terminal, message, parsed.request), key: terminal.key }
  }

  /** Processes a request once per (terminal, MTI, STAN): a repeat gets the first answer. */
  const journaled = async (terminal: KnownTerminal, message: Iso8583Message, request: Exclude<TerminalRequest, { kind: 'network' }>): Promise<Iso8583Message> => {
    const stan = message.fields[11] ?? ''
    const mti = baseMti(message.mti)
    const key = `${terminal.id}:${mti}:${stan}`
    const digest = requestDigest(masterKey.key, message)
    const earlier = inFlight.get(key)
    if (earlier !== undefined) {
      const first = await earlier.done
      return replayOrDuplicate(earlier.digest === digest, first, message)
    }
    let resolve: (answer: Iso8583Message) => void = () => undefined
    const done = new Promise<Iso8583Message>((settle) => {
      resolve = settle
    })
    // Registered before the first await, so a second copy arriving meanwhile waits for this one.
    inFlight.set(key, { digest, done })
    let answer = answerTo(message, '96')
    try {
      if (isPayment(request)) {
        answer = await journaledPayment(terminal, message, request, mti, stan, digest)
        return answer
      }
      const claim = await claimRequest(terminal, mti, stan, digest)
      switch (claim.kind) {
        case 'replay':
          answer = replayOrDuplicate(true, claim.answer, message)
          break
        case 'differs':
        case 'busy':
          answer = answerTo(message, '94')
          break
        case 'claimed': {
          const outcome = await act(terminal, message, request).catch((error: unknown): Outcome => {
            logger.error({ terminal_id: terminal.id, stan, error: error instanceof Error ? error.message : String(error) }, 'pos: request failed')
            return { answer: answerTo(message, '96') }
          })
          answer = outcome.answer
          await recordAnswer(terminal.id, mti, stan, outcome)
          break
        }
      }
    } catch (error) {
      logger.error({ terminal_id: terminal.id, stan, error: error instanceof Error ? error.message : String(error) }, 'pos: journal failed')
    } finally {
      inFlight.delete(key)
      resolve(answer)
    }
    return answer
  }

  /**
   * A sale or authorization, claimed in the transaction that records its card transaction and
   * answered in the one that lands its outcome (the acquirer's `claim` and `landed` hooks): two
   * commits a sale, and never a claim without its card transaction, nor an outcome without its
   * answer (a stop in between left the request "processing", so its repeats got 94). A request the
   * acquirer refused or failed on, before that transaction, in it or after it, is journaled with
   * its answer in a unit of its own.
   */
  const journaledPayment = async (
    terminal: KnownTerminal,
    message: Iso8583Message,
    request: Extract<TerminalRequest, { kind: 'sale' | 'authorization' }>,
    mti: string,
    stan: string,
    digest: string,
  ): Promise<Iso8583Message> => {
    // The claim of the unit's last run: the one that committed, or that refused to go on.
    let claim: Claim | undefined
    // The answer journaled with the outcome's landing, once that committed.
    let journaledWithOutcome: string | undefined
    const claimHook = async (tx: Tx): Promise<boolean> => {
      claim = await claimIn(tx, terminal, mti, stan, digest)
      return claim.kind === 'claimed'
    }
    const landedHook = async (tx: Tx, transaction: CardTransactionRow): Promise<void> => {
      const outcome = cardOutcomeOf(transaction)
      // Still pending (the sweeper's to settle): the answer is journaled after, as for a failure.
      if (outcome === undefined) return
      const answered = fromCardOutcome(message, outcome)
      await answerIn(tx, terminal.id, mti, stan, answered)
      tx.afterCommit(() => (journaledWithOutcome = JSON.stringify(answered.answer)))
    }
    const paid = await pay(terminal, message, request, claimHook, landedHook).catch((error: unknown): Outcome | 'not_claimed' => {
      if (error instanceof AlreadySent) return 'not_claimed'
      logger.error({ terminal_id: terminal.id, stan, error: error instanceof Error ? error.message : String(error) }, 'pos: request failed')
      return { answer: answerTo(message, '96') }
    })
    if (paid === 'not_claimed') {
      // `acquire` throws AlreadySent only when the claim said no.
      assert(claim !== undefined && claim.kind !== 'claimed', 'AlreadySent without a refused claim')
      return claim.kind === 'replay' ? replayOrDuplicate(true, claim.answer, message) : answerTo(message, '94')
    }
    // Journaled with the outcome already, unless the answer came out otherwise (the sweeper's row).
    if (journaledWithOutcome === JSON.stringify(paid.answer)) return paid.answer
    // A card transaction means its unit committed, the claim with it. Without one the claim may
    // have committed or not (a failure after the unit, or a refusal before it).
    await recordAnswer(terminal.id, mti, stan, paid, paid.cardTransactionId == null ? { merchantId: terminal.merchant_id, digest } : undefined)
    return paid.answer
  }

  const replayOrDuplicate = (same: boolean, first: Iso8583Message, message: Iso8583Message): Iso8583Message => {
    if (!same) return answerTo(message, '94')
    counters.replayed++
    return first
  }

  const claimRequest = (terminal: KnownTerminal, mti: string, stan: string, digest: string): Promise<Claim> =>
    store.writer.submit((tx) => claimIn(tx, terminal, mti, stan, digest))

  /** Takes the journal row of (terminal, MTI, STAN) for this request, or says why not; writes only when it takes it. */
  const claimIn = async (tx: Tx, terminal: KnownTerminal, mti: string, stan: string, digest: string): Promise<Claim> => {
    const nowMs = clock.now()
    const q = journalQueries(tx)
    const [row] = await tx.run(q.select, { terminal_id: terminal.id, mti, stan })
    const claim = { terminal_id: terminal.id, mti, stan, merchant_id: terminal.merchant_id, digest, state: 'processing', response: null, card_transaction_id: null, now: nowMs }
    if (row === undefined) {
      const inserted = await tx.run(q.claim, claim)
      return inserted.length === 1 ? { kind: 'claimed' } : { kind: 'busy' }
    }
    const retake = (): Promise<unknown> => tx.run(q.retake, claim)
    if (nowMs - Number(row.created_at) >= duplicateWindowMs) {
      // The STAN came round again after the window: a new request.
      await retake()
      return { kind: 'claimed' }
    }
    if (row.digest !== digest) return { kind: 'differs' }
    if (row.state === 'processing' || row.response === null) return { kind: 'busy' }
    const first = JSON.parse(row.response) as Iso8583Message
    // A reversal the scheme had not acknowledged yet is tried again when the terminal repeats it.
    if (mti === '0400' && (first.fields[39] === '91' || first.fields[39] === '96')) {
      await retake()
      return { kind: 'claimed' }
    }
    return { kind: 'replay', answer: first }
  }

  /**
   * Stores the answer in the request's journal row. `perhapsUnclaimed`: the request's claim may not
   * have committed (it was refused before its transaction, or that transaction failed): then the
   * row is written now, answered; a row of this request still processing is answered; a row of
   * another request is left as it is.
   */
  const recordAnswer = (terminalId: string, mti: string, stan: string, outcome: Outcome, perhapsUnclaimed?: { merchantId: string; digest: string }): Promise<void> =>
    store.writer.submit(async (tx) => {
      if (perhapsUnclaimed === undefined) return answerIn(tx, terminalId, mti, stan, outcome)
      const q = journalQueries(tx)
      const [row] = await tx.run(q.select, { terminal_id: terminalId, mti, stan })
      if (row === undefined) await tx.run(q.claim, { merchant_id: perhapsUnclaimed.merchantId, digest: perhapsUnclaimed.digest, ...answeredRow(terminalId, mti, stan, outcome) })
      else if (row.digest === perhapsUnclaimed.digest && row.state === 'processing') await answerIn(tx, terminalId, mti, stan, outcome)
    })

  /** The journal row's answer, in the caller's transaction. */
  const answerIn = async (tx: Tx, terminalId: string, mti: string, stan: string, outcome: Outcome): Promise<void> => {
    await tx.run(journalQueries(tx).answer, answeredRow(terminalId, mti, stan, outcome))
  }

  const answeredRow = (terminalId: string, mti: string, stan: string, outcome: Outcome) => ({
    terminal_id: terminalId,
    mti,
    stan,
    state: 'answered',
    response: JSON.stringify(outcome.answer),
    card_transaction_id: outcome.cardTransactionId ?? null,
    now: clock.now(),
  })

  // ---------------------------------------------------------------------------------------------
  // The requests
  // ---------------------------------------------------------------------------------------------

  const act = async (terminal: KnownTerminal, message: Iso8583Message, request: Exclude<TerminalRequest, { kind: 'network' | 'sale' | 'authorization' }>): Promise<Outcome> => {
    switch (request.kind) {
      case 'refund':
        return refund(terminal, message, request)
      case 'completion':
        return complete(terminal, message, request)
      case 'reversal':
        return reverse(terminal, message, request)
    }
  }

  const pay = async (
    terminal: KnownTerminal,
    message: Iso8583Message,
    request: Extract<TerminalRequest, { kind: 'sale' | 'authorization' }>,
    claim: (tx: Tx) => Promise<boolean>,
    landed: (tx: Tx, transaction: CardTransactionRow) => Promise<void>,
  ): Promise<Outcome> => {
    const { card } = request
    const outcome = await refused(() => acquirer.acquire({
      merchant_id: terminal.merchant_id,
      fee_basis_points: terminal.fee_basis_points,
      terminal_id: terminal.id,
      kind: request.kind,
      amount: request.amount,
      currency: request.currency,
      card: { pan: card.pan, expiry: card.expiry, entry_mode: card.entry_mode, pin_block: card.pin_block, icc_hex: card.icc_hex, kind: card.kind },
      reference_id: `pos:${terminal.id}:${baseMti(message.mti)}:${message.fields[11] ?? ''}`,
      claim,
      landed,
    }))
    return typeof outcome === 'string' ? { answer: answerTo(message, outcome) } : fromCardOutcome(message, outcome)
  }

  const refund = async (terminal: KnownTerminal, message: Iso8583Message, request: Extract<TerminalRequest, { kind: 'refund' }>): Promise<Outcome> => {
    const original = await findOriginal(terminal, request.original, ['sale', 'capture'])
    if (original === undefined) return { answer: answerTo(message, '25') }
    if (original.currency !== request.currency) return { answer: answerTo(message, '12', { 37: original.rrn }) }
    if (request.pan !== undefined && maskPan(request.pan) !== original.masked_pan) return { answer: answerTo(message, '12', { 37: original.rrn }) }
    const outcome = await refused(() => acquirer.refund(terminal.merchant_id, original.id, request.amount))
    return typeof outcome === 'string' ? { answer: answerTo(message, outcome, { 37: original.rrn }) } : fromCardOutcome(message, outcome)
  }

  const complete = async (terminal: KnownTerminal, message: Iso8583Message, request: Extract<TerminalRequest, { kind: 'completion' }>): Promise<Outcome> => {
    const original = await findOriginal(terminal, request.original, ['authorization'])
    if (original === undefined) return { answer: answerTo(message, '25') }
    if (original.currency !== request.currency) return { answer: answerTo(message, '12', { 37: original.rrn }) }
    const outcome = await refused(() => acquirer.capture(terminal.merchant_id, original.id, request.amount, terminal.fee_basis_points))
    return typeof outcome === 'string' ? { answer: answerTo(message, outcome, { 37: original.rrn }) } : fromCardOutcome(message, outcome)
  }

  const reverse = async (terminal: KnownTerminal, message: Iso8583Message, request: Extract<TerminalRequest, { kind: 'reversal' }>): Promise<Outcome> => {
    const { stan } = request.original
    const mtis = request.original.mti === undefined ? ['0200', '0100'] : [request.original.mti]
    // The terminal gave up waiting, but this host may still be processing the sale: let it finish first.
    for (const mti of mtis) await inFlight.get(`${terminal.id}:${mti}:${stan}`)?.done
    const rows = await store.db
      .selectFrom('pos_requests')
      .select(['mti', 'state', 'digest', 'card_transaction_id', 'created_at'])
      .where('terminal_id', '=', terminal.id)
      .where('stan', '=', stan)
      .where('mti', 'in', mtis)
      .execute()
    const row = mtis.map((mti) => rows.find((candidate) => candidate.mti === mti && candidate.digest !== reversedBeforeArrival)).find((candidate) => candidate !== undefined)
    if (row === undefined) {
      // Unknown: remember it, unless the sale was claimed in the meantime (then it is being processed).
      const remembered = await rememberReversedBeforeArrival(terminal, mtis, stan)
      return { answer: answerTo(message, remembered ? '25' : '91') }
    }
    // The journal links the sale's card transaction once answered; if the host failed before that, the
    // card transaction still names the request it came from.
    const cardTransactionId =
      row.card_transaction_id ??
      (
        await store.db
          .selectFrom('card_transactions')
          .select('id')
          .where('merchant_id', '=', terminal.merchant_id)
          .where('reference_id', '=', `pos:${terminal.id}:${row.mti}:${stan}`)
          .where('created_at', '>=', row.created_at)
          .orderBy('created_at', 'desc')
          .executeTakeFirst()
      )?.id
    if (cardTransactionId === undefined) {
      // Answered without reaching the acquirer (refused by the host): nothing moved. Or still being
      // processed by another node: ask the terminal to repeat the reversal.
      return { answer: answerTo(message, row.state === 'answered' ? '00' : '91') }
    }
    const reversal = await refused(() => options.reverse(terminal.merchant_id, cardTransactionId))
    if (typeof reversal === 'string') return { answer: answerTo(message, reversal) }
    const rrn = reversal.transaction.rrn
    switch (reversal.outcome) {
      case 'reversed':
      case 'nothing_to_reverse':
        return { answer: answerTo(message, '00', { 37: rrn }), cardTransactionId: reversal.transaction.id }
      case 'reversal_pending':
      case 'in_flight':
        return { answer: answerTo(message, '91', { 37: rrn }), cardTransactionId: reversal.transaction.id }
      case 'not_reversible':
        return { answer: answerTo(message, '12', { 37: rrn }), cardTransactionId: reversal.transaction.id }
    }
  }

  /**
   * Journal rows that refuse the named sale if it ever arrives after its reversal. False when a row
   * was there already: the sale was claimed since the reversal looked.
   */
  const rememberReversedBeforeArrival = (terminal: KnownTerminal, mtis: readonly string[], stan: string): Promise<boolean> =>
    store.writer.submit(async (tx) => {
      const nowMs = clock.now()
      let all = true
      for (const mti of mtis) {
        const inserted = await tx.execute(
          tx.builder
            .insertInto('pos_requests')
            .values({ terminal_id: terminal.id, mti, stan, merchant_id: terminal.merchant_id, digest: reversedBeforeArrival, state: 'answered', response: null, card_transaction_id: null, created_at: nowMs, updated_at: nowMs })
            .onConflict((conflict) => conflict.doNothing())
            .returning('stan'),
        )
        if (inserted.length === 0) all = false
      }
      return all
    })

  /** The card transaction a refund, completion or reversal names: by the terminal's STAN, or by RRN within the merchant. */
  const findOriginal = async (terminal: KnownTerminal, original: OriginalReference, kinds: readonly CardTransactionKind[]): Promise<CardTransactionRow | undefined> => {
    let query = store.db.selectFrom('card_transactions').selectAll().where('merchant_id', '=', terminal.merchant_id).where('kind', 'in', kinds)
    if (original.by === 'rrn') {
      query = query.where('rrn', '=', original.rrn)
    } else {
      const journal = await store.db
        .selectFrom('pos_requests')
        .select('card_transaction_id')
        .where('terminal_id', '=', terminal.id)
        .where('mti', '=', original.mti ?? '0200')
        .where('stan', '=', original.stan)
        .executeTakeFirst()
      if (journal?.card_transaction_id == null) return undefined
      query = query.where('id', '=', journal.card_transaction_id)
    }
    return query.orderBy('created_at', 'desc').limit(1).executeTakeFirst()
  }

  // ---------------------------------------------------------------------------------------------
  // Connections
  // ---------------------------------------------------------------------------------------------

  const server = createServer((socket) => {
    counters.connections_accepted++
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('error', () => undefined) // a reset by the terminal is reported by 'close'
    const waiting: Buffer[] = []
    socket.on('close', () => {
      sockets.delete(socket)
      // Requests not started yet are dropped: nothing was done for them, and the terminal, which
      // got no answer, reverses or repeats them.
      waiting.length = 0
    })
    socket.setTimeout(idleTimeoutMs, () => {
      if (processing === 0) socket.destroy()
    })
    let processing = 0
    const next = (): void => {
      while (processing < inFlightPerConnectionMax && waiting.length > 0) {
        const frame = waiting.shift()
        if (frame === undefined) break
        processing++
        const work = handle(frame)
          .then((answer) => {
            const framed = encodeFrame(answer, { frameLengthMax })
            if (framed.ok && !socket.destroyed) socket.write(framed.value)
          })
          .catch((error: unknown) => logger.error({ error: error instanceof Error ? error.message : String(error) }, 'pos: answer failed'))
          .finally(() => {
            processing--
            handling.delete(work)
            if (processing < inFlightPerConnectionMax && socket.isPaused() && !socket.destroyed) socket.resume()
            next()
          })
        handling.add(work)
      }
      if (processing >= inFlightPerConnectionMax && !socket.isPaused()) socket.pause()
    }
    readFrames(socket, {
      frameLengthMax,
      onFrame: (frame) => {
        waiting.push(frame)
        next()
      },
      onError: (error) => {
        counters.frame_errors++
        logger.warn({ remote: socket.remoteAddress, error: error.message }, 'pos: broken length header, closing the connection')
        const answer = encodeFrame(encodeAnswer({ mti: unknownRequestResponseMti, fields: { 39: '30' } }, undefined))
        count({ mti: unknownRequestResponseMti, fields: { 39: '30' } })
        if (answer.ok) socket.end(answer.value)
        else socket.destroy()
      },
    })
  })
  server.maxConnections = connectionsMax

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8583, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  assert(address !== null && typeof address === 'object', 'a TCP server has an address')
  logger.info({ port: address.port }, 'pos host: listening')

  return {
    port: address.port,
    stats: () => ({ ...counters, connections_open: sockets.size, response_codes: { ...responseCodes } }),
    close: async (graceMs = 15_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      let timer: NodeJS.Timeout | undefined
      await Promise.race([Promise.allSettled([...handling]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))])
      clearTimeout(timer)
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}

/** A sale or an authorization: the requests that take a card's money. */
function isPayment(request: Exclude<TerminalRequest, { kind: 'network' }>): request is Extract<TerminalRequest, { kind: 'sale' | 'authorization' }> {
  return request.kind === 'sale' || request.kind === 'authorization'
}

/** What a terminal is told about a card outcome. */
function fromCardOutcome(message: Iso8583Message, outcome: CardOutcome): Outcome {
  const transaction = outcome.transaction
  const rrn = transaction.rrn
  switch (outcome.outcome) {
    case 'approved':
      return { answer: answerTo(message, '00', { 37: rrn, 38: transaction.auth_code }), cardTransactionId: transaction.id }
    case 'declined':
      return { answer: answerTo(message, outcome.response_code, { 37: rrn }), cardTransactionId: transaction.id }
    case 'reversed':
    case 'reversal_pending':
    case 'not_sent':
    case 'unanswered':
      return { answer: answerTo(message, '91', { 37: rrn }), cardTransactionId: transaction.id }
  }
}

/** Runs an acquirer call, turning the refusals it throws into the response code a terminal gets. */
async function refused<T>(call: () => Promise<T>): Promise<T | '12' | '13' | '14' | '25'> {
  try {
    return await call()
  } catch (error) {
    if (!(error instanceof KassaError)) throw error
    switch (error.code) {
      case 'resource_missing':
        return '25'
      case 'refund_exceeds_captured':
      case 'capture_exceeds_authorized':
        return '13'
      case 'parameter_invalid':
        return error.param === 'card.number' ? '14' : '12'
      default:
        return '12'
    }
  }
}
