// Connection objects an app brings, as WebTorrent takes them: torrent.addPeer(simplePeer)
// for a WebRTC connection the app signalled itself, torrent.addWebSeed(conn) for a custom
// web seed (an object with a connId that speaks the wire protocol, as WebTorrent's WebConn),
// and any duplex stream (here a TCP socket the app dialled). The peers are WebTorrent 2.8.5,
// simple-peer (the one WebTorrent uses, over node-datachannel) and bittorrent-protocol's
// Wire. Run in a namespace with a veth pair (WT_NETNS_VETH=1 scripts/loopback.sh):
// libdatachannel gathers no candidate on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { createHash } from 'node:crypto'
import WebTorrent from 'webtorrent'
import Peer from '@thaunknown/simple-peer'
import Protocol from 'bittorrent-protocol'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes } from './helpers.mjs'

const quiet = { dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false }
const destroyed = client => new Promise(resolve => client.destroy(resolve))
const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')

// Two simple-peer instances signalled to each other directly (no tracker).
function peerPair () {
  const a = new Peer({ initiator: true, config: { iceServers: [] } })
  const b = new Peer({ config: { iceServers: [] } })
  a.on('signal', data => b.signal(data))
  b.on('signal', data => a.signal(data))
  return [a, b]
}

async function bytesOf (torrent) {
  return Buffer.from(await torrent.files[0].arrayBuffer())
}

test('addPeer(simple-peer): a download from WebTorrent over a connection the app signalled', async t => {
  const data = randomBytes(501, 600 * 1024 + 123)
  const wt = new WebTorrent(quiet)
  const ours = new WasmTorrent(quiet)
  t.after(() => Promise.all([destroyed(wt), ours.destroy()]))
  const seeded = wt.seed(Buffer.from(data), { name: 'signalled.bin', announce: [] })
  await once(seeded, 'ready')

  const torrent = ours.add(seeded.magnetURI, { store: 'memory' })
  await once(torrent, 'infoHash')
  const [mine, theirs] = peerPair() // still connecting: both sides wait for 'connect'
  const told = []
  torrent.on('peer', p => told.push(p))
  const wired = once(torrent, 'wire')
  assert.equal(torrent.addPeer(mine), true)
  assert.deepEqual(told, [mine], "'peer' names the object, at once")
  seeded.addPeer(theirs)

  const [wire] = await wired
  assert.equal(wire.type, 'webrtc')
  await once(torrent, 'done')
  assert.equal(sha256(await bytesOf(torrent)), sha256(data))
  assert.ok(seeded.uploaded >= data.length)

  // The same object again is refused, as WebTorrent's (a duplicate) ...
  const invalid = []
  torrent.on('invalidPeer', p => invalid.push(p))
  assert.equal(torrent.addPeer(mine), false)
  assert.deepEqual(invalid, [mine])
  // ... and removePeer(object) closes it.
  const closed = Promise.all([once(wire, 'close'), once(mine, 'close')])
  torrent.removePeer(mine)
  await closed
  assert.equal(torrent.wires.length, 0)
})

test('addPeer(simple-peer) before the torrent is in the engine, and a seed reached that way', async t => {
  const data = randomBytes(502, 300 * 1024)
  const wt = new WebTorrent(quiet)
  const ours = new WasmTorrent(quiet)
  t.after(() => Promise.all([destroyed(wt), ours.destroy()]))
  // Our seed uploads to WebTorrent over the app's connection.
  const seeded = ours.seed(Buffer.from(data), { name: 'up.bin', announce: [] })
  const [mine, theirs] = peerPair()
  seeded.addPeer(mine) // before 'infoHash': kept until the engine has the torrent
  await once(seeded, 'seed')
  const leech = wt.add(seeded.magnetURI)
  await new Promise(resolve => leech.once('infoHash', resolve))
  leech.addPeer(theirs)
  await new Promise(resolve => leech.once('done', resolve))
  assert.equal(sha256(Buffer.from(await leech.files[0].arrayBuffer())), sha256(data))
})

