/**
 * Message framing on the scheme's TCP connections: every ISO 8583 message travels after a 2-byte
 * big-endian length header that counts the message bytes (the header itself not included), the
 * most common framing for ISO 8583 over TCP (jPOS `BaseChannel` with a 2-byte binary length,
 * "NACChannel"/"PostChannel" style).
 *
 * The core (`encodeFrame`, `FrameDecoder`) is pure: bytes in, frames out. TCP delivers a byte stream,
 * not messages, so one `data` chunk can hold part of a frame, exactly one, or several; the decoder
 * keeps the unfinished tail and returns every frame that is complete. `readFrames` and `writeFrame`
 * are the tiny adapter onto a socket.
 */
import { assert } from '../../domain/assert.js'

/** Bytes of the length header. */
export const frameHeaderLength = 2
/** What a 2-byte header can announce at most. */
export const frameLengthLimit = 0xffff
/**
 * The default maximum message length. An ISO 8583:1987 message in the `ascii` encoding with the fields
 * Kassa sends is a few hundred bytes; 8 KiB leaves room for private fields and EMV data while making a
 * corrupt or hostile header (announcing up to 64 KiB) fail at once instead of stalling the connection.
 */
export const frameLengthMaxDefault = 8192

export type FramingErrorCode =
  /** A header announces more bytes than the configured maximum, or a message is too long to send. */
  | 'frame_too_long'
  /** A header announces zero bytes, or an empty message is given to send: no ISO 8583 message is empty. */
  | 'frame_empty'

export type FramingError = { readonly code: FramingErrorCode; readonly message: string }

export type FramingOptions = {
  /** The longest message accepted or sent, in bytes (1 to 65535). Defaults to `frameLengthMaxDefault`. */
  readonly frameLengthMax?: number
}

function frameLengthMaxOf(options: FramingOptions): number {
  const frameLengthMax = options.frameLengthMax ?? frameLengthMaxDefault
  assert(Number.isSafeInteger(frameLengthMax) && frameLengthMax >= 1 && frameLengthMax <= frameLengthLimit, `frameLengthMax must be 1 to ${frameLengthLimit}`)
  return frameLengthMax
}

/**
 * The message with its 2-byte big-endian length header, or an error when it is empty or longer than
 * the maximum.
 *
 * @example
 * encodeFrame(Buffer.from('0800'))  // { ok: true, value: <00 04 30 38 30 30> }
 */
export function encodeFrame(
  payload: Uint8Array,
  options: FramingOptions = {},
): { readonly ok: true; readonly value: Buffer } | { readonly ok: false; readonly error: FramingError } {
  const frameLengthMax = frameLengthMaxOf(options)
  if (payload.length === 0) return { ok: false, error: { code: 'frame_empty', message: 'frame: an empty message cannot be sent' } }
  if (payload.length > frameLengthMax) {
    return { ok: false, error: { code: 'frame_too_long', message: `frame: ${payload.length} bytes, more than the maximum ${frameLengthMax}` } }
  }
  const frame = Buffer.allocUnsafe(frameHeaderLength + payload.length)
  frame.writeUInt16BE(payload.length, 0)
  frame.set(payload, frameHeaderLength)
  return { ok: true, value: frame }
}

export type FrameDecodeResult = {
  /** Every frame completed by this chunk, in order, without headers. */
  readonly frames: Buffer[]
  /**
   * Set when the stream is broken (a header over the maximum, or zero). A byte stream cannot be
   * re-synchronised after a bad header, so the decoder stops: later pushes return no frames and the
   * same error, and the caller closes the connection.
   */
  readonly error?: FramingError
}

/**
 * Turns a byte stream into frames. Holds at most one unfinished frame (header + `frameLengthMax` bytes),
 * so a peer cannot make it buffer without bound.
 *
 * @example
 * const decoder = new FrameDecoder()
 * decoder.push(Buffer.from([0x00, 0x04, 0x30]))       // { frames: [] }
 * decoder.push(Buffer.from('800\x00\x01X', 'latin1')) // { frames: [<'0800'>, <'X'>] }
 */
export class FrameDecoder {
  private readonly frameLengthMax: number
  private pending: Buffer = Buffer.alloc(0)
  private failure: FramingError | undefined

  constructor(options: FramingOptions = {}) {
    this.frameLengthMax = frameLengthMaxOf(options)
  }

  push(chunk: Uint8Array): FrameDecodeResult {
    if (this.failure !== undefined) return { frames: [], error: this.failure }
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let buffer = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes])
    const frames: Buffer[] = []
    // Each turn consumes one whole frame, so the loop runs at most buffer.length / 3 times.
    while (buffer.length >= frameHeaderLength) {
      const length = buffer.readUInt16BE(0)
      if (length === 0) return this.fail(frames, { code: 'frame_empty', message: 'frame: the length header announces 0 bytes' })
      if (length > this.frameLengthMax) {
        return this.fail(frames, { code: 'frame_too_long', message: `frame: the length header announces ${length} bytes, more than the maximum ${this.frameLengthMax}` })
      }
      if (buffer.length < frameHeaderLength + length) break
      // A copy, so a frame handed out does not pin the whole chunk nor change if the caller's chunk does.
      frames.push(Buffer.from(buffer.subarray(frameHeaderLength, frameHeaderLength + length)))
      buffer = buffer.subarray(frameHeaderLength + length)
    }
    this.pending = Buffer.from(buffer)
    assert(this.pending.length <= frameHeaderLength + this.frameLengthMax, 'the frame decoder holds more than one frame')
    return { frames }
  }

  /** Bytes received that do not yet make a whole frame. */
  get bufferedLength(): number {
    return this.pending.length
  }

  private fail(frames: Buffer[], error: FramingError): FrameDecodeResult {
    this.failure = error
    this.pending = Buffer.alloc(0)
    return { frames, error }
  }
}

/** What `readFrames` needs of a socket: its `data` events. */
export type FrameSource = { on(event: 'data', listener: (chunk: Buffer) => void): unknown }
/** What `writeFrame` needs of a socket. */
export type FrameSink = { write(data: Uint8Array): boolean }

/**
 * Calls `onFrame` for every whole frame arriving on `source`, and `onError` once if the stream breaks
 * (the caller then closes the connection; nothing more is read).
 *
 * @example
 * readFrames(socket, { onFrame: (frame) => handle(frame), onError: (error) => socket.destroy(new Error(error.message)) })
 */
export function readFrames(
  source: FrameSource,
  handlers: FramingOptions & { readonly onFrame: (frame: Buffer) => void; readonly onError: (error: FramingError) => void },
): FrameDecoder {
  const decoder = new FrameDecoder(handlers)
  let failed = false
  source.on('data', (chunk: Buffer) => {
    if (failed) return
    const result = decoder.push(chunk)
    for (const frame of result.frames) handlers.onFrame(frame)
    if (result.error !== undefined) {
      failed = true
      handlers.onError(result.error)
    }
  })
  return decoder
}

/**
 * Frames `payload` and writes it to `sink`. Returns the framing error instead of writing when the
 * message is empty or too long.
 */
export function writeFrame(sink: FrameSink, payload: Uint8Array, options: FramingOptions = {}): FramingError | undefined {
  const frame = encodeFrame(payload, options)
  if (!frame.ok) return frame.error
  sink.write(frame.value)
  return undefined
}
