import { sql, type Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

export type LedgerVerification = {
  ok: boolean
  /** Every invariant broken, most fundamental first; empty when the ledger is sound. */
  violations: string[]
  checked: { accounts: number; transfers: number; postings: number }
}

const maxViolationsListed = 100

/**
 * Checks every invariant of the journal against the database, recomputing from the postings:
 * each transfer balances per currency and has its legs; postings are in their account's currency;
 * stored balances equal the sums of the postings; no funded account is below zero; every post or
 * void names a pending transfer and posts no more than it held. `kassa ledger verify` runs this.
 */
export async function verifyLedger(db: Kysely<Database>): Promise<LedgerVerification> {
  const violations: string[] = []
  const add = (text: string) => {
    if (violations.length < maxViolationsListed) violations.push(text)
  }

  const unbalanced = await sql<{ transfer_id: string; currency: string; net: bigint }>`
    select transfer_id, currency,
      cast(sum(case when side = 'debit' then amount else -amount end) as bigint) as net
    from ledger_postings group by transfer_id, currency
    having sum(case when side = 'debit' then amount else -amount end) <> 0
    order by transfer_id`.execute(db)
  for (const row of unbalanced.rows) add(`transfer ${row.transfer_id} does not balance in ${row.currency}: debits - credits = ${row.net}`)

  const legless = await sql<{ id: string; kind: string; legs: bigint }>`
    select t.id, t.kind, cast(count(p.leg) as bigint) as legs
    from ledger_transfers t left join ledger_postings p on p.transfer_id = t.id
    group by t.id, t.kind
    having (t.kind = 'void_pending' and count(p.leg) <> 0)
        or (t.kind <> 'void_pending' and count(p.leg) < 2)
        or (t.kind = 'pending' and count(p.leg) <> 2)
    order by t.id`.execute(db)
  for (const row of legless.rows) add(`transfer ${row.id} (${row.kind}) has ${row.legs} postings`)

  const nonPositive = await sql<{ transfer_id: string; leg: bigint }>`
    select transfer_id, leg from ledger_postings where amount <= 0 order by transfer_id`.execute(db)
  for (const row of nonPositive.rows) add(`posting ${row.transfer_id}#${row.leg} has a non-positive amount`)

  const wrongCurrency = await sql<{ transfer_id: string; account_id: string }>`
    select p.transfer_id, p.account_id from ledger_postings p join ledger_accounts a on a.id = p.account_id
    where a.currency <> p.currency order by p.transfer_id`.execute(db)
  for (const row of wrongCurrency.rows) add(`transfer ${row.transfer_id} posts to ${row.account_id} in another currency`)

  const misplacedPending = await sql<{ transfer_id: string; leg: bigint }>`
    select p.transfer_id, p.leg from ledger_postings p join ledger_transfers t on t.id = p.transfer_id
    where (p.phase = 'pending') <> (t.kind = 'pending') order by p.transfer_id`.execute(db)
  for (const row of misplacedPending.rows) add(`posting ${row.transfer_id}#${row.leg} has a phase its transfer's kind does not allow`)

  const misdescribed = await sql<{ id: string; amount: bigint; debits: bigint }>`
    select t.id, t.amount, cast(coalesce(sum(p.amount), 0) as bigint) as debits
    from ledger_transfers t left join ledger_postings p on p.transfer_id = t.id and p.side = 'debit' and p.currency = t.currency
    where t.kind <> 'void_pending'
    group by t.id, t.amount
    having t.amount <> coalesce(sum(p.amount), 0)
    order by t.id`.execute(db)
  for (const row of misdescribed.rows) add(`transfer ${row.id} says ${row.amount} but its debit postings add up to ${row.debits}`)

  const strayResolutionLegs = await sql<{ id: string; account_id: string }>`
    select r.id, rp.account_id from ledger_transfers r
    join ledger_postings rp on rp.transfer_id = r.id
    where r.pending_id is not null and not exists (
      select 1 from ledger_postings hp
      where hp.transfer_id = r.pending_id and hp.account_id = rp.account_id and hp.side = rp.side and hp.currency = rp.currency)
    order by r.id`.execute(db)
  for (const row of strayResolutionLegs.rows) add(`transfer ${row.id} posts to ${row.account_id}, which the hold it resolves did not name`)

  const resolutions = await sql<{ id: string; pending_id: string; pending_kind: string | null; posted: bigint | null; held: bigint | null }>`
    select t.id, t.pending_id, pt.kind as pending_kind,
      (select cast(max(amount) as bigint) from ledger_postings where transfer_id = t.id) as posted,
      (select cast(max(amount) as bigint) from ledger_postings where transfer_id = t.pending_id) as held
    from ledger_transfers t left join ledger_transfers pt on pt.id = t.pending_id
    where t.pending_id is not null order by t.id`.execute(db)
  for (const row of resolutions.rows) {
    if (row.pending_kind !== 'pending') add(`transfer ${row.id} resolves ${row.pending_id}, which is not a pending transfer`)
    else if (row.posted !== null && row.held !== null && row.posted > row.held) {
      add(`transfer ${row.id} posts ${row.posted}, more than the ${row.held} held by ${row.pending_id}`)
    }
  }

  const recomputed = await sql<{
    id: string
    limit_rule: string
    debits_pending: bigint
    debits_posted: bigint
    credits_pending: bigint
    credits_posted: bigint
    sum_debits_pending: bigint
    sum_debits_posted: bigint
    sum_credits_pending: bigint
    sum_credits_posted: bigint
  }>`
    select a.id, a.limit_rule, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
      cast(coalesce(s.debits_pending, 0) as bigint) as sum_debits_pending,
      cast(coalesce(s.debits_posted, 0) as bigint) as sum_debits_posted,
      cast(coalesce(s.credits_pending, 0) as bigint) as sum_credits_pending,
      cast(coalesce(s.credits_posted, 0) as bigint) as sum_credits_posted
    from ledger_accounts a left join (
      select p.account_id,
        sum(case when p.phase = 'pending' and p.side = 'debit' and r.id is null then p.amount else 0 end) as debits_pending,
        sum(case when p.phase = 'posted' and p.side = 'debit' then p.amount else 0 end) as debits_posted,
        sum(case when p.phase = 'pending' and p.side = 'credit' and r.id is null then p.amount else 0 end) as credits_pending,
        sum(case when p.phase = 'posted' and p.side = 'credit' then p.amount else 0 end) as credits_posted
      from ledger_postings p left join ledger_transfers r on r.pending_id = p.transfer_id
      group by p.account_id
    ) s on s.account_id = a.id
    order by a.id`.execute(db)
  for (const row of recomputed.rows) {
    for (const column of ['debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'] as const) {
      const stored = BigInt(row[column])
      const summed = BigInt(row[`sum_${column}`])
      if (stored !== summed) add(`account ${row.id}: stored ${column} ${stored} differs from the journal's ${summed}`)
    }
    const debits = BigInt(row.debits_pending) + BigInt(row.debits_posted)
    const credits = BigInt(row.credits_pending) + BigInt(row.credits_posted)
    if (row.limit_rule === 'debits_must_not_exceed_credits' && debits > BigInt(row.credits_posted)) {
      add(`account ${row.id} is below zero: debits ${debits} exceed posted credits ${row.credits_posted}`)
    }
    if (row.limit_rule === 'credits_must_not_exceed_debits' && credits > BigInt(row.debits_posted)) {
      add(`account ${row.id} is below zero: credits ${credits} exceed posted debits ${row.debits_posted}`)
    }
  }

  const counts = await sql<{ transfers: bigint; postings: bigint }>`
    select (select cast(count(*) as bigint) from ledger_transfers) as transfers,
           (select cast(count(*) as bigint) from ledger_postings) as postings`.execute(db)
  const count = counts.rows[0]
  return {
    ok: violations.length === 0,
    violations,
    checked: {
      accounts: recomputed.rows.length,
      transfers: Number(count?.transfers ?? 0n),
      postings: Number(count?.postings ?? 0n),
    },
  }
}
