// WebTorrent's wire is bittorrent-protocol's Wire: apps listen to its events ('have',
// 'bitfield', 'unchoke', 'download'...) and read peerPieces, peerExtensions, requests. The
// oracle is WebTorrent 2.x itself: each test records the same wire, once as WebTorrent's
// and once as ours, against the same WebTorrent peer over TCP on loopback, and compares.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import WebTorrent from 'webtorrent'
import Protocol from 'bittorrent-protocol'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, once, randomBytes } from './helpers.mjs'

const EVENTS = ['choke', 'unchoke', 'interested', 'uninterested', 'have', 'bitfield', 'have-all', 'have-none',
  'request', 'download', 'piece', 'upload', 'cancel', 'extended']
const PIECE = 16 * 1024
const webtorrent = () => new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
const destroyed = client => new Promise(resolve => client.destroy(resolve))

function record (wire) {
  const log = []
  for (const name of EVENTS) wire.on(name, (...args) => log.push([name, ...args]))
  return log
}

// What both libraries' wires must agree on.
function summary (log, data) {
  const of = name => log.filter(e => e[0] === name)
  const firstOf = name => log.findIndex(e => e[0] === name)
  const order = ['have-all', 'bitfield', 'have-none', 'interested', 'unchoke', 'download', 'upload']
    .filter(name => firstOf(name) >= 0).sort((a, b) => firstOf(a) - firstOf(b))
  const handshake = of('extended').find(e => e[1] === 'handshake')?.[2]
  return {
    order,
    downloaded: of('download').reduce((sum, e) => sum + e[1], 0),
    uploaded: of('upload').reduce((sum, e) => sum + e[1], 0),
    // Each block where it belongs, with the torrent's bytes.
    blocks: of('piece').every(([, index, offset, buf]) =>
      Buffer.from(buf).equals(data.subarray(index * PIECE + offset, index * PIECE + offset + buf.length))),
    blockBytes: of('piece').reduce((sum, e) => sum + e[3].length, 0),
    haves: [...new Set(of('have').map(e => e[1]))].sort((a, b) => a - b),
    requested: of('request').reduce((sum, e) => sum + e[3], 0) >= of('upload').reduce((sum, e) => sum + e[1], 0),
    handshakeNames: handshake?.m ? Object.keys(handshake.m).sort() : null
    // Not compared: a WebTorrent seeder's choke once the leecher is done, which depends on
    // the order the pieces came in (its check of a peer's bitfield size) and on its timer.
  }
}

// A WebTorrent seeder of `data`; resolves with it, its torrent and its port.
async function webtorrentSeeder (t, data) {
  const dir = await tempDir(t)
  const wt = webtorrent()
  t.after(() => destroyed(wt))
  const torrent = await new Promise(resolve => wt.seed(Object.assign(Buffer.from(data), { name: 'wire.bin' }),
    { announce: [], path: dir, pieceLength: PIECE }, resolve))
  if (!wt.torrentPort) await once(wt, 'listening')
  return { wt, torrent }
}

