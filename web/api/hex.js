// Hex text and bytes (info-hashes, peer ids, DHT keys: the engine gives them as hex).
export const hexToBytes = hex => Uint8Array.from(hex.match(/../g) ?? [], h => parseInt(h, 16))
export const bytesToHex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')

// Under Node, bytes as a Buffer over the same memory, as WebTorrent's modules hand them out
// (an app may call toString('hex') on them); elsewhere, the bytes as they are.
export const toBuffer = bytes => globalThis.Buffer ? globalThis.Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : bytes

// Byte arrays joined end to end, in one new array.
export function concatBytes (parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

// A 32-character base32 info-hash (RFC 4648, as magnets may carry it) as 40 hex digits.
export function base32ToHex (text) {
  let bits = 0
  let value = 0
  let hex = ''
  for (const c of text.toUpperCase()) {
    value = (value << 5) | 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c)
    bits += 5
    if (bits >= 8) {
      bits -= 8
      hex += ((value >> bits) & 0xff).toString(16).padStart(2, '0')
    }
  }
  return hex
}
