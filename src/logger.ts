import pino, { type Logger } from 'pino'

/** Paths whose values never reach a log line: keys, secrets, card data, personal contact data. */
export const redactedPaths = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'secret',
  '*.secret',
  'api_key',
  '*.api_key',
  '*.key_hash',
  'password',
  '*.password',
  'pan',
  '*.pan',
  '*.card_number',
  '*.phone',
  '*.email',
]

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactedPaths, censor: '[redacted]' } }, destination)
}
