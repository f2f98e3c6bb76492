import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../domain/assert.js'
import type { LimitRule } from './accounts.js'
import {
  applyDelta,
  assertBalanced,
  availableCredit,
  planTransfer,
  type Balances,
  type LedgerAccount,
  type PendingTransfer,
  type Posting,
  type TransferRequest,
} from './transfer.js'

const wallet = 'acc_shopper_balance_shp_1_CNY'
const bank = 'acc_platform_bank_platform_CNY'
const payable = 'acc_merchant_payable_mch_1_CNY'
const revenue = 'acc_fee_revenue_platform_CNY'
const bankJpy = 'acc_platform_bank_platform_JPY'
const walletJpy = 'acc_shopper_balance_shp_1_JPY'
const debtor = 'acc_test_debtor_CNY' // an account whose credits must not exceed its debits

function account(id: string, currency: string, limit_rule: LimitRule, balances: Partial<Balances> = {}): LedgerAccount {
  return { id, currency, limit_rule, debits_pending: 0n, debits_posted: 0n, credits_pending: 0n, credits_posted: 0n, ...balances }
}

function accounts(...list: LedgerAccount[]): Map<string, LedgerAccount> {
  return new Map(list.map((a) => [a.id, a]))
}

/** A wallet with 100.00 in it, the bank behind it, a merchant and the fee account. */
function book(walletBalances: Partial<Balances> = { credits_posted: 10_000n }) {
  return accounts(
    account(wallet, 'CNY', 'debits_must_not_exceed_credits', walletBalances),
    account(bank, 'CNY', 'none', { debits_posted: walletBalances.credits_posted ?? 0n }),
    account(payable, 'CNY', 'none'),
    account(revenue, 'CNY', 'none'),
    account(bankJpy, 'JPY', 'none'),
    account(walletJpy, 'JPY', 'debits_must_not_exceed_credits'),
    account(debtor, 'CNY', 'credits_must_not_exceed_debits', { debits_posted: 500n }),
  )
}

const debit = (account_id: string, amount: bigint, currency = 'CNY'): Posting => ({ account_id, side: 'debit', amount, currency })
const credit = (account_id: string, amount: bigint, currency = 'CNY'): Posting => ({ account_id, side: 'credit', amount, currency })

const common = { code: 'test', reference_id: undefined, merchant_id: undefined }
const single = (id: string, postings: Posting[]): TransferRequest => ({ ...common, id, kind: 'single_phase', postings })
const pending = (id: string, postings: Posting[]): TransferRequest => ({ ...common, id, kind: 'pending', postings })
const post = (id: string, pending_id: string, amount: bigint): TransferRequest => ({ ...common, id, kind: 'post_pending', pending_id, amount })
const release = (id: string, pending_id: string): TransferRequest => ({ ...common, id, kind: 'void_pending', pending_id })

/** A hold of 30.00 on the wallet for the merchant, as the journal would load it. */
const hold: PendingTransfer = { id: 'txf_hold', postings: [debit(wallet, 3_000n), credit(payable, 3_000n)], resolved: false }

function planned(result: ReturnType<typeof planTransfer>) {
  assert.equal(result.result, 'ok')
  if (result.result !== 'ok') throw new Error('unreachable')
  return result.plan
}

/** Applies a plan to the accounts, the way journal.ts writes it. */
function applied(book: Map<string, LedgerAccount>, plan: ReturnType<typeof planned>): Map<string, LedgerAccount> {
  const next = new Map(book)
  for (const [id, delta] of plan.deltas) {
    const before = next.get(id)
    assert.ok(before !== undefined)
    next.set(id, { ...before, ...applyDelta(before, delta) })
  }
  return next
}

