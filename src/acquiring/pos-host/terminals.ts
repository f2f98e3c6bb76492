/**
 * POS terminals registered to merchants. A terminal is known by its id (field 41, 8 characters); it
 * belongs to one merchant, whose card acceptor id (field 42) it must send, and it has its own MAC key,
 * sealed with the master key at rest and shown once, when the terminal is registered.
 */
import { randomBytes } from 'node:crypto'
import { recordAudit, type Actor } from '../../audit/log.js'
import type { Clock } from '../../domain/clock.js'
import { KassaError } from '../../domain/errors.js'
import { seal, unseal, type MasterKey } from '../../security/secrets.js'
import type { Store } from '../../store/store.js'
import { cardAcceptorId } from '../acquirer.js'
import { macKeyByteLength } from './mac.js'

/** Terminal ids are 8 upper-case letters and digits (field 41 is `ans 8`; Kassa keeps to these). */
export const terminalIdPattern = /^[0-9A-Z]{8}$/
const terminalIdAlphabet = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ'
const generatedIdAttemptsMax = 5
const unknownTtlMs = 2_000

export type RegisteredTerminal = {
  readonly terminal_id: string
  readonly merchant_id: string
  /** Field 42, the same for every terminal of the merchant. */
  readonly card_acceptor_id: string
  /** The MAC key, 32 bytes as hex: shown this once, stored only sealed. */
  readonly mac_key: string
}

/**
 * Registers a terminal to an active merchant, with a new random MAC key, and audits it. The terminal
 * id is `terminal_id` if given (8 upper-case letters or digits, not yet used), else a new `K…` one.
 *
 * @example
 * const terminal = await registerTerminal(kassa.store, kassa.clock, kassa.masterKey, { type: 'cli', id: 'kassa-cli' }, { merchant_id: 'mch_…' })
 * terminal.mac_key // '9F3C…' (64 hex characters): give it to the terminal now, it is not shown again
 */
export async function registerTerminal(
  store: Store,
  clock: Clock,
  masterKey: MasterKey,
  actor: Actor,
  input: { readonly merchant_id: string; readonly terminal_id?: string | undefined },
): Promise<RegisteredTerminal> {
  if (input.terminal_id !== undefined && !terminalIdPattern.test(input.terminal_id)) {
    throw new KassaError('parameter_invalid', { param: 'terminal_id', message: 'A terminal id is 8 upper-case letters or digits (field 41).' })
  }
  const macKey = randomBytes(macKeyByteLength).toString('hex').toUpperCase()
  return store.writer.submit(async (tx) => {
    const nowMs = clock.now()
    const [merchant] = await tx.execute(tx.builder.selectFrom('merchants').select(['id', 'status']).where('id', '=', input.merchant_id))
    if (merchant === undefined) throw new KassaError('resource_missing', { param: 'merchant_id', message: `No such merchant: ${input.merchant_id}` })
    if (merchant.status !== 'active') throw new KassaError('parameter_invalid', { param: 'merchant_id', message: 'The merchant is suspended.' })
    let terminalId = input.terminal_id
    for (let attempt = 0; terminalId === undefined && attempt < generatedIdAttemptsMax; attempt++) {
      const candidate = generatedTerminalId()
      const [taken] = await tx.execute(tx.builder.selectFrom('terminals').select('id').where('id', '=', candidate))
      if (taken === undefined) terminalId = candidate
    }
    if (terminalId === undefined) throw new KassaError('resource_conflict', { param: 'terminal_id', message: 'No free terminal id was found; retry.' })
    const [existing] = await tx.execute(tx.builder.selectFrom('terminals').select('id').where('id', '=', terminalId))
    if (existing !== undefined) throw new KassaError('resource_conflict', { param: 'terminal_id', message: `Terminal ${terminalId} is already registered.` })
    const acceptor = cardAcceptorId(merchant.id)
    await tx.execute(
      tx.builder.insertInto('terminals').values({
        id: terminalId,
        merchant_id: merchant.id,
        card_acceptor_id: acceptor,
        mac_key_sealed: seal(masterKey, macKey),
        status: 'active',
        created_at: nowMs,
      }),
    )
    await recordAudit(tx, actor, 'terminal.registered', { id: terminalId, merchant_id: merchant.id }, { card_acceptor_id: acceptor }, nowMs)
    return { terminal_id: terminalId, merchant_id: merchant.id, card_acceptor_id: acceptor, mac_key: macKey }
  })
}

