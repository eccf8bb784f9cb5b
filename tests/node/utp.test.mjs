// uTP (BEP 29) against libtorrent 2.0 (Debian's python3-libtorrent) on loopback, with
// libtorrent's TCP turned off (enable_outgoing_tcp / enable_incoming_tcp false) so that only
// uTP can carry the torrent: each way, byte-exact on disk, the wires typed as WebTorrent's.
// And the fallback: a libtorrent with uTP off is dialled over TCP once the SYNs go unanswered.
// Transmission 3.00 with its uTP on: wasmtorrent downloads from it over uTP (Transmission has
// no switch for its TCP, and dials no 127.x peer, so only that way). WebTorrent 2.x under
// Node (its uTP is utp-native, libutp): each way, both ends' wires typed uTP.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import WebTorrent from 'webtorrent'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, libtorrentPeer, writeTorrent, randomBytes, freePort } from './helpers.mjs'
import { startTransmission, SEEDING } from './peers/transmission.mjs'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

test('libtorrent seeds over uTP only, wasmtorrent downloads (utpOutgoing)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-down', 3)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), [], ['--transport', 'utp'])
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  await c.whenReady()
  assert.equal(c.utp, true)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`127.0.0.1:${port}`), true)
  const [wire, addr] = await once(torrent, 'wire')
  assert.equal(wire.type, 'utpOutgoing')
  assert.equal(wire.remoteAddress, '127.0.0.1')
  assert.equal(wire.remotePort, port)
  // WebTorrent's private torrent._peers, which its own tests read.
  assert.deepEqual(torrent._peers.get(addr), { id: addr, addr, type: 'utpOutgoing', wire })
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test('wasmtorrent seeds, libtorrent downloads over uTP only (utpIncoming)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-up', 5)
  const c = client(t)
  await c.whenReady()
  assert.ok(c.torrentPort > 0)
  const torrent = c.seed(content.root, { announce: [], pieceLength: 65536 })
  await once(torrent, 'seed')
  const wireSeen = once(torrent, 'wire')
  const lt = libtorrentPeer(t, 'download', await writeTorrent(dir, torrent.torrentFile), path.join(dir, 'down'),
    [`127.0.0.1:${c.torrentPort}`], ['--transport', 'utp'])
  const [wire] = await wireSeen
  assert.equal(wire.type, 'utpIncoming')
  await lt.waitFor(s => s.done, 60000, 'libtorrent to finish')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok(torrent.uploaded >= 1_000_003)
})

// IPv6: uTP on the IPv6 socket, each way (WebTorrent dials IPv6 over TCP only; libtorrent
// speaks uTP over both families).
test('over IPv6 ([::1]): libtorrent seeds over uTP only, wasmtorrent downloads; and the reverse', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-v6', 9)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const seeder = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), [], ['--transport', 'utp', '--ipv6'])
  const { port } = await seeder.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`[::1]:${port}`), true)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'utpOutgoing')
  assert.equal(wire.remoteAddress, '::1')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)

  // The reverse: our download is now a seed; a second libtorrent dials it over uTP on [::1].
  const wireSeen = once(torrent, 'wire')
  const leecher = libtorrentPeer(t, 'download', await writeTorrent(path.join(dir, 'down'), torrentFile), path.join(dir, 'down2'),
    [`[::1]:${c.torrentPort}`], ['--transport', 'utp', '--ipv6'])
  const [incoming] = await wireSeen
  assert.equal(incoming.type, 'utpIncoming')
  assert.equal(incoming.remoteAddress, '::1')
  await leecher.waitFor(s => s.done, 60000, 'libtorrent to finish')
  assert.equal(await sameFiles(path.join(dir, 'down2'), content.files), null)
})

test('a peer without uTP: the dial falls back to TCP (tcpOutgoing)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-fallback', 7)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), [], ['--transport', 'tcp'])
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${port}`)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'tcpOutgoing')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

// Nothing listens on UDP at the port: the system's ICMP "port unreachable" answers the
// engine's UDP probe, and the dial goes over TCP at once. Before, the uTP dial waited out its
// SYNs (3 s), with a TCP probe at 0.5 s that was closed unused: the first TCP connection the
// address saw carried no byte.
test('an address with no UDP socket: its first TCP connection is the dial itself, not a probe', async t => {
  const port = await freePort()
  let decide
  const first = new Promise(resolve => { decide = resolve })  // the first connection: 'bytes' or 'closed'
  const server = net.createServer(socket => {
    socket.once('data', () => decide('bytes'))
    socket.once('close', () => decide('closed'))
    socket.on('error', () => {})
  })
  await new Promise(resolve => server.listen(port, '127.0.0.1', resolve))
  t.after(() => server.close())

  const c = client(t)
  await c.whenReady()
  assert.equal(c.utp, true)
  const torrent = c.add(await WasmTorrent.createTorrent(randomBytes(40000), { name: 'p.bin', announceList: [] }))
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${port}`)
  assert.equal(await first, 'bytes', 'the first connection carries the dial (a handshake), not an unused probe')
})

