// Hex text and bytes (info-hashes, peer ids, DHT keys: the engine gives them as hex).
export const hexToBytes = hex => Uint8Array.from(hex.match(/../g) ?? [], h => parseInt(h, 16))
export const bytesToHex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')

// Byte arrays joined end to end, in one new array.
export function concatBytes (parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
