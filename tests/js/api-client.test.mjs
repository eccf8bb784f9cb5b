// Conformance with WebTorrent's documented client API (docs/api.md, "WebTorrent API"),
// item by item, under Node and without network: torrents are made here and seeded in a
// client with `tracker: false`; a .torrent over HTTP comes from scripts/webseed.mjs on
// 127.0.0.1. Written from the docs and WebTorrent's observable behaviour, not its tests.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import WasmTorrent, { createTorrent } from 'wasmtorrent'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { toTorrentFile } from 'parse-torrent'
import { parseTorrentNpm, randomBytes } from './helpers.mjs'

const content = Object.assign(Buffer.from(randomBytes(301, 100_000)), { name: 'leaves.bin' })
let torrentBytes // .torrent of `content`
let infoHash
let server

before(async () => {
  torrentBytes = await createTorrent([{ path: 'leaves.bin', data: content }], { announceList: [], pieceLength: 16384 })
  infoHash = (await WasmTorrent.parseTorrent(torrentBytes)).infoHash
  server = await startWebSeed({ files: { '/leaves.torrent': Buffer.from(torrentBytes) } })
})
after(() => server?.close())

const client = () => new WasmTorrent({ tracker: false })
const once = (emitter, name) => new Promise(resolve => emitter.once(name, (...args) => resolve(args)))
const tick = (ms = 50) => new Promise(resolve => setTimeout(resolve, ms))
// Collects errors and warnings an emitter reports; a test asserts the list is empty.
function problems (...emitters) {
  const list = []
  for (const e of emitters) for (const name of ['error', 'warning']) e.on(name, err => list.push(`${name}: ${err.message}`))
  return list
}
async function seeded (c) {
  const t = c.seed(content, { announceList: [], pieceLength: 16384 })
  await once(t, 'seed')
  return t
}

test('WebTorrent.WEBRTC_SUPPORT: under Node, true when node-datachannel is installed (as WebTorrent with webrtc-polyfill); UTP_SUPPORT', () => {
  assert.equal(WasmTorrent.UTP_SUPPORT, true)
  assert.equal(typeof WasmTorrent.WEBRTC_SUPPORT, 'boolean')
  let installed = true
  try { import.meta.resolve('node-datachannel/polyfill') } catch { installed = false }
  assert.equal(WasmTorrent.WEBRTC_SUPPORT, typeof globalThis.RTCPeerConnection === 'function' || installed)
})

test('new WebTorrent(opts): peerId (hex or bytes), maxConns, downloadLimit/uploadLimit; ready', async () => {
  const c = new WasmTorrent({ tracker: false, peerId: 'ab'.repeat(20), maxConns: 7, downloadLimit: 1000, uploadLimit: -1 })
  assert.equal(c.peerId, 'ab'.repeat(20), 'known at once, as WebTorrent\'s')
  // As WebTorrent's: false until 'ready', true from its first listener on (apps write
  // `if (client.ready) go() else client.once('ready', go)`); whenReady() is our Promise form.
  assert.equal(c.ready, false)
  let readyInListener
  c.once('ready', () => { readyInListener = c.ready })
  const ready = once(c, 'ready')
  await c.whenReady()
  await ready
  assert.equal(readyInListener, true)
  assert.equal(c.ready, true)
  assert.equal(c.peerId, 'ab'.repeat(20))
  await c.destroy()
  const d = new WasmTorrent({ tracker: false, peerId: new Uint8Array(20).fill(1) })
  await d.whenReady()
  assert.equal(d.peerId, '01'.repeat(20))
  await d.destroy()
  const unnamed = new WasmTorrent({ tracker: false })
  assert.match(Buffer.from(unnamed.peerId, 'hex').toString(), /^-WM0001-[0-9a-zA-Z]{12}$/)
  assert.deepEqual(unnamed.peerIdBuffer, Uint8Array.from(Buffer.from(unnamed.peerId, 'hex')))
  await unnamed.whenReady()
  assert.match(Buffer.from(unnamed.peerId, 'hex').toString(), /^-WM0001-/, 'the engine took it')
  await unnamed.destroy()
})

