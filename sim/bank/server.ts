/**
 * One simulated bank over HTTP (one server per bank; start several for several banks): the online
 * banking gateway (orders, payer pages, notifications, query, refunds, close) and the quick-pay API
 * (bindings and SMS-confirmed payments), both signed with the merchant's shared key
 * (`./protocol.ts`). Accounts, orders and bindings live in memory: a restart starts empty.
 *
 * @example
 * const bank = await startBankSimulator({ bank: 'icbc-sim', seed: 7, notifications: { backoffMs: 50 } })
 * const { merchant_id, key } = bank.merchants[0]
 * // POST `${bank.url}/gateway/orders` with signBankRequest({ merchant_id, order_no, … }, key) …
 * bank.account('alice')?.balance_minor // 100000000n
 * await bank.close()
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { assert } from '../../src/domain/assert.js'
import { systemClock, type Clock } from '../../src/domain/clock.js'
import { findCurrency, type CurrencyCode } from '../../src/domain/currency.js'
import { seededRandom } from '../scheme/random.js'
import { OrderBook, type Order, type OrderStatus, type PayOutcome, type Refund, type Transition } from '../common/book.js'
import { encodeForm, flatParamsFromJson, hmacSha256, parseFormParams, type ParamsResult, type WireParams } from '../common/canonical.js'
import { FaultBook, type FaultAction, type FaultRule, type Forgery, type NotifiedStatus, type Operation } from '../common/faults.js'
import { buildSimApp, listen, rawBodyOf, sendProxyError, type RawBody } from '../common/http.js'
import { BoundedLog } from '../common/log.js'
import { maskAccountNumber, maskPhone } from '../common/mask.js'
import { Notifier, type DeliveryRecord, type NotifierLogEntry, type NotifierOptions, type OutgoingNotification } from '../common/notifier.js'
import { LoginAttempts, PageSessions } from '../common/sessions.js'
import { beijingCompact, beijingDate } from '../common/time.js'
import { Timers } from '../common/timers.js'
import { bankTestAccounts, testBanks, type BankHolder, type BankId, type BankMerchant, type TestBank } from './accounts.js'
import { confirmPage, loginPage, messagePage, type HolderRow } from './pages.js'
import { bankNotificationAcknowledgement, bankReturnCodes, bankSignature, parseAmountMinor, verifyBankSignature, type BankOrderStatus, type BankReturnCodeName } from './protocol.js'
import { QuickPayState, type BindingRequest } from './quickpay.js'

export type BankSimulatorOptions = {
  /** Which bank (default `icbc-sim`), or a bank of your own. */
  readonly bank?: BankId | TestBank
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** Defaults to 127.0.0.1. */
  readonly host?: string
  /** Dates orders, codes and expiries. Defaults to the system clock. */
  readonly clock?: Clock
  /** Seeds SMS codes and fault ratios. Default 1. */
  readonly seed?: number
  readonly faults?: readonly FaultRule[]
  /** Where notifications go when neither the order nor its merchant names a URL. */
  readonly notifyUrl?: string
  /** The merchants (Kassa) and their shared keys. Defaults to the bank's demo merchant. */
  readonly merchants?: readonly BankMerchant[]
  /** The account holders. Defaults to `bankTestAccounts(bank)`. */
  readonly accounts?: readonly BankHolder[]
  readonly notifications?: NotifierOptions
  /** An unpaid order closes itself this long after creation. Default 30 minutes. */
  readonly orderTtlMs?: number
  /** Default 5 minutes. */
  readonly smsCodeTtlMs?: number
  /** Wrong SMS codes allowed per binding request or payment. Default 3. */
  readonly smsAttemptsMax?: number
  /** Wrong logins allowed per order on the payer page. Default 5. */
  readonly loginAttemptsMax?: number
  /** Orders kept at once. Default 100,000. */
  readonly ordersMax?: number
  /** Serves `GET /test/sms/:phone`. Default false: the endpoint does not exist. */
  readonly testEndpoints?: boolean
  readonly log?: (entry: BankLogEntry) => void
}

/** A line of the bank's log. Account numbers and phones appear only masked. */
export type BankLogEntry =
  | { readonly event: 'request'; readonly operation: Operation; readonly merchant_id?: string; readonly order_no?: string; readonly ret_code: string }
  | { readonly event: 'fault'; readonly action: FaultAction; readonly order_no?: string; readonly operation?: Operation }
  | { readonly event: 'order_status'; readonly order_no: string; readonly bank_order_id: string; readonly from: BankOrderStatus; readonly to: BankOrderStatus }
  | { readonly event: 'sms_sent'; readonly phone_masked: string; readonly purpose: 'binding' | 'payment' }
  | { readonly event: 'binding_requested' | 'binding_refused' | 'bound' | 'unbound'; readonly merchant_id: string; readonly account_no_masked: string; readonly binding_id?: string; readonly reason?: string }
  | { readonly event: 'page_login'; readonly bank_order_id: string; readonly username: string; readonly success: boolean }
  | NotifierLogEntry

export type HolderView = { readonly username: string; readonly holder_name: string; readonly phone: string; readonly account_no_masked: string; readonly currency: CurrencyCode; readonly balance_minor: bigint; readonly blocked: boolean }