describe('ledger: assertBalanced', () => {
  it('takes postings whose debits equal their credits per currency', () => {
    assertBalanced([debit(bank, 100n), credit(wallet, 100n)])
    assertBalanced([debit(wallet, 100n), credit(payable, 99n), credit(revenue, 1n)])
    assertBalanced([debit(bank, 100n), credit(wallet, 100n), debit(bankJpy, 7n, 'JPY'), credit(walletJpy, 7n, 'JPY')])
  })

  const unbalanced: readonly [string, Posting[]][] = [
    ['no postings', []],
    ['one posting', [debit(bank, 100n)]],
    ['debits above credits', [debit(bank, 101n), credit(wallet, 100n)]],
    ['credits above debits', [debit(bank, 100n), credit(wallet, 100n), credit(revenue, 1n)]],
    ['two debits', [debit(bank, 100n), debit(wallet, 100n)]],
    ['a zero amount', [debit(bank, 0n), credit(wallet, 0n)]],
    ['a negative amount', [debit(bank, -5n), credit(wallet, -5n)]],
    ['balanced only across currencies', [debit(bank, 100n), credit(walletJpy, 100n, 'JPY')]],
    ['each currency off by one, the total zero', [debit(bank, 100n), credit(wallet, 100n), debit(bankJpy, 7n, 'JPY'), credit(walletJpy, 6n, 'JPY'), credit(wallet, 1n)]],
  ]
  for (const [what, postings] of unbalanced) {
    it(`throws on ${what}`, () => {
      assert.throws(() => assertBalanced(postings), AssertionError)
    })
  }

  it('throws on a number amount', () => {
    assert.throws(() => assertBalanced([{ ...debit(bank, 1n), amount: 1 as unknown as bigint }, credit(wallet, 1n)]), AssertionError)
  })

  it('throws whenever a random set of postings does not net to zero in some currency', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            side: fc.constantFrom<'debit' | 'credit'>('debit', 'credit'),
            amount: fc.bigInt({ min: 1n, max: 1_000n }),
            currency: fc.constantFrom('CNY', 'JPY'),
          }),
          { minLength: 2, maxLength: 6 },
        ),
        (legs) => {
          const postings = legs.map((leg, i) => ({ account_id: `acc_${i}`, ...leg }))
          const nets = new Map<string, bigint>()
          for (const p of postings) nets.set(p.currency, (nets.get(p.currency) ?? 0n) + (p.side === 'debit' ? p.amount : -p.amount))
          const balanced = [...nets.values()].every((net) => net === 0n)
          if (balanced) assertBalanced(postings)
          else assert.throws(() => assertBalanced(postings), AssertionError)
        },
      ),
    )
  })
})

describe('ledger: single-phase transfers', () => {
  it('moves posted balances on both sides and reports amount and currency', () => {
    const plan = planned(planTransfer(single('txf_1', [debit(wallet, 2_000n), credit(payable, 1_990n), credit(revenue, 10n)]), book(), undefined))
    assert.equal(plan.amount, 2_000n)
    assert.equal(plan.currency, 'CNY')
    assert.deepEqual(
      plan.postings.map((p) => [p.account_id, p.side, p.amount, p.phase]),
      [
        [wallet, 'debit', 2_000n, 'posted'],
        [payable, 'credit', 1_990n, 'posted'],
        [revenue, 'credit', 10n, 'posted'],
      ],
    )
    const after = applied(book(), plan)
    assert.equal(availableCredit(after.get(wallet) as LedgerAccount), 8_000n)
    assert.equal(after.get(payable)?.credits_posted, 1_990n)
    assert.equal(after.get(revenue)?.credits_posted, 10n)
  })

  it('throws when the postings do not balance', () => {
    assert.throws(() => planTransfer(single('txf_1', [debit(wallet, 2_000n), credit(payable, 1_999n)]), book(), undefined), AssertionError)
  })

  it('throws when a posting names an account that does not exist', () => {
    assert.throws(() => planTransfer(single('txf_1', [debit('acc_nobody_CNY', 1n), credit(payable, 1n)]), book(), undefined), /does not exist/)
  })

  it('throws when a posting is in another currency than its account', () => {
    assert.throws(() => planTransfer(single('txf_1', [debit(bankJpy, 5n, 'CNY'), credit(wallet, 5n)]), book(), undefined), {
      name: 'AssertionError',
      message: /posting in CNY to acc_platform_bank_platform_JPY held in JPY/,
    })
  })

  it('balances per currency when one transfer moves two currencies', () => {
    const plan = planned(
      planTransfer(single('txf_fx', [debit(bank, 1_000n), credit(wallet, 1_000n), debit(bankJpy, 150n, 'JPY'), credit(walletJpy, 150n, 'JPY')]), book(), undefined),
    )
    const after = applied(book(), plan)
    assert.equal(availableCredit(after.get(wallet) as LedgerAccount), 11_000n)
    assert.equal(availableCredit(after.get(walletJpy) as LedgerAccount), 150n)
    // Amount and currency describe the first posting's currency only.
    assert.equal(plan.currency, 'CNY')
    assert.equal(plan.amount, 1_000n)
  })
})