test('client.add: every torrent id form gives the torrent, with infoHash emitted', async t => {
  const parsedNpm = await parseTorrentNpm(Buffer.from(torrentBytes))
  const ids = {
    'magnet uri': `magnet:?xt=urn:btih:${infoHash}&dn=leaves.bin`,
    'info-hash, hex string': infoHash,
    'info-hash, upper-case hex': infoHash.toUpperCase(),
    'info-hash, 20-byte Buffer': Buffer.from(infoHash, 'hex'),
    'info-hash, 20-byte Uint8Array': new Uint8Array(Buffer.from(infoHash, 'hex')),
    'torrent file, Buffer': Buffer.from(torrentBytes),
    'torrent file, Uint8Array': torrentBytes,
    'torrent file, ArrayBuffer': torrentBytes.slice().buffer,
    'torrent file, Blob': new Blob([torrentBytes]),
    'parsed torrent (parse-torrent)': parsedNpm,
    'http url to a torrent file': `${server.url}/leaves.torrent`,
    'URL object': new URL(`${server.url}/leaves.torrent`)
  }
  for (const [what, id] of Object.entries(ids)) {
    await t.test(what, async () => {
      const c = client()
      const seen = problems(c)
      const torrent = c.add(id, { store: 'memory' })
      const hashed = once(torrent, 'infoHash')
      // Not known yet (a .torrent still to fetch): undefined, as WebTorrent's.
      if (/url/i.test(what)) assert.deepEqual([torrent.infoHash, torrent.name], [undefined, undefined])
      const [hash] = await hashed
      assert.equal(hash, infoHash)
      assert.equal(torrent.infoHash, infoHash)
      // A magnet's dn is applied before 'infoHash'; a .torrent's name too.
      if (/magnet|torrent file|parsed|url/i.test(what)) assert.equal(torrent.name, 'leaves.bin')
      if (/torrent file|parsed|url/i.test(what)) {
        if (!torrent.ready) await once(torrent, 'ready') // the metadata came with the id
        assert.deepEqual(torrent.files.map(f => [f.path, f.length]), [['leaves.bin', content.length]])
      }
      assert.equal(await c.get(infoHash), torrent)
      assert.deepEqual(seen, [])
      await c.destroy()
    })
  }
})

test('client.add: a magnet with xs= gets the .torrent from there (a failing source is skipped quietly)', async () => {
  const c = client()
  const warnings = problems(c)
  const xs = [`${server.url}/missing.torrent`, 'invalidurl:example', `${server.url}/leaves.torrent`]
  const t = c.add(`magnet:?xt=urn:btih:${infoHash}${xs.map(u => `&xs=${encodeURIComponent(u)}`).join('')}`, { store: 'memory' })
  await once(t, 'ready')
  assert.equal(t.files[0].name, 'leaves.bin')
  assert.deepEqual(t.torrentFile, toTorrentFile(await parseTorrentNpm(torrentBytes))) // as WebTorrent's
  assert.deepEqual(warnings, [])
  await c.destroy()
})