export type BankSimulator = {
  /** The base URL, `http://127.0.0.1:PORT`. */
  readonly url: string
  readonly bank: TestBank
  readonly merchants: readonly BankMerchant[]
  /** A holder's balance and state, by username. */
  account(username: string): HolderView | undefined
  accounts(): HolderView[]
  /** What the bank owes a merchant (payments less refunds). */
  merchantBalance(merchantId: string, currency?: CurrencyCode): bigint
  order(merchantId: string, orderNo: string): Order | undefined
  orders(): Order[]
  refunds(): Refund[]
  /** Pays an order as the payer page's confirm does (no login), for tests that skip the page. */
  pay(bankOrderId: string, username: string): PayOutcome['outcome'] | 'order_unknown'
  /** Blocks or unblocks a holder. */
  setBlocked(username: string, blocked: boolean): void
  /** Replaces the fault knobs. */
  setFaults(rules: readonly FaultRule[]): void
  /** The last SMS code sent to a phone. */
  smsCodeFor(phone: string): string | undefined
  /** Every notification delivery so far, with its attempts. */
  notifications(): readonly DeliveryRecord[]
  /** Resolves once no notification is pending. */
  notificationsSettled(timeoutMs?: number): Promise<void>
  /** The last 10,000 log lines. */
  logs(): readonly BankLogEntry[]
  /** Holders' and merchants' money together: it never changes. */
  totalMinor(currency?: CurrencyCode): bigint
  /** Stops listening, drops connections, abandons notifications and hanging queries. */
  close(): Promise<void>
}

export const bankSupportedCurrencies: readonly CurrencyCode[] = ['CNY']

const orderNoPattern = /^[A-Za-z0-9_-]{1,64}$/
const urlLengthMax = 512
const subjectLengthMax = 128

const retMessages: Readonly<Record<BankReturnCodeName, string>> = {
  success: 'success',
  signature_invalid: 'signature verification failed',
  parameter_invalid: 'invalid parameter',
  merchant_unknown: 'merchant not registered',
  order_no_reused: 'order_no already used with different parameters',
  order_not_found: 'order not found',
  order_paid: 'order already paid',
  order_not_paid: 'order not paid',
  order_closed: 'order closed',
  currency_not_supported: 'currency not supported',
  refund_exceeds_paid: 'refund amount exceeds the refundable amount',
  refund_no_reused: 'refund_no already used with different parameters',
  refund_not_found: 'refund not found',
  account_mismatch: 'account information does not match',
  account_blocked: 'account blocked',
  binding_request_not_found: 'binding request not found',
  sms_code_wrong: 'wrong SMS code',
  sms_code_expired: 'SMS code expired',
  sms_code_attempts_exceeded: 'too many wrong SMS codes',
  binding_not_found: 'binding not found',
  insufficient_balance: 'insufficient balance',
  payment_not_awaiting_code: 'payment is not waiting for an SMS code',
  system_busy: 'system busy',
}

/** The failure reasons an order or a notification names. */
type FailureReason = 'insufficient_balance' | 'account_blocked' | 'sms_code_expired' | 'sms_code_attempts_exceeded' | 'binding_unbound'

const failureCodes: Readonly<Record<FailureReason, BankReturnCodeName>> = {
  insufficient_balance: 'insufficient_balance',
  account_blocked: 'account_blocked',
  sms_code_expired: 'sms_code_expired',
  sms_code_attempts_exceeded: 'sms_code_attempts_exceeded',
  binding_unbound: 'binding_not_found',
}

const statusNames: Readonly<Record<OrderStatus, BankOrderStatus>> = { waiting: 'WAITING', paid: 'PAID', failed: 'FAILED', closed: 'CLOSED' }

/** The fields the bank sets on the return URL; a merchant's own query parameters must not use them. */
const returnFieldNames = ['merchant_id', 'order_no', 'bank_order_id', 'amount', 'currency', 'status', 'paid_at', 'failure_reason', 'sign'] as const

type Answer = Record<string, string | number>
type Outcome = { readonly name: BankReturnCodeName; readonly message?: string; readonly fields?: Readonly<Record<string, string | number | undefined>> }

