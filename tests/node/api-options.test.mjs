// WebTorrent's smaller options, checked against what WebTorrent's code does with them:
// getAnnounceOpts (client tracker option and add option) in every HTTP and UDP announce,
// 'peer'/'invalidPeer' for addresses the torrent learns (trackers, magnet x.pe, web seeds),
// nodeId for the DHT, and the store options (storeOpts, storeCacheSlots, preloadedStore,
// addUID). Loopback only.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { readFile, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import bencode from 'bencode'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, once, randomBytes, startTracker } from './helpers.mjs'
import { startTracker as startWsTracker } from '../../scripts/tracker.mjs'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

const seeded = (c, input, opts) => new Promise((resolve, reject) => {
  c.seed(input, { announce: [], ...opts }, resolve).once('error', reject)
})

// A small abstract-chunk-store (as memory-chunk-store) that records what it is given.
class RecordingStore {
  static made = []
  constructor (chunkLength, opts) {
    this.chunkLength = chunkLength
    this.opts = opts
    this.chunks = new Map()
    this.gets = []
    RecordingStore.made.push(this)
  }

  put (index, buf, cb) { this.chunks.set(index, Buffer.from(buf)); queueMicrotask(() => cb(null)) }
  get (index, opts, cb) {
    if (typeof opts === 'function') [opts, cb] = [{}, opts]
    const chunk = this.chunks.get(index)
    if (!chunk) return queueMicrotask(() => cb(new Error('missing chunk')))
    const offset = opts?.offset ?? 0
    const length = opts?.length ?? chunk.length - offset
    this.gets.push({ index, offset, length })
    queueMicrotask(() => cb(null, chunk.subarray(offset, offset + length)))
  }

  close (cb) { queueMicrotask(() => cb(null)) }
  destroy (cb) { this.chunks.clear(); queueMicrotask(() => cb(null)) }
}

function filledStore (content, pieceLength) {
  const store = new RecordingStore(pieceLength, {})
  for (let i = 0; i * pieceLength < content.length; i++) store.chunks.set(i, content.subarray(i * pieceLength, (i + 1) * pieceLength))
  return store
}

const until = async (pred, what, ms = 20000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise(resolve => setTimeout(resolve, 50))) if (pred()) return
  throw new Error(`timed out waiting for ${what}`)
}

test('getAnnounceOpts: the client\'s (tracker option) and the torrent\'s (add option) merged into every HTTP and UDP announce', async t => {
  const tracker = await startTracker(t)
  const got = []
  for (const event of ['start', 'update', 'complete', 'stop']) tracker.server.on(event, (addr, params) => got.push(params))
  let clientCalls = 0
  let torrentCalls = 0
  const c = client(t, { tracker: { getAnnounceOpts: () => { clientCalls++; return { passkey: 'client', numwant: 7, kept: 'yes' } } } })
  const getAnnounceOpts = () => { torrentCalls++; return { passkey: 'torrent', uploaded: 4242, info_hash: 'ignored', skip: null } }
  const http = await seeded(c, randomBytes(11, 64 << 10), { name: 'http.bin', announce: [tracker.http], getAnnounceOpts })
  const udp = await seeded(c, randomBytes(12, 64 << 10), { name: 'udp.bin', announce: [tracker.udp], getAnnounceOpts })
  await until(() => got.some(p => p.info_hash === http.infoHash) && got.some(p => p.info_hash === udp.infoHash), 'both announces')

  const viaHttp = got.find(p => p.info_hash === http.infoHash)
  assert.equal(viaHttp.type, 'http')
  assert.equal(viaHttp.passkey, 'torrent') // the torrent's wins, as WebTorrent merges them
  assert.equal(viaHttp.kept, 'yes')
  assert.equal(Number(viaHttp.uploaded), 4242)
  assert.equal(viaHttp.numwant, 7)
  assert.equal(viaHttp.skip, undefined) // null: nothing a tracker can carry
  const viaUdp = got.find(p => p.info_hash === udp.infoHash)
  assert.equal(viaUdp.type, 'udp')
  assert.equal(viaUdp.uploaded, 4242) // UDP: the fields it has
  assert.equal(viaUdp.numwant, 7)
  assert.ok(clientCalls >= 2 && torrentCalls >= 2, `called ${clientCalls}, ${torrentCalls}`)

  // Each announce asks again (a function, not a value read once).
  const before = torrentCalls
  await http.destroy()
  await until(() => got.some(p => p.info_hash === http.infoHash && p.event === 'stopped'), 'the stopped announce')
  assert.equal(torrentCalls, before, 'a destroyed torrent is not asked (WebTorrent returns nothing then)')
})

