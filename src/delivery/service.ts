import { randomBytes } from 'node:crypto'
import { recordAudit, type Actor } from '../audit/log.js'
import type { Clock } from '../domain/clock.js'
import { currency as currencyOf, type CurrencyCode } from '../domain/currency.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { formatMinor } from '../domain/money.js'
import { recordEvent } from '../events/outbox.js'
import { accountId, type AccountRef } from '../ledger/accounts.js'
import { ensureAccount, postTransfer, readBalances } from '../ledger/journal.js'
import type { Posting } from '../ledger/transfer.js'
import { feeFor } from '../payments/decide.js'
import { assertTransition } from '../payments/state.js'
import { paymentView } from '../payments/view.js'
import type { Payment } from '../payments/decide.js'
import { buildDynamicMpm, decodeCpm, decodeMpm, encodeCpm } from '../qr/index.js'
import { qrPictureDataUrl } from '../qr/picture.js'
import { maskPhone } from '../shoppers/service.js'
import { paymentMethodsFor } from '../channels/directory.js'
import type { ChannelAttemptRow, DeliveryCodeRow, DeliveryRow } from '../store/schema.js'
import type { Store } from '../store/store.js'
import type { Tx } from '../store/writer.js'
import type { DeliveryPaidEvent, LiveDeliveries } from './live.js'
import { consumeSession, hashPassword, openSession, passwordMatches } from './sessions.js'
import { assertDeliveryTransition, codeStanding } from './state.js'

/** Template 26 of Kassa's codes: our network's globally unique identifier, then the merchant id. */
export const kassaQrGui = 'COM.KASSA.PAY'
const cpmApplicationId = 'F04B41535341'
const merchantCategoryCode = '5399'
/** Checked against when the username is unknown, so a login takes as long whether the name exists or not. */
let unknownCourierHash: Promise<string> | undefined

export type DeliveryView = ReturnType<typeof deliveryView>

/**
 * Which of a parcel's codes its courier sees: issuing a code replaces the others, so at most one is
 * live (active, or held by a bank payment), and it wins; else a used one, then an expired one, then
 * the newest. Codes made within one millisecond tie on `created_at`, so time alone cannot tell.
 */
const codeStatusRank: Readonly<Record<string, number>> = { active: 0, held: 0, used: 1, expired: 2, replaced: 3 }

function codeRank(code: DeliveryCodeRow): number {
  return codeStatusRank[code.status] ?? 4
}

function iso(ms: bigint | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString()
}

/** The standings in which a code can still be paid, so the courier's screen shows its picture. */
const shownStandings: ReadonlySet<string> = new Set(['payable', 'paying'])

/**
 * A code as the courier's screen gets it. Only a code that can still be paid has a picture: an
 * expired, replaced or used one is never to be scanned, and each picture is ~1.4 ms of the event
 * loop (a courier's list holds a code for every parcel).
 */
export function codeView(code: DeliveryCodeRow, standing: string) {
  return {
    reference: code.reference,
    payload: code.payload,
    image: shownStandings.has(standing) ? qrPictureDataUrl(code.payload, { remember: true }) : null,
    amount: code.amount,
    currency: code.currency,
    amount_display: formatMinor(code.amount, code.currency as CurrencyCode),
    expires_at: iso(code.expires_at),
    status: standing,
  }
}

export function deliveryView(row: DeliveryRow, merchantName: string, code: ReturnType<typeof codeView> | null) {
  return {
    id: row.id,
    object: 'delivery' as const,
    payment: row.payment_id,
    parcel_number: row.parcel_number,
    merchant_name: merchantName,
    amount: row.amount,
    amount_original: row.amount_original,
    currency: row.currency,
    amount_display: formatMinor(row.amount, row.currency as CurrencyCode),
    status: row.status,
    paid_by: row.paid_by,
    paid_with: row.paid_with,
    shopper_phone: maskPhone(row.shopper_phone),
    courier: row.courier_id,
    station: row.station_id,
    delivery_date: row.delivery_date,
    paid_at: iso(row.paid_at),
    code,
  }
}

function receiptOf(paymentId: string, view: DeliveryView) {
  return {
    payment: paymentId,
    delivery: view.id,
    parcel_number: view.parcel_number,
    merchant_name: view.merchant_name,
    amount: view.amount,
    currency: view.currency,
    amount_display: view.amount_display,
    paid_with: view.paid_with,
    paid_at: view.paid_at,
  }
}

/** What the door needs of the counterpart payments (src/payments/counterpart.ts). */
export interface DoorCounterparts {
  openDoorAttempt(tx: Tx, attempt: DoorAttemptInput, nowMs: number): Promise<void>
  start(attemptId: string): Promise<void>
  confirmSmsCodeOf(attemptId: string, smsCode: string): Promise<void>
  closeDoorAttempt(attemptId: string): Promise<void>
  /** Can this node pay a parcel through this channel (a quick-pay counterpart registered here)? */
  paysAtDoor(channelId: string): boolean
}

export type DoorAttemptInput = {
  readonly id: string
  readonly merchant_id: string
  readonly payment_id: string
  readonly channel_id: string
  readonly amount: bigint
  readonly currency: string
  readonly saved_method_id: string
  readonly delivery_code: string
}

export type DeliveryServiceOptions = {
  store: Store
  clock: Clock
  live: LiveDeliveries
  qrTtlMs: number
  notifyEvents: () => void
  /** A channel's fee (MDR) for a merchant: `PaymentService.channelFee`. */
  channelFee: (tx: Tx, channelId: string, merchantId: string) => Promise<number>
  counterparts?: DoorCounterparts
}

type Funding = { ref: AccountRef; paid_by: 'qr' | 'cash' | 'cpm'; paid_with: string; shopper_id: string | null; fee_basis_points?: number }

/**
 * Pay on delivery: parcels of COD payments, the courier's one-time dynamic QR codes, the shopper's
 * scan-and-pay, cash custody and remittance. Every money movement is a ledger transfer in the same
 * transaction as the parcel and the payment it belongs to.
 */
export class DeliveryService {
  constructor(private readonly options: DeliveryServiceOptions) {}

  private get store() {
    return this.options.store
  }

  private now(): number {
    return this.options.clock.now()
  }

  private today(nowMs = this.now()): string {
    return new Date(nowMs).toISOString().slice(0, 10)
  }

