import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import pg from 'pg'
import { AssertionError } from '../../src/domain/assert.js'
import { newId } from '../../src/domain/ids.js'
import { accountId, type AccountRef } from '../../src/ledger/accounts.js'
import { updateChannelConfig } from '../../src/channels/directory.js'
import { accountsReadAhead, ensureAccount, postTransfer } from '../../src/ledger/journal.js'
import { availableCredit, type Balances, type Posting, type TransferRequest, type TransferResult } from '../../src/ledger/transfer.js'
import { verifyLedger } from '../../src/ledger/verify.js'
import { appendOnlyTables } from '../../src/store/migrations/0001_core.js'
import { param, prepare } from '../../src/store/prepared.js'
import type { Tx } from '../../src/store/writer.js'
import type { Kassa } from '../../src/kassa.js'
import { DIALECTS, openTestKassa, postgresUrl, type TestKassa } from '../helpers/dialects.js'
import { accountBalance, assertLedgerSound, seedMerchant, seedShopper, testActor } from '../helpers/factories.js'

/** A wallet, a merchant and the platform accounts behind them: fresh owners per test, so tests share a database. */
function book() {
  const shopper = newId('shopper')
  const merchant = newId('merchant')
  const refs = {
    wallet: { code: 'shopper_balance', owner_id: shopper, currency: 'CNY' },
    bank: { code: 'platform_bank', owner_id: undefined, currency: 'CNY' },
    payable: { code: 'merchant_payable', owner_id: merchant, currency: 'CNY' },
    revenue: { code: 'fee_revenue', owner_id: undefined, currency: 'CNY' },
  } as const satisfies Record<string, AccountRef>
  return {
    merchant,
    refs,
    wallet: accountId(refs.wallet),
    bank: accountId(refs.bank),
    payable: accountId(refs.payable),
    revenue: accountId(refs.revenue),
  }
}
type Book = ReturnType<typeof book>

const debit = (account_id: string, amount: bigint): Posting => ({ account_id, side: 'debit', amount, currency: 'CNY' })
const credit = (account_id: string, amount: bigint): Posting => ({ account_id, side: 'credit', amount, currency: 'CNY' })
const common = (code: string, merchant_id?: string) => ({ id: newId('transfer'), code, reference_id: undefined, merchant_id })
const single = (code: string, postings: Posting[]): TransferRequest => ({ ...common(code), kind: 'single_phase', postings })
const hold = (b: Book, amount: bigint): TransferRequest => ({ ...common('payment_authorization', b.merchant), kind: 'pending', postings: [debit(b.wallet, amount), credit(b.payable, amount)] })
const postOf = (pending_id: string, amount: bigint): TransferRequest => ({ ...common('payment_capture'), kind: 'post_pending', pending_id, amount })
const voidOf = (pending_id: string): TransferRequest => ({ ...common('payment_authorization_release'), kind: 'void_pending', pending_id })
const topUpOf = (b: Book, amount: bigint) => single('top_up', [debit(b.bank, amount), credit(b.wallet, amount)])

async function openAccounts(kassa: Kassa, b: Book): Promise<void> {
  await kassa.store.writer.submit(async (tx) => {
    for (const ref of Object.values(b.refs)) await ensureAccount(tx, ref, kassa.clock.now())
  })
}

function post(kassa: Kassa, request: TransferRequest): Promise<TransferResult> {
  return kassa.store.writer.submit((tx) => postTransfer(tx, request, kassa.clock.now()))
}

async function balancesOf(kassa: Kassa, id: string): Promise<Balances> {
  const row = await accountBalance(kassa, id)
  assert.ok(row !== undefined, `no account ${id}`)
  return { debits_pending: row.debits_pending, debits_posted: row.debits_posted, credits_pending: row.credits_pending, credits_posted: row.credits_posted }
}

const balances = (changes: Partial<Balances>): Balances => ({ debits_pending: 0n, debits_posted: 0n, credits_pending: 0n, credits_posted: 0n, ...changes })

async function transferRow(kassa: Kassa, id: string) {
  return kassa.store.db.selectFrom('ledger_transfers').selectAll().where('id', '=', id).executeTakeFirst()
}

async function postingRows(kassa: Kassa, transferId: string) {
  return kassa.store.db.selectFrom('ledger_postings').selectAll().where('transfer_id', '=', transferId).orderBy('leg').execute()
}

/** A wallet with money in it, ready for the test. */
async function funded(kassa: Kassa, amount: bigint): Promise<Book> {
  const b = book()
  await openAccounts(kassa, b)
  assert.equal(await post(kassa, topUpOf(b, amount)), 'ok')
  return b
}