describe('ledger: limit rules', () => {
  it('lets a funded account go down to zero exactly', () => {
    planned(planTransfer(single('txf_1', [debit(wallet, 10_000n), credit(payable, 10_000n)]), book(), undefined))
  })

  it('refuses one minor unit more than a funded account holds: exceeds_credits', () => {
    assert.deepEqual(planTransfer(single('txf_1', [debit(wallet, 10_001n), credit(payable, 10_001n)]), book(), undefined), { result: 'exceeds_credits' })
  })

  it('counts held (pending) debits against the balance', () => {
    const held = book({ credits_posted: 10_000n, debits_pending: 3_000n })
    assert.deepEqual(planTransfer(single('txf_1', [debit(wallet, 7_001n), credit(payable, 7_001n)]), held, undefined), { result: 'exceeds_credits' })
    assert.deepEqual(planTransfer(pending('txf_2', [debit(wallet, 7_001n), credit(payable, 7_001n)]), held, undefined), { result: 'exceeds_credits' })
    planned(planTransfer(single('txf_3', [debit(wallet, 7_000n), credit(payable, 7_000n)]), held, undefined))
  })

  it('does not count pending credits as money to spend', () => {
    const incoming = book({ credits_posted: 0n, credits_pending: 5_000n })
    assert.deepEqual(planTransfer(single('txf_1', [debit(wallet, 1n), credit(payable, 1n)]), incoming, undefined), { result: 'exceeds_credits' })
  })

  it('lets a funded account receive credits even while it is empty', () => {
    planned(planTransfer(single('txf_1', [debit(bank, 1n), credit(wallet, 1n)]), book({ credits_posted: 0n }), undefined))
  })

  it('lets accounts without a limit go below zero', () => {
    const plan = planned(planTransfer(single('txf_1', [debit(payable, 5_000n), credit(wallet, 5_000n)]), book(), undefined))
    const after = applied(book(), plan)
    assert.equal(after.get(payable)?.debits_posted, 5_000n)
  })

  it('refuses credits beyond the debits of a credits_must_not_exceed_debits account: exceeds_debits', () => {
    planned(planTransfer(single('txf_1', [debit(bank, 500n), credit(debtor, 500n)]), book(), undefined))
    assert.deepEqual(planTransfer(single('txf_2', [debit(bank, 501n), credit(debtor, 501n)]), book(), undefined), { result: 'exceeds_debits' })
    assert.deepEqual(planTransfer(pending('txf_3', [debit(bank, 501n), credit(debtor, 501n)]), book(), undefined), { result: 'exceeds_debits' })
  })

  it('judges a funded account by its balances after the whole transfer', () => {
    // Debit and credit of one account in one transfer net out, even on an empty wallet.
    planned(planTransfer(single('txf_1', [debit(wallet, 10_001n), credit(wallet, 10_001n)]), book({ credits_posted: 0n }), undefined))
  })

  it('never lets a funded account below zero, whatever the sequence of transfers', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ kind: fc.constantFrom('top_up', 'pay', 'hold'), amount: fc.bigInt({ min: 1n, max: 5_000n }) }),
          { maxLength: 30 },
        ),
        (steps) => {
          let state = book({ credits_posted: 0n })
          let expected = 0n
          steps.forEach((step, i) => {
            const postings =
              step.kind === 'top_up' ? [debit(bank, step.amount), credit(wallet, step.amount)] : [debit(wallet, step.amount), credit(payable, step.amount)]
            const request = step.kind === 'hold' ? pending(`txf_${i}`, postings) : single(`txf_${i}`, postings)
            const result = planTransfer(request, state, undefined)
            const fits = step.kind === 'top_up' || step.amount <= expected
            if (!fits) {
              assert.deepEqual(result, { result: 'exceeds_credits' })
              return
            }
            state = applied(state, planned(result))
            expected += step.kind === 'top_up' ? step.amount : -step.amount
            assert.equal(availableCredit(state.get(wallet) as LedgerAccount), expected)
          })
        },
      ),
    )
  })
})

