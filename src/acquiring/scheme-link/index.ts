/** Kassa's TCP link to the card scheme: framing, STAN/RRN, matching, timeouts, reversals, EMV TLV. */
export { decodeTlv, encodeTlv, tlvValue, type TlvDecodeResult, type TlvItem } from './emv-tlv.js'
export {
  encodeFrame,
  FrameDecoder,
  frameHeaderLength,
  frameLengthLimit,
  frameLengthMaxDefault,
  readFrames,
  writeFrame,
  type FrameDecodeResult,
  type FrameSink,
  type FrameSource,
  type FramingError,
  type FramingErrorCode,
  type FramingOptions,
} from './framing.js'
export {
  linkTransitions,
  openSchemeLink,
  requestTimeoutMsMax,
  reversalAttemptsMax,
  type LinkLogger,
  type LinkState,
  type LinkStats,
  type ReversalResult,
  type SchemeLink,
  type SchemeLinkOptions,
  type SendResult,
} from './link.js'
export {
  formatStan,
  originalDataElements,
  parseOriginalDataElements,
  retrievalReferenceNumber,
  StanSequence,
  stanMax,
  stanMin,
  transmissionDateTime,
  type OriginalDataElements,
} from './trace.js'