// The xs= source here answers only once 'infoHash' has come: had 'infoHash' waited for it, it
// would come only when the request gave up (10 s, past this test's limit).
test("client.add: a magnet's xs= source still loading does not hold back 'infoHash' (where apps add peers)", { timeout: 8000 }, async () => {
  const waiting = []
  const slow = http.createServer((req, res) => waiting.push(res))
  await new Promise(resolve => slow.listen(0, '127.0.0.1', resolve))
  const c = client()
  const t = c.add(`magnet:?xt=urn:btih:${infoHash}&xs=${encodeURIComponent(`http://127.0.0.1:${slow.address().port}/slow.torrent`)}`, { store: 'memory' })
  await once(t, 'infoHash')
  while (waiting.length === 0) await tick(10)
  waiting[0].end(Buffer.from(torrentBytes))
  await once(t, 'ready')
  assert.deepEqual(t.torrentFile, toTorrentFile(await parseTorrentNpm(torrentBytes)), 'the metadata from the xs= source')
  await c.destroy()
  slow.close()
})

test('client.add: a bad id fails with "Invalid torrent identifier", on the torrent or else the client', async () => {
  const c = client()
  for (const bad of ['not a torrent', 'http-less/path.torrent', new Uint8Array([100, 52, 58]), { foo: 1 }, 'ab'.repeat(19)]) {
    const torrent = c.add(bad)
    const [err] = await once(torrent, 'error')
    assert.match(err.message, /Invalid torrent identifier/)
    assert.equal(torrent.destroyed, true)
    assert.equal(c.torrents.includes(torrent), false)
  }
  // In WebTorrent's order: the client's 'remove', the torrent's 'error', its 'close' (an app
  // that drops its listeners on 'close' still hears the error).
  const order = []
  c.once('remove', () => order.push('remove'))
  const failing = c.add('not a torrent either')
  failing.once('error', () => order.push('error'))
  failing.once('close', () => order.push('close'))
  await once(failing, 'close')
  assert.deepEqual(order, ['remove', 'error', 'close'])
  // No listener on the torrent: the client's 'error' (as WebTorrent forwards it).
  c.add('still not a torrent')
  const [err] = await once(c, 'error')
  assert.match(err.message, /Invalid torrent identifier/)
  // A URL that answers 404 is an invalid id as well.
  const t404 = c.add(`${server.url}/missing.torrent`)
  assert.match((await once(t404, 'error'))[0].message, /Invalid torrent identifier/)
  await c.destroy()
})

test('client.add: a duplicate is destroyed with "Cannot add duplicate torrent", ontorrent gets the existing one', async () => {
  const c = client()
  c.on('warning', err => assert.fail(err))
  const first = await seeded(c)
  for (const id of [infoHash, `magnet:?xt=urn:btih:${infoHash}`, torrentBytes, Buffer.from(infoHash, 'hex')]) {
    let got
    const dup = c.add(id, t => { got = t })
    dup.once('ready', () => assert.fail('the duplicate never gets ready'))
    const [err] = await once(dup, 'error')
    assert.match(err.message, /Cannot add duplicate torrent/)
    assert.equal(dup.destroyed, true)
    await tick(0)
    assert.equal(got, first)
    assert.deepEqual(c.torrents, [first])
  }
  // Without an error listener on the duplicate, the client's 'error' has it.
  c.add(infoHash)
  assert.match((await once(c, 'error'))[0].message, /Cannot add duplicate torrent/)
  // The Promise form resolves with the existing torrent.
  assert.equal(await c.addAsync(infoHash), first)
  await c.destroy()
})

test('client.add twice at once: the second is the duplicate', async () => {
  const c = client()
  const a = c.add(torrentBytes, { store: 'memory' })
  const b = c.add(torrentBytes, { store: 'memory' })
  const [err] = await once(b, 'error')
  assert.match(err.message, /Cannot add duplicate torrent/)
  assert.equal(b.destroyed, true)
  assert.equal(a.destroyed, false)
  assert.deepEqual(c.torrents, [a])
  await c.destroy()
})

test('client.seed of content already seeded: onseed gets the existing torrent, the new one is destroyed quietly', async () => {
  const c = client()
  const seen = problems(c)
  const first = await seeded(c)
  let got
  const again = c.seed(content, { announceList: [], pieceLength: 16384 }, t => { got = t })
  again.on('error', err => seen.push(err.message))
  await once(again, 'close')
  await tick(0)
  assert.equal(got, first)
  assert.equal(again.destroyed, true)
  assert.deepEqual(c.torrents, [first])
  assert.deepEqual(seen, [])
  await c.destroy()
})

test('an add still pending when its torrent is removed, or the client destroyed, stops quietly', async () => {
  for (const id of [torrentBytes, infoHash, `${server.url}/leaves.torrent`, new Blob([torrentBytes])]) {
    const c = client()
    const seen = problems(c)
    const removed = c.add(id, { store: 'memory' })
    removed.on('error', err => seen.push(err.message))
    removed.on('ready', () => seen.push('ready after remove'))
    removed.destroy()
    const dropped = c.add(id, { store: 'memory' })
    dropped.on('error', err => seen.push(err.message))
    c.destroy()
    const seeding = new WasmTorrent({ tracker: false })
    await seeding.whenReady()
    const s = seeding.seed(content, { announceList: [] })
    s.on('error', err => seen.push(err.message))
    seeding.destroy()
    await tick(300)
    assert.deepEqual(seen, [])
    assert.equal(removed.destroyed && dropped.destroyed && s.destroyed, true)
  }
})

test('client.add/seed after client.destroy() throw', async () => {
  const c = client()
  await c.destroy()
  assert.throws(() => c.add(infoHash), /client is destroyed/)
  assert.throws(() => c.seed(content), /client is destroyed/)
  assert.throws(() => c.createServer(), /client is destroyed/)
})

test("client events: 'add' at once, 'torrent' when ready (after ontorrent), 'remove'", async () => {
  const c = client()
  const events = []
  for (const name of ['add', 'torrent', 'remove']) c.on(name, t => events.push([name, t.infoHash]))
  const torrent = c.add(torrentBytes, { store: 'memory' }, () => events.push(['ontorrent']))
  assert.deepEqual(events, [['add', undefined]])
  await once(c, 'torrent')
  assert.deepEqual(events, [['add', undefined], ['ontorrent'], ['torrent', infoHash]])
  await c.remove(torrent)
  assert.deepEqual(events.at(-1), ['remove', infoHash])
  await c.destroy()
})

test("client.seed: ready, client 'torrent', done, then onseed and 'seed' (torrent and client); a seed is done", async () => {
  const c = client()
  const events = []
  c.on('torrent', () => events.push('client torrent'))
  c.on('seed', () => events.push('client seed'))
  const torrent = c.seed(content, { announceList: [] }, () => events.push('onseed'))
  for (const name of ['infoHash', 'metadata', 'ready', 'done', 'seed']) torrent.on(name, () => events.push(name))
  torrent.on('verified', i => events.push(`verified ${i}`))
  // As WebTorrent's, done turns true just before 'done', after every 'ready' listener.
  torrent.on('ready', () => events.push(`done at ready: ${torrent.done}`))
  torrent.on('done', () => events.push(`done at done: ${torrent.done}`))
  await once(c, 'seed')
  // As WebTorrent's seed (skipVerify): each piece 'verified' between 'metadata' and 'ready'.
  const verified = Array.from({ length: torrent.pieces.length }, (_, i) => `verified ${i}`)
  assert.ok(verified.length > 1)
  assert.equal(torrent.skipVerify, true)
  assert.deepEqual(events, ['infoHash', 'metadata', ...verified, 'client torrent', 'ready', 'done at ready: false', 'done', 'done at done: true', 'onseed', 'seed', 'client seed'])
  assert.equal(torrent.progress, 1)
  assert.equal(torrent.downloaded, content.length)
  assert.equal(torrent.received, 0)
  assert.equal(torrent.ratio, 0)
  await c.destroy()
})

test("client.seed with neither announce nor announceList: the .torrent lists create-torrent's default trackers, as WebTorrent's", async () => {
  const { announceList: defaults } = await import('create-torrent')
  const c = new WasmTorrent({ tracker: false }) // announces to nothing: no traffic
  const issues = problems(c)
  const t = c.seed(Buffer.from('found by the default trackers'), { name: 'default-trackers.txt' })
  await once(t, 'seed')
  const parsed = await parseTorrentNpm(Buffer.from(t.torrentFile))
  assert.deepEqual(parsed.announce, defaults.flat())
  assert.deepEqual(t.announce, defaults.flat())
  for (const url of defaults.flat()) assert.ok(t.magnetURI.includes(`tr=${encodeURIComponent(url)}`), url)
  // Given trackers (or an empty list) replace them, as create-torrent's.
  const own = c.seed(Buffer.from('own trackers'), { name: 'own.txt', announce: ['wss://tracker.example/'] })
  await once(own, 'seed')
  assert.deepEqual((await parseTorrentNpm(Buffer.from(own.torrentFile))).announce, ['wss://tracker.example/'])
  assert.deepEqual(issues, [])
  await c.destroy()
})

test('globalThis.WEBTORRENT_ANNOUNCE: in every torrent created (as create-torrent\'s), and among the client\'s trackers unless tracker is false', async () => {
  const { default: createTorrentNpm } = await import('create-torrent')
  const npmCreate = (input, opts) => new Promise((resolve, reject) => createTorrentNpm(input, opts, (err, bytes) => err ? reject(err) : resolve(bytes)))
  const forced = ['ws://127.0.0.1:9/forced-a', 'ws://127.0.0.1:9/forced-b']
  globalThis.WEBTORRENT_ANNOUNCE = forced
  try {
    const input = Buffer.from('forced trackers')
    for (const opts of [{}, { announce: ['wss://given.example/'] }, { announceList: [] }]) {
      const common = { name: 'forced.txt', creationDate: new Date('2024-01-01T00:00:00Z'), ...opts }
      const ours = await parseTorrentNpm(Buffer.from(await createTorrent(input, common)))
      const theirs = await parseTorrentNpm(await npmCreate(input, common))
      assert.deepEqual(ours.announce, theirs.announce, JSON.stringify(opts))
      for (const url of forced) assert.ok(ours.announce.includes(url), `${url} in ${JSON.stringify(opts)}`)
    }
    // The client's trackers: for every public torrent (paused here: nothing is announced).
    const withTrackers = new WasmTorrent({ dht: false, tracker: { announce: ['ws://127.0.0.1:9/own'] } })
    const t = withTrackers.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`, { store: 'memory', paused: true })
    assert.deepEqual([...t.announce].sort(), ['ws://127.0.0.1:9/own', ...forced].sort())
    await withTrackers.destroy()
    const none = new WasmTorrent({ dht: false, tracker: false })
    const u = none.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`, { store: 'memory', paused: true })
    assert.deepEqual(u.announce, [])
    await none.destroy()
    // A single URL (a string) works too.
    globalThis.WEBTORRENT_ANNOUNCE = forced[0]
    const one = await parseTorrentNpm(Buffer.from(await createTorrent(input, { name: 'one.txt', announceList: [] })))
    assert.deepEqual(one.announce, [forced[0]])
  } finally {
    delete globalThis.WEBTORRENT_ANNOUNCE
  }
})