test('getAnnounceOpts in a WebSocket tracker\'s announce: fields of its JSON message, typed', async t => {
  const tracker = await startWsTracker({ log: () => {} })
  t.after(() => tracker.close())
  const got = []
  tracker.server.on('start', (addr, params) => got.push(params))
  const c = client(t, { tracker: { announce: [tracker.url], rtcConfig: { iceServers: [] }, getAnnounceOpts: () => ({ from: 'client', n: 1 }) } })
  c.on('warning', err => assert.notEqual(err.code, 'no_webrtc', err.message))
  const torrent = await seeded(c, randomBytes(15, 32 << 10), { name: 'ws.bin', announce: [tracker.url], getAnnounceOpts: () => ({ n: 2, flag: true, action: 'scrape' }) })
  await until(() => got.some(p => p.info_hash === torrent.infoHash), 'the WebSocket announce', 30000)
  const params = got.find(p => p.info_hash === torrent.infoHash)
  assert.equal(params.type, 'ws')
  assert.equal(params.from, 'client')
  assert.equal(params.n, 2) // a number in the JSON, the torrent's winning
  assert.equal(params.flag, true)
  assert.equal(params.event, 'started') // ours: event and action cannot be replaced
})

test("'peer' and 'invalidPeer' for addresses from a tracker, a magnet's x.pe, addPeer and web seeds", async t => {
  const tracker = await startTracker(t)
  // (tracker: {}: trackers on, those the torrents name; the helper's tracker: false has none)
  const seeder = client(t, { tracker: {} })
  const content = randomBytes(13, 96 << 10)
  const torrent = await seeded(seeder, content, { name: 'peers.bin', announce: [tracker.http] })
  await until(() => tracker.server.torrents[torrent.infoHash], 'the seeder\'s announce')

  const leecher = client(t, { tracker: {} })
  await leecher.whenReady()
  const own = `127.0.0.1:${leecher.torrentPort}`
  const peers = []
  const invalid = []
  const magnet = `magnet:?xt=urn:btih:${torrent.infoHash}&tr=${encodeURIComponent(tracker.http)}` +
    `&x.pe=127.0.0.1:1&x.pe=${own}&ws=http://127.0.0.1:1/seed/`
  const down = leecher.add(magnet, { store: 'memory' })
  const done = once(down, 'done')
  down.on('peer', addr => peers.push(addr))
  down.on('invalidPeer', addr => invalid.push(addr))
  const seederAddress = `127.0.0.1:${seeder.torrentPort}`
  await until(() => peers.includes(seederAddress), `'peer' ${seederAddress} from the tracker`)
  assert.ok(peers.includes('127.0.0.1:1'), `x.pe: ${peers}`)
  assert.ok(invalid.includes(own), `our own address is no peer: ${invalid}`)
  await done
  assert.ok(peers.includes('http://127.0.0.1:1/seed/'), `the magnet's web seed: ${peers}`)

  // addPeer of an address the torrent holds already (dialling it): false and 'invalidPeer',
  // as WebTorrent's duplicate.
  assert.equal(down.addPeer('127.0.0.1:2'), true)
  assert.equal(peers.at(-1), '127.0.0.1:2')
  assert.equal(down.addPeer('127.0.0.1:2'), false)
  assert.equal(invalid.at(-1), '127.0.0.1:2')
  down.addWebSeed('http://127.0.0.1:1/other/')
  assert.equal(peers.at(-1), 'http://127.0.0.1:1/other/')
  const warnings = []
  down.on('warning', err => warnings.push(err.message))
  down.addWebSeed('http://127.0.0.1:1/other/')
  assert.equal(invalid.at(-1), 'http://127.0.0.1:1/other/')
  assert.match(warnings.join(), /duplicate web seed/)
})