/** Takes a terminal out of service (its messages get 58) or back in; audited. */
export async function setTerminalStatus(store: Store, clock: Clock, actor: Actor, terminalId: string, status: 'active' | 'disabled'): Promise<void> {
  await store.writer.submit(async (tx) => {
    const nowMs = clock.now()
    const [row] = await tx.execute(tx.builder.updateTable('terminals').set({ status }).where('id', '=', terminalId).returning(['id', 'merchant_id']))
    if (row === undefined) throw new KassaError('resource_missing', { param: 'terminal_id', message: `No such terminal: ${terminalId}` })
    await recordAudit(tx, actor, status === 'active' ? 'terminal.enabled' : 'terminal.disabled', { id: row.id, merchant_id: row.merchant_id }, {}, nowMs)
  })
}

function generatedTerminalId(): string {
  const bytes = randomBytes(7)
  let id = 'K'
  for (const byte of bytes) id += terminalIdAlphabet[byte % terminalIdAlphabet.length] ?? '0'
  return id
}

/** A terminal as the host needs it: its merchant, field 42, its unsealed key, and the merchant's fee. */
export type KnownTerminal = {
  readonly id: string
  readonly merchant_id: string
  readonly card_acceptor_id: string
  readonly key: Buffer
  readonly active: boolean
  readonly merchant_active: boolean
  readonly fee_basis_points: number
}

/**
 * Finds terminals for the host, keeping each for `ttlMs` (30 s) so a busy terminal costs no query per
 * message while a disabled one stops within that time (an unknown id is kept 2 s). Holds at most
 * `sizeMax` (10,000) terminals.
 */
export class TerminalDirectory {
  private readonly entries = new Map<string, { readonly terminal: KnownTerminal | undefined; readonly loadedAtMs: number }>()
  private readonly ttlMs: number
  private readonly sizeMax: number

  constructor(
    private readonly store: Store,
    private readonly masterKey: MasterKey,
    private readonly clock: Clock,
    options: { readonly ttlMs?: number; readonly sizeMax?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000
    this.sizeMax = options.sizeMax ?? 10_000
  }

  async find(terminalId: string): Promise<KnownTerminal | undefined> {
    const nowMs = this.clock.now()
    const cached = this.entries.get(terminalId)
    // Unknown ids are remembered for a shorter time, so a terminal registered just after a probe works soon.
    const ttlMs = cached?.terminal === undefined ? Math.min(this.ttlMs, unknownTtlMs) : this.ttlMs
    if (cached !== undefined && nowMs - cached.loadedAtMs < ttlMs) return cached.terminal
    const row = await this.store.db
      .selectFrom('terminals')
      .innerJoin('merchants', 'merchants.id', 'terminals.merchant_id')
      .select(['terminals.id', 'terminals.merchant_id', 'terminals.card_acceptor_id', 'terminals.mac_key_sealed', 'terminals.status', 'merchants.status as merchant_status', 'merchants.fee_basis_points'])
      .where('terminals.id', '=', terminalId)
      .executeTakeFirst()
    const terminal: KnownTerminal | undefined =
      row === undefined
        ? undefined
        : {
            id: row.id,
            merchant_id: row.merchant_id,
            card_acceptor_id: row.card_acceptor_id,
            key: Buffer.from(unseal(this.masterKey, row.mac_key_sealed), 'hex'),
            active: row.status === 'active',
            merchant_active: row.merchant_status === 'active',
            fee_basis_points: Number(row.fee_basis_points),
          }
    // Unknown ids are remembered too, so a stranger sending many messages does not make each one a query.
    if (this.entries.size >= this.sizeMax) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.delete(terminalId)
    this.entries.set(terminalId, { terminal, loadedAtMs: nowMs })
    return terminal
  }

  /** Forgets what is cached, so the next message reads the terminal again. */
  forget(terminalId?: string): void {
    if (terminalId === undefined) this.entries.clear()
    else this.entries.delete(terminalId)
  }
}