test('client.get: a Promise of the torrent (by info-hash, magnet, bytes, .torrent, Torrent) or null', async () => {
  const c = client()
  const t = await seeded(c)
  const get = c.get(infoHash)
  assert.ok(get instanceof Promise)
  assert.equal(await get, t)
  assert.equal(await c.get(`magnet:?xt=urn:btih:${infoHash}`), t)
  assert.equal(await c.get(Buffer.from(infoHash, 'hex')), t)
  assert.equal(await c.get(torrentBytes), t)
  assert.equal(await c.get(t), t)
  assert.equal(await c.get('cd'.repeat(20)), null)
  assert.equal(await c.get('garbage'), null)
  await c.destroy()
})

test('client.get and client.remove of .torrent bytes right after add() of them, before its info-hash is known, as WebTorrent\'s', async () => {
  // A fresh client: its module and setup take a while, so 'infoHash' comes late.
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  assert.equal(t.infoHash, undefined)
  assert.equal(await c.get(Buffer.from(torrentBytes)), t, 'equal bytes, another object: once its info-hash is known')
  const d = client()
  const u = d.add(torrentBytes, { store: 'memory' })
  const ready = []
  u.on('ready', () => ready.push('ready'))
  d.remove(torrentBytes) // the same object: at once, as a magnet or info-hash is removed
  assert.equal(d.torrents.length, 0)
  assert.equal(u.destroyed, true)
  const e = client()
  e.add(torrentBytes, { store: 'memory' })
  await new Promise((resolve, reject) => e.remove(Uint8Array.from(torrentBytes), err => err ? reject(err) : resolve()))
  assert.equal(e.torrents.length, 0)
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.deepEqual(ready, [], 'the removed torrent never starts')
  await Promise.all([c.destroy(), d.destroy(), e.destroy()])
})