  // — operators —

  async createStation(actor: Actor, input: { name: string; city: string }) {
    const nowMs = this.now()
    const id = newId('station', nowMs)
    await this.store.writer.submit(async (tx) => {
      await tx.execute(tx.builder.insertInto('stations').values({ id, name: input.name, city: input.city, created_at: nowMs }))
      await recordAudit(tx, actor, 'station.create', { id, merchant_id: null }, input, nowMs)
    })
    return { id, object: 'station' as const, ...input }
  }

  async createCourier(actor: Actor, input: { station: string; name: string; username: string; password: string }) {
    const nowMs = this.now()
    const id = newId('courier', nowMs)
    const passwordHash = await hashPassword(input.password)
    await this.store.writer.submit(async (tx) => {
      const [station] = await tx.execute(tx.builder.selectFrom('stations').select('id').where('id', '=', input.station))
      if (station === undefined) throw new KassaError('resource_missing', { param: 'station', message: `No such station: ${input.station}` })
      const [taken] = await tx.execute(tx.builder.selectFrom('couriers').select('id').where('username', '=', input.username))
      if (taken !== undefined) throw new KassaError('parameter_invalid', { param: 'username', message: 'This username is taken.' })
      await tx.execute(
        tx.builder.insertInto('couriers').values({ id, station_id: input.station, name: input.name, username: input.username, password_hash: passwordHash, status: 'active', created_at: nowMs }),
      )
      await recordAudit(tx, actor, 'courier.create', { id, merchant_id: null }, { station: input.station, username: input.username }, nowMs)
    })
    return { id, object: 'courier' as const, name: input.name, username: input.username, station: input.station }
  }