test('nodeId: the DHT queries with the id given (hex or bytes), as bittorrent-dht', async t => {
  const router = dgram.createSocket('udp4')
  const ids = []
  router.on('message', msg => {
    try {
      const q = bencode.decode(msg)
      if (q.a?.id) ids.push(Buffer.from(q.a.id).toString('hex'))
    } catch {}
  })
  await new Promise(resolve => router.bind(0, '127.0.0.1', resolve))
  t.after(() => router.close())
  const bootstrap = [`127.0.0.1:${router.address().port}`]
  const dir = await tempDir(t)
  const hex = 'ab'.repeat(20)
  const c = client(t, { nodeId: hex, dht: { bootstrap, stateFile: path.join(dir, 'dht1.dat') } })
  await c.whenReady()
  assert.equal(c.nodeId, hex)
  await until(() => ids.length > 0, 'a DHT query')
  assert.ok(ids.every(id => id === hex), `ids: ${ids}`)

  const bytes = Uint8Array.from({ length: 20 }, (_, i) => i)
  const d = client(t, { nodeId: bytes, dht: { bootstrap, stateFile: path.join(dir, 'dht2.dat') } })
  await d.whenReady()
  assert.equal(d.nodeId, Buffer.from(bytes).toString('hex'))
  await until(() => ids.includes(d.nodeId), 'a query with the second id')

  const e = client(t, { dht: { bootstrap: [], stateFile: path.join(dir, 'dht3.dat') } })
  await e.whenReady()
  assert.match(e.nodeId, /^[0-9a-f]{40}$/) // random, as WebTorrent's
  assert.throws(() => new WasmTorrent({ nodeId: 'xyz' }), { code: 'invalid_argument' })
})

