// Shared by the JS tests: generated inputs (seeded, no fixtures) and the npm reference
// packages wrapped in promises.
import createTorrentCb from 'create-torrent'
import parseTorrentNpm from 'parse-torrent'

export { parseTorrentNpm }
export { decode as magnetDecode, encode as magnetEncode } from 'magnet-uri'

import { prng } from './prng.mjs'
export { prng }

export function randomBytes (seed, length) {
  const next = prng(seed)
  const words = new Uint32Array(Math.ceil(length / 4))
  for (let i = 0; i < words.length; i++) words[i] = next() * 4294967296
  return new Uint8Array(words.buffer, 0, length)
}

export function createTorrentNpm (input, opts) {
  return new Promise((resolve, reject) => {
    createTorrentCb(input, opts, (err, torrent) => (err ? reject(err) : resolve(new Uint8Array(torrent))))
  })
}

// create-torrent's input for files given as {path, data}: Buffers named by their path
// (fresh ones: create-torrent writes to its inputs). With an empty file among them, Files
// instead: create-torrent 6.1.3 hashes an empty Buffer as one zero byte (its block-iterator
// counts `value.byteLength || value.length || 1`), which gives pieces that do not match
// the data; an empty File yields no chunk and is hashed right.
export function npmInputs (files) {
  if (files.some(f => f.data.length === 0)) return files.map(({ path, data }) => new File([data], path))
  return files.map(({ path, data }) => Object.assign(Buffer.from(data), { name: path }))
}

export const toHex = bytes => Buffer.from(bytes).toString('hex')

// RFC 4648 base32, upper case, no padding.
export function toBase32 (bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

// Makes values comparable with deepStrictEqual: bytes of any kind -> hex, Dates -> ISO.
export function normalize (value) {
  if (ArrayBuffer.isView(value)) return `bytes:${toHex(value)}`
  if (value instanceof Date) return `date:${value.toISOString()}`
  if (Array.isArray(value)) return value.map(normalize)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]))
  }
  return value
}

// The fields both objects have, minus `skip`, normalized.
export function commonFields (ours, theirs, skip = []) {
  const keys = Object.keys(ours).filter(k => k in theirs && theirs[k] !== undefined && !skip.includes(k))
  return [
    Object.fromEntries(keys.map(k => [k, normalize(ours[k])])),
    Object.fromEntries(keys.map(k => [k, normalize(theirs[k])]))
  ]
}

// A minimal bencode encoder for hand-made torrents (dict keys sorted by bytes).
export function bencode (value) {
  const parts = []
  const utf8 = s => new TextEncoder().encode(s)
  const put = v => {
    if (typeof v === 'number') parts.push(utf8(`i${v}e`))
    else if (typeof v === 'string') put(utf8(v))
    else if (ArrayBuffer.isView(v)) parts.push(utf8(`${v.length}:`), v)
    else if (Array.isArray(v)) { parts.push(utf8('l')); v.forEach(put); parts.push(utf8('e')) }
    else {
      parts.push(utf8('d'))
      for (const k of Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) { put(k); put(v[k]) }
      parts.push(utf8('e'))
    }
  }
  put(value)
  return new Uint8Array(Buffer.concat(parts))
}
