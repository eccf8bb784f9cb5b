// Magnet URIs against npm magnet-uri, both ways: magnet-uri's encoder -> our parser, and
// our toMagnetURI -> magnet-uri's decoder. Also info-hash strings and round trips.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { init, parseTorrent, parseMagnet, toMagnetURI } from 'wasmtorrent'
import { magnetDecode, magnetEncode, parseTorrentNpm, randomBytes, toBase32, toHex, commonFields } from './helpers.mjs'

before(() => init()) // toMagnetURI is synchronous: the module must be loaded

const hashBytes = randomBytes(42, 20)
const infoHash = toHex(hashBytes)

// magnet-uri's encoder input: convenience fields plus raw ones.
const links = [
  { title: 'info-hash only', obj: { infoHash } },
  { title: 'name with spaces and unicode', obj: { infoHash, name: 'My Torrent — ✓ 文件 & more+plus' } },
  {
    title: 'several trackers, web seeds, exact sources',
    obj: {
      infoHash,
      name: 'x',
      announce: ['wss://tracker.one/announce?x=1&y=2', 'udp://tracker.two:1337', 'http://three/ann'],
      urlList: ['https://seed.example/a b/', 'https://mirror.example/'],
      xs: ['https://cache.example/file.torrent', 'urn:btpk:' + 'ab'.repeat(32)]
    }
  },
  { title: 'acceptable sources (as), no urlList', obj: { infoHash, as: ['https://as.one/x', 'https://as.two/y'], ws: 'https://ws.one/' } },
  { title: 'peers (x.pe)', obj: { infoHash, peerAddresses: ['127.0.0.1:6881', '[::1]:51413'] } },
  { title: 'keywords (kt)', obj: { infoHash, keywords: ['linux', 'iso', 'ünïcode'] } },
  { title: 'select-only (so)', obj: { infoHash, so: [0, 2, 3, 4, 7, 9, 10] } },
  { title: 'other parameters (xl, ix, mt, a repeated one), as magnet-uri keeps and writes them', obj: { infoHash, xl: 12345, ix: 2, mt: 'urn:sha1:abc', zz: ['a', 'b'] } },
  { title: 'one of each', obj: { infoHash, name: 'n', announce: ['wss://t'], urlList: ['https://w/'], xs: 'https://x/', peerAddresses: ['1.2.3.4:5'], keywords: ['k'], so: [1] } }
]

// The fields magnet-uri's decoder produces that we compare (xt may differ in case/base).
const skip = ['xt']

for (const { title, obj } of links) {
  test(`magnet-uri encode -> our parse: ${title}`, async () => {
    const uri = magnetEncode(obj)
    const ours = await parseTorrent(uri)
    const theirs = magnetDecode(uri)
    const missing = Object.keys(theirs).filter(k => !(k in ours))
    assert.deepEqual(missing, [], 'fields magnet-uri has and we do not')
    const [a, b] = commonFields(ours, theirs, skip)
    assert.deepEqual(a, b)
    assert.equal(ours.xt, `urn:btih:${infoHash}`)
  })

  test(`our toMagnetURI -> magnet-uri decode: ${title}`, async () => {
    const uri = toMagnetURI(obj)
    const theirs = magnetDecode(uri)
    const ours = await parseMagnet(uri)
    const [a, b] = commonFields(ours, theirs)
    assert.deepEqual(a, b)
    // And the fields that went in come out.
    const expected = magnetDecode(magnetEncode(obj))
    const [c, d] = commonFields(theirs, expected)
    assert.deepEqual(c, d)
  })
}

test('base32 info-hash in a magnet and alone', async () => {
  const b32 = toBase32(hashBytes)
  assert.equal(b32.length, 32)
  for (const id of [`magnet:?xt=urn:btih:${b32}&dn=b32`, `magnet:?xt=urn:btih:${b32.toLowerCase()}`, b32, b32.toLowerCase()]) {
    const ours = await parseTorrent(id)
    const theirs = await parseTorrentNpm(id)
    assert.equal(ours.infoHash, infoHash, id)
    assert.equal(ours.infoHash, theirs.infoHash, id)
    const [a, b] = commonFields(ours, theirs, skip)
    assert.deepEqual(a, b, id)
  }
})

test('hex info-hash string, upper case, and a 20-byte buffer', async () => {
  for (const id of [infoHash, infoHash.toUpperCase(), hashBytes, Buffer.from(hashBytes)]) {
    const ours = await parseTorrent(id)
    const theirs = await parseTorrentNpm(id)
    const [a, b] = commonFields(ours, theirs, skip)
    assert.deepEqual(a, b)
    assert.equal(ours.infoHash, infoHash)
  }
})

test('v2 multihash (btmh) alongside v1', async () => {
  const v2 = toHex(randomBytes(7, 32))
  const uri = `magnet:?xt=urn:btih:${infoHash}&xt=urn:btmh:1220${v2}&dn=hybrid`
  const ours = await parseTorrent(uri)
  const [a, b] = commonFields(ours, magnetDecode(uri))
  assert.deepEqual(a, b)
  assert.equal(ours.infoHashV2, v2)
  assert.deepEqual(magnetDecode(toMagnetURI(ours)).infoHashV2, v2)
})

test('toMagnetURI of a parsed .torrent keeps hash, name, trackers and web seeds', async () => {
  const parsed = { infoHash, name: 'from torrent', announce: ['wss://a', 'wss://b'], urlList: ['https://s/'], files: [], length: 3 }
  const decoded = magnetDecode(toMagnetURI(parsed))
  assert.equal(decoded.infoHash, infoHash)
  assert.equal(decoded.name, 'from torrent')
  assert.deepEqual(decoded.announce, ['wss://a', 'wss://b'])
  assert.deepEqual(decoded.urlList, ['https://s/'])
})

test('an already parsed object is normalized as parse-torrent does', async () => {
  const obj = { infoHash: infoHash.toUpperCase(), announce: 'wss://t' }
  const ours = await parseTorrent({ ...obj })
  const theirs = await parseTorrentNpm({ ...obj })
  assert.deepEqual(ours, theirs)
})
