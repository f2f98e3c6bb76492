import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import fc from 'fast-check'
import { SimulatedClock } from '../../src/domain/clock.js'
import { DIALECTS, openTestKassa, type TestKassa } from '../helpers/dialects.js'
import { assertLedgerSound, seedMerchant, seedOperator, seedShopper, type Caller } from '../helpers/factories.js'

/**
 * Model-based test of the payments API (fast-check "model based testing", TigerBeetle's auditor):
 * random sequences of create+confirm, confirm, top-up, capture, cancel, refund and retries go to
 * the real HTTP API; a deliberately small model says what each answer and each balance must be.
 * On a failure fast-check prints the seed and the shrunk command list that reproduce it.
 */

const runsPerDialect = 15
const commandsPerRunMax = 30

type PaymentStatus = 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled'

type ModelPayment = {
  readonly id: string
  readonly shopper: number
  readonly amount: bigint
  readonly manual: boolean
  status: PaymentStatus
  capturable: bigint
  received: bigint
  fee: bigint
  refunded: bigint
}

/** A request sent with an Idempotency-Key, its first answer, and another body to try the key with. */
type SentRequest = {
  readonly as: 'merchant' | 'operator'
  readonly url: string
  readonly body: unknown
  readonly otherBody: unknown
  readonly key: string
  readonly status: number
  readonly response: string
}

type Model = {
  /** Keys of the shared operator must not meet those of earlier runs. */
  readonly run: string
  readonly feeBasisPoints: number
  /** Available wallet balance per shopper: posted credits less posted and held debits. */
  readonly wallets: bigint[]
  readonly payments: ModelPayment[]
  /** The merchant's posted payable: captured less fees less refunds. */
  payable: bigint
  readonly sent: SentRequest[]
  counter: number
}

type Real = {
  readonly kassa: TestKassa
  readonly clock: SimulatedClock
  readonly merchantId: string
  readonly merchant: Caller
  readonly operator: Caller
  readonly shoppers: readonly string[]
  /** How often each command met each answer, over all runs: shows the runs did not test nothing. */
  readonly outcomes: Map<string, number>
}

type Command = fc.AsyncCommand<Model, Real>

/** The model's own fee arithmetic (half-up in integers), written apart from src/ on purpose. */
function feeOf(amount: bigint, basisPoints: number): bigint {
  return (amount * BigInt(basisPoints) + 5_000n) / 10_000n
}

const held = (model: Model, shopper?: number) =>
  model.payments.filter((p) => p.status === 'requires_capture' && (shopper === undefined || p.shopper === shopper)).reduce((sum, p) => sum + p.capturable, 0n)

function nextKey(model: Model, what: string): string {
  model.counter += 1
  return `${model.run}-${what}-${model.counter}`
}

async function send(real: Real, as: SentRequest['as'], url: string, body: unknown, key: string): Promise<LightMyRequestResponse> {
  real.clock.advance(1_000)
  return (as === 'merchant' ? real.merchant : real.operator).post(url, body, { 'idempotency-key': key })
}

function remember(model: Model, real: Real, request: Omit<SentRequest, 'status' | 'response'>, response: LightMyRequestResponse): void {
  model.sent.push({ ...request, status: response.statusCode, response: response.body })
  const command = request.url.split('/').filter((part) => part !== '' && !/^[a-z]{2,4}_[0-9a-z]{26}$/.test(part)).slice(-1)[0] ?? request.url
  const code = response.statusCode === 200 ? 'ok' : String((parse(response)['error'] as { code?: unknown } | undefined)?.code)
  count(real, `${command} ${code}`)
}

function count(real: Real, outcome: string): void {
  real.outcomes.set(outcome, (real.outcomes.get(outcome) ?? 0) + 1)
}

/**
 * Picks a payment for a command: mostly one whose status lets the command succeed, one time in
 * four any payment, so refusals are exercised too.
 */
function choose(model: Model, pick: number, statuses: readonly PaymentStatus[]): ModelPayment {
  const fitting = model.payments.filter((payment) => statuses.includes(payment.status))
  const pool = pick % 4 !== 3 && fitting.length > 0 ? fitting : model.payments
  return pool[Math.floor(pick / 4) % pool.length] as ModelPayment
}

function parse(response: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>
}

function expectError(response: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(response.statusCode, status, response.body)
  assert.equal((parse(response)['error'] as { code?: string } | undefined)?.code, code, response.body)
}