  async openShopperSession(actor: Actor, shopperId: string) {
    return this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const [shopper] = await tx.execute(tx.builder.selectFrom('shoppers').select('id').where('id', '=', shopperId))
      if (shopper === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such shopper: ${shopperId}` })
      const session = await openSession(tx, 'shopper', shopperId, nowMs)
      await recordAudit(tx, actor, 'shopper.session.create', { id: shopperId, merchant_id: null }, {}, nowMs)
      return { token: session.token, expires_at: new Date(session.expires_at).toISOString() }
    })
  }

  // — merchants —

  /** A parcel of a COD payment, handed to a courier. The parcels of a payment never add up to more than it. */
  async createDelivery(
    tx: Tx,
    merchantId: string,
    input: { payment: string; parcel_number: string; amount: bigint; courier: string; shopper_phone: string | null; delivery_date: string | null },
    nowMs: number,
  ) {
    // Locked, so two parcels added at once on two nodes cannot both fit under the payment's amount.
    let paymentQuery = tx.builder.selectFrom('payments').selectAll().where('id', '=', input.payment).where('merchant_id', '=', merchantId)
    if (tx.dialect.rowLocks) paymentQuery = paymentQuery.forUpdate()
    const [payment] = await tx.execute(paymentQuery)
    if (payment === undefined) throw new KassaError('resource_missing', { param: 'payment', message: `No such payment: ${input.payment}` })
    if (payment.channel !== 'cod' || payment.status !== 'processing') {
      throw new KassaError('parameter_invalid', { param: 'payment', message: 'Parcels belong to a pay-on-delivery payment that is confirmed and not yet complete.' })
    }
    const [courier] = await tx.execute(tx.builder.selectFrom('couriers').select(['id', 'station_id']).where('id', '=', input.courier).where('status', '=', 'active'))
    if (courier === undefined) throw new KassaError('resource_missing', { param: 'courier', message: `No such courier: ${input.courier}` })
    const parcels = await tx.execute(tx.builder.selectFrom('deliveries').select('amount_original').where('payment_id', '=', payment.id))
    const assigned = parcels.reduce((sum, parcel) => sum + parcel.amount_original, 0n)
    if (assigned + input.amount > payment.amount) {
      throw new KassaError('amount_invalid', { param: 'amount', message: `The parcels would add up to more than the payment: at most ${payment.amount - assigned} is left.` })
    }
    const [duplicate] = await tx.execute(tx.builder.selectFrom('deliveries').select('id').where('merchant_id', '=', merchantId).where('parcel_number', '=', input.parcel_number))
    if (duplicate !== undefined) throw new KassaError('parameter_invalid', { param: 'parcel_number', message: `Parcel ${input.parcel_number} exists: ${duplicate.id}` })
    const row: DeliveryRow = {
      id: newId('delivery', nowMs),
      merchant_id: merchantId,
      payment_id: payment.id,
      parcel_number: input.parcel_number,
      courier_id: courier.id,
      station_id: courier.station_id,
      amount: input.amount,
      amount_original: input.amount,
      currency: payment.currency,
      status: 'out_for_delivery',
      paid_by: null,
      paid_with: null,
      shopper_id: payment.shopper_id,
      shopper_phone: input.shopper_phone,
      transfer_id: null,
      delivery_date: input.delivery_date ?? this.today(nowMs),
      version: 0n,
      paid_at: null,
      created_at: BigInt(nowMs),
    }
    await tx.execute(tx.builder.insertInto('deliveries').values(row))
    return deliveryView(row, await this.merchantName(tx, merchantId), null)
  }

  // — couriers —

  async courierLogin(username: string, password: string) {
    const courier = await this.store.db.selectFrom('couriers').selectAll().where('username', '=', username).executeTakeFirst()
    // The hash is computed even for an unknown name, so timing does not tell which names exist.
    const stored = courier?.password_hash ?? (await (unknownCourierHash ??= hashPassword('no courier has this password')))
    const matches = await passwordMatches(password, stored)
    if (courier === undefined || !matches || courier.status !== 'active') throw new KassaError('courier_credentials_invalid')
    const station = await this.store.db.selectFrom('stations').select(['id', 'name', 'city']).where('id', '=', courier.station_id).executeTakeFirstOrThrow()
    const session = await this.store.writer.submit((tx) => openSession(tx, 'courier', courier.id, this.now()))
    return { token: session.token, expires_at: new Date(session.expires_at).toISOString(), courier: { id: courier.id, name: courier.name, station } }
  }

  async courierDeliveries(courierId: string, date?: string) {
    const rows = await this.store.db
      .selectFrom('deliveries')
      .selectAll()
      .where('courier_id', '=', courierId)
      .where('delivery_date', '=', date ?? this.today())
      .orderBy('id')
      .limit(500)
      .execute()
    if (rows.length === 0) return []
    // Three reads for the day, not two per parcel: each parcel's latest code, and its merchant's name.
    const codes = await this.store.db
      .selectFrom('delivery_codes')
      .selectAll()
      .where('delivery_id', 'in', rows.map((row) => row.id))
      .orderBy('delivery_id')
      .orderBy('created_at', 'desc')
      .execute()
    const latestCode = new Map<string, DeliveryCodeRow>()
    for (const code of codes) {
      const other = latestCode.get(code.delivery_id)
      if (other === undefined || codeRank(code) < codeRank(other)) latestCode.set(code.delivery_id, code)
    }
    const merchantIds = [...new Set(rows.map((row) => row.merchant_id))]
    const merchants = await this.store.db.selectFrom('merchants').select(['id', 'name']).where('id', 'in', merchantIds).execute()
    const names = new Map(merchants.map((merchant) => [merchant.id, merchant.name]))
    const nowMs = this.now()
    return rows.map((row) => {
      const code = latestCode.get(row.id)
      return deliveryView(row, names.get(row.merchant_id) ?? row.merchant_id, code === undefined ? null : codeView(code, codeStanding(code, row.status, nowMs)))
    })
  }

  /** A fresh one-time dynamic QR code for a parcel; any earlier active code of the parcel stops working. */
  async issueCode(courierId: string, deliveryId: string) {
    const reference = `K${randomBytes(12).toString('hex').toUpperCase()}`
    const code = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const delivery = await this.courierDelivery(tx, courierId, deliveryId)
      if (delivery.status !== 'out_for_delivery') throw new KassaError('delivery_not_payable')
      return this.replaceCode(tx, delivery, reference, nowMs)
    })
    this.closeDoorAttemptsOf(deliveryId)
    return codeView(code, 'payable')
  }

  /** The shopper refused an item: the parcel's amount goes down, and only a new code can be paid. */
  async changeAmount(courierId: string, deliveryId: string, amount: bigint) {
    const reference = `K${randomBytes(12).toString('hex').toUpperCase()}`
    const changed = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const delivery = await this.courierDelivery(tx, courierId, deliveryId)
      if (delivery.status !== 'out_for_delivery') throw new KassaError('delivery_not_payable')
      if (amount <= 0n || amount >= delivery.amount) throw new KassaError('delivery_amount_invalid', { param: 'amount' })
      assertDeliveryTransition(delivery.status, 'out_for_delivery')
      await tx.execute(tx.builder.updateTable('deliveries').set({ amount, version: delivery.version + 1n }).where('id', '=', delivery.id).where('version', '=', delivery.version))
      const updated = { ...delivery, amount, version: delivery.version + 1n }
      const code = await this.replaceCode(tx, updated, reference, nowMs)
      await recordAudit(tx, { type: 'system', id: courierId }, 'delivery.amount_change', { id: delivery.id, merchant_id: delivery.merchant_id }, { from: delivery.amount.toString(), to: amount.toString() }, nowMs)
      return { updated, code, merchantName: await this.merchantName(tx, delivery.merchant_id) }
    })
    this.closeDoorAttemptsOf(deliveryId)
    // The picture is drawn after the commit: the writer's transaction holds every other payment's.
    return deliveryView(changed.updated, changed.merchantName, codeView(changed.code, 'payable'))
  }

  async recordCash(courierId: string, deliveryId: string, amount: bigint) {
    const transferId = newId('transfer', this.now())
    const { view, event } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const delivery = await this.courierDelivery(tx, courierId, deliveryId)
      if (delivery.status !== 'out_for_delivery') throw new KassaError('delivery_not_payable')
      if (amount !== delivery.amount) throw new KassaError('cash_amount_mismatch', { param: 'amount', message: `Cash collected must equal the parcel's ${delivery.amount}.` })
      const funding: Funding = { ref: { code: 'courier_cash', owner_id: courierId, currency: delivery.currency as CurrencyCode }, paid_by: 'cash', paid_with: 'cash', shopper_id: null }
      return this.settleParcel(tx, delivery, funding, transferId, nowMs)
    })
    this.options.live.publish(event)
    this.closeDoorAttemptsOf(deliveryId)
    return view
  }

  /** The courier scanned the shopper's consumer-presented code: the shopper's wallet pays the parcel. */
  async collectWithShopperCode(courierId: string, deliveryId: string, payload: string) {
    const decoded = decodeCpm(payload)
    const application = Array.isArray(decoded.fields['61']) ? decoded.fields['61'][0] : undefined
    const token = application?.['9F24']
    if (!decoded.valid || typeof token !== 'string' || application?.['4F'] !== cpmApplicationId) throw new KassaError('cpm_invalid', { param: 'payload' })
    const transferId = newId('transfer', this.now())
    const { view, event } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const delivery = await this.courierDelivery(tx, courierId, deliveryId)
      if (delivery.status !== 'out_for_delivery') throw new KassaError('qr_already_paid')
      const shopperId = await consumeSession(tx, 'cpm', token, nowMs)
      if (shopperId === undefined) throw new KassaError('cpm_invalid', { param: 'payload' })
      const funding: Funding = { ref: { code: 'shopper_balance', owner_id: shopperId, currency: delivery.currency as CurrencyCode }, paid_by: 'cpm', paid_with: 'wallet_balance', shopper_id: shopperId }
      return this.settleParcel(tx, delivery, funding, transferId, nowMs)
    })
    this.options.live.publish(event)
    this.closeDoorAttemptsOf(deliveryId)
    return view
  }

  async cashSummary(courierId: string) {
    const today = this.today()
    const collected = await this.store.db
      .selectFrom('deliveries')
      .select(['currency', 'amount'])
      .where('courier_id', '=', courierId)
      .where('paid_by', '=', 'cash')
      .where('delivery_date', '=', today)
      .execute()
    const account = await this.store.db.selectFrom('ledger_accounts').selectAll().where('code', '=', 'courier_cash').where('owner_id', '=', courierId).execute()
    const currency = (account[0]?.currency ?? collected[0]?.currency ?? 'CNY') as CurrencyCode
    const collectedSum = collected.filter((c) => c.currency === currency).reduce((sum, c) => sum + c.amount, 0n)
    const outstanding = account.filter((a) => a.currency === currency).reduce((sum, a) => sum + a.debits_posted - a.credits_posted, 0n)
    const remitted = await this.store.db.selectFrom('cash_remittances').select('amount_expected').where('courier_id', '=', courierId).where('remittance_date', '=', today).execute()
    const remittedSum = remitted.reduce((sum, r) => sum + r.amount_expected, 0n)
    return {
      currency,
      collected: collectedSum,
      remitted: remittedSum,
      outstanding,
      collected_display: formatMinor(collectedSum, currency),
      outstanding_display: formatMinor(outstanding, currency),
    }
  }

  // — shoppers —

  /** What a scanned code stands for, from Kassa's records: never from the amount printed in the code. */
  async resolveCode(payload: string, shopperId: string) {
    const { code, delivery } = await this.lookup(this.store.db, payload)
    const counterparts = this.options.counterparts
    const methods = await paymentMethodsFor(
      this.store,
      { id: delivery.payment_id, merchant_id: delivery.merchant_id, amount: code.amount, currency: code.currency, shopper_id: shopperId },
      (config) => config.kind === 'quickpay' && counterparts?.paysAtDoor(config.id) === true,
    )
    return {
      reference: code.reference,
      merchant_name: await this.merchantNameRead(delivery.merchant_id),
      parcel_number: delivery.parcel_number,
      amount: code.amount,
      currency: code.currency,
      amount_display: formatMinor(code.amount, code.currency as CurrencyCode),
      status: codeStanding(code, delivery.status, this.now()),
      // This shopper's own bank payment of the code under way (the page goes back to its SMS step).
      door_payment: (await this.openDoorAttemptOf(shopperId, payload)) ?? null,
      // The shopper's own accounts that can pay this parcel now, besides the wallet balance.
      saved_methods: methods.saved_methods,
      unavailable_saved_methods: methods.unavailable_saved_methods,
    }
  }

  async payCode(shopperId: string, payload: string) {
    const transferId = newId('transfer', this.now())
    const { view, event, paymentId } = await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const { delivery } = await this.claimCode(tx, payload, 'used', nowMs)
      const funding: Funding = { ref: { code: 'shopper_balance', owner_id: shopperId, currency: delivery.currency as CurrencyCode }, paid_by: 'qr', paid_with: 'wallet_balance', shopper_id: shopperId }
      const settled = await this.settleParcel(tx, delivery, funding, transferId, nowMs)
      return { ...settled, paymentId: delivery.payment_id }
    })
    this.options.live.publish(event)
    return { status: 'paid' as const, receipt: receiptOf(paymentId, view) }
  }

  /**
   * Pays a scanned code with one of the shopper's saved methods (a quick-pay account): the code is
   * held for this shopper while the bank asks them for an SMS code, so nobody else can pay it; the
   * parcel is paid when the bank says so (`settleFromAttempt`), and the code is payable again if
   * the bank's payment fails.
   */
  async payCodeWithSavedMethod(shopperId: string, payload: string, savedMethodId: string) {
    const counterparts = this.requireCounterparts()
    // A retry (a lost answer, a reloaded page) finds the shopper's own payment of this code under way.
    const open = await this.openDoorAttemptOf(shopperId, payload)
    if (open !== undefined) return this.doorAttemptAnswer(shopperId, open)
    const attemptId = newId('payment_attempt', this.now())
    await this.store.writer.submit(async (tx) => {
      const nowMs = this.now()
      const [saved] = await tx.execute(tx.builder.selectFrom('saved_methods').select(['id', 'channel_id', 'shopper_id', 'status']).where('id', '=', savedMethodId))
      if (saved === undefined || saved.shopper_id !== shopperId || saved.status !== 'active') throw new KassaError('saved_method_missing', { param: 'saved_method' })
      const { code, delivery } = await this.claimCode(tx, payload, 'held', nowMs)
      await counterparts.openDoorAttempt(tx, { id: attemptId, merchant_id: delivery.merchant_id, payment_id: delivery.payment_id, channel_id: saved.channel_id, amount: code.amount, currency: code.currency, saved_method_id: saved.id, delivery_code: code.reference }, nowMs)
      // The courier's page keeps this code on screen and says the shopper is paying through the bank.
      tx.afterCommit(() => this.options.live.publish({ courier_id: delivery.courier_id, delivery: delivery.id, status: 'code_paying', paid_by: saved.channel_id, amount: Number(code.amount) }))
    })
    await counterparts.start(attemptId)
    return this.doorAttemptAnswer(shopperId, attemptId)
  }

  /**
   * The SMS code the shopper's bank sent for a door payment. If the parcel can no longer take the
   * money (the courier made a new code, or took cash), the bank's order is closed instead: the
   * shopper is not charged for a parcel that would only refund it.
   */
  async confirmDoorSmsCode(shopperId: string, attemptId: string, smsCode: string) {
    const attempt = await this.shopperDoorAttempt(shopperId, attemptId)
    const counterparts = this.requireCounterparts()
    if (!(await this.stillHeldBy(attempt))) {
      await counterparts.closeDoorAttempt(attemptId)
      const answer = await this.doorAttemptAnswer(shopperId, attemptId)
      if (answer.status !== 'failed') return answer
      return { ...answer, message: 'The courier changed the code or took another payment for this parcel; your bank was not charged. Scan the courier’s current code.' }
    }
    await counterparts.confirmSmsCodeOf(attemptId, smsCode)
    return this.doorAttemptAnswer(shopperId, attemptId)
  }

  /** Is the attempt's code still held for it, on a parcel still out for delivery? */
  private async stillHeldBy(attempt: ChannelAttemptRow): Promise<boolean> {
    const code = await this.store.db.selectFrom('delivery_codes').select(['status', 'delivery_id']).where('reference', '=', attempt.delivery_code ?? '').executeTakeFirst()
    if (code?.status !== 'held') return false
    const delivery = await this.store.db.selectFrom('deliveries').select('status').where('id', '=', code.delivery_id).executeTakeFirst()
    return delivery?.status === 'out_for_delivery'
  }

  /** The shopper's own door attempt still open on this code, if any. */
  private async openDoorAttemptOf(shopperId: string, payload: string): Promise<string | undefined> {
    const { code } = await this.lookup(this.store.db, payload)
    if (code.status !== 'held') return undefined
    const open = await this.store.db
      .selectFrom('channel_attempts')
      .innerJoin('saved_methods', 'saved_methods.id', 'channel_attempts.saved_method_id')
      .select('channel_attempts.id')
      .where('channel_attempts.delivery_code', '=', code.reference)
      .where('channel_attempts.status', 'in', ['creating', 'pending'])
      .where('saved_methods.shopper_id', '=', shopperId)
      .executeTakeFirst()
    return open?.id
  }

  /**
   * After the courier changed a parcel (a new code, a lower amount, cash, the shopper's own code):
   * a bank payment still open on one of its old codes is closed at the bank, so the shopper's
   * SMS code can no longer take money the parcel would only have to return.
   */
  private closeDoorAttemptsOf(deliveryId: string): void {
    const counterparts = this.options.counterparts
    if (counterparts === undefined) return
    void (async () => {
      const open = await this.store.db
        .selectFrom('channel_attempts')
        .innerJoin('delivery_codes', 'delivery_codes.reference', 'channel_attempts.delivery_code')
        .select('channel_attempts.id')
        .where('delivery_codes.delivery_id', '=', deliveryId)
        .where('channel_attempts.status', 'in', ['creating', 'pending'])
        .execute()
      for (const attempt of open) await counterparts.closeDoorAttempt(attempt.id)
    })().catch(() => {
      // The worker closes it at the bank's deadline anyway, and late money is returned.
    })
  }

  /** The shopper gave up on a door payment at the bank: the bank's order is closed and the code can be paid another way. */
  async cancelDoorAttempt(shopperId: string, attemptId: string) {
    await this.shopperDoorAttempt(shopperId, attemptId)
    await this.requireCounterparts().closeDoorAttempt(attemptId)
    return this.doorAttemptAnswer(shopperId, attemptId)
  }

  /** Where a door payment through a counterpart stands, as the shopper's page shows it. */
  async doorAttemptAnswer(shopperId: string, attemptId: string) {
    const attempt = await this.shopperDoorAttempt(shopperId, attemptId)
    const [code] = await this.store.db.selectFrom('delivery_codes').selectAll().where('reference', '=', attempt.delivery_code ?? '').execute()
    if (code === undefined) throw new Error(`attempt ${attempt.id} names a missing code`)
    const delivery = await this.store.db.selectFrom('deliveries').selectAll().where('id', '=', code.delivery_id).executeTakeFirstOrThrow()
    const base = { attempt: attempt.id, channel: attempt.channel_id, code_status: codeStanding(code, delivery.status, this.now()) }
    if (attempt.status === 'paid' && Number(attempt.late) === 0) {
      const view = deliveryView(delivery, await this.merchantNameRead(delivery.merchant_id), null)
      return { ...base, status: 'paid' as const, receipt: receiptOf(delivery.payment_id, view) }
    }
    if (attempt.status === 'paid') {
      return { ...base, status: 'returned' as const, message: 'The parcel was paid another way before your bank paid; your bank payment is being returned to you.' }
    }
    if (attempt.status === 'failed' || attempt.status === 'closed') {
      return { ...base, status: 'failed' as const, failure_code: attempt.failure_code, message: attempt.failure_message ?? 'The bank did not pay.' }
    }
    const nextAction = attempt.next_action === null ? null : (JSON.parse(attempt.next_action) as Record<string, unknown>)
    return { ...base, status: attempt.status === 'pending' ? ('requires_sms_code' as const) : ('processing' as const), next_action: nextAction }
  }

  private async shopperDoorAttempt(shopperId: string, attemptId: string) {
    const attempt = await this.store.db.selectFrom('channel_attempts').selectAll().where('id', '=', attemptId).executeTakeFirst()
    const owner =
      attempt?.saved_method_id === null || attempt === undefined
        ? undefined
        : await this.store.db.selectFrom('saved_methods').select('shopper_id').where('id', '=', attempt.saved_method_id).executeTakeFirst()
    // Another shopper's attempt is as missing as one that does not exist.
    if (attempt === undefined || attempt.delivery_code === null || owner?.shopper_id !== shopperId) {
      throw new KassaError('resource_missing', { param: 'attempt', message: `No such door payment: ${attemptId}` })
    }
    return attempt
  }

  private requireCounterparts(): DoorCounterparts {
    const counterparts = this.options.counterparts
    if (counterparts === undefined) throw new KassaError('channel_unavailable', { param: 'saved_method', message: 'This node takes no payments through banks.' })
    return counterparts
  }

  /**
   * A door attempt's money arrived: the parcel is paid by it, if the parcel can still take it (the
   * same code still held, the parcel still out, its payment still open, the same amount). Otherwise
   * undefined, and the counterpart path returns the money to the payer.
   */
  async settleFromAttempt(tx: Tx, attempt: ChannelAttemptRow, feeBasisPoints: number, transferId: string, nowMs: number): Promise<DeliveryPaidEvent | undefined> {
    const [issued] = await tx.execute(tx.builder.selectFrom('delivery_codes').select('delivery_id').where('reference', '=', attempt.delivery_code ?? ''))
    if (issued === undefined) throw new Error(`attempt ${attempt.id} names a missing code`)
    // The caller holds the payment's lock; the parcel is locked before its code is read, so a new code cannot slip in between.
    let deliveryQuery = tx.builder.selectFrom('deliveries').selectAll().where('id', '=', issued.delivery_id)
    if (tx.dialect.rowLocks) deliveryQuery = deliveryQuery.forUpdate()
    const [delivery] = await tx.execute(deliveryQuery)
    if (delivery === undefined) throw new Error(`a code of attempt ${attempt.id} names a missing delivery`)
    const [code] = await tx.execute(tx.builder.selectFrom('delivery_codes').selectAll().where('reference', '=', attempt.delivery_code ?? ''))
    if (code === undefined) throw new Error(`attempt ${attempt.id} names a missing code`)
    const [payment] = await tx.execute(tx.builder.selectFrom('payments').select('status').where('id', '=', delivery.payment_id))
    // A closed attempt released the code already: it may be held by the shopper's next attempt now.
    const stillHolding = attempt.status === 'creating' || attempt.status === 'pending'
    const takes = stillHolding && code.status === 'held' && delivery.status === 'out_for_delivery' && payment?.status === 'processing' && delivery.amount === attempt.amount
    if (!takes) return undefined
    const used = await tx.execute(tx.builder.updateTable('delivery_codes').set({ status: 'used' }).where('reference', '=', code.reference).where('status', '=', 'held').returning('reference'))
    if (used.length !== 1) throw new Error(`code ${code.reference} changed under us`)
    const [owner] = await tx.execute(tx.builder.selectFrom('saved_methods').select('shopper_id').where('id', '=', attempt.saved_method_id ?? ''))
    const funding: Funding = {
      ref: { code: 'provider_receivable', owner_id: attempt.channel_id, currency: delivery.currency as CurrencyCode },
      paid_by: 'qr',
      paid_with: attempt.channel_id,
      shopper_id: owner?.shopper_id ?? null,
      fee_basis_points: feeBasisPoints,
    }
    return (await this.settleParcel(tx, delivery, funding, transferId, nowMs)).event
  }

  /** A door attempt ended unpaid: its code can be paid again (or has expired meanwhile). */
  async releaseCode(tx: Tx, attempt: ChannelAttemptRow, nowMs: number): Promise<void> {
    const [code] = await tx.execute(tx.builder.selectFrom('delivery_codes').select(['reference', 'status', 'expires_at', 'delivery_id', 'courier_id', 'amount']).where('reference', '=', attempt.delivery_code ?? ''))
    if (code === undefined || code.status !== 'held') return
    const status = BigInt(nowMs) >= code.expires_at ? 'expired' : 'active'
    await tx.execute(tx.builder.updateTable('delivery_codes').set({ status }).where('reference', '=', code.reference).where('status', '=', 'held'))
    tx.afterCommit(() => this.options.live.publish({ courier_id: code.courier_id, delivery: code.delivery_id, status: 'code_payable', paid_by: '', amount: Number(code.amount) }))
  }

  publish(event: DeliveryPaidEvent): void {
    this.options.live.publish(event)
  }

  /** Takes a scanned code for one payment: `used` (paid in this transaction) or `held` (paid through a counterpart). */
  private async claimCode(tx: Tx, payload: string, to: 'used' | 'held', nowMs: number): Promise<{ code: DeliveryCodeRow; delivery: DeliveryRow }> {
    const { code, delivery } = await this.lookup(tx, payload)
    const standing = codeStanding(code, delivery.status, nowMs)
    if (standing === 'paid') throw new KassaError('qr_already_paid')
    if (standing === 'paying') throw new KassaError('qr_payment_in_progress')
    if (standing === 'replaced') throw new KassaError('qr_replaced')
    if (standing === 'expired') {
      await tx.execute(tx.builder.updateTable('delivery_codes').set({ status: 'expired' }).where('reference', '=', code.reference).where('status', '=', 'active'))
      throw new KassaError('qr_expired')
    }
    const claimed = await tx.execute(tx.builder.updateTable('delivery_codes').set({ status: to }).where('reference', '=', code.reference).where('status', '=', 'active').returning('reference'))
    // Two shoppers racing on one code: the second finds it taken.
    if (claimed.length !== 1) throw new KassaError(to === 'used' ? 'qr_already_paid' : 'qr_payment_in_progress')
    return { code: { ...code, status: to }, delivery }
  }

  /** The shopper's consent to one wallet payment: a token the merchant sends as payment_method.token. */
  async issuePaymentToken(shopperId: string) {
    const session = await this.store.writer.submit((tx) => openSession(tx, 'cpm', shopperId, this.now()))
    return { token: session.token, expires_at: new Date(session.expires_at).toISOString() }
  }

  /** A one-time consumer-presented code (EMVCo CPM) that lets a courier collect from this shopper's wallet. */
  async issueShopperCode(shopperId: string) {
    const session = await this.store.writer.submit((tx) => openSession(tx, 'cpm', shopperId, this.now()))
    const encoded = encodeCpm({ '85': 'CPV01', '61': [{ '4F': cpmApplicationId, '50': 'KASSA WALLET', '9F24': session.token }] })
    if (!encoded.ok) throw new Error(`could not encode the shopper code: ${encoded.errors[0]?.message}`)
    return {
      payload: encoded.payload,
      image: qrPictureDataUrl(encoded.payload),
      expires_at: new Date(session.expires_at).toISOString(),
    }
  }

  // — stations —

  /**
   * The courier hands in the day's cash; the station counts it. The courier's custody account is
   * cleared by what was expected; a shortage or overage goes to cash over/short, and is reported.
   */
  async remit(actor: Actor, input: { courier: string; amount_counted: bigint; currency: CurrencyCode }) {
    const transferId = newId('transfer', this.now())
    return this.store.writer.submit((tx) => this.remitIn(tx, actor, input, transferId, this.now()))
  }

  /** The remittance inside the caller's transaction (the console route adds its idempotency record). */
  async remitIn(tx: Tx, actor: Actor, input: { courier: string; amount_counted: bigint; currency: CurrencyCode }, transferId: string, nowMs: number) {
    {
      const [courier] = await tx.execute(tx.builder.selectFrom('couriers').select(['id', 'station_id']).where('id', '=', input.courier))
      if (courier === undefined) throw new KassaError('resource_missing', { param: 'courier', message: `No such courier: ${input.courier}` })
      const custody: AccountRef = { code: 'courier_cash', owner_id: courier.id, currency: input.currency }
      const station: AccountRef = { code: 'station_cash', owner_id: courier.station_id, currency: input.currency }
      const overShort: AccountRef = { code: 'cash_over_short', owner_id: undefined, currency: input.currency }
      for (const ref of [custody, station, overShort]) await ensureAccount(tx, ref, nowMs)
      // Read under a row lock (PostgreSQL), so two remittances at once cannot both clear the same cash.
      const account = await readBalances(tx, accountId(custody))
      const expected = account === undefined ? 0n : account.debits_posted - account.credits_posted
      if (expected <= 0n && input.amount_counted === 0n) throw new KassaError('parameter_invalid', { param: 'amount_counted', message: 'This courier holds no cash to remit.' })
      const postings: Posting[] = []
      const posting = (ref: AccountRef, side: Posting['side'], amount: bigint) => postings.push({ account_id: accountId(ref), side, amount, currency: input.currency })
      if (input.amount_counted > 0n) posting(station, 'debit', input.amount_counted)
      if (expected > 0n) posting(custody, 'credit', expected)
      const difference = input.amount_counted - expected
      if (difference < 0n) posting(overShort, 'debit', -difference)
      if (difference > 0n) posting(overShort, 'credit', difference)
      const result = await postTransfer(tx, { id: transferId, kind: 'single_phase', code: 'cash_remittance', reference_id: courier.id, merchant_id: undefined, postings }, nowMs)
      if (result !== 'ok') throw new Error(`remittance transfer failed: ${result}`)
      const id = newId('remittance', nowMs)
      await tx.execute(
        tx.builder.insertInto('cash_remittances').values({
          id,
          courier_id: courier.id,
          station_id: courier.station_id,
          currency: input.currency,
          amount_expected: expected,
          amount_counted: input.amount_counted,
          remittance_date: this.today(nowMs),
          transfer_id: transferId,
          created_by: actor.id,
          created_at: nowMs,
        }),
      )
      await recordAudit(tx, actor, 'cash.remit', { id, merchant_id: null }, { courier: courier.id, expected: expected.toString(), counted: input.amount_counted.toString() }, nowMs)
      return { id, object: 'cash_remittance' as const, courier: courier.id, station: courier.station_id, currency: input.currency, amount_expected: expected, amount_counted: input.amount_counted, difference }
    }
  }

  /** Per courier and station for one day: parcels, QR-paid, cash-paid, remitted, difference. */
  async codReport(date: string) {
    const deliveries = await this.store.db.selectFrom('deliveries').selectAll().where('delivery_date', '=', date).execute()
    const remittances = await this.store.db.selectFrom('cash_remittances').selectAll().where('remittance_date', '=', date).execute()
    const rows = new Map<string, { courier: string; station: string; currency: string; parcels: number; qr_paid: bigint; cash_paid: bigint; remitted: bigint; difference: bigint }>()
    const rowFor = (courier: string, station: string, currency: string) => {
      const key = `${courier}|${station}|${currency}`
      let row = rows.get(key)
      if (row === undefined) {
        row = { courier, station, currency, parcels: 0, qr_paid: 0n, cash_paid: 0n, remitted: 0n, difference: 0n }
        rows.set(key, row)
      }
      return row
    }
    for (const delivery of deliveries) {
      const row = rowFor(delivery.courier_id, delivery.station_id, delivery.currency)
      row.parcels += 1
      if (delivery.paid_by === 'qr' || delivery.paid_by === 'cpm') row.qr_paid += delivery.amount
      if (delivery.paid_by === 'cash') row.cash_paid += delivery.amount
    }
    for (const remittance of remittances) {
      const row = rowFor(remittance.courier_id, remittance.station_id, remittance.currency)
      row.remitted += remittance.amount_counted
      row.difference += remittance.amount_counted - remittance.amount_expected
    }
    return { date, rows: [...rows.values()].sort((a, b) => (a.station + a.courier < b.station + b.courier ? -1 : 1)) }
  }

  // — shared —

  private async courierDelivery(tx: Tx, courierId: string, deliveryId: string): Promise<DeliveryRow> {
    const query = tx.builder.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).where('courier_id', '=', courierId)
    const [row] = await tx.execute(query)
    // Another courier's parcel is as missing as one that does not exist.
    if (row === undefined) throw new KassaError('resource_missing', { param: 'id', message: `No such delivery: ${deliveryId}` })
    if (!tx.dialect.rowLocks) return row
    // Payment first, then parcel: the order every path takes (a bank's report locks the payment first too), so none deadlock.
    await tx.execute(tx.builder.selectFrom('payments').select('id').where('id', '=', row.payment_id).forUpdate())
    const [locked] = await tx.execute(query.forUpdate())
    if (locked === undefined) throw new Error(`delivery ${deliveryId} vanished`)
    return locked
  }

  private async replaceCode(tx: Tx, delivery: DeliveryRow, reference: string, nowMs: number): Promise<DeliveryCodeRow> {
    // A held code is replaced too: if its bank payment still completes, the money goes back (settleFromAttempt).
    await tx.execute(tx.builder.updateTable('delivery_codes').set({ status: 'replaced' }).where('delivery_id', '=', delivery.id).where('status', 'in', ['active', 'held']))
    const currency = currencyOf(delivery.currency as CurrencyCode)
    const [station] = await tx.execute(tx.builder.selectFrom('stations').select('city').where('id', '=', delivery.station_id))
    const built = buildDynamicMpm({
      merchantAccount: { gui: kassaQrGui, merchantId: delivery.merchant_id },
      mcc: merchantCategoryCode,
      currencyNumeric: currency.numeric,
      amountMinor: delivery.amount,
      currencyExponent: currency.exponent,
      country: 'CN',
      merchantName: (await this.merchantName(tx, delivery.merchant_id)).slice(0, 25),
      merchantCity: (station?.city ?? 'Shanghai').slice(0, 15),
      reference,
      terminalLabel: delivery.courier_id.slice(0, 25),
    })
    if (!built.ok) throw new Error(`could not build the parcel code: ${built.errors[0]?.message}`)
    const code: DeliveryCodeRow = {
      reference,
      delivery_id: delivery.id,
      merchant_id: delivery.merchant_id,
      courier_id: delivery.courier_id,
      amount: delivery.amount,
      currency: delivery.currency,
      payload: built.payload,
      status: 'active',
      expires_at: BigInt(nowMs + this.options.qrTtlMs),
      created_at: BigInt(nowMs),
    }
    await tx.execute(tx.builder.insertInto('delivery_codes').values(code))
    return code
  }

  /** Finds the code a payload stands for; the payload must be exactly the one Kassa issued. */
  private async lookup(db: Tx | Store['db'], payload: string): Promise<{ code: DeliveryCodeRow; delivery: DeliveryRow }> {
    const decoded = decodeMpm(payload.trim())
    if (!decoded.valid) {
      const first = decoded.errors[0]
      throw new KassaError('qr_invalid', { param: 'payload', message: `The code is not valid: ${first === undefined ? 'unreadable' : `data object ${first.id}: ${first.message}`}` })
    }
    const additional = decoded.fields['62']
    const reference = typeof additional === 'object' ? additional['05'] : undefined
    const account = decoded.fields['26']
    if (reference === undefined || typeof account !== 'object' || account['00'] !== kassaQrGui) throw new KassaError('qr_unknown', { param: 'payload' })
    const read = async <T>(query: { compile(): unknown; execute(): Promise<T[]> }): Promise<T[]> => ('builder' in db ? (db as Tx).execute(query as never) : query.execute()) as Promise<T[]>
    const builder = 'builder' in db ? (db as Tx).builder : db
    const [code] = await read(builder.selectFrom('delivery_codes').selectAll().where('reference', '=', reference))
    if (code === undefined) throw new KassaError('qr_unknown', { param: 'payload' })
    // An edited code (another amount, another parcel's reference) differs from what was issued, even with a valid CRC.
    if (code.payload !== payload.trim()) throw new KassaError('qr_invalid', { param: 'payload', message: 'The code differs from the one Kassa issued for this parcel.' })
    const [delivery] = await read(builder.selectFrom('deliveries').selectAll().where('id', '=', code.delivery_id))
    if (delivery === undefined) throw new Error(`code ${code.reference} names a missing delivery`)
    return { code, delivery }
  }

  /** Posts a parcel's money, marks it paid, moves its payment on, records the events. */
  private async settleParcel(tx: Tx, delivery: DeliveryRow, funding: Funding, transferId: string, nowMs: number) {
    assertDeliveryTransition(delivery.status, 'paid')
    let paymentQuery = tx.builder.selectFrom('payments').selectAll().where('id', '=', delivery.payment_id)
    if (tx.dialect.rowLocks) paymentQuery = paymentQuery.forUpdate()
    const [paymentRow] = await tx.execute(paymentQuery)
    if (paymentRow === undefined) throw new Error(`delivery ${delivery.id} names a missing payment`)
    const payment = paymentRow as Payment
    // Cash or a wallet at the door: the parcel's payment's channel (cod) sets the fee; a bank payment brings its own channel's.
    const fee = feeFor(delivery.amount, funding.fee_basis_points ?? (await this.options.channelFee(tx, payment.channel ?? 'cod', payment.merchant_id)))
    const payable: AccountRef = { code: 'merchant_payable', owner_id: delivery.merchant_id, currency: funding.ref.currency }
    const revenue: AccountRef = { code: 'fee_revenue', owner_id: undefined, currency: funding.ref.currency }
    for (const ref of [funding.ref, payable, revenue]) await ensureAccount(tx, ref, nowMs)
    const postings: Posting[] = [{ account_id: accountId(funding.ref), side: 'debit', amount: delivery.amount, currency: delivery.currency }]
    if (delivery.amount - fee > 0n) postings.push({ account_id: accountId(payable), side: 'credit', amount: delivery.amount - fee, currency: delivery.currency })
    if (fee > 0n) postings.push({ account_id: accountId(revenue), side: 'credit', amount: fee, currency: delivery.currency })
    const result = await postTransfer(tx, { id: transferId, kind: 'single_phase', code: `delivery_${funding.paid_by}`, reference_id: delivery.id, merchant_id: delivery.merchant_id, postings }, nowMs)
    if (result === 'exceeds_credits') throw new KassaError('insufficient_funds', { message: 'The wallet balance is too low for this parcel.' })
    if (result !== 'ok') throw new Error(`parcel transfer failed: ${result}`)
    const changed = await tx.execute(
      tx.builder
        .updateTable('deliveries')
        .set({ status: 'paid', paid_by: funding.paid_by, paid_with: funding.paid_with, paid_at: nowMs, transfer_id: transferId, shopper_id: funding.shopper_id ?? delivery.shopper_id, version: delivery.version + 1n })
        .where('id', '=', delivery.id)
        .where('version', '=', delivery.version)
        .returning('id'),
    )
    if (changed.length !== 1) throw new Error(`delivery ${delivery.id} changed under us`)
    const paid: DeliveryRow = { ...delivery, status: 'paid', paid_by: funding.paid_by, paid_with: funding.paid_with, paid_at: BigInt(nowMs), transfer_id: transferId, version: delivery.version + 1n }

    // The payment completes when none of its parcels is still out; what was refused is never charged.
    const parcels = await tx.execute(tx.builder.selectFrom('deliveries').select(['id', 'status']).where('payment_id', '=', payment.id))
    const stillOut = parcels.some((parcel) => parcel.id !== delivery.id && parcel.status === 'out_for_delivery')
    const received = payment.amount_received + delivery.amount
    const nextStatus = stillOut ? 'processing' : 'succeeded'
    assertTransition(payment.status, nextStatus)
    const next: Payment = { ...payment, status: nextStatus, amount_received: received, fee_amount: payment.fee_amount + fee, shopper_id: payment.shopper_id ?? funding.shopper_id, version: payment.version + 1n, updated_at: BigInt(nowMs) }
    const updated = await tx.execute(
      tx.builder
        .updateTable('payments')
        .set({ status: next.status, amount_received: next.amount_received, fee_amount: next.fee_amount, shopper_id: next.shopper_id, version: next.version, updated_at: next.updated_at })
        .where('id', '=', payment.id)
        .where('version', '=', payment.version)
        .returning('id'),
    )
    if (updated.length !== 1) throw new Error(`payment ${payment.id} changed under us`)
    const merchantName = await this.merchantName(tx, delivery.merchant_id)
    const view = deliveryView(paid, merchantName, null)
    await recordEvent(tx, { merchant_id: delivery.merchant_id, type: 'delivery.paid', object_id: delivery.id, data: view }, nowMs, this.options.notifyEvents)
    if (nextStatus === 'succeeded') {
      await recordEvent(tx, { merchant_id: delivery.merchant_id, type: 'payment.succeeded', object_id: payment.id, data: paymentView(next) }, nowMs, this.options.notifyEvents)
    }
    return { view, event: { courier_id: delivery.courier_id, delivery: delivery.id, status: 'paid', paid_by: funding.paid_by, amount: Number(delivery.amount) } }
  }

  private async merchantName(tx: Tx, merchantId: string): Promise<string> {
    const [row] = await tx.execute(tx.builder.selectFrom('merchants').select('name').where('id', '=', merchantId))
    return row?.name ?? merchantId
  }

  private async merchantNameRead(merchantId: string): Promise<string> {
    const row = await this.store.db.selectFrom('merchants').select('name').where('id', '=', merchantId).executeTakeFirst()
    return row?.name ?? merchantId
  }
}
