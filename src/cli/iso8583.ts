/**
 * `kassa iso8583 decode|encode`: look at and build ISO 8583 messages from a shell.
 *
 *   kassa iso8583 decode [--encoding ascii|binary|ascii-binary-bitmap] [--show-pan] <hex>
 *     → {"mti":"0200","fields":{"2":"621234******1234","3":"000000",…}}
 *   echo '{"mti":"0800","fields":{"70":"301"}}' | kassa iso8583 encode [--encoding …]
 *     → upper-case hex of the message bytes
 *
 * A malformed message prints one line naming the field on stderr and sets exit code 1. Card data
 * (fields 2, 34, 35, 36, 45) is masked on output unless --show-pan is given.
 */
import { Option, type Command } from 'commander'
import {
  decodeMessage,
  encodeMessage,
  type Iso8583Fields,
  type Iso8583Message,
} from '../acquiring/iso8583/codec.js'
import { encodingNames, type Iso8583EncodingName } from '../acquiring/iso8583/encodings.js'
import { maskPan, maskTrack2 } from '../acquiring/iso8583/pan.js'

/** Where the commands read and write; the process by default, a recorder in tests. */
export type Iso8583CliIo = {
  writeOut(text: string): void
  writeErr(text: string): void
  readStdin(): Promise<string>
  setExitCode(code: number): void
}

// A whole message is at most ~250 KB (127 LLLVAR fields of 999 characters) even as hex; anything
// larger on stdin is a mistake, not a message.
const stdinByteLengthMax = 1024 * 1024
const exitCodeMalformed = 1

export const processIo: Iso8583CliIo = {
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
  readStdin: () => readAll(process.stdin, stdinByteLengthMax),
  setExitCode: (code) => {
    process.exitCode = code
  },
}

type EncodingOption = { encoding: Iso8583EncodingName }

/**
 * Adds `iso8583 decode` and `iso8583 encode` to a commander program.
 *
 * @example
 * const program = new Command('kassa')
 * registerIso8583Commands(program)
 * await program.parseAsync()
 */
export function registerIso8583Commands(program: Command, io: Iso8583CliIo = processIo): void {
  const iso8583 = program.command('iso8583').description('decode and encode ISO 8583:1987 messages')

  iso8583
    .command('decode')
    .description('decode the hex of one message (no length header) to JSON')
    .addOption(encodingOption())
    .option('--show-pan', 'print card numbers and track data in clear', false)
    .argument('<hex>', 'the message bytes as hex')
    .action((hex: string, options: EncodingOption & { showPan: boolean }) => {
      const bytes = bytesOfHex(hex)
      if (bytes === undefined) return fail(io, 'input: the message must be hex, two characters per byte')
      const result = decodeMessage(bytes, { encoding: options.encoding })
      if (!result.ok) return fail(io, result.error.message)
      const message = options.showPan ? result.value : withCardDataMasked(result.value)
      io.writeOut(`${JSON.stringify({ mti: message.mti, fields: message.fields })}\n`)
    })

  iso8583
    .command('encode')
    .description('encode {"mti": "0200", "fields": {"3": "000000", …}} read from stdin; prints hex')
    .addOption(encodingOption())
    .action(async (options: EncodingOption) => {
      let input: string
      try {
        input = await io.readStdin()
      } catch (error) {
        return fail(io, `input: ${error instanceof Error ? error.message : String(error)}`)
      }
      const parsed = messageOfJson(input)
      if (typeof parsed === 'string') return fail(io, parsed)
      const result = encodeMessage(parsed, { encoding: options.encoding })
      if (!result.ok) return fail(io, result.error.message)
      io.writeOut(`${result.value.toString('hex').toUpperCase()}\n`)
    })
}

function encodingOption(): Option {
  return new Option('--encoding <encoding>', 'how the message is encoded').choices(encodingNames).default('ascii')
}

function fail(io: Iso8583CliIo, line: string): void {
  io.writeErr(`${line}\n`)
  io.setExitCode(exitCodeMalformed)
}

/** Whitespace is allowed between bytes, so dumps can be pasted as they are. */
function bytesOfHex(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '')
  if (compact.length === 0 || compact.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(compact)) return undefined
  return Buffer.from(compact, 'hex')
}

const panFields = [2, 34] as const
const trackTwoField = 35
const fieldsMaskedWhole = [36, 45] as const // track 3 and track 1: PAN, name and more, in layouts we do not parse

function withCardDataMasked(message: Iso8583Message): Iso8583Message {
  const fields: Record<number, string> = { ...message.fields }
  for (const fieldNumber of panFields) {
    const value = fields[fieldNumber]
    if (value !== undefined) fields[fieldNumber] = maskPan(value)
  }
  const trackTwo = fields[trackTwoField]
  if (trackTwo !== undefined) fields[trackTwoField] = maskTrack2(trackTwo)
  for (const fieldNumber of fieldsMaskedWhole) {
    const value = fields[fieldNumber]
    if (value !== undefined) fields[fieldNumber] = '*'.repeat(value.length)
  }
  return { mti: message.mti, fields }
}

const expectedShape = '{"mti": "0200", "fields": {"3": "000000", …}}'

/** The message in the decode output's shape, or one line saying what is wrong with the input. */
function messageOfJson(input: string): Iso8583Message | string {
  let parsed: unknown
  try {
    parsed = JSON.parse(input)
  } catch (error) {
    return `input: not JSON (${error instanceof Error ? error.message : String(error)})`
  }
  if (!isPlainObject(parsed) || typeof parsed['mti'] !== 'string' || !isPlainObject(parsed['fields'])) {
    return `input: expected ${expectedShape}`
  }
  const unexpectedKey = Object.keys(parsed).find((key) => key !== 'mti' && key !== 'fields')
  if (unexpectedKey !== undefined) return `input: unexpected key ${JSON.stringify(unexpectedKey)}; expected ${expectedShape}`
  const fields: Record<number, string> = {}
  for (const [key, value] of Object.entries(parsed['fields'])) {
    if (!/^(0|[1-9][0-9]*)$/.test(key)) return `input: field key ${JSON.stringify(key)} is not a field number`
    if (typeof value !== 'string') return `field ${key}: the value must be a string`
    fields[Number(key)] = value
  }
  return { mti: parsed['mti'], fields: fields satisfies Iso8583Fields }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

async function readAll(stream: NodeJS.ReadableStream, byteLengthMax: number): Promise<string> {
  const chunks: Buffer[] = []
  let byteLength = 0
  for await (const chunk of stream) {
    const buffer: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    byteLength += buffer.length
    if (byteLength > byteLengthMax) throw new Error(`more than ${byteLengthMax} bytes on stdin`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