// Downloads `torrentFile` from 127.0.0.1:port with `client`, recording the wire to the seeder.
async function leech (client, torrentFile, port, opts) {
  const torrent = client.add(torrentFile, opts)
  let log, wire
  torrent.on('wire', w => { wire = w; log = record(w) })
  if (!torrent.ready) await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${port}`)
  if (!torrent.done) await once(torrent, 'done')
  await new Promise(resolve => setTimeout(resolve, 300)) // the last events
  return { torrent, wire, log }
}

test("a leecher's wire to a WebTorrent seeder: the same events and fields as WebTorrent's own", async t => {
  const data = randomBytes(301, 20 * PIECE + 1234)
  const { wt, torrent: seeding } = await webtorrentSeeder(t, data)
  const theirs = webtorrent()
  const ours = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([destroyed(theirs), ours.destroy()]))
  const dir = await tempDir(t)
  const a = await leech(theirs, seeding.torrentFile, wt.torrentPort, { path: dir })
  const b = await leech(ours, seeding.torrentFile, wt.torrentPort, { store: 'memory' })
  const expected = summary(a.log, data)
  assert.equal(expected.downloaded, data.length) // the oracle itself
  assert.deepEqual(summary(b.log, data), expected)
  // The seeder has every piece, as each wire's peerPieces says; the same handshake bits.
  for (const { wire } of [a, b]) {
    for (let i = 0; i < seeding.pieces.length; i++) assert.equal(wire.peerPieces.get(i), true, `piece ${i}`)
  }
  assert.deepEqual(b.wire.peerExtensions, a.wire.peerExtensions)
  assert.equal(a.wire.isSeeder, true) // WebTorrent's field, which apps show
  assert.equal(b.wire.isSeeder, true)
  assert.equal(b.wire.hasFast, a.wire.hasFast)
  assert.equal(b.wire.peerExtendedHandshake.v?.toString(), a.wire.peerExtendedHandshake.v?.toString())
  assert.deepEqual(Object.keys(b.wire.peerExtendedMapping).sort(), Object.keys(a.wire.peerExtendedMapping).sort())
  // extendedMapping (id -> name) is what our handshake told the seeder: its wire's view of us.
  const toOurs = seeding.wires.find(w => w.peerId === ours.peerId)
  assert.ok(toOurs, "the seeder's wire to our client")
  const ourMapping = Object.fromEntries(Object.entries(b.wire.extendedMapping).map(([id, name]) => [name, Number(id)]))
  assert.deepEqual(ourMapping, toOurs.peerExtendedMapping)
  assert.ok(Object.values(a.wire.extendedMapping).every(name => name in ourMapping), 'the extensions WebTorrent uses, ours too')
  assert.equal(b.wire.peerIdBuffer.length, 20)
  // A Buffer, as bittorrent-protocol's: apps call toString('hex'), bittorrent-peerid wants one.
  assert.ok(Buffer.isBuffer(b.wire.peerIdBuffer))
  assert.equal(b.wire.peerIdBuffer.toString('hex'), b.wire.peerId)
  assert.deepEqual(b.wire.requests, [])
  assert.deepEqual(b.wire.peerRequests, [])
})

test("a seeder's wire to a WebTorrent leecher: the same events as WebTorrent's own", async t => {
  const data = randomBytes(302, 12 * PIECE + 77)
  const { torrent: model } = await webtorrentSeeder(t, data) // the .torrent both seeders use
  const runs = []
  for (const kind of ['webtorrent', 'ours']) {
    const seeder = kind === 'ours' ? new WasmTorrent({ tracker: false, dht: false }) : webtorrent()
    const leecher = webtorrent()
    t.after(() => Promise.all([kind === 'ours' ? seeder.destroy() : destroyed(seeder), destroyed(leecher)]))
    const seedDir = await tempDir(t)
    let log
    const seeding = await new Promise(resolve => {
      const s = seeder.seed(Object.assign(Buffer.from(data), { name: 'wire.bin' }),
        { announce: [], pieceLength: PIECE, ...(kind === 'ours' ? {} : { path: seedDir }) }, resolve)
      s.on('wire', w => { log = record(w) })
    })
    assert.equal(seeding.infoHash, model.infoHash)
    if (!seeder.torrentPort) await once(seeder, 'listening')
    const got = await leech(leecher, seeding.torrentFile, seeder.torrentPort, { path: await tempDir(t) })
    assert.equal(got.torrent.progress, 1)
    runs.push(summary(log, data))
  }
  const [expected, actual] = runs
  assert.equal(expected.uploaded, data.length)
  assert.deepEqual(expected.haves, [...Array(13).keys()]) // the oracle heard every have
  assert.deepEqual(actual, expected)
})

test("a listener added later gets the events from then on; the wire reports nothing it was not asked for", async t => {
  const data = randomBytes(303, 64 * PIECE)
  const { wt, torrent: seeding } = await webtorrentSeeder(t, data)
  wt.throttleUpload(256 * 1024) // 4 s: time to listen halfway
  const ours = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => ours.destroy())
  const torrent = ours.add(seeding.torrentFile, { store: 'memory' })
  let wire
  torrent.on('wire', w => { wire = w })
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  while (!wire || wire.downloaded < data.length / 4) await new Promise(resolve => setTimeout(resolve, 20))
  // Nothing asked for blocks so far: no piece-sized events are on their way.
  const before = wire.downloaded
  let heard = 0
  const onDownload = n => { heard += n }
  wire.on('download', onDownload)
  while (wire.downloaded < data.length / 2) await new Promise(resolve => setTimeout(resolve, 20))
  wire.off('download', onDownload)
  const atOff = heard
  await once(torrent, 'done')
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.ok(heard > 0, 'blocks after the listener came')
  assert.ok(heard <= data.length - before, `${heard} bytes heard, ${data.length - before} came after the listener`)
  assert.ok(heard < data.length / 2 + 4 * PIECE, 'the listener removed heard no more')
  assert.equal(heard, atOff)
  // peerPieces, first read late, is right, and a 'have-all' seeder's is full.
  assert.equal(wire.peerPieces.get(0), true)
  assert.equal(wire.peerPieces.get(63), true)
  // torrent.bitfield is a BitField, as WebTorrent's.
  let set = 0
  torrent.bitfield.forEach(bit => { if (bit) set++ }, 0, 64)
  assert.equal(set, 64)
  assert.equal(torrent.bitfield.isEmpty(), false)
})

test("a peer's lt_donthave takes the piece out of wire.peerPieces, as WebTorrent's lt_donthave extension does", async t => {
  const data = randomBytes(95, 8 * PIECE)
  const ours = new WasmTorrent({ dht: false, tracker: false, lsd: false, utp: false })
  t.after(() => ours.destroy())
  const maker = new WasmTorrent({ dht: false, tracker: false, lsd: false, utp: false })
  const made = maker.seed(Buffer.from(data), { name: 'donthave.bin', announce: [], pieceLength: PIECE })
  await once(made, 'seed')
  const torrentFile = made.torrentFile
  await maker.destroy()

  // The peer: bittorrent-protocol's Wire behind a TCP server, with pieces 0 and 1, that then
  // says it no longer has piece 1.
  const { default: Protocol } = await import('bittorrent-protocol')
  const net = await import('node:net')
  function DontHave () {}
  DontHave.prototype.name = 'lt_donthave'
  let peer
  const server = net.createServer(socket => {
    peer = new Protocol()
    peer.use(DontHave)
    socket.pipe(peer).pipe(socket)
    peer.once('handshake', infoHash => {
      peer.handshake(infoHash, '2d5757303030302d' + '61'.repeat(12), { dht: false })
      peer.bitfield(new Uint8Array([0b11000000]))
    })
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => server.close(resolve)))

  const torrent = ours.add(torrentFile, { store: 'memory' })
  let donthave
  const wire = await new Promise(resolve => {
    torrent.on('wire', wire => {
      donthave = new Promise(resolve => wire.on('extended', name => { if (name === 'lt_donthave') resolve() }))
      wire.once('bitfield', () => resolve(wire))
    })
    torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${server.address().port}`))
  })
  assert.deepEqual([wire.peerPieces.get(0), wire.peerPieces.get(1)], [true, true])
  await new Promise(resolve => { if (peer.peerExtendedMapping.lt_donthave) resolve(); else peer.once('extended', resolve) })
  const index = new Uint8Array(4)
  new DataView(index.buffer).setUint32(0, 1)
  peer.extended('lt_donthave', index)
  await donthave
  assert.deepEqual([wire.peerPieces.get(0), wire.peerPieces.get(1)], [true, false])
})