/** The payment as the API answers it must be the model's payment. */
function expectView(view: Record<string, unknown>, payment: ModelPayment): void {
  assert.equal(view['id'], payment.id)
  assert.equal(view['status'], payment.status)
  assert.equal(view['amount'], Number(payment.amount))
  assert.equal(view['amount_capturable'], Number(payment.capturable))
  assert.equal(view['amount_received'], Number(payment.received))
  assert.equal(view['amount_refunded'], Number(payment.refunded))
  assert.equal(view['fee_amount'], Number(payment.fee))
}

/** Compares everything the model knows with the database, after every command. */
async function compare(model: Model, real: Real): Promise<void> {
  const db = real.kassa.store.db
  const wallets = await db
    .selectFrom('ledger_accounts')
    .select(['owner_id', 'credits_posted', 'debits_posted', 'debits_pending', 'credits_pending'])
    .where('code', '=', 'shopper_balance')
    .where('owner_id', 'in', [...real.shoppers])
    .execute()
  real.shoppers.forEach((shopper, i) => {
    const row = wallets.find((w) => w.owner_id === shopper)
    const available = row === undefined ? 0n : row.credits_posted - row.debits_posted - row.debits_pending
    assert.equal(available, model.wallets[i], `wallet of shopper ${i} available`)
    assert.equal(row?.debits_pending ?? 0n, held(model, i), `wallet of shopper ${i} held`)
  })

  const rows = await db
    .selectFrom('payments')
    .select(['id', 'status', 'amount', 'amount_capturable', 'amount_received', 'amount_refunded', 'fee_amount'])
    .where('merchant_id', '=', real.merchantId)
    .execute()
  assert.equal(rows.length, model.payments.length, 'payments in the database')
  const byId = new Map(rows.map((row) => [row.id, row]))
  for (const payment of model.payments) {
    const row = byId.get(payment.id)
    assert.ok(row !== undefined, `payment ${payment.id} missing`)
    assert.deepEqual(
      { status: row.status, amount: row.amount, capturable: row.amount_capturable, received: row.amount_received, refunded: row.amount_refunded, fee: row.fee_amount },
      { status: payment.status, amount: payment.amount, capturable: payment.capturable, received: payment.received, refunded: payment.refunded, fee: payment.fee },
      `payment ${payment.id}`,
    )
  }

  const payable = await db
    .selectFrom('ledger_accounts')
    .select(['credits_posted', 'debits_posted', 'credits_pending'])
    .where('id', '=', `acc_merchant_payable_${real.merchantId}_CNY`)
    .executeTakeFirst()
  assert.equal(payable === undefined ? 0n : payable.credits_posted - payable.debits_posted, model.payable, 'merchant payable')
  assert.equal(payable?.credits_pending ?? 0n, held(model), 'merchant payable held')
}

/** What confirming `payment` with its shopper's wallet must do, in the model; answers whether it paid. */
function confirmInModel(model: Model, payment: ModelPayment): boolean {
  if (payment.amount > (model.wallets[payment.shopper] ?? 0n)) return false
  model.wallets[payment.shopper] = (model.wallets[payment.shopper] ?? 0n) - payment.amount
  if (payment.manual) {
    payment.status = 'requires_capture'
    payment.capturable = payment.amount
  } else {
    payment.status = 'succeeded'
    payment.received = payment.amount
    payment.fee = feeOf(payment.amount, model.feeBasisPoints)
    model.payable += payment.amount - payment.fee
  }
  return true
}