test('client.torrents, client.remove(id, opts, cb), client.destroy(cb)', async () => {
  const c = client()
  const list = c.torrents // one array, changed in place, as WebTorrent's: an app may keep it
  const t = await seeded(c)
  assert.deepEqual(c.torrents, [t])
  const closed = once(t, 'close')
  const order = []
  t.once('close', () => order.push('close'))
  c.once('remove', () => order.push('remove'))
  await new Promise((resolve, reject) => c.remove(infoHash, { destroyStore: true }, err => (err ? reject(err) : resolve())))
  await closed
  assert.deepEqual(order, ['close', 'remove'], "client.remove: the torrent's 'close', then 'remove', as WebTorrent's")
  assert.equal(t.destroyed, true)
  assert.deepEqual(c.torrents, [])
  assert.equal(c.torrents, list)
  // An unknown id: the callback's error, or a rejected Promise.
  const err = await new Promise(resolve => c.remove('ef'.repeat(20), resolve))
  assert.match(err.message, /No torrent with id/)
  await assert.rejects(c.remove('ef'.repeat(20)), /No torrent with id/)
  const t2 = await seeded(c)
  await new Promise(resolve => c.destroy(resolve))
  assert.equal(c.destroyed, true)
  assert.equal(t2.destroyed, true)
  assert.deepEqual(c.torrents, [])
})

