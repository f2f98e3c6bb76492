import { resolve } from 'node:path'
import type { Command } from 'commander'
import QRCode from 'qrcode'
import { decodeQr, encodeCpm, encodeMpm, type CpmFields, type MpmFields, type QrIssue } from '../qr/index.js'

/** Where the commands read and write; the process by default, a capture in tests. */
export type QrCliIo = {
  writeOut(text: string): void
  writeErr(text: string): void
  readStdin(): Promise<string>
  setExitCode(code: number): void
}

/** Fields JSON for one QR code is a few hundred bytes; a megabyte is a mistake, not a payload. */
const STDIN_BYTES_MAX = 1024 * 1024

export const processIo: QrCliIo = {
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
  readStdin: () => readAll(process.stdin, STDIN_BYTES_MAX),
  setExitCode: (code) => {
    process.exitCode = code
  },
}

/**
 * Adds `qr decode`, `qr encode` and `qr png` to the program. Actions are async: run the program
 * with `parseAsync`.
 *
 * @example
 * const program = new Command('kassa')
 * registerQrCommands(program)
 * await program.parseAsync(process.argv)
 * // kassa qr decode 000201…6304ABCD   → {"valid":true,"mode":"mpm",…}
 * // echo '{"00":"01",…}' | kassa qr encode → 000201…
 * // kassa qr png 000201…6304ABCD parcel.png → /abs/path/parcel.png
 */
export function registerQrCommands(program: Command, io: QrCliIo = processIo): void {
  const qr = program.command('qr').description('EMVCo QR codes: decode, encode and draw payloads')

  qr.command('decode')
    .description('decode an MPM or CPM payload; prints the result as one line of JSON, exit code 1 unless valid')
    .argument('<payload>', 'the text read from the QR code')
    .option('--strict', 'treat breaches of the data-object rules as errors, not warnings')
    .action((payload: string, options: { strict?: boolean }) => {
      const result = decodeQr(payload, { strict: options.strict === true })
      io.writeOut(`${JSON.stringify(result)}\n`)
      if (!result.valid) io.setExitCode(1)
    })

  qr.command('encode')
    .description('read fields JSON ({"00":"01","26":{"00":…},…}; CPM when it has "85") from stdin and print the payload')
    .option('--strict', 'refuse breaches of the data-object rules too')
    .action(async (options: { strict?: boolean }) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(await io.readStdin())
      } catch (error) {
        fail(io, `qr encode: stdin is not fields JSON: ${error instanceof Error ? error.message : String(error)}`)
        return
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        fail(io, 'qr encode: stdin is not a JSON object of data object IDs')
        return
      }
      const strict = options.strict === true
      const result = '85' in parsed ? encodeCpm(parsed as CpmFields, { strict }) : encodeMpm(parsed as MpmFields, { strict })
      if (!result.ok) {
        fail(io, `qr encode: ${describe(result.errors)}`)
        return
      }
      io.writeOut(`${result.payload}\n`)
    })

  qr.command('png')
    .description('draw a valid payload as a PNG QR code (error correction M); prints the file path')
    .argument('<payload>', 'the payload to draw')
    .argument('<out>', 'the PNG file to write')
    .action(async (payload: string, out: string) => {
      const decoded = decodeQr(payload)
      if (!decoded.valid) {
        fail(io, `qr png: the payload is not valid: ${describe(decoded.errors)}`)
        return
      }
      const path = resolve(out)
      try {
        await QRCode.toFile(path, payload, { type: 'png', errorCorrectionLevel: 'M' })
      } catch (error) {
        fail(io, `qr png: cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`)
        return
      }
      io.writeOut(`${path}\n`)
    })
}

function fail(io: QrCliIo, line: string): void {
  io.writeErr(`${line.replace(/\s*\n\s*/g, ' ')}\n`)
  io.setExitCode(1)
}

function describe(issues: readonly QrIssue[]): string {
  return issues.map((found) => `${found.id} ${found.code}: ${found.message}`).join('; ')
}

async function readAll(stream: NodeJS.ReadableStream, bytesMax: number): Promise<string> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    total += buffer.length
    if (total > bytesMax) throw new Error(`more than ${bytesMax} bytes`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