test('store options: storeOpts and WebTorrent\'s store opts, storeCacheSlots, preloadedStore (add and seed), addUID', async t => {
  const pieceLength = 64 << 10
  const content = randomBytes(14, 5 * pieceLength + 1000)
  const seeder = client(t)
  const source = await seeded(seeder, content, { name: 'store.bin', pieceLength, store: 'memory' })
  const torrentFile = source.torrentFile

  // A chunk store class gets { ...storeOpts, torrent, path, files, length, name, addUID, rootDir, max }.
  RecordingStore.made = []
  const a = client(t)
  const withStore = a.add(torrentFile, { store: RecordingStore, storeOpts: { marker: 42 }, storeCacheSlots: 0 })
  withStore.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(withStore, 'done')
  const made = RecordingStore.made.at(-1)
  assert.equal(made.chunkLength, pieceLength)
  assert.equal(made.opts.marker, 42)
  assert.equal(made.opts.torrent, withStore)
  assert.equal(made.opts.length, content.length)
  assert.equal(made.opts.name, `store.bin - ${withStore.infoHash.slice(0, 8)}`)
  assert.equal(made.opts.max, 0)
  assert.equal(made.opts.addUID, false)
  assert.deepEqual(made.opts.files.map(f => f.path), ['store.bin'])

  // preloadedStore in add(): the pieces it holds are verified, nothing is downloaded.
  // storeCacheSlots 0: a peer's blocks are read from the store as asked (16 KiB each);
  // the default reads each piece once, whole.
  for (const slots of [0, undefined]) {
    const b = client(t)
    const preloaded = filledStore(content, pieceLength)
    const full = b.add(torrentFile, { preloadedStore: preloaded, storeCacheSlots: slots })
    await once(full, 'done')
    assert.equal(full.received, 0)
    preloaded.gets = []
    const c = client(t)
    const leech = c.add(torrentFile, { store: 'memory' })
    leech.addPeer(`127.0.0.1:${b.torrentPort}`)
    await once(leech, 'done')
    assert.ok(preloaded.gets.length > 0)
    if (slots === 0) assert.ok(preloaded.gets.every(g => g.length <= 16384), JSON.stringify(preloaded.gets.slice(0, 3)))
    else assert.ok(preloaded.gets.every(g => g.offset === 0 && g.length >= 1000), JSON.stringify(preloaded.gets.slice(0, 3)))
    const bytes = await new Promise((resolve, reject) => leech.files[0].getBuffer((err, buf) => err ? reject(err) : resolve(buf)))
    assert.ok(Buffer.from(bytes).equals(content))
  }

  // preloadedStore in seed(): the content is served from it; nothing written to disk.
  const d = client(t)
  const store = filledStore(content, pieceLength)
  const dir = await tempDir(t)
  const seededFrom = await seeded(d, content, { name: 'store.bin', pieceLength, preloadedStore: store, path: path.join(dir, 'never') })
  assert.equal(seededFrom.infoHash, source.infoHash)
  const e = client(t)
  const leech = e.add(torrentFile, { store: 'memory' })
  leech.addPeer(`127.0.0.1:${d.torrentPort}`)
  await once(leech, 'done')
  assert.ok(store.gets.length > 0)
  await assert.rejects(stat(path.join(dir, 'never')), { code: 'ENOENT' })

  // addUID (Node): the files go under "<name> - <first 8 of the info-hash>" in path, as
  // WebTorrent's fs-chunk-store puts them; torrent.path stays path.
  const f = client(t)
  const uid = f.add(torrentFile, { path: dir, addUID: true })
  uid.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(uid, 'done')
  assert.equal(uid.path, dir)
  const file = path.join(dir, `store.bin - ${uid.infoHash.slice(0, 8)}`, 'store.bin')
  assert.ok((await readFile(file)).equals(content))
  const [mtime] = await uid.getFileModtimes()
  assert.equal(mtime, (await stat(file)).mtime.getTime())
  // seed() of content in memory with addUID: written there too.
  const g = client(t)
  const seedDir = path.join(dir, 'seeded')
  const uidSeed = await seeded(g, content, { name: 'store.bin', pieceLength, path: seedDir, addUID: true })
  assert.equal(uidSeed.path, seedDir)
  assert.ok((await readFile(path.join(seedDir, `store.bin - ${uidSeed.infoHash.slice(0, 8)}`, 'store.bin'))).equals(content))
})

test("seed() with the app's chunk store (store: a constructor): the content is put into it and served from it; remove with destroyStore destroys it, as WebTorrent's", async t => {
  const pieceLength = 32 << 10
  const content = randomBytes(15, 6 * pieceLength + 77)
  RecordingStore.made = []
  const seeder = client(t)
  const seed = await seeded(seeder, content, { name: 'own-store.bin', pieceLength, store: RecordingStore })
  assert.equal(RecordingStore.made.length, 1)
  const store = RecordingStore.made[0]
  assert.equal(store.chunkLength, pieceLength)
  assert.deepEqual([...store.chunks.keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6], 'every piece put')
  assert.ok(Buffer.concat([...store.chunks.entries()].sort(([a], [b]) => a - b).map(([, c]) => c)).equals(content))
  const leecher = client(t)
  const leech = leecher.add(seed.torrentFile, { store: 'memory' })
  leech.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(leech, 'done')
  assert.ok(store.gets.length > 0, 'served from the store')
  let destroyed = false
  const destroy = store.destroy.bind(store)
  store.destroy = cb => { destroyed = true; destroy(cb) }
  await seeder.remove(seed, { destroyStore: true })
  assert.equal(destroyed, true)
})

test("a chunk store whose constructor throws: the torrent's 'error' (storage_failed) at once, not a 'ready' that fails at the first write", async t => {
  class Unopenable extends RecordingStore {
    constructor () { super(); throw new Error('cannot open the store') }
  }
  const c = client(t)
  c.on('error', () => {})
  const torrentFile = await WasmTorrent.createTorrent(randomBytes(16, 50_000), { name: 'unopenable.bin', announceList: [] })
  const torrent = c.add(torrentFile, { store: Unopenable })
  let ready = false
  torrent.on('ready', () => { ready = true })
  const [err] = await once(torrent, 'error', 10_000)
  assert.equal(err.code, 'storage_failed')
  assert.match(err.message, /cannot open the store/)
  assert.equal(ready, false)
  assert.equal(torrent.destroyed, true)
})

