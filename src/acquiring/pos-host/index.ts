/** The POS terminal host: terminals, the MAC, the terminal protocol, reversals, and the TCP server. */
export { startPosHost, type PosAcquirer, type PosHost, type PosHostLogger, type PosHostOptions, type PosHostStats } from './host.js'
export { computeMac, encodeWithMac, macFieldFor, macKeyFromHex, verifyMac, type MacProblem } from './mac.js'
export {
  answerTo,
  baseMti,
  echoedFields,
  hostResponseCodes,
  parseTerminalRequest,
  responseMeaning,
  salvageMessage,
  type HostResponseCode,
  type OriginalReference,
  type PresentedCard,
  type TerminalRequest,
} from './protocol.js'
export { cardReverser, type CardReversalOutcome, type CardReverser, type CardReverserOptions } from './reversal.js'
export { registerTerminal, setTerminalStatus, TerminalDirectory, terminalIdPattern, type KnownTerminal, type RegisteredTerminal } from './terminals.js'
