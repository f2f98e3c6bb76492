import type { Kysely } from 'kysely'
import { recordAudit, type Actor } from '../audit/log.js'
import type { CurrencyCode } from '../domain/currency.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { AMOUNT_MINOR_MAX } from '../domain/money.js'
import { accountId } from '../ledger/accounts.js'
import { ensureAccount, postTransfer, readBalances } from '../ledger/journal.js'
import { availableCredit } from '../ledger/transfer.js'
import type { Database, ShopperRow } from '../store/schema.js'
import type { Tx } from '../store/writer.js'

export type NewShopper = {
  external_reference: string | null
  name: string | null
  email: string | null
  phone: string | null
}

/** Phones are shown masked everywhere but the shopper's own record: 138****5678. */
export function maskPhone(phone: string | null): string | null {
  if (phone === null) return null
  const digits = phone.replace(/\s+/g, '')
  if (digits.length <= 4) return '*'.repeat(digits.length)
  return `${digits.slice(0, 3)}${'*'.repeat(Math.max(digits.length - 7, 1))}${digits.slice(-4)}`
}

export function shopperView(row: ShopperRow, balances: { currency: string; available: bigint; held: bigint }[] = []) {
  return {
    id: row.id,
    object: 'shopper' as const,
    external_reference: row.external_reference,
    name: row.name,
    email: row.email,
    phone: maskPhone(row.phone),
    balances,
    created_at: new Date(Number(row.created_at)).toISOString(),
  }
}

export async function createShopper(tx: Tx, actor: Actor, input: NewShopper, nowMs: number) {
  if (input.external_reference !== null) {
    const [existing] = await tx.execute(tx.builder.selectFrom('shoppers').select('id').where('external_reference', '=', input.external_reference))
    if (existing !== undefined) {
      throw new KassaError('parameter_invalid', { param: 'external_reference', message: `A shopper with this external_reference exists: ${existing.id}` })
    }
  }
  const row: ShopperRow = { id: newId('shopper', nowMs), ...input, created_at: BigInt(nowMs) }
  await tx.execute(tx.builder.insertInto('shoppers').values(row))
  await recordAudit(tx, actor, 'shopper.create', { id: row.id, merchant_id: null }, {}, nowMs)
  return shopperView(row)
}

export async function shopperBalances(db: Kysely<Database>, shopperId: string) {
  const rows = await db
    .selectFrom('ledger_accounts')
    .select(['currency', 'debits_pending', 'debits_posted', 'credits_pending', 'credits_posted'])
    .where('owner_id', '=', shopperId)
    .where('code', '=', 'shopper_balance')
    .orderBy('currency')
    .execute()
  return rows.map((row) => ({ currency: row.currency, available: availableCredit(row), held: row.debits_pending }))
}

/**
 * Adds money to a shopper's wallet: the shop received it at its bank (platform_bank, an asset) and
 * now owes it to the shopper (shopper_balance, a liability). One balanced transfer.
 */
export async function topUp(
  tx: Tx,
  actor: Actor,
  input: { shopper_id: string; amount: bigint; currency: CurrencyCode; reference: string | null; top_up_id: string; transfer_id: string },
  nowMs: number,
) {
  const [shopper] = await tx.execute(tx.builder.selectFrom('shoppers').select('id').where('id', '=', input.shopper_id))
  if (shopper === undefined) throw new KassaError('resource_missing', { param: 'shopper', message: `No such shopper: ${input.shopper_id}` })
  const balance = { code: 'shopper_balance', owner_id: input.shopper_id, currency: input.currency } as const
  const bank = { code: 'platform_bank', owner_id: undefined, currency: input.currency } as const
  await ensureAccount(tx, balance, nowMs)
  await ensureAccount(tx, bank, nowMs)
  // A wallet never holds more than one payment's largest amount, so what it shows stays a JSON number.
  const held = await readBalances(tx, accountId(balance))
  const holding = (held?.credits_posted ?? 0n) - (held?.debits_posted ?? 0n)
  if (holding + input.amount > AMOUNT_MINOR_MAX) {
    throw new KassaError('wallet_limit_exceeded', { param: 'amount', message: `The wallet holds ${holding}; it can take at most ${AMOUNT_MINOR_MAX - holding} more.` })
  }
  const result = await postTransfer(
    tx,
    {
      id: input.transfer_id,
      kind: 'single_phase',
      code: 'top_up',
      reference_id: input.top_up_id,
      merchant_id: undefined,
      postings: [
        { account_id: accountId(bank), side: 'debit', amount: input.amount, currency: input.currency },
        { account_id: accountId(balance), side: 'credit', amount: input.amount, currency: input.currency },
      ],
    },
    nowMs,
  )
  if (result !== 'ok') throw new Error(`top-up transfer failed: ${result}`)
  await tx.execute(
    tx.builder.insertInto('top_ups').values({
      id: input.top_up_id,
      shopper_id: input.shopper_id,
      amount: input.amount,
      currency: input.currency,
      reference: input.reference,
      transfer_id: input.transfer_id,
      created_by: actor.id,
      created_at: nowMs,
    }),
  )
  await recordAudit(tx, actor, 'shopper.top_up', { id: input.shopper_id, merchant_id: null }, { amount: input.amount.toString(), currency: input.currency, top_up: input.top_up_id }, nowMs)
  return {
    id: input.top_up_id,
    object: 'top_up' as const,
    shopper: input.shopper_id,
    amount: input.amount,
    currency: input.currency,
    reference: input.reference,
    created_at: new Date(nowMs).toISOString(),
  }
}