test('chunk stores as WebTorrent takes them: a factory function, methods as instance fields; no path: WebTorrent\'s <tmp>/webtorrent', async t => {
  const pieceLength = 16 << 10
  const content = randomBytes(21, 5 * pieceLength + 99)
  const seeder = client(t)
  const source = await seeded(seeder, content, { name: 'shapes.bin', pieceLength, store: 'memory' })
  class Fields {
    constructor (chunkLength, opts) {
      this.opts = opts
      const inner = new RecordingStore(chunkLength, opts)
      this.put = (index, buf, cb) => inner.put(index, buf, cb)
      this.get = (index, opts, cb) => inner.get(index, opts, cb)
      this.close = cb => inner.close(cb)
    }
  }
  const made = []
  function factory (chunkLength, opts) { const s = new Fields(chunkLength, opts); made.push(s); return s }
  for (const store of [factory, Fields]) {
    const c = client(t)
    const torrent = c.add(source.torrentFile, { store })
    torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
    await once(torrent, 'done', 20_000)
    assert.ok(Buffer.from(await torrent.files[0].arrayBuffer()).equals(content), store.name)
    assert.equal(torrent.path, path.join(os.tmpdir(), 'webtorrent'), "the default path, as WebTorrent's")
  }
  assert.equal(made.length, 1)
  assert.equal(made[0].opts.path, path.join(os.tmpdir(), 'webtorrent'), 'given to the chunk store')
})

test("a chunk store's failures: a read gives read_failed with the store's own error as cause; seed() into one whose put fails closes it (never destroys what it holds)", async t => {
  const pieceLength = 16 << 10
  const content = randomBytes(22, 4 * pieceLength)
  class Unreadable extends RecordingStore {
    get (index, opts, cb) {
      if (typeof opts === 'function') [opts, cb] = [{}, opts]
      const err = Object.assign(new Error('the disk is gone'), { code: 'EMYSTORE' })
      queueMicrotask(() => cb(err))
    }
  }
  const c = client(t)
  c.on('warning', () => {})
  const seed = await seeded(c, content, { name: 'unreadable.bin', pieceLength, store: Unreadable })
  await assert.rejects(seed.files[0].arrayBuffer(), err => err.code === 'read_failed' && err.cause?.code === 'EMYSTORE')

  const calls = []
  class Unwritable extends RecordingStore {
    put (index, buf, cb) { calls.push(`put ${index}`); queueMicrotask(() => cb(index === 2 ? new Error('full') : null)) }
    close (cb) { calls.push('close'); super.close(cb) }
    destroy (cb) { calls.push('destroy'); super.destroy(cb) }
  }
  const warned = []
  const torrent = c.seed(content, { name: 'unwritable.bin', pieceLength, announce: [], store: Unwritable })
  torrent.on('warning', err => warned.push(err.message))
  await once(torrent, 'ready')
  assert.ok(calls.includes('close') && !calls.includes('destroy'), calls.join(', '))
  assert.match(warned.join('\n'), /not kept in the store.*full/)
  assert.ok(Buffer.from(await torrent.files[0].arrayBuffer()).equals(content), 'served from memory')
})

test('removePeer takes the "ip:port" of a connected peer, as WebTorrent\'s; the wire closes', async t => {
  const seeder = client(t)
  const source = await seeded(seeder, randomBytes(15, 300_000), { name: 'remove.bin', store: 'memory' })
  const c = client(t)
  const torrent = c.add(source.torrentFile, { store: 'memory' })
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  const [wire] = await once(torrent, 'wire')
  assert.equal(`${wire.remoteAddress}:${wire.remotePort}`, `127.0.0.1:${seeder.torrentPort}`)
  const closed = once(wire, 'close')
  torrent.removePeer('127.0.0.1:1') // no such peer: nothing happens
  assert.equal(torrent.wires.length, 1)
  torrent.removePeer(`127.0.0.1:${seeder.torrentPort}`)
  await closed
  assert.equal(torrent.wires.length, 0)
})

