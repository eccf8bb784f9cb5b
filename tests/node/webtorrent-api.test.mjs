// WebTorrent's Node-only API with peers and files: seed() of several paths (named after
// their common folder, torrent.path), torrent.load() of content the app has, then served
// to a peer added by host name. Written from WebTorrent's documented behaviour.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile, readFile } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, once, randomBytes, startTracker, trackerKnows } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => c.destroy())
  return c
}

async function files (dir, names) {
  return Promise.all(names.map(async name => {
    const file = path.join(dir, name)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, name)
    return file
  }))
}

const seed = (c, input, opts) => new Promise((resolve, reject) => {
  c.seed(input, { announce: [], ...opts }, resolve).once('error', reject)
})

test('seed() of several paths: named after their deepest common folder, unless opts.name; torrent.path', async t => {
  const dir = await tempDir(t)
  const c = client(t)
  const flat = await seed(c, await files(path.join(dir, 'flat'), ['index.html', 'package.json']))
  assert.equal(flat.name, 'flat')
  assert.deepEqual(flat.files.map(f => f.path).sort(), ['flat/index.html', 'flat/package.json'])
  assert.equal(flat.path, dir)

  const named = await seed(c, await files(path.join(dir, 'named'), ['one.txt', 'two.txt']), { name: 'custom-name' })
  assert.equal(named.name, 'custom-name')
  assert.deepEqual(named.files.map(f => f.path).sort(), ['custom-name/one.txt', 'custom-name/two.txt'])
  assert.equal(await named.files[0].arrayBuffer().then(b => Buffer.from(b).toString()), 'one.txt')

  const deep = await seed(c, await files(path.join(dir, 'deep'), ['first/one.txt', 'second/two.txt']))
  assert.equal(deep.name, 'deep')
  assert.deepEqual(deep.files.map(f => f.path).sort(), ['deep/first/one.txt', 'deep/second/two.txt'])

  // A single file: its own name, and the folder it is in as torrent.path.
  const [single] = await files(path.join(dir, 'single'), ['single.txt'])
  const one = await seed(c, single)
  assert.equal(one.name, 'single.txt')
  assert.equal(one.files[0].path, 'single.txt')
  assert.equal(one.path, path.join(dir, 'single'))
})

test('torrent.load(stream, cb) makes a seed; a peer added as localhost:port downloads from it', async t => {
  const dir = await tempDir(t)
  const data = randomBytes(77, 300_001)
  await writeFile(path.join(dir, 'content.bin'), data)
  const torrentFile = await WasmTorrent.createTorrent(path.join(dir, 'content.bin'), { announceList: [], pieceLength: 16384 })

  const seeder = client(t)
  const seeding = seeder.add(torrentFile, { path: path.join(dir, 'seed') })
  await new Promise((resolve, reject) => seeding.load(createReadStream(path.join(dir, 'content.bin')), err => (err ? reject(err) : resolve())))
  assert.equal(seeding.done, true)
  // Written to the torrent's store: its folder on disk.
  assert.deepEqual(await readFile(path.join(dir, 'seed', 'content.bin')), Buffer.from(data))

  await seeder.whenReady()
  const leecher = client(t)
  const torrent = leecher.add(torrentFile, { store: 'memory' })
  await once(torrent, 'ready')
  assert.equal(torrent.addPeer(`localhost:${seeder.torrentPort}`), true)
  await once(torrent, 'done')
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
})

test('torrent.load() keeps the torrent live: one started announce, a connected peer stays and downloads', async t => {
  const tracker = await startTracker(t)
  const starts = []
  tracker.server.on('start', addr => starts.push(addr))
  const stops = []
  tracker.server.on('stop', addr => stops.push(addr))
  const data = randomBytes(78, 200_003)
  const torrentFile = await WasmTorrent.createTorrent(data, { name: 'loaded.bin', announceList: [[tracker.http]], pieceLength: 16384 })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)

  const withTracker = () => {
    const c = new WasmTorrent({ dht: false })
    t.after(() => c.destroy())
    return c
  }
  const seeder = withTracker()
  const seeding = seeder.add(torrentFile, { store: 'memory' })
  await once(seeding, 'ready')
  await trackerKnows(tracker, parsed.infoHash, s => s.incomplete > 0, 'the loader')
  // A peer that connected before the content was there.
  const wired = once(seeding, 'wire') // the tracker gives the leecher the loader's address
  const leecher = withTracker()
  const torrent = leecher.add(torrentFile, { store: 'memory' })
  const [wire] = await wired
  let closed = false
  wire.on('close', () => { closed = true })

  // Wrong content first: refused, nothing had.
  const wrong = Uint8Array.from(data, (b, i) => (i === 20_000 ? b ^ 1 : b))
  await assert.rejects(seeding.load(wrong), { code: 'hash_failed' })
  assert.equal(seeding.done, false)
  await new Promise((resolve, reject) => seeding.load(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), err => (err ? reject(err) : resolve())))
  assert.equal(seeding.done, true)
  await once(torrent, 'done')
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
  assert.equal(closed, false, 'the connection made before load() stayed')
  // end() closes it, as bittorrent-protocol's Duplex end().
  const ended = once(wire, 'close')
  assert.equal(wire.end(), wire)
  await ended
  assert.equal(seeding.wires.includes(wire), false)
  // One started announce per client, and no stopped one: the torrent never left.
  assert.equal(starts.length, 2)
  assert.equal(stops.length, 0)
})

test('seed() of a Buffer: written to files under torrent.path (opts.path), served from there; destroyStore deletes them; store memory writes nothing', async t => {
  const dir = await tempDir(t)
  const c = client(t)
  const content = randomBytes(150_000, 41)
  const seeded = await seed(c, content, { name: 'kept.bin', path: path.join(dir, 'a') })
  assert.equal(seeded.path, path.join(dir, 'a'))
  assert.deepEqual(await readFile(path.join(seeded.path, 'kept.bin')), Buffer.from(content))
  // A peer downloads it: the pieces come from the files.
  const leecher = client(t)
  const down = leecher.add(seeded.torrentFile, { store: 'memory' })
  await once(down, 'infoHash')
  down.addPeer(`127.0.0.1:${c.torrentPort}`)
  await once(down, 'done')
  assert.deepEqual(Buffer.from(await down.files[0].arrayBuffer()), Buffer.from(content))
  await new Promise((resolve, reject) => c.remove(seeded, { destroyStore: true }, err => err ? reject(err) : resolve()))
  await assert.rejects(readFile(path.join(dir, 'a', 'kept.bin')), { code: 'ENOENT' })

  const inMemory = await seed(c, randomBytes(1000, 42), { name: 'mem.bin', store: 'memory', path: path.join(dir, 'b') })
  assert.equal(inMemory.path, path.join(dir, 'b'))
  await assert.rejects(readFile(path.join(dir, 'b', 'mem.bin')), { code: 'ENOENT' })
})

// WebTorrent's own protocol-encryption test reads the seed's info-hash on 'listening': a seed
// of content in memory is hashed while the client binds its sockets, not after.
test('seed() of a Buffer: the info-hash is known when the client emits \'listening\'', async t => {
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false })
  t.after(() => c.destroy())
  const torrent = c.seed(Buffer.from('Hello World'), { name: 'Hello.txt', announce: [] })
  await once(c, 'listening')
  assert.match(String(torrent.infoHash), /^[0-9a-f]{40}$/)
  assert.equal(c.torrents[0], torrent)
})
