import type { CurrencyCode } from '../domain/currency.js'

export type AccountType = 'asset' | 'liability' | 'equity' | 'revenue' | 'expense'
export type LimitRule = 'none' | 'debits_must_not_exceed_credits' | 'credits_must_not_exceed_debits'
export type OwnerKind = 'platform' | 'merchant' | 'shopper' | 'courier' | 'station' | 'counterpart'

/**
 * The chart of accounts (docs/ledger.md explains each one and the postings that touch it).
 * One account per owner and currency; a funded account (limit rule) can never go below zero.
 */
export const chartOfAccounts = {
  /** Money the payment company holds at its bank: wallet top-ups arrive here. */
  platform_bank: { type: 'asset', limit: 'none', owner: 'platform' },
  /** What the shop owes a shopper: the wallet balance. Never negative. */
  shopper_balance: { type: 'liability', limit: 'debits_must_not_exceed_credits', owner: 'shopper' },
  /** What Kassa owes a merchant for its payments, net of fees and refunds, until payout. */
  merchant_payable: { type: 'liability', limit: 'none', owner: 'merchant' },
  /** The merchant discount (MDR) Kassa earns on each capture. */
  fee_revenue: { type: 'revenue', limit: 'none', owner: 'platform' },
  /** What the card scheme owes Kassa for approved card payments, until the scheme settles. */
  scheme_receivable: { type: 'asset', limit: 'none', owner: 'platform' },
  /** What a bank or wallet provider owes Kassa for payments it collected (owner: the channel id), until it settles. */
  provider_receivable: { type: 'asset', limit: 'none', owner: 'counterpart' },
  /**
   * Money a counterpart collected for a payment that had already ended another way (canceled, paid
   * by another attempt): owed back to the payer until the refund through the counterpart succeeds.
   */
  unapplied_funds: { type: 'liability', limit: 'none', owner: 'counterpart' },
  /** Cash a courier collected at doors and has not yet handed in. */
  courier_cash: { type: 'asset', limit: 'none', owner: 'courier' },
  /** Cash counted in at a station, waiting to be banked. */
  station_cash: { type: 'asset', limit: 'none', owner: 'station' },
  /** Differences between the cash a courier owed and the cash counted: shortage debits, overage credits. */
  cash_over_short: { type: 'expense', limit: 'none', owner: 'platform' },
} as const satisfies Record<string, { type: AccountType; limit: LimitRule; owner: OwnerKind }>

export type AccountCode = keyof typeof chartOfAccounts

/** A reference to an account by what it is; its id follows from it, so no lookup is needed. */
export type AccountRef = {
  readonly code: AccountCode
  /** Merchant or shopper id; undefined for platform accounts. */
  readonly owner_id: string | undefined
  readonly currency: CurrencyCode
}

/**
 * Ledger account ids are natural keys, e.g. `acc_merchant_payable_mch_…_CNY`,
 * `acc_fee_revenue_platform_CNY`: readable in a posting, and found without a query.
 */
export function accountId(ref: AccountRef): string {
  return `acc_${ref.code}_${ref.owner_id ?? 'platform'}_${ref.currency}`
}

export function isDebitNormal(type: AccountType): boolean {
  return type === 'asset' || type === 'expense'
}