test('removePeer of an address waiting to be dialled: it is never dialled; a removed peer is not redialled', async t => {
  const content = randomBytes(16, 300_000)
  const first = client(t)
  const source = await seeded(first, content, { name: 'queued.bin', store: 'memory' })
  const second = client(t)
  await seeded(second, content, { name: 'queued.bin', store: 'memory' })
  // One connection at a time: the second address waits while the first is connected.
  const c = client(t, { maxConns: 1 })
  const torrent = c.add(source.torrentFile, { store: 'memory' })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${first.torrentPort}`)
  const [wire] = await once(torrent, 'wire')
  torrent.addPeer(`127.0.0.1:${second.torrentPort}`)
  torrent.removePeer(`127.0.0.1:${second.torrentPort}`)
  const closed = once(wire, 'close')
  torrent.removePeer(`127.0.0.1:${first.torrentPort}`)
  await closed
  // Room again: a peer still waiting (or the first, to be redialled) would be dialled now,
  // before the one added next.
  const third = client(t)
  await seeded(third, content, { name: 'queued.bin', store: 'memory' })
  torrent.addPeer(`127.0.0.1:${third.torrentPort}`)
  const [next] = await once(torrent, 'wire')
  assert.equal(next.remotePort, third.torrentPort, JSON.stringify({ type: next.type, first: first.torrentPort, second: second.torrentPort, third: third.torrentPort }))
})

test('natUpnp and natPmp, on or off, say nothing where no router answers (they work: tests/node/portmap.test.mjs)', async t => {
  for (const opts of [{ natUpnp: true }, { natPmp: true }, { natUpnp: 'permanent' }, { natUpnp: false, natPmp: false }, {}]) {
    const c = client(t, opts)
    const warnings = []
    c.on('warning', err => warnings.push(err.message))
    await c.whenReady()
    await new Promise(resolve => setTimeout(resolve, 300)) // the SSDP search has been sent (and lost)
    assert.deepEqual(warnings, [], JSON.stringify(opts))
    assert.deepEqual(c.portMappings, [])
    await c.destroy()
  }
})

test('add option uploads: false (or 0) uploads nothing, as WebTorrent\'s; another seed serves the leecher', async t => {
  const content = randomBytes(17, 600_000)
  const mute = client(t)
  const muteSeed = await seeded(mute, content, { name: 'uploads.bin', store: 'memory', uploads: false })
  const open = client(t)
  const openSeed = await seeded(open, content, { name: 'uploads.bin', store: 'memory', uploads: 2 })
  const leecher = client(t)
  const torrent = leecher.add(muteSeed.torrentFile, { store: 'memory' })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${mute.torrentPort}`)
  torrent.addPeer(`127.0.0.1:${open.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(torrent.wires.length, 2, 'connected to both')
  assert.equal(muteSeed.uploaded, 0)
  assert.ok(openSeed.uploaded >= content.length)
})

const hexBytes = hex => Uint8Array.from(hex.match(/../g), h => parseInt(h, 16))

test("WebTorrent's client properties from its options (tracker, utPex, natUpnp, natPmp, enableWebSeeds, maxConns, peerIdBuffer), as WebTorrent 2.8.5's own client sets them", async t => {
  const { default: WebTorrent } = await import('webtorrent')
  const quiet = { dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false }
  const peerId = '2d5754303030312d' + '61'.repeat(12)
  const cases = [
    { tracker: false, peerId },
    { tracker: { announce: [] }, utPex: false, webSeeds: false, maxConns: 7, peerId },
    { maxConns: 0, tracker: false, peerId }, // 0 is WebTorrent's default, 55
    { maxConns: 'many', tracker: false, peerId },
    { tracker: true, peerId }, // an object ({}), as WebTorrent's
    { tracker: 'yes', peerId }
  ]
  for (const opts of cases) {
    const theirs = new WebTorrent({ ...quiet, ...opts })
    const ours = client(t, { ...quiet, ...opts })
    // Without a DHT, nodeId is a random id in hex from the start, as WebTorrent's always is.
    assert.match(theirs.nodeId, /^[0-9a-f]{40}$/)
    assert.match(ours.nodeId, /^[0-9a-f]{40}$/)
    assert.deepEqual(ours.nodeIdBuffer, hexBytes(ours.nodeId))
    await ours.whenReady()
    for (const key of ['tracker', 'utPex', 'natUpnp', 'natPmp', 'enableWebSeeds', 'maxConns', 'seedOutgoingConnections']) {
      assert.deepEqual(ours[key], theirs[key], `${key} with ${JSON.stringify(opts)}`)
    }
    assert.deepEqual(ours.peerIdBuffer, Uint8Array.from(theirs.peerIdBuffer))
    await new Promise(resolve => theirs.destroy(resolve))
  }
  // Defaults, ours alone (WebTorrent's would map ports): natUpnp and natPmp on.
  const plain = client(t, { tracker: false, lsd: false, utp: false })
  assert.equal(plain.natUpnp, true)
  assert.equal(plain.natPmp, true)
  assert.equal(plain.maxConns, 55)
})

test('client.maxConns, assigned at runtime, limits every torrent from then on, as WebTorrent\'s', async t => {
  const content = randomBytes(71, 256 * 1024)
  const seeders = [client(t), client(t)]
  const seeds = seeders.map(c => c.seed(Buffer.from(content), { name: 'limited.bin', announce: [], store: 'memory' }))
  await Promise.all(seeds.map(s => once(s, 'ready')))
  for (const c of seeders) if (!c.listening) await once(c, 'listening')
  const leecher = client(t, { maxConns: 1 })
  const torrent = leecher.add(seeds[0].torrentFile, { store: 'memory', deselect: true }) // connections stay
  await once(torrent, 'ready')
  for (const c of seeders) torrent.addPeer(`127.0.0.1:${c.address().port}`)
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.equal(torrent.wires.length, 1, 'one connection at maxConns 1')
  leecher.maxConns = 5
  assert.equal(leecher.maxConns, 5)
  const deadline = Date.now() + 10_000
  while (torrent.wires.length < 2 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  assert.equal(torrent.wires.length, 2, 'the waiting address dialled once there is room')
})

// Listening sockets that accept and hold connections without a word: each counts the
// connections it was given (a dial stays half-open until its handshake times out).
async function silentListeners (t, n) {
  const net = await import('node:net')
  const listeners = []
  for (let i = 0; i < n; i++) {
    const held = []
    const server = net.createServer(socket => { held.push(socket); socket.on('error', () => {}) })
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { for (const s of held) s.destroy(); server.close() })
    listeners.push({ port: server.address().port, get connections () { return held.length } })
  }
  return listeners
}

const settle = async (count, want) => {
  const deadline = Date.now() + 10_000
  while (count() < want && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  await new Promise(resolve => setTimeout(resolve, 300)) // and no more than that
  return count()
}

test("priority and setPriority (WebTorrent's, newer than 2.8.5): torrents share connectionBudget as priority squared", async t => {
  const c = client(t, { connectionBudget: 10, utp: false })
  const magnet = n => `magnet:?xt=urn:btih:${String(n).padStart(40, '0')}`
  const low = c.add(magnet(1), { store: 'memory' })
  const high = c.add(magnet(2), { store: 'memory', priority: 3 })
  assert.equal(low.priority, 1, 'default 1')
  assert.equal(high.priority, 3, 'the add option')
  assert.throws(() => c.add(magnet(3), { priority: 0 }), { code: 'invalid_argument' })
  assert.throws(() => low.setPriority('x'), { code: 'invalid_argument' })
  assert.equal(c.torrents.length, 2)
  await Promise.all([once(low, 'infoHash'), once(high, 'infoHash')])
  const peersOfLow = await silentListeners(t, 6)
  const peersOfHigh = await silentListeners(t, 6)
  const count = peers => () => peers.reduce((n, p) => n + p.connections, 0)
  for (const p of peersOfLow) low.addPeer(`127.0.0.1:${p.port}`)
  for (const p of peersOfHigh) high.addPeer(`127.0.0.1:${p.port}`)
  // Shares of 10: ceil(10 * 1 / 10) = 1 and ceil(10 * 9 / 10) = 9 (it knows 6).
  assert.equal(await settle(count(peersOfLow), 1), 1)
  assert.equal(await settle(count(peersOfHigh), 6), 6)
  // Raised to 3, its share is ceil(10 * 9 / 18) = 5: it dials 3 more (the budget's 10).
  low.setPriority(3)
  assert.equal(low.priority, 3)
  assert.equal(await settle(count(peersOfLow), 4), 4)
  assert.equal(count(peersOfHigh)(), 6, 'lowering nobody\'s share closes nothing')
})

// The add options a WebTorrent torrent shows as its own properties, and infoHashBuffer: the
// same values as WebTorrent 2.8.5's torrent for the same add() call.
test('torrent.addUID, rootDir, storeOpts, alwaysChokeSeeders and infoHashBuffer, as WebTorrent\'s torrent shows them', async t => {
  const { default: WebTorrent } = await import('webtorrent')
  const quiet = { dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false }
  const theirs = new WebTorrent(quiet)
  const ours = new WasmTorrent(quiet)
  t.after(() => Promise.all([new Promise(resolve => theirs.destroy(resolve)), ours.destroy()]))
  const magnet = 'magnet:?xt=urn:btih:' + 'ab'.repeat(20)
  const shown = torrent => ({
    addUID: torrent.addUID,
    rootDir: torrent.rootDir,
    storeOpts: torrent.storeOpts,
    alwaysChokeSeeders: torrent.alwaysChokeSeeders,
    infoHashBuffer: torrent.infoHashBuffer instanceof Uint8Array ? Buffer.from(torrent.infoHashBuffer).toString('hex') : torrent.infoHashBuffer,
    isBuffer: Buffer.isBuffer(torrent.infoHashBuffer)
  })
  const dir = await tempDir(t)
  for (const opts of [{}, { addUID: true, rootDir: dir, storeOpts: { x: 1 }, alwaysChokeSeeders: false }]) {
    const a = theirs.add(magnet, { path: dir, ...opts })
    const b = ours.add(magnet, { path: dir, ...opts })
    await Promise.all([once(a, 'infoHash'), once(b, 'infoHash')].map(p => p.catch(() => {})))
    assert.deepEqual(shown(b), shown(a))
    assert.equal(shown(a).infoHashBuffer, 'ab'.repeat(20), 'the oracle')
    a.destroy()
    b.destroy()
  }
})

test('once destroy() resolves, its torrentPort (TCP and the uTP socket) and dhtPort are free: a client made next binds them at once', async t => {
  const first = new WasmTorrent({ tracker: false, lsd: false, natUpnp: false, natPmp: false, dht: { bootstrap: [] } })
  await once(first, 'listening')
  await first.whenReady()
  const { torrentPort, dhtPort } = first
  assert.ok(torrentPort > 0 && dhtPort > 0)
  await first.destroy()
  const problems = []
  const next = new WasmTorrent({ tracker: false, lsd: false, natUpnp: false, natPmp: false, dht: { bootstrap: [] }, torrentPort, dhtPort })
  t.after(() => next.destroy())
  assert.deepEqual([next.torrentPort, next.dhtPort], [torrentPort, dhtPort], "the options' ports from the constructor on, as WebTorrent's")
  next.on('error', err => problems.push(err.message))
  next.on('warning', err => problems.push(err.message))
  await once(next, 'listening')
  await next.whenReady()
  assert.deepEqual(problems, [])
  assert.deepEqual([next.torrentPort, next.dhtPort], [torrentPort, dhtPort])
})
