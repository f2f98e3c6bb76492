/** The card scheme simulator: issuers with balances, test cards, tokens, faults, settlement files. */
export { atcMax, cryptogramsEqual, iccValues, pinBlockFormat0, tokenCryptogram, tokenIccData, type TokenCryptogramInput } from './card-security.js'
export { decisionReasons, SchemeCore, utcDate, type AccountView, type DecisionReason, type DecisionRecord, type SchemeCoreOptions, type SchemeDecision } from './scheme.js'
export {
  faultDelayMsMax,
  settlementDateOf,
  startSchemeSimulator,
  type FaultAction,
  type FaultRule,
  type SchemeLogEntry,
  type SchemeSimulator,
  type SchemeSimulatorOptions,
  type SchemeSimulatorStats,
  type SimulatedIssuers,
} from './server.js'
export { parseSettlementFile, renderSettlementFile, settlementFileName, type Posting, type PostingDirection, type PostingType, type SettlementFile } from './settlement.js'
export {
  testCardLuhnInvalid,
  testCardNotOnFile,
  testCards,
  testIssuers,
  testPurchase,
  testTokenNotOnFile,
  testTokens,
  tokenBin,
  type CardBehaviour,
  type IssuerId,
  type TestCard,
  type TestCardName,
  type TestIssuer,
  type TestToken,
} from './test-cards.js'
