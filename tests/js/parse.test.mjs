// parseTorrent on hand-made .torrent files with the optional fields in their less common
// forms, against parse-torrent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTorrent } from 'wasmtorrent'
import { bencode, commonFields, parseTorrentNpm, randomBytes } from './helpers.mjs'

const info = (extra = {}) => ({ name: 'x.bin', 'piece length': 16384, length: 20000, pieces: randomBytes(5, 40), ...extra })

const torrents = {
  'announce only': { announce: 'wss://only', info: info() },
  'announce-list wins over announce, duplicates once': {
    announce: 'wss://not-listed',
    'announce-list': [['wss://a', 'wss://b'], ['wss://a'], ['udp://c:1']],
    info: info()
  },
  'empty announce-list falls back to announce': { announce: 'wss://fallback', 'announce-list': [], info: info() },
  'url-list as a string': { 'url-list': 'https://seed/', info: info() },
  'url-list as an empty string': { 'url-list': '', info: info() },
  'url-list with duplicates': { 'url-list': ['https://a/', 'https://b/', 'https://a/'], info: info() },
  'private 1': { info: info({ private: 1 }) },
  'private 0': { info: info({ private: 0 }) },
  'creation date, comment, created by': { 'creation date': 1700000000, comment: 'héllo', 'created by': 'tool/1.0', info: info() },
  'unknown keys are kept in the info-hash': { info: info({ 'x-custom': 'keep me', source: 'SRC' }) },
  'multi-file with nested paths and an empty file': {
    info: {
      name: 'root',
      'piece length': 32768,
      pieces: randomBytes(6, 60),
      files: [
        { length: 40000, path: ['a', 'b.bin'] },
        { length: 0, path: ['empty'] },
        { length: 30000, path: ['c', 'd', 'é.txt'] }
      ]
    }
  },
  'length an exact multiple of the piece length': { info: info({ length: 32768, pieces: randomBytes(7, 40) }) }
}

for (const [title, dict] of Object.entries(torrents)) {
  test(`parse: ${title}`, async () => {
    const bytes = bencode(dict)
    const ours = await parseTorrent(bytes)
    const theirs = await parseTorrentNpm(bytes)
    const missing = Object.keys(theirs).filter(k => theirs[k] !== undefined && !(k in ours))
    assert.deepEqual(missing, ['info'])
    const [a, b] = commonFields(ours, theirs)
    assert.deepEqual(a, b)
  })
}

test('parse: private is undefined without the key, as parse-torrent\'s, else a boolean', async () => {
  assert.equal((await parseTorrent(bencode({ info: info() }))).private, undefined)
  assert.equal((await parseTorrent(bencode({ info: info({ private: 0 }) }))).private, false)
  assert.equal((await parseTorrent(bencode({ info: info({ private: 1 }) }))).private, true)
})

test('parse: ArrayBuffer, Buffer slices and Blobs are accepted', async () => {
  const bytes = bencode({ announce: 'wss://t', info: info() })
  const expected = (await parseTorrentNpm(bytes)).infoHash
  const padded = Buffer.concat([Buffer.alloc(7), bytes, Buffer.alloc(3)]).subarray(7, 7 + bytes.length)
  for (const input of [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), padded, new Blob([bytes]), new DataView(bytes.buffer, bytes.byteOffset, bytes.length)]) {
    assert.equal((await parseTorrent(input)).infoHash, expected)
  }
})