class CreateAndConfirm implements Command {
  constructor(
    readonly shopper: number,
    readonly amount: number,
    readonly manual: boolean,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const shopper = this.shopper % real.shoppers.length
    const key = nextKey(model, 'create')
    const body = {
      amount: this.amount,
      currency: 'CNY',
      order_reference: key,
      capture_method: this.manual ? 'manual' : 'automatic',
      confirm: true,
      payment_method: { type: 'wallet_balance', shopper: real.shoppers[shopper] },
    }
    const response = await send(real, 'merchant', '/v1/payments', body, key)
    remember(model, real, { as: 'merchant', url: '/v1/payments', body, otherBody: { ...body, order_reference: `${key}-other` }, key }, response)
    const pays = BigInt(this.amount) <= (model.wallets[shopper] ?? 0n)
    if (pays) assert.equal(response.statusCode, 200, response.body)
    else expectError(response, 402, 'insufficient_funds')
    // A declined payment is created all the same, and comes back inside the error.
    const answer = parse(response)
    const view = (pays ? answer : (answer['error'] as Record<string, unknown>)['payment']) as Record<string, unknown>
    const payment: ModelPayment = {
      id: String(view['id']),
      shopper,
      amount: BigInt(this.amount),
      manual: this.manual,
      status: 'requires_payment_method',
      capturable: 0n,
      received: 0n,
      fee: 0n,
      refunded: 0n,
    }
    model.payments.push(payment)
    assert.equal(confirmInModel(model, payment), pays)
    if (!pays) assert.deepEqual(view['last_payment_error'], { code: 'insufficient_funds', message: 'The wallet balance is too low for this payment.' })
    expectView(view, payment)
    await compare(model, real)
  }
  toString = () => `create(shopper ${this.shopper}, ${this.amount}, ${this.manual ? 'manual' : 'automatic'})`
}

class Confirm implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>) => model.payments.length > 0
  async run(model: Model, real: Real): Promise<void> {
    const payment = choose(model, this.pick, ['requires_payment_method'])
    const key = nextKey(model, 'confirm')
    const url = `/v1/payments/${payment.id}/confirm`
    const body = { payment_method: { type: 'wallet_balance', shopper: real.shoppers[payment.shopper] } }
    const otherShopper = real.shoppers[(payment.shopper + 1) % real.shoppers.length]
    const response = await send(real, 'merchant', url, body, key)
    remember(model, real, { as: 'merchant', url, body, otherBody: { payment_method: { type: 'wallet_balance', shopper: otherShopper } }, key }, response)
    if (payment.status !== 'requires_payment_method') expectError(response, 409, 'payment_not_confirmable')
    else {
      // Confirming again keeps the capture method the payment was created with.
      if (confirmInModel(model, payment)) {
        assert.equal(response.statusCode, 200, response.body)
        expectView(parse(response), payment)
      } else expectError(response, 402, 'insufficient_funds')
    }
    await compare(model, real)
  }
  toString = () => `confirm(#${this.pick})`
}

class TopUp implements Command {
  constructor(
    readonly shopper: number,
    readonly amount: number,
  ) {}
  check = () => true
  async run(model: Model, real: Real): Promise<void> {
    const shopper = this.shopper % real.shoppers.length
    const key = nextKey(model, 'top-up')
    const url = `/console/v1/shoppers/${real.shoppers[shopper]}/top_ups`
    const body = { amount: this.amount, currency: 'CNY' }
    const response = await send(real, 'operator', url, body, key)
    remember(model, real, { as: 'operator', url, body, otherBody: { ...body, amount: this.amount + 1 }, key }, response)
    assert.equal(response.statusCode, 200, response.body)
    model.wallets[shopper] = (model.wallets[shopper] ?? 0n) + BigInt(this.amount)
    await compare(model, real)
  }
  toString = () => `topUp(shopper ${this.shopper}, ${this.amount})`
}

type AmountChoice = 'all' | 'part' | 'exactly_the_rest' | 'one_too_many' | 'too_much'

/** The amount to ask for: nothing (all), a share of what is left, all of it, one unit more, or more. */
function amountFor(choice: AmountChoice, left: bigint, percent: number): bigint | undefined {
  switch (choice) {
    case 'all':
      return undefined
    case 'part': {
      const part = (left * BigInt(percent)) / 100n
      return part > 0n ? part : 1n
    }
    case 'exactly_the_rest':
      return left > 0n ? left : 1n
    case 'one_too_many':
      return left + 1n
    case 'too_much':
      return left + BigInt(percent)
  }
}