/**
 * Recomputes every account's four balances from the journal, independently of verify.ts:
 * posted postings count as posted; pending ones count as pending until a post or void names them.
 */
async function recomputedBalances(kassa: Kassa): Promise<Map<string, Balances>> {
  const transfers = await kassa.store.db.selectFrom('ledger_transfers').select(['id', 'pending_id']).execute()
  const resolved = new Set(transfers.map((t) => t.pending_id).filter((id): id is string => id !== null))
  const postings = await kassa.store.db.selectFrom('ledger_postings').select(['transfer_id', 'account_id', 'side', 'phase', 'amount']).execute()
  const sums = new Map<string, Balances>()
  for (const p of postings) {
    const sum = sums.get(p.account_id) ?? balances({})
    if (p.phase === 'posted') {
      if (p.side === 'debit') sum.debits_posted += p.amount
      else sum.credits_posted += p.amount
    } else if (!resolved.has(p.transfer_id)) {
      if (p.side === 'debit') sum.debits_pending += p.amount
      else sum.credits_pending += p.amount
    }
    sums.set(p.account_id, sum)
  }
  return sums
}

/** Whether another connection can take the row lock on `accountId` now, without waiting. */
async function lockFromAnotherConnection(kassa: TestKassa, accountId: string): Promise<'locked' | 'free'> {
  const options = kassa.storeOptions
  assert.ok(options.kind === 'postgres')
  const client = new pg.Client({ connectionString: postgresUrl, options: `-c search_path=${options.schema}` })
  await client.connect()
  try {
    await client.query('select id from ledger_accounts where id = $1 for update nowait', [accountId])
    return 'free'
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return 'locked'
    throw error
  } finally {
    await client.end()
  }
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: ledger journal`, () => {
    let kassa: TestKassa
    before(async () => {
      kassa = await openTestKassa(dialect)
    })
    after(async () => {
      await kassa.dispose()
    })

    it('posts a single-phase transfer: one transfer row, its postings in order, both balances moved', async () => {
      const b = book()
      await openAccounts(kassa, b)
      const bankBefore = await balancesOf(kassa, b.bank)
      const request = topUpOf(b, 10_000n)
      assert.equal(await post(kassa, request), 'ok')

      const row = await transferRow(kassa, request.id)
      assert.equal(row?.kind, 'single_phase')
      assert.equal(row?.code, 'top_up')
      assert.equal(row?.amount, 10_000n)
      assert.equal(row?.currency, 'CNY')
      assert.equal(row?.pending_id, null)
      const postings = await postingRows(kassa, request.id)
      assert.deepEqual(
        postings.map((p) => [p.leg, p.account_id, p.side, p.phase, p.amount, p.currency]),
        [
          [0n, b.bank, 'debit', 'posted', 10_000n, 'CNY'],
          [1n, b.wallet, 'credit', 'posted', 10_000n, 'CNY'],
        ],
      )
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n }))
      const bankAfter = await balancesOf(kassa, b.bank)
      assert.equal(bankAfter.debits_posted - bankBefore.debits_posted, 10_000n)
    })

    it('posts a three-leg payment (funding → merchant + fee) as one transfer', async () => {
      const b = await funded(kassa, 10_000n)
      const request: TransferRequest = {
        ...common('payment_capture', b.merchant),
        kind: 'single_phase',
        postings: [debit(b.wallet, 2_000n), credit(b.payable, 1_988n), credit(b.revenue, 12n)],
      }
      assert.equal(await post(kassa, request), 'ok')
      assert.equal((await postingRows(kassa, request.id)).length, 3)
      assert.equal((await transferRow(kassa, request.id))?.merchant_id, b.merchant)
      assert.equal(availableCredit(await balancesOf(kassa, b.wallet)), 8_000n)
      assert.deepEqual(await balancesOf(kassa, b.payable), balances({ credits_posted: 1_988n }))
    })

    it('refuses to take a wallet below zero: exceeds_credits, and writes nothing', async () => {
      const b = await funded(kassa, 10_000n)
      const request = single('payment_capture', [debit(b.wallet, 10_001n), credit(b.payable, 10_001n)])
      assert.equal(await post(kassa, request), 'exceeds_credits')
      assert.equal(await transferRow(kassa, request.id), undefined)
      assert.deepEqual(await postingRows(kassa, request.id), [])
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n }))
      assert.deepEqual(await balancesOf(kassa, b.payable), balances({}))
      assert.equal(await post(kassa, single('payment_capture', [debit(b.wallet, 10_000n), credit(b.payable, 10_000n)])), 'ok')
      assert.equal(availableCredit(await balancesOf(kassa, b.wallet)), 0n)
    })

    it('holds, then posts part of the hold: the rest is released by the same transfer', async () => {
      const b = await funded(kassa, 10_000n)
      const pending = hold(b, 3_000n)
      assert.equal(await post(kassa, pending), 'ok')
      assert.deepEqual(
        (await postingRows(kassa, pending.id)).map((p) => [p.account_id, p.side, p.phase, p.amount]),
        [
          [b.wallet, 'debit', 'pending', 3_000n],
          [b.payable, 'credit', 'pending', 3_000n],
        ],
      )
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n, debits_pending: 3_000n }))
      assert.deepEqual(await balancesOf(kassa, b.payable), balances({ credits_pending: 3_000n }))
      assert.equal(availableCredit(await balancesOf(kassa, b.wallet)), 7_000n)

      const capture = postOf(pending.id, 1_200n)
      assert.equal(await post(kassa, capture), 'ok')
      const row = await transferRow(kassa, capture.id)
      assert.equal(row?.kind, 'post_pending')
      assert.equal(row?.pending_id, pending.id)
      assert.equal(row?.amount, 1_200n)
      assert.deepEqual(
        (await postingRows(kassa, capture.id)).map((p) => [p.account_id, p.side, p.phase, p.amount]),
        [
          [b.wallet, 'debit', 'posted', 1_200n],
          [b.payable, 'credit', 'posted', 1_200n],
        ],
      )
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n, debits_posted: 1_200n }))
      assert.deepEqual(await balancesOf(kassa, b.payable), balances({ credits_posted: 1_200n }))
      // The hold's own rows are untouched: a post is a new transfer, never an edit.
      assert.equal((await postingRows(kassa, pending.id)).every((p) => p.phase === 'pending' && p.amount === 3_000n), true)

      // Resolved once, resolved for good.
      const again = postOf(pending.id, 1n)
      assert.equal(await post(kassa, again), 'pending_transfer_already_resolved')
      const release = voidOf(pending.id)
      assert.equal(await post(kassa, release), 'pending_transfer_already_resolved')
      assert.equal(await transferRow(kassa, again.id), undefined)
      assert.equal(await transferRow(kassa, release.id), undefined)
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n, debits_posted: 1_200n }))
    })

    it('holds, then voids: nothing posted, everything released', async () => {
      const b = await funded(kassa, 10_000n)
      const pending = hold(b, 4_000n)
      assert.equal(await post(kassa, pending), 'ok')
      const release = voidOf(pending.id)
      assert.equal(await post(kassa, release), 'ok')
      const row = await transferRow(kassa, release.id)
      assert.equal(row?.kind, 'void_pending')
      assert.equal(row?.pending_id, pending.id)
      assert.equal(row?.amount, 4_000n)
      assert.deepEqual(await postingRows(kassa, release.id), [])
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n }))
      assert.deepEqual(await balancesOf(kassa, b.payable), balances({}))
      assert.equal(await post(kassa, postOf(pending.id, 1n)), 'pending_transfer_already_resolved')
      assert.equal(await post(kassa, voidOf(pending.id)), 'pending_transfer_already_resolved')
    })

    it('refuses to post more than held (pending_amount_exceeded) and then posts exactly the hold', async () => {
      const b = await funded(kassa, 10_000n)
      const pending = hold(b, 2_500n)
      assert.equal(await post(kassa, pending), 'ok')
      const tooMuch = postOf(pending.id, 2_501n)
      assert.equal(await post(kassa, tooMuch), 'pending_amount_exceeded')
      assert.equal(await transferRow(kassa, tooMuch.id), undefined)
      assert.equal(await post(kassa, postOf(pending.id, 2_500n)), 'ok')
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n, debits_posted: 2_500n }))
    })

    it('answers pending_transfer_not_found for a hold that does not exist', async () => {
      assert.equal(await post(kassa, postOf(newId('transfer'), 1n)), 'pending_transfer_not_found')
      assert.equal(await post(kassa, voidOf(newId('transfer'))), 'pending_transfer_not_found')
    })

    it('counts holds against the wallet', async () => {
      const b = await funded(kassa, 10_000n)
      assert.equal(await post(kassa, hold(b, 8_000n)), 'ok')
      assert.equal(await post(kassa, single('payment_capture', [debit(b.wallet, 2_001n), credit(b.payable, 2_001n)])), 'exceeds_credits')
      assert.equal(await post(kassa, hold(b, 2_001n)), 'exceeds_credits')
      assert.equal(await post(kassa, hold(b, 2_000n)), 'ok')
      assert.equal(availableCredit(await balancesOf(kassa, b.wallet)), 0n)
    })

    it('throws on a transfer that does not balance, and writes nothing', async () => {
      const b = await funded(kassa, 10_000n)
      const request = single('payment_capture', [debit(b.wallet, 100n), credit(b.payable, 99n)])
      await assert.rejects(post(kassa, request), AssertionError)
      assert.equal(await transferRow(kassa, request.id), undefined)
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_000n }))
    })

    it('throws on posting or voiding a transfer that is not a hold', async () => {
      const b = book()
      await openAccounts(kassa, b)
      const topUp = topUpOf(b, 500n)
      assert.equal(await post(kassa, topUp), 'ok')
      await assert.rejects(post(kassa, postOf(topUp.id, 100n)), /is not a pending transfer/)
      await assert.rejects(post(kassa, voidOf(topUp.id)), /is not a pending transfer/)
    })

    it('throws on an account nobody ensured', async () => {
      const b = book()
      await assert.rejects(post(kassa, topUpOf(b, 1n)), /ensureAccount\(\) it first/)
    })

    it('keeps every maintained balance equal to its recomputation from the journal', async () => {
      const b = await funded(kassa, 50_000n)
      const [captured, released, kept] = [hold(b, 1_000n), hold(b, 2_000n), hold(b, 3_000n)]
      for (const pending of [captured, released, kept]) assert.equal(await post(kassa, pending), 'ok')
      assert.equal(await post(kassa, postOf(captured.id, 999n)), 'ok')
      assert.equal(await post(kassa, voidOf(released.id)), 'ok')
      assert.equal(await post(kassa, single('payment_refund', [debit(b.payable, 500n), credit(b.wallet, 500n)])), 'ok')

      const recomputed = await recomputedBalances(kassa)
      const stored = await kassa.store.db.selectFrom('ledger_accounts').selectAll().execute()
      assert.ok(stored.length >= 4)
      for (const account of stored) {
        const expected = recomputed.get(account.id) ?? balances({})
        assert.deepEqual(
          { debits_pending: account.debits_pending, debits_posted: account.debits_posted, credits_pending: account.credits_pending, credits_posted: account.credits_posted },
          expected,
          account.id,
        )
      }
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 50_500n, debits_posted: 999n, debits_pending: 3_000n }))
    })

    it('passes verifyLedger, which checked every row', async () => {
      const result = await verifyLedger(kassa.store.db)
      assert.deepEqual(result.violations, [])
      assert.equal(result.ok, true)
      const counts = await sql<{ accounts: bigint; transfers: bigint; postings: bigint }>`
        select (select count(*) from ledger_accounts) as accounts,
               (select count(*) from ledger_transfers) as transfers,
               (select count(*) from ledger_postings) as postings`.execute(kassa.store.db)
      const [count] = counts.rows
      assert.deepEqual(result.checked, { accounts: Number(count?.accounts), transfers: Number(count?.transfers), postings: Number(count?.postings) })
      assert.ok(result.checked.transfers > 10)
    })

    describe('append-only journal', () => {
      before(async () => {
        // A payment through the API writes a row in every journal table: transfers, postings, events, audit.
        const merchant = await seedMerchant(kassa)
        const shopper = await seedShopper(kassa, 5_000n)
        const response = await merchant.api.post('/v1/payments', {
          amount: 1_000,
          currency: 'CNY',
          order_reference: 'append-only',
          confirm: true,
          payment_method: { type: 'wallet_balance', shopper },
        })
        assert.equal(response.statusCode, 200, response.body)
      })

      const count = async (table: string) => {
        const result = await sql<{ n: bigint }>`select count(*) as n from ${sql.table(table)}`.execute(kassa.store.db)
        return BigInt(result.rows[0]?.n ?? -1)
      }

      for (const table of appendOnlyTables) {
        it(`refuses UPDATE of ${table}`, async () => {
          const before = await sql`select * from ${sql.table(table)} order by 1`.execute(kassa.store.db)
          assert.ok(before.rows.length > 0, `${table} has rows to protect`)
          await assert.rejects(sql`update ${sql.table(table)} set created_at = created_at + 1`.execute(kassa.store.db), /append-only/)
          const after = await sql`select * from ${sql.table(table)} order by 1`.execute(kassa.store.db)
          assert.deepEqual(after.rows, before.rows)
        })

        it(`refuses DELETE from ${table}, of one row or of all`, async () => {
          const rows = await count(table)
          await assert.rejects(sql`delete from ${sql.table(table)} where created_at = (select min(created_at) from ${sql.table(table)})`.execute(kassa.store.db), /append-only/)
          await assert.rejects(sql`delete from ${sql.table(table)}`.execute(kassa.store.db), /append-only/)
          assert.equal(await count(table), rows)
        })
      }

      it('refuses a change even inside a writer unit, and the unit rolls back', async () => {
        const rows = await count('ledger_postings')
        await assert.rejects(
          kassa.store.writer.submit(async (tx) => {
            // @ts-expect-error journal columns are insert-only in the schema types as well
            const change = tx.builder.updateTable('ledger_postings').set({ amount: 1n })
            await tx.execute(change)
          }),
          /append-only/,
        )
        assert.equal(await count('ledger_postings'), rows)
        await assertLedgerSound(kassa)
      })

      if (dialect === 'postgres') {
        it('refuses TRUNCATE of every journal table (row triggers do not see it)', async () => {
          for (const table of appendOnlyTables) {
            const rows = await count(table)
            await assert.rejects(sql`truncate ${sql.table(table)} cascade`.execute(kassa.store.db), /append-only/, `TRUNCATE ${table} went through`)
            assert.equal(await count(table), rows)
          }
        })
      }
    })
  })

  describe(`${dialect}: ledger verify catches tampering`, () => {
    let kassa: TestKassa
    before(async () => {
      kassa = await openTestKassa(dialect)
    })
    after(async () => {
      await kassa.dispose()
    })

    it('reports a changed stored balance, that account first', async () => {
      const b = await funded(kassa, 10_000n)
      const pending = hold(b, 3_000n)
      assert.equal(await post(kassa, pending), 'ok')
      assert.equal(await post(kassa, postOf(pending.id, 2_000n)), 'ok')
      await assertLedgerSound(kassa)

      await sql`update ledger_accounts set credits_posted = credits_posted + 1 where id = ${b.wallet}`.execute(kassa.store.db)
      const result = await verifyLedger(kassa.store.db)
      assert.equal(result.ok, false)
      assert.equal(result.violations.length, 1, result.violations.join('\n'))
      assert.match(result.violations[0] ?? '', new RegExp(`^account ${b.wallet}: stored credits_posted 10001 differs from the journal's 10000$`))
    })

    it('reports a wallet tampered below zero twice: the difference and the limit', async () => {
      const b = await funded(kassa, 10_000n)
      assert.equal(await post(kassa, single('payment_capture', [debit(b.wallet, 6_000n), credit(b.payable, 6_000n)])), 'ok')
      await sql`update ledger_accounts set credits_posted = 0 where id = ${b.wallet}`.execute(kassa.store.db)
      await sql`update ledger_accounts set debits_pending = 7 where id = ${b.payable}`.execute(kassa.store.db)
      const result = await verifyLedger(kassa.store.db)
      assert.equal(result.ok, false)
      const about = (id: string) => result.violations.filter((v) => v.startsWith(`account ${id}`))
      assert.deepEqual(about(b.wallet), [
        `account ${b.wallet}: stored credits_posted 0 differs from the journal's 10000`,
        `account ${b.wallet} is below zero: debits 6000 exceed posted credits 0`,
      ])
      assert.deepEqual(about(b.payable), [`account ${b.payable}: stored debits_pending 7 differs from the journal's 0`])
    })
  })

  describe(`${dialect}: writer batches`, () => {
    let kassa: TestKassa
    before(async () => {
      kassa = await openTestKassa(dialect)
    })
    after(async () => {
      await kassa.dispose()
    })

    it('a unit that throws in a batch fails alone, and leaves no rows', async () => {
      const b = await funded(kassa, 10_000n)
      const earlier = topUpOf(b, 1n)
      assert.equal(await post(kassa, earlier), 'ok')
      const fresh = book() // accounts nobody has created yet

      const first = single('payment_capture', [debit(b.wallet, 1_000n), credit(b.payable, 1_000n)])
      const doomed = single('payment_capture', [debit(b.wallet, 2_000n), credit(b.payable, 2_000n)])
      const doomedTopUp = topUpOf(fresh, 700n)
      const duplicate: TransferRequest = { ...topUpOf(b, 5n), id: earlier.id }
      const last = single('payment_capture', [debit(b.wallet, 3_000n), credit(b.payable, 3_000n)])
      const batchesBefore = kassa.store.writer.batchesCommitted

      const outcomes = await Promise.allSettled([
        post(kassa, first),
        // Writes a transfer, a new account and postings, then throws: all of it must go.
        kassa.store.writer.submit(async (tx) => {
          for (const ref of Object.values(fresh.refs)) await ensureAccount(tx, ref, kassa.clock.now())
          assert.equal(await postTransfer(tx, doomedTopUp, kassa.clock.now()), 'ok')
          assert.equal(await postTransfer(tx, doomed, kassa.clock.now()), 'ok')
          throw new Error('the unit changed its mind')
        }),
        // Fails inside the database (primary key): on PostgreSQL that aborts the transaction, so the batch runs again without it.
        post(kassa, duplicate),
        post(kassa, last),
      ])
      assert.equal(kassa.store.writer.batchesCommitted - batchesBefore, 1, 'all four units ran in one batch')
      assert.deepEqual(outcomes[0], { status: 'fulfilled', value: 'ok' })
      assert.equal(outcomes[1]?.status, 'rejected')
      assert.match(String(outcomes[1]?.status === 'rejected' ? outcomes[1].reason : ''), /the unit changed its mind/)
      assert.equal(outcomes[2]?.status, 'rejected')
      assert.deepEqual(outcomes[3], { status: 'fulfilled', value: 'ok' })

      for (const id of [first.id, last.id]) assert.ok((await transferRow(kassa, id)) !== undefined, id)
      for (const id of [doomed.id, doomedTopUp.id]) {
        assert.equal(await transferRow(kassa, id), undefined, id)
        assert.deepEqual(await postingRows(kassa, id), [], id)
      }
      assert.equal(await accountBalance(kassa, fresh.wallet), undefined, 'the account the failed unit created is gone')
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 10_001n, debits_posted: 4_000n }))
      assert.equal((await postingRows(kassa, earlier.id)).length, 2)

      // The failed unit's account was never remembered as created: the next unit creates it for real.
      await openAccounts(kassa, fresh)
      assert.equal(await post(kassa, topUpOf(fresh, 700n)), 'ok')
      assert.deepEqual(await balancesOf(kassa, fresh.wallet), balances({ credits_posted: 700n }))
      await assertLedgerSound(kassa)
    })

    it('queued writes run before the unit reads again and when it ends, each heard with its count; a failing one fails its unit alone', async () => {
      const insertEvent = prepare(kassa.store.db, (db) =>
        db.insertInto('events').values({ id: param('id'), merchant_id: param('merchant_id'), type: param('type'), object_id: param('object_id'), data: param('data'), created_at: param('now') }),
      )
      const event = (id: string) => ({ id, merchant_id: 'mch_queued', type: 'test.queued', object_id: id, data: '{}', now: 1n })
      const countOf = async (tx: Tx, id: string) => (await tx.execute(tx.builder.selectFrom('events').select('id').where('id', '=', id))).length
      const [a, b, c, d] = [newId('event', 1), newId('event', 2), newId('event', 3), newId('event', 4)]
      // Per run: units run without savepoints, so the failure below rolls the batch back and this
      // unit runs again; what its committed run heard is what counts.
      let heard: number[] = []
      const outcomes = await Promise.allSettled([
        kassa.store.writer.submit(async (tx) => {
          heard = []
          tx.defer(insertEvent, event(a), (changed) => heard.push(changed))
          tx.defer(insertEvent, event(b), (changed) => heard.push(changed))
          const seen = await countOf(tx, b) // the read runs the queue first: the unit sees its own writes
          tx.defer(insertEvent, event(c), (changed) => heard.push(changed))
          return seen
        }),
        kassa.store.writer.submit(async (tx) => {
          tx.defer(insertEvent, event(d))
          tx.defer(insertEvent, event(a)) // already there: fails when the queue runs, at this unit's end
        }),
      ])
      assert.deepEqual(outcomes[0], { status: 'fulfilled', value: 1 })
      assert.equal(outcomes[1]?.status, 'rejected')
      assert.deepEqual(heard, [1, 1, 1])
      const stored = await kassa.store.db.selectFrom('events').select('id').where('id', 'in', [a, b, c, d]).orderBy('id').execute()
      assert.deepEqual(stored.map((row) => row.id), [a, b, c], 'the failed unit left nothing, its first queued write included')
    })

    it('a read of a table the queue does not write leaves the queue for the end; a read of one it writes runs it first', async () => {
      const insertEvent = prepare(kassa.store.db, (db) =>
        db.insertInto('events').values({ id: param('id'), merchant_id: param('merchant_id'), type: param('type'), object_id: param('object_id'), data: param('data'), created_at: param('now') }),
      )
      const paymentById = prepare(kassa.store.db, (db) => db.selectFrom('payments').select('id').where('id', '=', param('id')))
      const eventById = prepare(kassa.store.db, (db) => db.selectFrom('events').select('id').where('id', '=', param('id')))
      const id = newId('event', 5)
      const seen = await kassa.store.writer.submit(async (tx) => {
        const heard: number[] = []
        tx.defer(insertEvent, { id, merchant_id: 'mch_queued', type: 'test.queued', object_id: id, data: '{}', now: 1n }, (changed) => heard.push(changed))
        await tx.run(paymentById, { id: 'pay_none' })
        const afterOtherRead = [...heard]
        const rows = await tx.run(eventById, { id })
        return { afterOtherRead, afterOwnRead: [...heard], rows: rows.length }
      })
      assert.deepEqual(seen, { afterOtherRead: [], afterOwnRead: [1], rows: 1 })
    })

    it('reads sent ahead answer as each read alone, hold their row locks from then on, and a write to what they read sends the read again', async () => {
      const b = await funded(kassa, 10_000n)
      assert.equal(await post(kassa, single('payment_capture', [debit(b.wallet, 2_500n), credit(b.payable, 2_500n)])), 'ok')
      const insertEvent = prepare(kassa.store.db, (db) =>
        db.insertInto('events').values({ id: param('id'), merchant_id: param('merchant_id'), type: param('type'), object_id: param('object_id'), data: param('data'), created_at: param('now') }),
      )
      const eventById = prepare(kassa.store.db, (db) => db.selectFrom('events').select(['id', 'created_at']).where('id', '=', param('id')))
      const shopperById = prepare(kassa.store.db, (db) => db.selectFrom('shoppers').select('id').where('id', '=', param('id')))
      const id = newId('event')
      const seen = await kassa.store.writer.submit(async (tx) => {
        const accounts = accountsReadAhead(tx, [b.refs.payable, b.refs.wallet, b.refs.wallet])
        await tx.prefetch([{ query: shopperById, values: { id: 'shp_none' } }, accounts, { query: eventById, values: { id } }])
        const lockedElsewhere = tx.dialect.rowLocks ? await lockFromAnotherConnection(kassa, b.wallet) : undefined
        const accountRows = await tx.run(accounts.query, accounts.values)
        const shopperRows = await tx.run(shopperById, { id: 'shp_none' })
        tx.defer(insertEvent, { id, merchant_id: b.merchant, type: 'test.ahead', object_id: id, data: '{}', now: 7n })
        const eventRows = await tx.run(eventById, { id })
        return { accountRows, shopperRows, eventRows, lockedElsewhere }
      })
      const [payable, wallet] = [b.payable, b.wallet].sort() as [string, string]
      const row = (accountId: string, moved: Partial<Balances>) => ({ id: accountId, currency: 'CNY', limit_rule: accountId === b.wallet ? 'debits_must_not_exceed_credits' : 'none', ...balances(moved) })
      const expected = [payable, wallet].map((accountId) => (accountId === b.wallet ? row(accountId, { credits_posted: 10_000n, debits_posted: 2_500n }) : row(accountId, { credits_posted: 2_500n })))
      assert.deepEqual(seen.accountRows, expected, 'both accounts, in id order, balances as bigints')
      assert.deepEqual(seen.shopperRows, [])
      assert.deepEqual(seen.eventRows, [{ id, created_at: 7n }], 'the queued insert dropped the empty answer read ahead')
      if (dialect === 'postgres') assert.equal(seen.lockedElsewhere, 'locked', 'the accounts were row-locked when read ahead')
    })

    it('a unit that fails before writing costs its batch nothing; one that fails after writing leaves nothing, and the others commit', async () => {
      const b = await funded(kassa, 1_000n)
      const writer = kassa.store.writer
      const spend = (amount: bigint) => single('payment_capture', [debit(b.wallet, amount), credit(b.payable, amount)])
      const [first, second, third] = [spend(100n), spend(200n), spend(300n)]
      const rolledBackBefore = writer.batchesRolledBack
      const committedBefore = writer.batchesCommitted
      const outcomes = await Promise.allSettled([
        post(kassa, first),
        writer.submit(async () => {
          throw new Error('refused before writing')
        }),
        post(kassa, second),
      ])
      assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled'])
      assert.equal(writer.batchesCommitted - committedBefore, 1)
      assert.equal(writer.batchesRolledBack - rolledBackBefore, 0, 'nothing to undo: the batch committed as it ran')

      const doomed = spend(50n)
      const later = await Promise.allSettled([
        writer.submit(async (tx) => {
          assert.equal(await postTransfer(tx, doomed, kassa.clock.now()), 'ok')
          await tx.flush()
          throw new Error('refused after writing')
        }),
        post(kassa, third),
      ])
      assert.equal(later[0]?.status, 'rejected')
      assert.deepEqual(later[1], { status: 'fulfilled', value: 'ok' })
      // Units run without a savepoint each, so the batch is undone and the other unit runs again.
      assert.equal(writer.batchesRolledBack - rolledBackBefore, 1)
      assert.equal(await transferRow(kassa, doomed.id), undefined)
      assert.deepEqual(await postingRows(kassa, doomed.id), [])
      for (const request of [first, second, third]) assert.ok((await transferRow(kassa, request.id)) !== undefined)
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 1_000n, debits_posted: 600n }))
      await assertLedgerSound(kassa)
    })

    it('tells a run of a unit that comes to nothing, once, and never one that commits', async () => {
      const b = await funded(kassa, 1_000n)
      const writer = kassa.store.writer
      const told: string[] = []
      let innocentRuns = 0
      const outcomes = await Promise.allSettled([
        writer.submit(async (tx) => {
          innocentRuns += 1
          const run = innocentRuns
          tx.onDiscard(() => told.push(`innocent run ${run}`))
          return postTransfer(tx, single('payment_capture', [debit(b.wallet, 10n), credit(b.payable, 10n)]), kassa.clock.now())
        }),
        writer.submit(async (tx) => {
          tx.onDiscard(() => told.push('failed before writing'))
          throw new Error('refused before writing')
        }),
        writer.submit(async (tx) => {
          tx.onDiscard(() => told.push('failed after writing'))
          assert.equal(await postTransfer(tx, single('payment_capture', [debit(b.wallet, 20n), credit(b.payable, 20n)]), kassa.clock.now()), 'ok')
          await tx.flush()
          throw new Error('refused after writing')
        }),
      ])
      assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'rejected'])
      // The failure after writing rolls the batch back: the other units' runs are thrown away and
      // they run again (the one that failed before writing fails again, a second run told).
      assert.equal(innocentRuns, 2)
      assert.deepEqual(told.sort(), ['failed after writing', 'failed before writing', 'failed before writing', 'innocent run 1'])
      assert.deepEqual(await balancesOf(kassa, b.wallet), balances({ credits_posted: 1_000n, debits_posted: 10n }))
    })

    it("a channel switched off by a unit is off for the later units of the same batch", async () => {
      const stateIn = (tx: Tx) => kassa.payments.channelConfig(tx, 'wallet_balance').then((config) => config?.state)
      const batchesBefore = kassa.store.writer.batchesCommitted
      const [before, , after] = await Promise.all([
        kassa.store.writer.submit(stateIn),
        updateChannelConfig(kassa.store, kassa.clock, testActor, 'wallet_balance', { state: 'disabled' }),
        kassa.store.writer.submit(stateIn),
      ])
      assert.equal(kassa.store.writer.batchesCommitted - batchesBefore, 1, 'one batch')
      assert.deepEqual([before, after], ['enabled', 'disabled'])
      await updateChannelConfig(kassa.store, kassa.clock, testActor, 'wallet_balance', { state: 'enabled' })
      assert.equal(await kassa.store.writer.submit(stateIn), 'enabled')
    })

    it('units of one batch see each other in submission order', async () => {
      const b = await funded(kassa, 1_000n)
      const spends = Array.from({ length: 5 }, () => single('payment_capture', [debit(b.wallet, 300n), credit(b.payable, 300n)]))
      const batchesBefore = kassa.store.writer.batchesCommitted
      const results = await Promise.all(spends.map((request) => post(kassa, request)))
      assert.equal(kassa.store.writer.batchesCommitted - batchesBefore, 1)
      assert.deepEqual(results, ['ok', 'ok', 'ok', 'exceeds_credits', 'exceeds_credits'])
      assert.equal(availableCredit(await balancesOf(kassa, b.wallet)), 100n)
      await assertLedgerSound(kassa)
    })
  })
}