// A custom web seed as WebTorrent's WebConn is one: bittorrent-protocol's Wire answering as
// a seed that has every piece, its blocks read from `data` (what an app would fetch from
// its own source).
function customWebSeed (data, pieceLength, pieceCount, connId) {
  const conn = new Protocol()
  conn.connId = connId
  conn.asked = 0
  conn.once('handshake', infoHash => {
    conn.handshake(infoHash, createHash('sha1').update(connId).digest('hex'))
    const bits = new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff)
    if (pieceCount % 8) bits[bits.length - 1] = 0xff << (8 - pieceCount % 8) & 0xff
    conn.bitfield(bits)
  })
  conn.once('interested', () => conn.unchoke())
  conn.on('request', (index, offset, length, respond) => {
    conn.asked += length
    const from = index * pieceLength + offset
    setImmediate(() => respond(null, data.subarray(from, from + length)))
  })
  return conn
}

test('addWebSeed(conn): a custom web seed that speaks the wire protocol, as WebTorrent\'s WebConn', async t => {
  const data = randomBytes(503, 5 * 64 * 1024 + 77)
  const ours = new WasmTorrent(quiet)
  t.after(() => ours.destroy())
  // The torrent's metadata, made by a seed in another client that then leaves.
  const maker = new WasmTorrent(quiet)
  const made = maker.seed(Buffer.from(data), { name: 'custom.bin', announce: [], pieceLength: 64 * 1024 })
  await once(made, 'seed')
  const torrentFile = made.torrentFile
  await maker.destroy()

  const torrent = ours.add(torrentFile, { store: 'memory' })
  await once(torrent, 'ready')
  const conn = customWebSeed(data, 64 * 1024, torrent.pieces.length, 'https://example.invalid/custom')
  const told = []
  torrent.on('peer', p => told.push(p))
  const wired = once(torrent, 'wire')
  torrent.addWebSeed(conn)
  assert.deepEqual(told, [conn.connId], "'peer' names the connId, as WebTorrent's")
  const [wire] = await wired
  assert.equal(wire.type, 'webSeed')
  await once(torrent, 'done')
  assert.equal(sha256(await bytesOf(torrent)), sha256(data))
  assert.equal(conn.asked, data.length, 'every byte asked of the web seed once')

  // A second object with the same connId: a warning and 'invalidPeer', as WebTorrent's.
  const warnings = []
  const invalid = []
  torrent.on('warning', err => warnings.push(err.message))
  torrent.on('invalidPeer', p => invalid.push(p))
  torrent.addWebSeed(customWebSeed(data, 64 * 1024, torrent.pieces.length, conn.connId))
  assert.match(warnings.join(), /duplicate web seed/)
  assert.deepEqual(invalid, [conn.connId])
  // Anything else is a warning, not a throw, as WebTorrent's.
  torrent.addWebSeed({ id: 'no connId' })
  assert.match(warnings.at(-1), /string or connection object/)
})

test('addPeer(duplex): a TCP socket the app dialled itself, still connecting when given', async t => {
  const data = randomBytes(504, 200 * 1024)
  const seeder = new WasmTorrent({ ...quiet, torrentPort: 0 })
  const ours = new WasmTorrent(quiet)
  t.after(() => Promise.all([seeder.destroy(), ours.destroy()]))
  const seeded = seeder.seed(Buffer.from(data), { name: 'tcp.bin', announce: [] })
  await once(seeded, 'seed')
  if (!seeder.listening) await once(seeder, 'listening')

  const torrent = ours.add(seeded.magnetURI, { store: 'memory' })
  const socket = net.connect(seeder.torrentPort, '127.0.0.1')
  assert.equal(socket.connecting, true)
  const wired = once(torrent, 'wire')
  assert.equal(torrent.addPeer(socket), true)
  const [wire] = await wired
  assert.equal(wire.remoteAddress, '127.0.0.1')
  assert.equal(wire.remotePort, seeder.torrentPort)
  await once(torrent, 'done')
  assert.equal(sha256(await bytesOf(torrent)), sha256(data))
  // Destroying the torrent closes the app's socket.
  await torrent.destroy()
  assert.equal(socket.destroyed, true)
})
