// Hex text and bytes (info-hashes, peer ids, DHT keys: the engine gives them as hex).
export const hexToBytes = hex => Uint8Array.from(hex.match(/../g) ?? [], h => parseInt(h, 16))
export const bytesToHex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
