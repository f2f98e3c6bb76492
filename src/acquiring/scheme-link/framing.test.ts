import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../../domain/assert.js'
import { encodeFrame, FrameDecoder, frameLengthMaxDefault, readFrames, writeFrame } from './framing.js'

const frameOf = (text: string): Buffer => {
  const result = encodeFrame(Buffer.from(text, 'latin1'))
  assert.ok(result.ok)
  return result.value
}

describe('encodeFrame', () => {
  it('puts a 2-byte big-endian length before the message', () => {
    assert.deepEqual([...frameOf('0800')], [0x00, 0x04, 0x30, 0x38, 0x30, 0x30])
    const long = encodeFrame(Buffer.alloc(300, 0x41))
    assert.ok(long.ok)
    assert.deepEqual([...long.value.subarray(0, 2)], [0x01, 0x2c])
    assert.equal(long.value.length, 302)
  })

  it('refuses an empty message and one over the maximum, naming the error', () => {
    assert.deepEqual(encodeFrame(Buffer.alloc(0)), { ok: false, error: { code: 'frame_empty', message: 'frame: an empty message cannot be sent' } })
    const tooLong = encodeFrame(Buffer.alloc(11), { frameLengthMax: 10 })
    assert.equal(tooLong.ok, false)
    assert.equal(!tooLong.ok && tooLong.error.code, 'frame_too_long')
    assert.equal(!tooLong.ok && tooLong.error.message, 'frame: 11 bytes, more than the maximum 10')
    assert.equal(encodeFrame(Buffer.alloc(frameLengthMaxDefault)).ok, true)
    assert.equal(encodeFrame(Buffer.alloc(frameLengthMaxDefault + 1)).ok, false)
  })

  it('asserts a maximum the 2-byte header can carry', () => {
    assert.throws(() => encodeFrame(Buffer.from('x'), { frameLengthMax: 0x10000 }), AssertionError)
    assert.throws(() => new FrameDecoder({ frameLengthMax: 0 }), AssertionError)
  })
})

describe('FrameDecoder', () => {
  it('returns nothing until a frame is complete, then the frame', () => {
    const decoder = new FrameDecoder()
    assert.deepEqual(decoder.push(Buffer.from([0x00])), { frames: [] })
    assert.deepEqual(decoder.push(Buffer.from([0x04, 0x30, 0x38])), { frames: [] })
    assert.equal(decoder.bufferedLength, 4)
    const result = decoder.push(Buffer.from('00', 'latin1'))
    assert.deepEqual(result.frames.map((frame) => frame.toString('latin1')), ['0800'])
    assert.equal(decoder.bufferedLength, 0)
  })

  it('returns every frame of a chunk that holds several, keeping the unfinished tail', () => {
    const decoder = new FrameDecoder()
    const chunk = Buffer.concat([frameOf('0800'), frameOf('0810A'), frameOf('X'), frameOf('0200').subarray(0, 3)])
    assert.deepEqual(decoder.push(chunk).frames.map((frame) => frame.toString('latin1')), ['0800', '0810A', 'X'])
    assert.deepEqual(decoder.push(Buffer.from('200', 'latin1')).frames.map((frame) => frame.toString('latin1')), ['0200'])
  })

  it('refuses a header over the maximum, and stays failed', () => {
    const decoder = new FrameDecoder({ frameLengthMax: 100 })
    const result = decoder.push(Buffer.concat([frameOf('ok'), Buffer.from([0x00, 0x65, 0x41])]))
    assert.deepEqual(result.frames.map((frame) => frame.toString('latin1')), ['ok'])
    assert.deepEqual(result.error, { code: 'frame_too_long', message: 'frame: the length header announces 101 bytes, more than the maximum 100' })
    assert.deepEqual(decoder.push(frameOf('later')), { frames: [], error: result.error })
  })

  it('refuses a zero-length header', () => {
    const decoder = new FrameDecoder()
    assert.equal(decoder.push(Buffer.from([0x00, 0x00, 0x00, 0x01, 0x41])).error?.code, 'frame_empty')
  })

  it('recovers every frame however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        (payloads, cutSizes) => {
          const stream = Buffer.concat(payloads.map((payload) => {
            const frame = encodeFrame(payload, { frameLengthMax: 600 })
            assert.ok(frame.ok)
            return frame.value
          }))
          const decoder = new FrameDecoder({ frameLengthMax: 600 })
          const received: Buffer[] = []
          let offset = 0
          // Cut the stream with the generated sizes, reusing them cyclically until it is used up.
          for (let cut = 0; offset < stream.length; cut++) {
            const size = cutSizes[cut % cutSizes.length] ?? 1
            const result = decoder.push(stream.subarray(offset, offset + size))
            assert.equal(result.error, undefined)
            received.push(...result.frames)
            offset += size
          }
          assert.deepEqual(received.map((frame) => [...frame]), payloads.map((payload) => [...payload]))
          assert.equal(decoder.bufferedLength, 0)
        },
      ),
    )
  })
})

describe('readFrames and writeFrame', () => {
  it('reads frames from data events and reports a broken stream once', () => {
    const socket = new EventEmitter()
    const frames: string[] = []
    const errors: string[] = []
    readFrames(socket, { frameLengthMax: 10, onFrame: (frame) => frames.push(frame.toString('latin1')), onError: (error) => errors.push(error.code) })
    socket.emit('data', Buffer.concat([frameOf('ab'), frameOf('c').subarray(0, 1)]))
    socket.emit('data', frameOf('c').subarray(1))
    socket.emit('data', Buffer.from([0xff, 0xff]))
    socket.emit('data', frameOf('d'))
    assert.deepEqual(frames, ['ab', 'c'])
    assert.deepEqual(errors, ['frame_too_long'])
  })

  it('writes a framed message, or returns the error without writing', () => {
    const written: Buffer[] = []
    const sink = { write: (data: Uint8Array) => written.push(Buffer.from(data)) > 0 }
    assert.equal(writeFrame(sink, Buffer.from('hi')), undefined)
    assert.equal(writeFrame(sink, Buffer.alloc(0))?.code, 'frame_empty')
    assert.deepEqual(written.map((data) => [...data]), [[0x00, 0x02, 0x68, 0x69]])
  })
})
