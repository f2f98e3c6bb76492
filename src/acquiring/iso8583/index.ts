/** ISO 8583:1987 messages: specification as data, bitmaps, the codec, message and card helpers. */
export { bitmapOf, fieldNumbersIn, hasSecondaryBitmap } from './bitmap.js'
export {
  decodeMessage,
  encodeMessage,
  type Iso8583CodecOptions,
  type Iso8583Fields,
  type Iso8583Message,
} from './codec.js'
export { encodingNames, encodings, isEncodingName, type Iso8583Encoding, type Iso8583EncodingName } from './encodings.js'
export { fieldLabel, Iso8583Error, type Iso8583ErrorCode, type Iso8583Result } from './errors.js'
export {
  describeResponseCode,
  isMessageTypeUsed,
  messageTypesUsed,
  parseMti,
  responseCodes,
  responseMtiFor,
  type MessageClass,
  type MessageFunction,
  type MessageOrigin,
  type MessageTypeUsed,
  type MtiParts,
  type ResponseCode,
  type ResponseCodeEntry,
  type ResponseOutcome,
} from './messages.js'
export { luhnCheckDigit, luhnValid, maskPan, maskTrack2 } from './pan.js'
export {
  defineMessageSpec,
  fieldNotation,
  fixed,
  iso8583Spec1987,
  lllvar,
  llvar,
  type FieldSpec,
  type FieldType,
  type LengthKind,
  type MessageSpec,
} from './spec.js'
