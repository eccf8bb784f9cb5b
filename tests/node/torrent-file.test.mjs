// torrent.torrentFile as WebTorrent's: the .torrent rebuilt with the torrent's trackers and
// web seeds (so a magnet's ws= and the add options' announce and urlList are in the file an
// app saves or shares), url-list always written, keys other than announce, comment, created
// by, creation date, info, private and url-list dropped. The oracle is WebTorrent 2.8.5
// given the same inputs; the bytes must be the same.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebTorrent from 'webtorrent'
import createTorrent from 'create-torrent'
import MemoryChunkStore from 'memory-chunk-store'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { randomBytes } from './helpers.mjs'

// The client's tracker option adds its announce list to every public torrent, as WebTorrent's.
// Nothing listens at these loopback addresses.
const options = { dht: false, tracker: { announce: ['ws://127.0.0.1:2/client'] }, lsd: false, utp: false, natUpnp: false, natPmp: false }
const quiet = { ...options, tracker: false }
const data = randomBytes(77, 100_003)

function created (input, opts) {
  return new Promise((resolve, reject) => createTorrent(input, opts, (err, bytes) => err ? reject(err) : resolve(bytes)))
}

function client (Library, t, opts = options) {
  const c = new Library(opts)
  c.on('error', () => {})
  t.after(() => new Promise(resolve => c.destroy(() => resolve())))
  return c
}

const metadataOf = torrent => new Promise((resolve, reject) => {
  torrent.on('warning', () => {})
  if (torrent.metadata) return resolve(torrent)
  torrent.once('metadata', () => resolve(torrent))
  torrent.once('error', reject)
})

const show = bytes => Buffer.from(bytes).toString('latin1')

test('seed(): torrentFile has the client\'s trackers and an empty url-list, and keeps comment, created by, creation date', async t => {
  const files = {}
  for (const [key, Library] of [['WebTorrent', WebTorrent], ['WasmTorrent', WasmTorrent]]) {
    const c = client(Library, t)
    const torrent = await new Promise(resolve => c.seed(Buffer.from(data), {
      name: 'seeded.bin', announce: ['udp://127.0.0.1:1/file'], comment: 'a comment', createdBy: 'tester', creationDate: 1700000000
    }, resolve))
    files[key] = show(torrent.torrentFile)
  }
  assert.match(files.WasmTorrent, /ws:\/\/127\.0\.0\.1:2\/client/)
  assert.match(files.WasmTorrent, /8:url-listlee$/)
  assert.equal(files.WasmTorrent, files.WebTorrent)
})

test('add(.torrent, { announce, urlList }): torrentFile has them besides the file\'s own, without the file\'s other keys', async t => {
  const bytes = await created(Buffer.from(data), {
    name: 'added.bin', announceList: [['udp://127.0.0.1:1/a', 'udp://127.0.0.1:1/b']], urlList: ['http://127.0.0.1:9/file.bin'],
    creationDate: 1600000000, private: true, info: { source: 'kept in the info' }
  })
  assert.match(show(bytes), /8:encoding5:UTF-8/) // create-torrent's, which WebTorrent's torrentFile drops
  const files = {}
  for (const [key, Library] of [['WebTorrent', WebTorrent], ['WasmTorrent', WasmTorrent]]) {
    const c = client(Library, t)
    const torrent = await metadataOf(c.add(bytes, { announce: ['udp://127.0.0.1:1/option'], urlList: ['http://127.0.0.1:9/option.bin'], store: MemoryChunkStore }))
    files[key] = show(torrent.torrentFile)
    assert.equal((await WasmTorrent.parseTorrent(torrent.torrentFile)).infoHash, torrent.infoHash)
  }
  assert.match(files.WasmTorrent, /option\.bin/)
  assert.doesNotMatch(files.WasmTorrent, /encoding/)
  assert.equal(files.WasmTorrent, files.WebTorrent)
})

test('a magnet\'s torrentFile, once its metadata came from a peer: its tr= and ws=, the add options\', the client\'s', async t => {
  const files = {}
  for (const [key, Library] of [['WebTorrent', WebTorrent], ['WasmTorrent', WasmTorrent]]) {
    const seeder = client(WebTorrent, t, quiet)
    const seeded = await new Promise(resolve => seeder.seed(Buffer.from(data), { name: 'magnet.bin', announce: [] }, resolve))
    await new Promise(resolve => seeder.listening ? resolve() : seeder.once('listening', resolve))
    const c = client(Library, t)
    const magnet = `magnet:?xt=urn:btih:${seeded.infoHash}&dn=magnet.bin&tr=${encodeURIComponent('udp://127.0.0.1:1/m')}` +
      `&ws=${encodeURIComponent('http://127.0.0.1:9/ws.bin')}`
    const torrent = c.add(magnet, { announce: ['udp://127.0.0.1:1/option'], urlList: ['http://127.0.0.1:9/option.bin'], store: MemoryChunkStore })
    torrent.once('infoHash', () => torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`))
    await metadataOf(torrent)
    files[key] = show(torrent.torrentFile)
  }
  assert.match(files.WasmTorrent, /8:url-listl25:http:\/\/127\.0\.0\.1:9\/ws\.bin/)
  assert.equal(files.WasmTorrent, files.WebTorrent)
})

test('private: undefined without the flag, the info\'s own or the add option\'s; in torrentFile\'s top level as WebTorrent writes it', async t => {
  const cases = [
    ['no flag', undefined, undefined],
    ['private 1', true, undefined],
    ['private 0', false, undefined],
    ['no flag, option true', undefined, true],
    ['private 1, option false', true, false]
  ]
  for (const [title, flag, option] of cases) {
    const bytes = await created(Buffer.from(data), { name: 'p.bin', announceList: [], ...(flag === undefined ? {} : { private: flag }) })
    const seen = {}
    for (const [key, Library] of [['WebTorrent', WebTorrent], ['WasmTorrent', WasmTorrent]]) {
      const c = client(Library, t, quiet)
      const torrent = await metadataOf(c.add(bytes, { store: MemoryChunkStore, ...(option === undefined ? {} : { private: option }) }))
      seen[key] = { private: torrent.private, file: show(torrent.torrentFile) }
    }
    assert.deepEqual(seen.WasmTorrent, seen.WebTorrent, title)
  }
  // This is WebTorrent's meaning, not only its bytes: the flag's value once it is there.
  const parsed = await WasmTorrent.parseTorrent(await created(Buffer.from(data), { name: 'p.bin' }))
  assert.equal(parsed.private, undefined)
})