// In the test's namespace only loopback has a route: connecting the probe's socket fails
// (ENETUNREACH), which Node hands to the connect callback, not to 'error'. Before, the probe
// then sent on the unconnected socket and threw out of the event loop.
test('a uTP dial to an address with no route: no exception, the dial just fails', async t => {
  const c = client(t)
  await c.whenReady()
  const torrent = c.add(await WasmTorrent.createTorrent(randomBytes(40001), { name: 'r.bin', announceList: [] }))
  await once(torrent, 'infoHash')
  torrent.addPeer('192.0.2.1:6881') // TEST-NET-1: no route here, nothing leaves
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.equal(torrent.numPeers, 0)
})

test('utp: false: no uTP socket, dials over TCP at once', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-off', 11)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t, { utp: false })
  await c.whenReady()
  assert.equal(c.utp, false)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${port}`)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'tcpOutgoing')
  await once(torrent, 'done')
})

// Another program holds torrentPort's UDP port (all addresses, IPv4 and IPv6).
async function udpTaken (t) {
  const port = await freePort()
  const socket = dgram.createSocket('udp6')
  await new Promise((resolve, reject) => { socket.once('error', reject); socket.bind(port, '::', resolve) })
  t.after(() => socket.close())
  return port
}

test("torrentPort's UDP port taken: the client's 'error' (as WebTorrent's), no uTP, and it still downloads over TCP", async t => {
  const port = await udpTaken(t)
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false, torrentPort: port })
  t.after(() => c.destroy())
  const [err] = await once(c, 'error')
  assert.equal(err.toString(), 'Error: address already in use')
  assert.equal(err.code, 'EADDRINUSE')
  await c.whenReady()
  assert.equal(c.utp, false)
  assert.equal(c.torrentPort, port)

  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-taken', 13)
  const seeder = client(t, { utp: false })
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const torrent = c.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'tcpOutgoing')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test("torrentPort's UDP port taken, no 'error' listener: a 'warning' instead of a throw", async t => {
  const port = await udpTaken(t)
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false, torrentPort: port })
  t.after(() => c.destroy())
  const [warning] = await once(c, 'warning')
  assert.equal(warning.code, 'listen_failed')
  assert.match(warning.message, new RegExp(`no uTP: UDP port ${port} is in use`))
  await c.whenReady()
  assert.equal(c.utp, false)
})

test('Transmission seeds with uTP on, wasmtorrent downloads over uTP (utpOutgoing)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'utp-transmission', 13)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const tr = await startTransmission(t, dir, path.join(dir, 'seed'), { utp: true })
  const id = await tr.add(torrentFile, path.join(dir, 'seed'))
  await tr.waitFor(id, s => s.status === SEEDING && s.percentDone === 1, 30000, 'Transmission to verify and seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`127.0.0.1:${tr.peerPort}`), true)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'utpOutgoing')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok((await tr.status(id)).uploadedEver >= 1_000_003, 'Transmission sent the bytes')
})

function webtorrent (t) {
  const wt = new WebTorrent({ dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false })
  t.after(() => new Promise(resolve => wt.destroy(resolve)))
  return wt
}

test('WebTorrent seeds, wasmtorrent downloads over uTP (utpOutgoing)', async t => {
  const dir = await tempDir(t)
  const data = randomBytes(95, 700_001)
  const wt = webtorrent(t)
  assert.equal(wt.utp, true, "WebTorrent's uTP (utp-native) is not available")
  const seeding = await new Promise(resolve => wt.seed(Object.assign(Buffer.from(data), { name: 'utp-wt.bin' }), { announce: [], path: dir }, resolve))
  if (!wt.torrentPort) await once(wt, 'listening')
  const c = client(t)
  const torrent = c.add(seeding.torrentFile, { store: 'memory' })
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'utpOutgoing')
  await once(torrent, 'done')
  assert.deepEqual(Buffer.from(await torrent.files[0].arrayBuffer()), Buffer.from(data))
  assert.equal(seeding.wires[0]?.type, 'utpIncoming')
})

test('wasmtorrent seeds, WebTorrent downloads over uTP (utpIncoming)', async t => {
  const data = randomBytes(96, 600_001)
  const c = client(t)
  await c.whenReady()
  const seeding = c.seed(Object.assign(Buffer.from(data), { name: 'utp-wt-up.bin' }), { announceList: [], store: 'memory' })
  await once(seeding, 'seed')
  const wireSeen = once(seeding, 'wire')
  const wt = webtorrent(t)
  const dir = await tempDir(t)
  const theirs = wt.add(seeding.torrentFile, { path: dir })
  await once(theirs, 'infoHash')
  theirs.addPeer(`127.0.0.1:${c.torrentPort}`)
  const [wire] = await wireSeen
  assert.equal(wire.type, 'utpIncoming')
  if (!theirs.done) await once(theirs, 'done')
  assert.equal(theirs.wires[0]?.type ?? 'utpOutgoing', 'utpOutgoing')
  assert.deepEqual(Buffer.from(await theirs.files[0].arrayBuffer()), Buffer.from(data))
})