test('client.get and client.remove right after add() of an id that names its info-hash (no module wait, no xs= wait)', async () => {
  const c = client()
  const hex = 'cd'.repeat(20)
  const base32 = 'ZOCMZQIPFFW7OLLMIC5HUB6BPCSDEOQU' // cb84ccc1...
  const ids = [hex, `magnet:?xt=urn:btih:${base32}&dn=x`, Buffer.from('ef'.repeat(20), 'hex'),
    `magnet:?xt=urn:btih:${'12'.repeat(20)}&xs=${encodeURIComponent(`${server.url}/missing.torrent`)}`]
  const added = ids.map(id => c.add(id))
  assert.deepEqual(added.map(t => t.infoHash), [hex, 'cb84ccc10f296df72d6c40ba7a07c178a4323a14', 'ef'.repeat(20), '12'.repeat(20)])
  for (const t of added) assert.equal(await c.get(t.infoHash), t)
  for (const [i, t] of added.entries()) {
    await c.remove(ids[i])
    assert.equal(t.destroyed, true)
  }
  assert.deepEqual(c.torrents, [])
  // Two adds of one info-hash at once: the first stays, as when it was known later.
  const a = c.add(hex)
  const b = c.add(`magnet:?xt=urn:btih:${hex}`)
  assert.match((await once(b, 'error'))[0].message, /Cannot add duplicate torrent/)
  assert.equal(a.destroyed, false)
  await c.destroy()
})

test('client.remove of a torrent known at once (Torrent, info-hash, its 20 bytes, a parsed torrent): out of client.torrents when remove() returns', async () => {
  const c = client()
  const parsed = await WasmTorrent.parseTorrent(torrentBytes)
  for (const id of [t => t, () => infoHash, () => Buffer.from(infoHash, 'hex'), () => parsed]) {
    const t = await seeded(c)
    const removed = new Promise((resolve, reject) => c.remove(id(t), err => (err ? reject(err) : resolve())))
    assert.deepEqual(c.torrents, [])
    assert.equal(t.destroyed, true)
    await removed
  }
  await c.destroy()
})

test('client.seed of the same unnamed Buffer twice: the same torrent (its made-up name is kept)', async () => {
  const c = client()
  const data = Buffer.from(randomBytes(302, 5000))
  const first = await new Promise(resolve => c.seed(data, { announceList: [] }, resolve))
  assert.match(first.name, /^Unnamed Torrent \d+$/)
  await new Promise(resolve => setTimeout(resolve, 5)) // another millisecond
  const second = await new Promise(resolve => c.seed(data, { announceList: [] }, resolve))
  assert.equal(second, first)
  assert.equal(c.torrents.length, 1)
  await c.destroy()
})