test("our extension handshake tells the peer its address (BEP 10's yourip), as WebTorrent's newer code and libtorrent do", async t => {
  const data = randomBytes(303, 3 * PIECE)
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  const leecher = webtorrent()
  t.after(() => Promise.all([seeder.destroy(), destroyed(leecher)]))
  const seeding = await new Promise(resolve => seeder.seed(Object.assign(Buffer.from(data), { name: 'ip.bin' }),
    { announce: [], pieceLength: PIECE }, resolve))
  if (!seeder.torrentPort) await once(seeder, 'listening')
  const { log } = await leech(leecher, seeding.torrentFile, seeder.torrentPort, { path: await tempDir(t) })
  const handshake = log.find(e => e[0] === 'extended' && e[1] === 'handshake')?.[2]
  assert.ok(handshake, 'an extension handshake')
  assert.deepEqual([...handshake.yourip], [127, 0, 0, 1])
})

// bittorrent-protocol's wire.setTimeout(ms) and setKeepAlive(on), which WebTorrent apps call
// in their 'wire' listeners. The peer is bittorrent-protocol's own Wire behind a TCP server:
// it has every piece and unchokes us, but never answers a request.
test('wire.setTimeout(ms): a request the peer leaves unanswered gives \'timeout\'; setKeepAlive() is taken', { timeout: 60_000 }, async t => {
  const data = randomBytes(12, 64 * 1024)
  const seeding = new WasmTorrent({ dht: false, tracker: false, lsd: false })
  t.after(() => seeding.destroy())
  const made = seeding.seed(Object.assign(Buffer.from(data), { name: 'silent.bin' }), { announce: [], store: 'memory' })
  await once(made, 'seed')
  const torrentFile = made.torrentFile
  const infoHash = made.infoHash
  await seeding.destroy()

  const requests = []
  const server = net.createServer(socket => {
    const wire = new Protocol()
    socket.pipe(wire).pipe(socket)
    socket.on('error', () => {})
    wire.on('handshake', () => {
      wire.handshake(infoHash, Buffer.alloc(20, 7), { dht: false })
      wire.bitfield(Buffer.from([0xf0])) // 4 pieces of 16 KiB
      wire.unchoke()
    })
    wire.on('request', (index, offset) => requests.push([index, offset])) // never answered
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())

  const ours = new WasmTorrent({ dht: false, tracker: false, lsd: false, utp: false })
  t.after(() => ours.destroy())
  const torrent = ours.add(torrentFile, { store: 'memory' })
  const timedOut = new Promise(resolve => torrent.on('wire', wire => {
    wire.setKeepAlive(true)
    wire.setKeepAlive(false)
    wire.setTimeout(1500, true)
    const at = Date.now()
    wire.once('timeout', () => resolve({ after: Date.now() - at, wire }))
  }))
  torrent.addPeer(`127.0.0.1:${server.address().port}`)
  const { after, wire } = await timedOut
  assert.ok(requests.length > 0, 'the peer was asked')
  assert.ok(after >= 1400, `'timeout' came ${after} ms after the wire, not before its 1.5 s`)
  assert.equal(wire.destroyed, false, 'a timeout alone does not close the wire (WebTorrent\'s own listener does)')
})

// An app that decides whom it uploads to (paid streaming, download-only modes) calls
// wire.choke() and wire.unchoke(). The peer is bittorrent-protocol's Wire, interested in
// what we seed.
test('wire.choke() holds an interested peer choked through the choker\'s rounds; wire.unchoke() lets it download', { timeout: 60_000 }, async t => {
  const data = randomBytes(13, 64 * 1024)
  const ours = new WasmTorrent({ dht: false, tracker: false, lsd: false, utp: false })
  t.after(() => ours.destroy())
  const seeded = ours.seed(Object.assign(Buffer.from(data), { name: 'held.bin' }), { announce: [], store: 'memory' })
  await once(seeded, 'seed')
  if (!ours.listening) await once(ours, 'listening')
  const ourWire = new Promise(resolve => seeded.on('wire', wire => {
    wire.choke() // before the peer is even interested
    resolve(wire)
  }))

  const heard = []
  const socket = net.connect(ours.torrentPort, '127.0.0.1')
  t.after(() => socket.destroy())
  const peer = new Protocol()
  socket.pipe(peer).pipe(socket)
  peer.on('choke', () => heard.push('choke'))
  peer.on('unchoke', () => heard.push('unchoke'))
  peer.handshake(seeded.infoHash, Buffer.alloc(20, 9), { dht: false })
  peer.on('handshake', () => peer.interested())
  const wire = await ourWire
  assert.equal(wire.amChoking, true)
  await new Promise(resolve => setTimeout(resolve, 11_000)) // past a round of the choker (10 s)
  assert.equal(heard.includes('unchoke'), false, 'held choked')
  wire.unchoke()
  assert.equal(wire.amChoking, false)
  const block = await new Promise((resolve, reject) => {
    const ask = () => peer.request(0, 0, 16 * 1024, (err, buf) => err ? reject(err) : resolve(buf))
    if (heard.includes('unchoke')) ask(); else peer.once('unchoke', ask)
  })
  assert.ok(Buffer.from(block).equals(data.subarray(0, 16 * 1024)))
})