class Capture implements Command {
  constructor(
    readonly pick: number,
    readonly choice: AmountChoice,
    readonly percent: number,
  ) {}
  check = (model: Readonly<Model>) => model.payments.length > 0
  async run(model: Model, real: Real): Promise<void> {
    const payment = choose(model, this.pick, ['requires_capture'])
    const key = nextKey(model, 'capture')
    const url = `/v1/payments/${payment.id}/capture`
    const amount = amountFor(this.choice, payment.capturable, this.percent)
    const body = amount === undefined ? undefined : { amount_to_capture: Number(amount) }
    const response = await send(real, 'merchant', url, body, key)
    remember(model, real, { as: 'merchant', url, body, otherBody: { amount_to_capture: Number(amount ?? 0n) + 1 }, key }, response)
    if (payment.status !== 'requires_capture') expectError(response, 409, 'payment_not_capturable')
    else if (amount !== undefined && amount > payment.capturable) expectError(response, 400, 'capture_exceeds_authorized')
    else {
      const captured = amount ?? payment.capturable
      assert.equal(response.statusCode, 200, response.body)
      count(real, captured === payment.capturable ? 'capture all of the hold' : 'capture part of the hold')
      // The rest of the hold goes back to the wallet.
      model.wallets[payment.shopper] = (model.wallets[payment.shopper] ?? 0n) + payment.capturable - captured
      payment.status = 'succeeded'
      payment.capturable = 0n
      payment.received = captured
      payment.fee = feeOf(captured, model.feeBasisPoints)
      model.payable += captured - payment.fee
      expectView(parse(response), payment)
    }
    await compare(model, real)
  }
  toString = () => `capture(#${this.pick}, ${this.choice}, ${this.percent}%)`
}

class Cancel implements Command {
  constructor(
    readonly pick: number,
    readonly withReason: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.payments.length > 0
  async run(model: Model, real: Real): Promise<void> {
    const payment = choose(model, this.pick, ['requires_payment_method', 'requires_capture'])
    const key = nextKey(model, 'cancel')
    const url = `/v1/payments/${payment.id}/cancel`
    const body = this.withReason ? { cancellation_reason: 'requested_by_customer' } : undefined
    const response = await send(real, 'merchant', url, body, key)
    remember(model, real, { as: 'merchant', url, body, otherBody: { cancellation_reason: 'duplicate' }, key }, response)
    if (payment.status !== 'requires_payment_method' && payment.status !== 'requires_capture') expectError(response, 409, 'payment_not_cancelable')
    else {
      assert.equal(response.statusCode, 200, response.body)
      model.wallets[payment.shopper] = (model.wallets[payment.shopper] ?? 0n) + payment.capturable
      payment.status = 'canceled'
      payment.capturable = 0n
      expectView(parse(response), payment)
    }
    await compare(model, real)
  }
  toString = () => `cancel(#${this.pick}${this.withReason ? ', with reason' : ''})`
}

class Refund implements Command {
  constructor(
    readonly pick: number,
    readonly choice: AmountChoice,
    readonly percent: number,
  ) {}
  check = (model: Readonly<Model>) => model.payments.length > 0
  async run(model: Model, real: Real): Promise<void> {
    const payment = choose(model, this.pick, ['succeeded'])
    const key = nextKey(model, 'refund')
    const refundable = payment.received - payment.refunded
    const amount = amountFor(this.choice, refundable, this.percent)
    const body = amount === undefined ? { payment: payment.id } : { payment: payment.id, amount: Number(amount) }
    const response = await send(real, 'merchant', '/v1/refunds', body, key)
    remember(model, real, { as: 'merchant', url: '/v1/refunds', body, otherBody: { ...body, reason: 'other' }, key }, response)
    if (payment.status !== 'succeeded' || payment.received === 0n) expectError(response, 409, 'payment_not_refundable')
    else if (refundable === 0n || (amount !== undefined && amount > refundable)) expectError(response, 400, 'refund_exceeds_captured')
    else {
      const refunded = amount ?? refundable
      assert.equal(response.statusCode, 200, response.body)
      const refund = parse(response)
      assert.equal(refund['object'], 'refund')
      assert.equal(refund['payment'], payment.id)
      assert.equal(refund['amount'], Number(refunded))
      assert.equal(refund['status'], 'succeeded')
      payment.refunded += refunded
      model.wallets[payment.shopper] = (model.wallets[payment.shopper] ?? 0n) + refunded
      model.payable -= refunded
    }
    await compare(model, real)
  }
  toString = () => `refund(#${this.pick}, ${this.choice}, ${this.percent}%)`
}

class Retry implements Command {
  constructor(
    readonly pick: number,
    readonly otherBody: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.sent.length > 0
  async run(model: Model, real: Real): Promise<void> {
    const request = model.sent[this.pick % model.sent.length] as SentRequest
    count(real, this.otherBody ? 'retry with another body' : 'retry')
    if (this.otherBody) {
      const response = await send(real, request.as, request.url, request.otherBody, request.key)
      expectError(response, 409, 'idempotency_key_reused')
    } else {
      const response = await send(real, request.as, request.url, request.body, request.key)
      assert.equal(response.statusCode, request.status, `replay of ${request.key}: ${response.body}`)
      assert.equal(response.body, request.response, `replay of ${request.key}`)
      assert.equal(response.headers['idempotent-replayed'], 'true')
    }
    await compare(model, real)
  }
  toString = () => `retry(#${this.pick}${this.otherBody ? ', other body' : ''})`
}

const pick = fc.nat({ max: 1_000 })
const percent = fc.integer({ min: 1, max: 100 })
const amountChoice = fc.constantFrom<AmountChoice>('all', 'part', 'part', 'exactly_the_rest', 'one_too_many', 'too_much')
/**
 * Mostly amounts a wallet can pay, some it cannot; round amounts often, since at 50 bp every odd
 * hundred puts the fee on a tie (100 × 0.5 % = 0.5), where half-up and half-even part.
 */
const paymentAmount = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 5_000 }), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 50 }).map((hundreds) => hundreds * 100), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 40_000 }), weight: 1 },
)