test("torrent 'noPeers': every noPeersIntervalTime seconds, once per enabled source with no peer", async () => {
  const sources = async (opts) => {
    const c = new WasmTorrent({ dht: false, lsd: false, ...opts }) // 'lsd': tests/node/lsd.test.mjs
    const t = c.add(torrentBytes, { store: 'memory', noPeersIntervalTime: 0.1 })
    const seen = []
    t.on('noPeers', source => seen.push(source))
    await new Promise(resolve => setTimeout(resolve, 350))
    await c.destroy()
    return { rounds: seen.filter(s => s === seen[0]).length, kinds: [...new Set(seen)] }
  }
  const both = await sources({})
  assert.deepEqual(both.kinds, ['tracker', 'ut_pex'])
  assert.ok(both.rounds >= 2, `${both.rounds} rounds`)
  assert.deepEqual((await sources({ tracker: false })).kinds, ['ut_pex'])
  assert.deepEqual((await sources({ tracker: false, utPex: false })).kinds, [])
})

test("client.dht (Node): 'listening', then address().port is dhtPort; false with dht: false, as WebTorrent's", async () => {
  const c = new WasmTorrent({ tracker: false, dht: { bootstrap: [], stateFile: null } })
  assert.ok(c.dht)
  await once(c.dht, 'listening')
  assert.ok(c.dhtPort > 0)
  assert.equal(c.dht.address().port, c.dhtPort)
  await c.destroy()
  const d = new WasmTorrent({ tracker: false, dht: false })
  assert.equal(d.dht, false)
  await d.destroy()
})

test('client.downloadSpeed, uploadSpeed, progress, ratio; throttleDownload/Upload', async () => {
  const c = client()
  await seeded(c)
  assert.equal(c.downloadSpeed, 0)
  assert.equal(c.uploadSpeed, 0)
  assert.equal(c.progress, 0) // of the torrents not finished: none (as WebTorrent's)
  assert.equal(c.ratio, 0) // uploaded / received (1 when nothing was received)
  assert.equal(c.throttleDownload(1000), undefined)
  assert.equal(c.throttleUpload(0), undefined)
  // As WebTorrent 3's: a rate is rounded (a numeric string works); anything but a finite
  // number >= 0 or -1 is refused with false and changes nothing.
  assert.equal(c.throttleDownload('2000.4'), undefined)
  for (const bad of [NaN, Infinity, -2, -0.5, 'fast', undefined]) {
    assert.equal(c.throttleDownload(bad), false, String(bad))
    assert.equal(c.throttleUpload(bad), false, String(bad))
  }
  assert.deepEqual(c._limits, { download: 2000, upload: 0 }) // (private: the limits applied)
  const t = c.torrents[0]
  assert.equal(t.throttleDownloadSpeed(-3), false)
  assert.equal(c.throttleTorrentUpload(NaN), false)
  c.throttleDownload(-1)
  c.throttleUpload(-1)
  await c.destroy()
})

test("client.on('error'): a torrent's error with no listener of its own; none at all does not break the client", async () => {
  const c = client()
  const got = once(c, 'error')
  c.add('nope')
  assert.match((await got)[0].message, /Invalid torrent identifier/)
  // The client keeps working.
  const t = await seeded(c)
  assert.equal(t.done, true)
  await c.destroy()
})

test('client.createServer under Node: an HTTP server (tests/node/server.test.mjs); a second call throws as WebTorrent', async () => {
  const c = client()
  const server = c.createServer()
  assert.equal(typeof server.listen, 'function')
  assert.equal(server.pathname, '/webtorrent')
  assert.throws(() => c.createServer(), /server already created/)
  server.close()
  assert.doesNotThrow(() => c.createServer().close()) // after close, another may be made
  await c.destroy()
  assert.throws(() => c.createServer(), /destroyed/)
})