describe('ledger: pending transfers', () => {
  it('holds the amount as pending on both accounts', () => {
    const plan = planned(planTransfer(pending('txf_hold', [debit(wallet, 3_000n), credit(payable, 3_000n)]), book(), undefined))
    assert.deepEqual(
      plan.postings.map((p) => p.phase),
      ['pending', 'pending'],
    )
    const after = applied(book(), plan)
    assert.equal(after.get(wallet)?.debits_pending, 3_000n)
    assert.equal(after.get(wallet)?.debits_posted, 0n)
    assert.equal(after.get(payable)?.credits_pending, 3_000n)
    assert.equal(availableCredit(after.get(wallet) as LedgerAccount), 7_000n)
  })

  it('must have exactly two legs', () => {
    assert.throws(() => planTransfer(pending('txf_1', [debit(wallet, 3_000n), credit(payable, 2_990n), credit(revenue, 10n)]), book(), undefined), {
      name: 'AssertionError',
      message: /exactly one debit and one credit/,
    })
  })

  it('throws when unbalanced', () => {
    assert.throws(() => planTransfer(pending('txf_1', [debit(wallet, 3_000n), credit(payable, 2_999n)]), book(), undefined), AssertionError)
  })

  const held = () => book({ credits_posted: 10_000n, debits_pending: 3_000n })
  const heldWithMerchant = () => {
    const b = held()
    b.set(payable, account(payable, 'CNY', 'none', { credits_pending: 3_000n }))
    return b
  }

  it('posts all of a hold', () => {
    const plan = planned(planTransfer(post('txf_post', 'txf_hold', 3_000n), heldWithMerchant(), hold))
    assert.equal(plan.amount, 3_000n)
    const after = applied(heldWithMerchant(), plan)
    assert.deepEqual(after.get(wallet), account(wallet, 'CNY', 'debits_must_not_exceed_credits', { credits_posted: 10_000n, debits_posted: 3_000n }))
    assert.deepEqual(after.get(payable), account(payable, 'CNY', 'none', { credits_posted: 3_000n }))
  })

  it('posts part of a hold and releases the rest in the same transfer', () => {
    const plan = planned(planTransfer(post('txf_post', 'txf_hold', 1_200n), heldWithMerchant(), hold))
    assert.equal(plan.amount, 1_200n)
    assert.deepEqual(
      plan.postings.map((p) => [p.account_id, p.side, p.amount, p.phase]),
      [
        [wallet, 'debit', 1_200n, 'posted'],
        [payable, 'credit', 1_200n, 'posted'],
      ],
    )
    const after = applied(heldWithMerchant(), plan)
    assert.equal(after.get(wallet)?.debits_pending, 0n)
    assert.equal(after.get(wallet)?.debits_posted, 1_200n)
    assert.equal(availableCredit(after.get(wallet) as LedgerAccount), 8_800n)
    assert.equal(after.get(payable)?.credits_pending, 0n)
    assert.equal(after.get(payable)?.credits_posted, 1_200n)
  })

  it('voids a hold: nothing posted, everything released', () => {
    const plan = planned(planTransfer(release('txf_void', 'txf_hold'), heldWithMerchant(), hold))
    assert.deepEqual(plan.postings, [])
    assert.equal(plan.amount, 3_000n)
    assert.equal(plan.currency, 'CNY')
    const after = applied(heldWithMerchant(), plan)
    assert.deepEqual(after.get(wallet), account(wallet, 'CNY', 'debits_must_not_exceed_credits', { credits_posted: 10_000n }))
    assert.deepEqual(after.get(payable), account(payable, 'CNY', 'none'))
  })

  it('refuses to post more than the hold: pending_amount_exceeded', () => {
    assert.deepEqual(planTransfer(post('txf_post', 'txf_hold', 3_001n), heldWithMerchant(), hold), { result: 'pending_amount_exceeded' })
  })

  it('throws on a post of nothing', () => {
    assert.throws(() => planTransfer(post('txf_post', 'txf_hold', 0n), heldWithMerchant(), hold), AssertionError)
  })

  it('refuses to post or void a hold twice: pending_transfer_already_resolved', () => {
    const resolved = { ...hold, resolved: true }
    assert.deepEqual(planTransfer(post('txf_post2', 'txf_hold', 1n), heldWithMerchant(), resolved), { result: 'pending_transfer_already_resolved' })
    assert.deepEqual(planTransfer(release('txf_void2', 'txf_hold'), heldWithMerchant(), resolved), { result: 'pending_transfer_already_resolved' })
  })

  it('answers pending_transfer_not_found for a hold it was not given', () => {
    assert.deepEqual(planTransfer(post('txf_post', 'txf_nope', 1n), book(), undefined), { result: 'pending_transfer_not_found' })
    assert.deepEqual(planTransfer(release('txf_void', 'txf_nope'), book(), undefined), { result: 'pending_transfer_not_found' })
  })

  it('ranks resolved above exceeded (outcomes in order of precedence)', () => {
    assert.deepEqual(planTransfer(post('txf_post', 'txf_hold', 9_999n), heldWithMerchant(), { ...hold, resolved: true }), {
      result: 'pending_transfer_already_resolved',
    })
  })

  it('throws rather than let pending balances go below zero (a hold the accounts never saw)', () => {
    assert.throws(() => planTransfer(release('txf_void', 'txf_hold'), book(), hold), AssertionError)
  })

  it('hold then any post or void leaves the wallet where the posted amount says', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10_000n }), fc.bigInt({ min: 0n, max: 10_000n }), (held, posted) => {
        fc.pre(posted <= held)
        const start = book()
        const afterHold = applied(start, planned(planTransfer(pending('txf_h', [debit(wallet, held), credit(payable, held)]), start, undefined)))
        const pendingTransfer: PendingTransfer = { id: 'txf_h', postings: [debit(wallet, held), credit(payable, held)], resolved: false }
        const request = posted === 0n ? release('txf_r', 'txf_h') : post('txf_r', 'txf_h', posted)
        const after = applied(afterHold, planned(planTransfer(request, afterHold, pendingTransfer)))
        const walletAfter = after.get(wallet) as LedgerAccount
        assert.equal(walletAfter.debits_pending, 0n)
        assert.equal(availableCredit(walletAfter), 10_000n - posted)
        assert.equal(after.get(payable)?.credits_posted, posted)
        assert.equal(after.get(payable)?.credits_pending, 0n)
      }),
    )
  })
})