/** Starts one bank and resolves once it listens. */
export async function startBankSimulator(options: BankSimulatorOptions = {}): Promise<BankSimulator> {
  const bank: TestBank = typeof options.bank === 'object' ? options.bank : testBanks[options.bank ?? 'icbc-sim']
  const clock = options.clock ?? systemClock
  const seed = options.seed ?? 1
  const merchants = new Map((options.merchants ?? [bank.demo_merchant]).map((merchant) => [merchant.merchant_id, merchant]))
  const holders = new Map((options.accounts ?? bankTestAccounts(bank)).map((holder) => [holder.username, holder]))
  const holdersByAccountNo = new Map([...holders.values()].map((holder) => [holder.account_no, holder]))
  const log = new BoundedLog<BankLogEntry>(options.log)
  const timers = new Timers()
  const faults = new FaultBook(options.faults ?? [], seededRandom(seed ^ 0x5eed))
  const forgeryKey = `forger-${seed}`
  let nextOrder = 1
  let nextRefund = 1
  let nextNotification = 1
  let nextForgery = 1

  const notifier = new Notifier(options.notifications ?? {}, {
    clock,
    timers,
    isSuccess: (status, answer) => status === 200 && answer.trim() === bankNotificationAcknowledgement,
    log: (entry) => log.write(entry),
  })

  const book = new OrderBook({
    clock,
    accounts: [...holders.values()].map((holder) => ({ id: holder.username, currency: holder.currency, balance_minor: holder.balance_minor, blocked: holder.blocked })),
    orderTtlMs: options.orderTtlMs ?? 30 * 60_000,
    ordersMax: options.ordersMax ?? 100_000,
    refundsMax: options.ordersMax ?? 100_000,
    onTransition: (transition) => onTransition(transition),
  })

  const quickpay = new QuickPayState({
    clock,
    random: seededRandom(seed),
    smsCodeTtlMs: options.smsCodeTtlMs ?? 5 * 60_000,
    smsAttemptsMax: options.smsAttemptsMax ?? 3,
    entriesMax: options.ordersMax ?? 100_000,
  })
  const sessions = new PageSessions(clock)
  const logins = new LoginAttempts(options.loginAttemptsMax ?? 5)

  // ---- notifications ---------------------------------------------------------------------------

  function onTransition({ order, from, to }: Transition): void {
    log.write({ event: 'order_status', order_no: order.order_no, bank_order_id: order.provider_order_id, from: statusNames[from], to: statusNames[to] })
    if (to === 'waiting') return
    const url = order.notify_url ?? merchants.get(order.merchant_id)?.notify_url ?? options.notifyUrl
    const merchant = merchants.get(order.merchant_id)
    if (url === undefined || merchant === undefined) return
    const fields = notificationFields(order, to)
    const genuine = outgoing(order, to, url, { ...fields, sign: bankSignature(fields, merchant.key) })
    const fault = faults.notification(order.order_no, to)
    if (fault !== undefined) log.write({ event: 'fault', action: fault.action, order_no: order.order_no })
    const forged = fault?.action === 'notify_forge' ? outgoing(order, to, url, forge(fields, fault.forgery, merchant.key)) : undefined
    notifier.dispatch(genuine, fault, forged)
  }

  function notificationFields(order: Order, status: NotifiedStatus): Record<string, string> {
    const fields: Record<string, string> = {
      bank_id: bank.id,
      notify_id: `${bank.code}N${beijingDate(clock.now())}${String(nextNotification++).padStart(10, '0')}`,
      notify_type: 'order_status',
      notify_time: beijingCompact(clock.now()),
      merchant_id: order.merchant_id,
      order_no: order.order_no,
      order_type: order.kind,
      bank_order_id: order.provider_order_id,
      amount: order.amount_minor.toString(),
      currency: order.currency,
      status: statusNames[status],
    }
    if (status === 'paid' && order.paid_at_ms !== undefined) fields.paid_at = beijingCompact(order.paid_at_ms)
    if (status === 'failed' && order.failure_reason !== undefined) fields.failure_reason = order.failure_reason
    return fields
  }

  function forge(fields: Record<string, string>, forgery: Forgery, key: string): Record<string, string> {
    const id = String(nextForgery++).padStart(6, '0')
    switch (forgery) {
      case 'bad_signature':
        return { ...fields, sign: hmacSha256(forgeryKey, encodeForm(fields), 'hex') }
      case 'wrong_amount': {
        const forged = { ...fields, notify_id: `${fields.notify_id ?? ''}F${id}`, amount: (BigInt(fields.amount ?? '0') + 1n).toString() }
        return { ...forged, sign: bankSignature(forged, key) }
      }
      case 'unknown_order': {
        const forged = { ...fields, notify_id: `${fields.notify_id ?? ''}F${id}`, order_no: `FORGED${id}`, bank_order_id: `${bank.code}${beijingDate(clock.now())}9${id.padStart(9, '0')}` }
        return { ...forged, sign: bankSignature(forged, key) }
      }
    }
  }

  function outgoing(order: Order, status: NotifiedStatus, url: string, params: Record<string, string>): OutgoingNotification {
    return { order_no: order.order_no, merchant_id: order.merchant_id, status, url, body: encodeForm(params), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } }
  }

  // ---- the signed API --------------------------------------------------------------------------

  const app = buildSimApp()

  function parseParams(body: RawBody): ParamsResult {
    if (body.media === 'form') return parseFormParams(body.text)
    if (body.media === 'json') {
      let json: unknown
      try {
        json = JSON.parse(body.text)
      } catch {
        return { ok: false, field: undefined, message: 'the body is not valid JSON' }
      }
      return flatParamsFromJson(json)
    }
    return { ok: false, field: undefined, message: 'the body must be application/x-www-form-urlencoded or application/json' }
  }

  function unsigned(name: BankReturnCodeName, message?: string): Answer {
    return { ret_code: bankReturnCodes[name], ret_msg: message ?? retMessages[name] }
  }

  function signed(merchant: BankMerchant, outcome: Outcome): Answer {
    const answer: Answer = { ret_code: bankReturnCodes[outcome.name], ret_msg: outcome.message ?? retMessages[outcome.name] }
    for (const [name, value] of Object.entries(outcome.fields ?? {})) if (value !== undefined) answer[name] = value
    const text: Record<string, string> = {}
    for (const [name, value] of Object.entries(answer)) text[name] = String(value)
    return { ...answer, sign: bankSignature(text, merchant.key) }
  }

  /**
   * Every signed endpoint: parse, the `server_error` fault, merchant and signature, then `run`; the
   * answer is signed unless the bank could not tie the request to a merchant's key.
   */
  async function api(
    request: FastifyRequest,
    reply: FastifyReply,
    operation: Operation,
    source: 'body' | 'query',
    run: (params: WireParams, merchant: BankMerchant) => Outcome | Answer | Promise<Outcome | Answer>,
  ): Promise<FastifyReply> {
    const parsed = source === 'query' ? parseFormParams(queryOf(request.url)) : parseParams(rawBodyOf(request))
    const orderNo = parsed.ok ? parsed.params.order_no : undefined
    const fault = faults.serverError(operation, orderNo)
    if (fault !== undefined) {
      log.write({ event: 'fault', action: 'server_error', operation, ...(orderNo === undefined ? {} : { order_no: orderNo }) })
      if (fault.afterProcessing !== true) return sendProxyError(reply, fault.httpStatus ?? 502)
    }
    const delay = faults.requestDelay(operation, orderNo)
    if (delay !== undefined) {
      log.write({ event: 'fault', action: 'request_delay', operation, ...(orderNo === undefined ? {} : { order_no: orderNo }) })
      await timers.sleep(delay.delayMs)
    }
    let answer: Answer
    let merchantId: string | undefined
    if (!parsed.ok) answer = unsigned('parameter_invalid', parsed.message)
    else {
      merchantId = parsed.params.merchant_id
      const merchant = merchantId === undefined ? undefined : merchants.get(merchantId)
      if (merchant === undefined) answer = unsigned('merchant_unknown')
      else if (!verifyBankSignature(parsed.params, merchant.key)) answer = unsigned('signature_invalid')
      else {
        const result = await run(parsed.params, merchant)
        answer = 'ret_code' in result ? (result as Answer) : signed(merchant, result as Outcome)
      }
    }
    log.write({ event: 'request', operation, ...(merchantId === undefined ? {} : { merchant_id: merchantId }), ...(orderNo === undefined ? {} : { order_no: orderNo }), ret_code: String(answer.ret_code) })
    if (fault !== undefined) return sendProxyError(reply, fault.httpStatus ?? 502)
    return reply.code(200).send(answer)
  }

  /** Checks the fields a request needs; the first problem is the answer. */
  function invalid(params: WireParams, checks: Readonly<Record<string, (value: string | undefined) => string | undefined>>): Outcome | undefined {
    for (const [name, check] of Object.entries(checks)) {
      const problem = check(params[name])
      if (problem !== undefined) return { name: 'parameter_invalid', message: `${name}: ${problem}` }
    }
    return undefined
  }

  const required =
    (pattern: RegExp, what: string) =>
    (value: string | undefined): string | undefined =>
      value === undefined ? 'is required' : pattern.test(value) ? undefined : `must be ${what}`
  const optionalUrl = (value: string | undefined): string | undefined => (value === undefined ? undefined : urlProblem(value))
  const orderNoCheck = required(orderNoPattern, '1 to 64 letters, digits, _ or -')
  const amountCheck = (value: string | undefined): string | undefined => (value === undefined ? 'is required' : parseAmountMinor(value) === undefined ? 'must be an integer of minor units, 1 to 999999999999' : undefined)
  const currencyCheck = required(/^[A-Z]{3}$/, 'an ISO 4217 code')
  const subjectCheck = (value: string | undefined): string | undefined => (value === undefined || value.length === 0 ? 'is required' : value.length > subjectLengthMax ? `must be at most ${subjectLengthMax} characters` : undefined)

  function currencyOutcome(currency: string): CurrencyCode | Outcome {
    const found = findCurrency(currency)
    if (found === undefined) return { name: 'parameter_invalid', message: 'currency: not an ISO 4217 code' }
    if (!bankSupportedCurrencies.includes(found.code)) return { name: 'currency_not_supported' }
    return found.code
  }

  function fingerprintOf(params: WireParams): string {
    const { sign: _sign, ...rest } = params
    return encodeForm(rest)
  }

  function orderFields(order: Order): Record<string, string | number | undefined> {
    return {
      merchant_id: order.merchant_id,
      order_no: order.order_no,
      bank_order_id: order.provider_order_id,
      order_type: order.kind,
      status: statusNames[order.status],
      amount: Number(order.amount_minor),
      currency: order.currency,
      refunded_amount: Number(order.refunded_minor),
      paid_at: order.paid_at_ms === undefined ? undefined : beijingCompact(order.paid_at_ms),
      closed_at: order.closed_at_ms === undefined ? undefined : beijingCompact(order.closed_at_ms),
      failure_reason: order.failure_reason,
    }
  }

  function newBankOrderId(): string {
    return `${bank.code}${beijingDate(clock.now())}${String(nextOrder++).padStart(10, '0')}`
  }

  app.post('/gateway/orders', (request, reply) =>
    api(request, reply, 'create', 'body', (params, merchant) => {
      const problem = invalid(params, {
        order_no: orderNoCheck,
        amount: amountCheck,
        currency: currencyCheck,
        subject: subjectCheck,
        notify_url: optionalUrl,
        return_url: (value) => (value === undefined ? 'is required' : (urlProblem(value) ?? returnUrlProblem(value))),
      })
      if (problem !== undefined) return problem
      const currency = currencyOutcome(params.currency ?? '')
      if (typeof currency !== 'string') return currency
      const created = book.create({
        merchant_id: merchant.merchant_id,
        order_no: params.order_no ?? '',
        provider_order_id: newBankOrderId(),
        kind: 'netbank',
        amount_minor: parseAmountMinor(params.amount) ?? 0n,
        currency,
        subject: params.subject ?? '',
        notify_url: params.notify_url,
        return_url: params.return_url,
        fingerprint: fingerprintOf(params),
      })
      switch (created.outcome) {
        case 'capacity':
          return { name: 'system_busy' }
        case 'order_no_reused':
          return { name: 'order_no_reused', fields: { order_no: created.order.order_no } }
        case 'replayed':
          return created.order.create_answer as Answer
        case 'created': {
          const answer = signed(merchant, {
            name: 'success',
            fields: { merchant_id: merchant.merchant_id, order_no: created.order.order_no, bank_order_id: created.order.provider_order_id, pay_url: `${baseUrl}/pay/${created.order.provider_order_id}` },
          })
          book.setCreateAnswer(merchant.merchant_id, created.order.order_no, answer)
          return answer
        }
      }
    }),
  )

  app.post('/gateway/orders/query', (request, reply) =>
    api(request, reply, 'query', 'body', async (params, merchant) => {
      const problem = invalid(params, { order_no: orderNoCheck })
      if (problem !== undefined) return problem
      const hang = faults.queryHang(params.order_no)
      if (hang !== undefined) {
        log.write({ event: 'fault', action: 'query_hang', order_no: params.order_no ?? '' })
        await timers.sleep(hang.delayMs)
      }
      const order = book.find(merchant.merchant_id, params.order_no ?? '')
      if (order === undefined) return { name: 'order_not_found', fields: { order_no: params.order_no } }
      return { name: 'success', fields: orderFields(order) }
    }),
  )

  app.post('/gateway/orders/close', (request, reply) =>
    api(request, reply, 'close', 'body', (params, merchant) => {
      const problem = invalid(params, { order_no: orderNoCheck })
      if (problem !== undefined) return problem
      const order = book.find(merchant.merchant_id, params.order_no ?? '')
      if (order === undefined) return { name: 'order_not_found', fields: { order_no: params.order_no } }
      const late = order.status === 'waiting' && faults.payAfterClose(order.order_no)
      if (late) log.write({ event: 'fault', action: 'pay_after_close', order_no: order.order_no })
      const closed = book.close(merchant.merchant_id, order.order_no, late)
      if (closed.outcome === 'paid') return { name: 'order_paid', fields: orderFields(closed.order) }
      return { name: 'success', fields: orderFields(closed.order) }
    }),
  )

  function refundFields(refund: Refund): Record<string, string | number> {
    return {
      merchant_id: refund.merchant_id,
      order_no: refund.order_no,
      refund_no: refund.refund_no,
      bank_refund_id: refund.provider_refund_id,
      amount: Number(refund.amount_minor),
      currency: refund.currency,
      refunded_total: Number(refund.refunded_total_minor),
      status: 'SUCCESS',
      refunded_at: beijingCompact(refund.created_at_ms),
    }
  }

  app.post('/gateway/refunds', (request, reply) =>
    api(request, reply, 'refund', 'body', (params, merchant) => {
      const problem = invalid(params, { order_no: orderNoCheck, refund_no: required(orderNoPattern, '1 to 64 letters, digits, _ or -'), amount: amountCheck })
      if (problem !== undefined) return problem
      if (params.currency !== undefined && findCurrency(params.currency) === undefined) return { name: 'parameter_invalid', message: 'currency: not an ISO 4217 code' }
      const order = book.find(merchant.merchant_id, params.order_no ?? '')
      if (order === undefined) return { name: 'order_not_found', fields: { order_no: params.order_no } }
      if (params.currency !== undefined && params.currency !== order.currency) return { name: 'parameter_invalid', message: `currency: the order is in ${order.currency}` }
      if (faults.refundRefused(order.order_no)) {
        log.write({ event: 'fault', action: 'refund_refuse', order_no: order.order_no })
        return { name: 'refund_exceeds_paid', fields: { order_no: order.order_no, refundable_amount: 0 } }
      }
      const refunded = book.refund(merchant.merchant_id, order.order_no, {
        refund_key: `${merchant.merchant_id}\n${params.refund_no ?? ''}`,
        refund_no: params.refund_no ?? '',
        provider_refund_id: `${bank.code}R${beijingDate(clock.now())}${String(nextRefund++).padStart(10, '0')}`,
        amount_minor: parseAmountMinor(params.amount) ?? 0n,
        fingerprint: fingerprintOf(params),
      })
      switch (refunded.outcome) {
        case 'refunded':
        case 'replayed':
          return { name: 'success', fields: refundFields(refunded.refund) }
        case 'refund_no_reused':
          return { name: 'refund_no_reused', fields: { refund_no: params.refund_no } }
        case 'not_paid':
          return { name: 'order_not_paid', fields: orderFields(refunded.order) }
        case 'exceeds_paid':
          return { name: 'refund_exceeds_paid', fields: { order_no: order.order_no, refundable_amount: Number(refunded.refundable_minor) } }
        case 'capacity':
          return { name: 'system_busy' }
      }
    }),
  )

  app.post('/gateway/refunds/query', (request, reply) =>
    api(request, reply, 'refund_query', 'body', (params, merchant) => {
      const problem = invalid(params, { refund_no: required(orderNoPattern, '1 to 64 letters, digits, _ or -') })
      if (problem !== undefined) return problem
      const refund = book.refundByKey(`${merchant.merchant_id}\n${params.refund_no ?? ''}`)
      if (refund === undefined) return { name: 'refund_not_found', fields: { refund_no: params.refund_no } }
      return { name: 'success', fields: refundFields(refund) }
    }),
  )

  // ---- quick pay -------------------------------------------------------------------------------

  const phoneCheck = required(/^1[3-9][0-9]{9}$/, 'an 11-digit mobile number')
  const codeCheck = required(/^[0-9]{4,8}$/, '4 to 8 digits')

  function smsSent(phone: string, purpose: 'binding' | 'payment'): void {
    log.write({ event: 'sms_sent', phone_masked: maskPhone(phone), purpose })
  }

  app.post('/quickpay/bindings', (request, reply) =>
    api(request, reply, 'binding', 'body', (params, merchant) => {
      const problem = invalid(params, {
        card_or_account_no: required(/^[0-9]{12,19}$/, '12 to 19 digits'),
        holder_name: (value) => (value === undefined || value.length === 0 ? 'is required' : value.length > 64 ? 'must be at most 64 characters' : undefined),
        phone: phoneCheck,
      })
      if (problem !== undefined) return problem
      const accountNo = params.card_or_account_no ?? ''
      const holder = holdersByAccountNo.get(accountNo)
      const refuse = (name: 'account_mismatch' | 'account_blocked'): Outcome => {
        log.write({ event: 'binding_refused', merchant_id: merchant.merchant_id, account_no_masked: maskAccountNumber(accountNo), reason: name })
        return { name }
      }
      // An unknown number and a wrong name or phone answer the same, so the API tells nobody which numbers exist.
      if (holder === undefined || holder.holder_name !== params.holder_name || holder.phone !== params.phone) return refuse('account_mismatch')
      if (book.account(holder.username)?.blocked === true) return refuse('account_blocked')
      const bindingRequest = quickpay.requestBinding(merchant.merchant_id, holder.username, holder.phone, bank.code)
      if (bindingRequest === undefined) return { name: 'system_busy' }
      smsSent(holder.phone, 'binding')
      log.write({ event: 'binding_requested', merchant_id: merchant.merchant_id, account_no_masked: maskAccountNumber(accountNo) })
      return { name: 'success', fields: { binding_request_id: bindingRequest.binding_request_id, phone_masked: maskPhone(holder.phone), expires_at: beijingCompact(bindingRequest.expires_at_ms) } }
    }),
  )

  function bindingAnswer(bindingRequest: BindingRequest): Outcome {
    const holder = holders.get(bindingRequest.username)
    assert(holder !== undefined, 'a binding request names a holder')
    return { name: 'success', fields: { binding_id: bindingRequest.binding_id, bank_id: bank.id, account_no_masked: maskAccountNumber(holder.account_no), holder_name: holder.holder_name } }
  }

  app.post('/quickpay/bindings/confirm', (request, reply) =>
    api(request, reply, 'binding_confirm', 'body', (params, merchant) => {
      const problem = invalid(params, { binding_request_id: required(/^[A-Z0-9]{1,40}$/, 'a binding request id'), sms_code: codeCheck })
      if (problem !== undefined) return problem
      const bindingRequest = quickpay.bindingRequest(merchant.merchant_id, params.binding_request_id ?? '')
      if (bindingRequest === undefined) return { name: 'binding_request_not_found' }
      // A repeat of a confirmation that succeeded answers the same binding.
      if (bindingRequest.status === 'confirmed') return bindingAnswer(bindingRequest)
      if (bindingRequest.status === 'failed') return { name: 'sms_code_attempts_exceeded' }
      const check = quickpay.confirmBinding(bindingRequest, params.sms_code ?? '')
      switch (check.outcome) {
        case 'wrong':
          return { name: 'sms_code_wrong', message: `wrong SMS code, ${check.tries_left} tries left`, fields: { tries_left: check.tries_left } }
        case 'expired':
          return { name: 'sms_code_expired' }
        case 'attempts_exceeded':
          return { name: 'sms_code_attempts_exceeded' }
        case 'right': {
          const holder = holders.get(bindingRequest.username)
          assert(holder !== undefined && check.binding !== undefined, 'a confirmed binding names its holder')
          log.write({ event: 'bound', merchant_id: merchant.merchant_id, account_no_masked: maskAccountNumber(holder.account_no), binding_id: check.binding.binding_id })
          return bindingAnswer(bindingRequest)
        }
      }
    }),
  )

  app.delete<{ Params: { binding_id: string } }>('/quickpay/bindings/:binding_id', (request, reply) =>
    api(request, reply, 'unbind', 'query', (params, merchant) => {
      if (params.binding_id !== request.params.binding_id) return { name: 'parameter_invalid', message: 'binding_id: must be the one in the path' }
      const binding = quickpay.binding(merchant.merchant_id, request.params.binding_id)
      if (binding === undefined) return { name: 'binding_not_found' }
      const holder = holders.get(binding.username)
      assert(holder !== undefined, 'a binding names a holder')
      if (binding.status === 'active') {
        binding.status = 'unbound'
        log.write({ event: 'unbound', merchant_id: merchant.merchant_id, account_no_masked: maskAccountNumber(holder.account_no), binding_id: binding.binding_id })
      }
      return { name: 'success', fields: { binding_id: binding.binding_id, status: 'UNBOUND' } }
    }),
  )

  app.post('/quickpay/payments', (request, reply) =>
    api(request, reply, 'payment', 'body', (params, merchant) => {
      const problem = invalid(params, {
        binding_id: required(/^bnd_[0-9a-f]{24}$/, 'a binding id'),
        order_no: orderNoCheck,
        amount: amountCheck,
        currency: currencyCheck,
        subject: (value) => (value === undefined ? undefined : subjectCheck(value)),
        notify_url: optionalUrl,
      })
      if (problem !== undefined) return problem
      const currency = currencyOutcome(params.currency ?? '')
      if (typeof currency !== 'string') return currency
      const existing = book.find(merchant.merchant_id, params.order_no ?? '')
      const fingerprint = fingerprintOf(params)
      if (existing !== undefined) return existing.fingerprint === fingerprint ? (existing.create_answer as Answer) : { name: 'order_no_reused', fields: { order_no: existing.order_no } }
      const binding = quickpay.binding(merchant.merchant_id, params.binding_id ?? '')
      if (binding === undefined || binding.status !== 'active') return { name: 'binding_not_found' }
      const holder = holders.get(binding.username)
      assert(holder !== undefined, 'a binding names a holder')
      const created = book.create({
        merchant_id: merchant.merchant_id,
        order_no: params.order_no ?? '',
        provider_order_id: newBankOrderId(),
        kind: 'quickpay',
        amount_minor: parseAmountMinor(params.amount) ?? 0n,
        currency,
        subject: params.subject ?? 'quick pay',
        notify_url: params.notify_url,
        return_url: undefined,
        fingerprint,
        extra: { binding_id: binding.binding_id },
      })
      if (created.outcome !== 'created') return { name: 'system_busy' }
      quickpay.challenge(`${merchant.merchant_id}\n${created.order.order_no}`, holder.phone, created.order.provider_order_id)
      smsSent(holder.phone, 'payment')
      const answer = signed(merchant, {
        name: 'success',
        fields: { ...orderFields(created.order), phone_masked: maskPhone(holder.phone), refunded_amount: undefined },
      })
      book.setCreateAnswer(merchant.merchant_id, created.order.order_no, answer)
      return answer
    }),
  )

  app.post('/quickpay/payments/confirm', (request, reply) =>
    api(request, reply, 'payment_confirm', 'body', (params, merchant) => {
      const problem = invalid(params, { order_no: orderNoCheck, sms_code: codeCheck })
      if (problem !== undefined) return problem
      const order = book.find(merchant.merchant_id, params.order_no ?? '')
      if (order === undefined || order.kind !== 'quickpay') return { name: 'order_not_found', fields: { order_no: params.order_no } }
      const answerFor = (current: Order): Outcome => {
        if (current.status === 'paid') return { name: 'success', fields: orderFields(current) }
        if (current.status === 'failed') return { name: failureCodes[(current.failure_reason ?? 'insufficient_balance') as FailureReason] ?? 'payment_not_awaiting_code', fields: orderFields(current) }
        if (current.status === 'closed') return { name: 'order_closed', fields: orderFields(current) }
        return { name: 'payment_not_awaiting_code', fields: orderFields(current) }
      }
      if (order.status !== 'waiting') return answerFor(order)
      const check = quickpay.checkPayment(`${merchant.merchant_id}\n${order.order_no}`, params.sms_code ?? '')
      assert(check !== undefined, 'a waiting quick-pay order has its challenge')
      const fail = (reason: FailureReason): Outcome => answerFor(book.fail(merchant.merchant_id, order.order_no, reason))
      switch (check.outcome) {
        case 'wrong':
          return { name: 'sms_code_wrong', message: `wrong SMS code, ${check.tries_left} tries left`, fields: { ...orderFields(order), tries_left: check.tries_left } }
        case 'expired':
          return fail('sms_code_expired')
        case 'attempts_exceeded':
          return fail('sms_code_attempts_exceeded')
        case 'right':
          break
      }
      const binding = quickpay.binding(merchant.merchant_id, order.extra?.binding_id ?? '')
      if (binding === undefined || binding.status !== 'active') return fail('binding_unbound')
      const paid = payAs(order, binding.username)
      return answerFor(paid.order)
    }),
  )

  if (options.testEndpoints === true) {
    app.get<{ Params: { phone: string } }>('/test/sms/:phone', (request, reply) => {
      const message = quickpay.lastMessage(request.params.phone)
      if (message === undefined) return reply.code(404).send({ ret_code: bankReturnCodes.parameter_invalid, ret_msg: 'no SMS sent to this phone' })
      return reply.send({ phone: message.phone, code: message.code, purpose: message.purpose, reference: message.reference, sent_at: beijingCompact(message.sent_at_ms) })
    })
  }

  // ---- the payer pages -------------------------------------------------------------------------

  function holderRow(holder: BankHolder): HolderRow {
    const account = book.account(holder.username)
    return { username: holder.username, password: holder.password, holder_name: holder.holder_name, account_no_masked: maskAccountNumber(holder.account_no), balance_minor: account?.balance_minor ?? 0n, currency: holder.currency, blocked: account?.blocked ?? holder.blocked, note: holder.note }
  }

  /** Pays as a holder; a decline the bank does not let the payer retry fails the order. */
  function payAs(order: Order, username: string): PayOutcome {
    const paid = book.pay(order.merchant_id, order.order_no, username)
    if (paid.outcome === 'insufficient_balance' || paid.outcome === 'account_blocked') {
      return { outcome: paid.outcome, order: book.fail(order.merchant_id, order.order_no, paid.outcome) }
    }
    return paid
  }

  /** The merchant's return URL with the bank's signed report appended. */
  function returnUrlOf(order: Order, merchant: BankMerchant): string {
    assert(order.return_url !== undefined, 'a netbank order has a return URL')
    const url = new URL(order.return_url)
    const fields: Record<string, string> = {
      merchant_id: order.merchant_id,
      order_no: order.order_no,
      bank_order_id: order.provider_order_id,
      amount: order.amount_minor.toString(),
      currency: order.currency,
      status: statusNames[order.status],
    }
    if (order.paid_at_ms !== undefined && order.status === 'paid') fields.paid_at = beijingCompact(order.paid_at_ms)
    if (order.failure_reason !== undefined && order.status === 'failed') fields.failure_reason = order.failure_reason
    for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value)
    const all: Record<string, string> = {}
    for (const [name, value] of url.searchParams) all[name] = value
    url.searchParams.set('sign', bankSignature(all, merchant.key))
    return url.toString()
  }

  function html(reply: FastifyReply, status: number, page: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page)
  }

  /** The page for an order that cannot be paid now, or undefined when it can. */
  function unpayablePage(reply: FastifyReply, order: Order | undefined): FastifyReply | undefined {
    if (order === undefined || order.kind !== 'netbank') return html(reply, 404, messagePage(bank, 'Unknown order', 'The bank knows no such order.'))
    if (order.status === 'paid') return html(reply, 409, messagePage(bank, 'Already paid', 'This order has been paid.', order.return_url))
    if (!book.payable(order)) {
      const why = order.status === 'failed' ? 'The payment failed.' : order.closed_by === 'expiry' ? 'The order expired before it was paid.' : 'The merchant closed this order.'
      return html(reply, 409, messagePage(bank, order.status === 'failed' ? 'Payment failed' : 'Order closed', why, order.return_url))
    }
    return undefined
  }

  app.get<{ Params: { id: string } }>('/pay/:id', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    return unpayablePage(reply, order) ?? html(reply, 200, loginPage(bank, order as Order, [...holders.values()].map(holderRow)))
  })

  app.post<{ Params: { id: string } }>('/pay/:id/login', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    const refused = unpayablePage(reply, order)
    if (refused !== undefined) return refused
    const current = order as Order
    if (logins.exhausted(current.provider_order_id)) return html(reply, 429, messagePage(bank, 'Too many attempts', 'Too many wrong logins for this order.', current.return_url))
    const form = parseFormParams(rawBodyOf(request).text)
    const username = form.ok ? (form.params.username ?? '') : ''
    const holder = holders.get(username)
    const rows = [...holders.values()].map(holderRow)
    if (!form.ok || holder === undefined || holder.password !== form.params.password) {
      const left = logins.fail(current.provider_order_id)
      log.write({ event: 'page_login', bank_order_id: current.provider_order_id, username: username.slice(0, 40), success: false })
      return html(reply, 401, loginPage(bank, current, rows, `Wrong username or password (${left} tries left).`))
    }
    log.write({ event: 'page_login', bank_order_id: current.provider_order_id, username, success: true })
    return html(reply, 200, confirmPage(bank, current, holderRow(holder), sessions.open(current.provider_order_id, holder.username)))
  })

  app.post<{ Params: { id: string } }>('/pay/:id/confirm', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    const refused = unpayablePage(reply, order)
    if (refused !== undefined) return refused
    const current = order as Order
    const form = parseFormParams(rawBodyOf(request).text)
    const session = form.ok ? sessions.take(form.params.session ?? '', current.provider_order_id) : undefined
    if (session === undefined) return html(reply, 403, messagePage(bank, 'Session expired', 'Please log in again.', `/pay/${current.provider_order_id}`))
    const merchant = merchants.get(current.merchant_id)
    assert(merchant !== undefined, 'an order belongs to a registered merchant')
    const paid = payAs(current, session.payer_id)
    switch (paid.outcome) {
      case 'paid':
      case 'already_paid':
      case 'insufficient_balance':
      case 'account_blocked':
        return reply.code(303).header('location', returnUrlOf(paid.order, merchant)).header('cache-control', 'no-store').send()
      case 'not_payable':
      case 'expired':
      case 'account_unknown':
      case 'currency_mismatch':
        return unpayablePage(reply, paid.order) ?? html(reply, 409, messagePage(bank, 'Payment refused', 'The bank refused this payment.', current.return_url))
    }
  })

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ ret_code: bankReturnCodes.parameter_invalid, ret_msg: `no such endpoint: ${request.method} ${request.url.split('?')[0] ?? ''}` }))
  app.setErrorHandler((error: { statusCode?: number; message?: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    return reply.code(status).send(status === 500 ? { ret_code: bankReturnCodes.system_busy, ret_msg: retMessages.system_busy } : { ret_code: bankReturnCodes.parameter_invalid, ret_msg: error.message ?? 'bad request' })
  })

  const baseUrl = await listen(app, options.port ?? 0, options.host ?? '127.0.0.1')

  return {
    url: baseUrl,
    bank,
    merchants: [...merchants.values()],
    account: (username) => {
      const holder = holders.get(username)
      return holder === undefined ? undefined : holderView(holder)
    },
    accounts: () => [...holders.values()].map(holderView),
    merchantBalance: (merchantId, currency = 'CNY') => book.merchantBalance(merchantId, currency),
    order: (merchantId, orderNo) => book.find(merchantId, orderNo),
    orders: () => book.orderList(),
    refunds: () => book.refundList(),
    pay: (bankOrderId, username) => {
      const order = book.findByProviderId(bankOrderId)
      return order === undefined ? 'order_unknown' : payAs(order, username).outcome
    },
    setBlocked: (username, blocked) => {
      assert(book.setBlocked(username, blocked), `no holder ${username}`)
    },
    setFaults: (rules) => faults.replace(rules),
    smsCodeFor: (phone) => quickpay.lastMessage(phone)?.code,
    notifications: () => notifier.deliveries(),
    notificationsSettled: (timeoutMs) => notifier.settled(timeoutMs),
    logs: () => log.list(),
    totalMinor: (currency = 'CNY') => {
      book.assertConserved()
      return book.totalMinor(currency)
    },
    close: async () => {
      timers.close()
      notifier.close()
      await app.close()
    },
  }

  function holderView(holder: BankHolder): HolderView {
    const account = book.account(holder.username)
    return { username: holder.username, holder_name: holder.holder_name, phone: holder.phone, account_no_masked: maskAccountNumber(holder.account_no), currency: holder.currency, balance_minor: account?.balance_minor ?? 0n, blocked: account?.blocked ?? holder.blocked }
  }
}

function queryOf(url: string): string {
  const index = url.indexOf('?')
  return index === -1 ? '' : url.slice(index + 1)
}

function urlProblem(value: string): string | undefined {
  if (value.length > urlLengthMax) return `must be at most ${urlLengthMax} characters`
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must be an http or https URL'
  } catch {
    return 'must be an absolute URL'
  }
}

function returnUrlProblem(value: string): string | undefined {
  const url = new URL(value)
  for (const name of returnFieldNames) if (url.searchParams.has(name)) return `must not carry the bank's own parameter ${name}`
  return undefined
}
