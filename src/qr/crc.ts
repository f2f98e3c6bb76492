/**
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), the checksum of
 * EMV MPM ID 63. It runs over the UTF-8 bytes of the payload, because a payload may carry
 * non-ASCII text in the language template (ID 64) and the specification counts bytes there.
 */
const table = buildTable()

function buildTable(): Uint16Array {
  const built = new Uint16Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    built[byte] = crc
  }
  return built
}

const encoder = new TextEncoder()

/** CRC-16/CCITT-FALSE of bytes, as a number. `crc16CcittFalse(bytes of "123456789") === 0x29B1`. */
export function crc16CcittFalse(bytes: Uint8Array): number {
  let crc = 0xffff
  for (let index = 0; index < bytes.length; index++) {
    crc = ((crc << 8) & 0xffff) ^ (table[((crc >> 8) ^ (bytes[index] ?? 0)) & 0xff] ?? 0)
  }
  return crc
}

/**
 * CRC-16/CCITT-FALSE of a string's UTF-8 bytes, as four uppercase hex digits.
 *
 * @example crc16Hex('123456789') // '29B1'
 */
export function crc16Hex(text: string): string {
  let crc = 0xffff
  let ascii = true
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code > 0x7f) {
      ascii = false
      break
    }
    crc = ((crc << 8) & 0xffff) ^ (table[((crc >> 8) ^ code) & 0xff] ?? 0)
  }
  // Most payloads are ASCII, where chars are bytes; only the rest pays for an encoding pass.
  if (!ascii) crc = crc16CcittFalse(encoder.encode(text))
  return crc.toString(16).toUpperCase().padStart(4, '0')
}