/** Manual capture two times in three: holds are what capture and cancel work on. */
const create = fc.tuple(fc.nat({ max: 2 }), paymentAmount, fc.constantFrom(true, true, false)).map(([s, a, m]) => new CreateAndConfirm(s, a, m))
const capture = fc.tuple(pick, amountChoice, percent).map(([p, c, n]) => new Capture(p, c, n))
const refund = fc.tuple(pick, amountChoice, percent).map(([p, c, n]) => new Refund(p, c, n))

/** Listed more than once to be drawn more often: payments to work on, and the commands that move their money. */
const allCommands = [
  create,
  create,
  create,
  fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: 1, max: 10_000 })).map(([s, a]) => new TopUp(s, a)),
  pick.map((p) => new Confirm(p)),
  capture,
  capture,
  fc.tuple(pick, fc.boolean()).map(([p, r]) => new Cancel(p, r)),
  refund,
  refund,
  fc.tuple(pick, fc.boolean()).map(([p, o]) => new Retry(p, o)),
]

/**
 * Outcomes so common (dozens per set of runs) that a set of runs without one of them means the
 * generators broke, not bad luck. The rarer ones are only counted, in the test's diagnostics.
 */
const outcomesExpected = ['payments ok', 'payments insufficient_funds', 'top_ups ok', 'capture ok', 'cancel ok', 'refunds ok', 'retry', 'retry with another body']

for (const dialect of DIALECTS) {
  describe(`${dialect}: payments against a model`, () => {
    const clock = new SimulatedClock()
    const outcomes = new Map<string, number>()
    let kassa: TestKassa
    let operator: Caller
    before(async () => {
      kassa = await openTestKassa(dialect, { clock })
      operator = (await seedOperator(kassa, 'finance')).api
    })
    after(async () => {
      await kassa.dispose()
    })

    it('every answer, wallet, payment and payable matches the model; the ledger stays sound', async (t) => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(0, 50, 60, 175),
          fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 2, maxLength: 3 }),
          fc.commands(allCommands, { maxCommands: commandsPerRunMax, size: 'max' }),
          async (feeBasisPoints, balances, commands) => {
            // Each run gets its own merchant and shoppers, so runs share the database but not their money.
            const merchant = await seedMerchant(kassa, 'Model Store', feeBasisPoints)
            const shoppers: string[] = []
            for (const balance of balances) shoppers.push(await seedShopper(kassa, BigInt(balance)))
            const model: Model = { run: merchant.id, feeBasisPoints, wallets: balances.map(BigInt), payments: [], payable: 0n, sent: [], counter: 0 }
            const real: Real = { kassa, clock, merchantId: merchant.id, merchant: merchant.api, operator, shoppers, outcomes }
            await compare(model, real)
            await fc.asyncModelRun(() => ({ model, real }), commands)
            await assertLedgerSound(kassa)
          },
        ),
        { numRuns: runsPerDialect, includeErrorInReport: true },
      )
      t.diagnostic(
        [...outcomes.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([outcome, times]) => `${outcome}: ${times}`)
          .join(', '),
      )
      const missing = outcomesExpected.filter((outcome) => !outcomes.has(outcome))
      assert.deepEqual(missing, [], 'outcomes no run reached')
    })
  })
}
