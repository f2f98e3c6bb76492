/** The bank simulator: online banking gateway and quick pay, with test holders, faults and notifications. */
export { bankIds, bankTestAccounts, testBanks, type BankHolder, type BankId, type BankMerchant, type TestBank } from './accounts.js'
export * from './protocol.js'
export { bankSupportedCurrencies, startBankSimulator, type BankLogEntry, type BankSimulator, type BankSimulatorOptions, type HolderView } from './server.js'
export type { FaultAction, FaultRule, Forgery, NotifiedStatus, Operation } from '../common/faults.js'
export type { DeliveryOutcome, DeliveryRecord, NotifierOptions } from '../common/notifier.js'
export type { Order, OrderStatus, Refund } from '../common/book.js'
