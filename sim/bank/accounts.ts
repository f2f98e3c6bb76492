/**
 * The simulated banks, their demo merchant and their test account holders, as data.
 * `docs/simulators.md` prints the same tables (`test/sim/docs.test.ts` checks they agree);
 * `sim/bank/protocol.test.ts` checks that every account number is Luhn-valid and starts with its
 * bank's prefix.
 */
import type { CurrencyCode } from '../../src/domain/currency.js'
import { luhnCheckDigit } from '../common/mask.js'

export type BankId = 'icbc-sim' | 'cmb-sim'

export type BankMerchant = {
  readonly merchant_id: string
  /** The shared key both sides sign with (HMAC-SHA256, the key's UTF-8 bytes). */
  readonly key: string
  /** Where notifications go when an order names no `notify_url`. */
  readonly notify_url?: string
}

export type TestBank = {
  readonly id: BankId
  readonly name: string
  /** Two to four letters starting every `bank_order_id`. */
  readonly code: string
  /** The first six digits of its account numbers. */
  readonly account_prefix: string
  /** The page header colour. */
  readonly accent: string
  /** The merchant registered when the simulator is given none: Kassa's demo merchant at this bank. */
  readonly demo_merchant: BankMerchant
}

export const testBanks = {
  'icbc-sim': {
    id: 'icbc-sim',
    name: 'ICBC Simulated Bank',
    code: 'ICBC',
    account_prefix: '622202',
    accent: '#c7000b',
    demo_merchant: { merchant_id: '102100000001', key: 'icbc-sim-demo-key-0f6a2c4e8b' },
  },
  'cmb-sim': {
    id: 'cmb-sim',
    name: 'CMB Simulated Bank',
    code: 'CMB',
    account_prefix: '622588',
    accent: '#b3001b',
    demo_merchant: { merchant_id: '308000000001', key: 'cmb-sim-demo-key-7d1e9a3b5c' },
  },
} as const satisfies Record<BankId, TestBank>

export const bankIds = Object.keys(testBanks) as BankId[]

export type BankHolder = {
  /** The online banking login. */
  readonly username: string
  readonly password: string
  readonly holder_name: string
  /** The mobile number the bank sends SMS codes to. */
  readonly phone: string
  /** 19 digits, Luhn-valid, starting with the bank's prefix. */
  readonly account_no: string
  readonly currency: CurrencyCode
  readonly balance_minor: bigint
  readonly blocked: boolean
  /** What the account is for, in the test-account table of the login page. */
  readonly note: string
}

/** The test holders of a bank: one rich, one poor, one blocked. Same logins at every bank, other numbers. */
export function bankTestAccounts(bank: TestBank): BankHolder[] {
  const accountNo = (serial: string): string => {
    const body = `${bank.account_prefix}${serial.padStart(12, '0')}`
    return `${body}${luhnCheckDigit(body)}`
  }
  return [
    { username: 'alice', password: 'alice123', holder_name: 'Alice Zhang', phone: '13800000001', account_no: accountNo('100000000001'), currency: 'CNY', balance_minor: 100_000_000n, blocked: false, note: 'enough balance: 1,000,000.00 CNY' },
    { username: 'bob', password: 'bob123', holder_name: 'Bob Li', phone: '13800000002', account_no: accountNo('100000000002'), currency: 'CNY', balance_minor: 1_000n, blocked: false, note: 'too little: 10.00 CNY' },
    { username: 'carol', password: 'carol123', holder_name: 'Carol Wang', phone: '13800000003', account_no: accountNo('100000000003'), currency: 'CNY', balance_minor: 5_000_000n, blocked: true, note: 'blocked by the bank' },
  ]
}
