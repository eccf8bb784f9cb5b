// ut_pex (BEP 11) with real addresses under Node: a client that knows only one peer learns
// the others from it and dials them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WebTorrent from 'webtorrent'
import utPex from 'ut_pex'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, once, randomBytes } from './helpers.mjs'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

// C is told only of B. A and C learn of each other from B's ut_pex messages, which reach them
// at about the same moment, so both may dial: the duplicate connection kept is the one
// opened by the smaller peer id (the test used to wait for C's dial only, and timed out
// whenever A's id was the smaller: 4 runs of 10). Either is a dial of an address learnt
// through ut_pex.
test('a peer learnt through ut_pex is dialled', { timeout: 150_000 }, async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'pex', 81)
  // A slow seeder: B is still downloading from it (a finished B would drop its connection
  // to A, seed to seed, and have no A to pass on) when C asks B for peers.
  const a = client(t, { uploadLimit: 50_000 })
  const seeded = a.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const b = client(t)
  const tb = b.add(seeded.torrentFile, { path: path.join(dir, 'b') })
  await once(tb, 'infoHash')
  tb.addPeer(`127.0.0.1:${a.torrentPort}`)
  await once(tb, 'wire')
  await b.whenReady()

  const c = client(t)
  const tc = c.add(seeded.torrentFile, { path: path.join(dir, 'c') })
  await once(tc, 'infoHash')
  const withA = new Promise(resolve => tc.on('wire', wire => { if (wire.peerId === a.peerId) resolve(wire) }))
  tc.addPeer(`127.0.0.1:${b.torrentPort}`) // C is told of B only
  await withA
  // Both ends close the same duplicate; each pair keeps one connection while ut_pex goes
  // round again (a peer connected from an ephemeral port is not dialled at its listen port).
  await new Promise(resolve => setTimeout(resolve, 3000))
  const links = (torrent, peer) => torrent.wires.filter(w => w.peerId === peer.peerId)
  const kept = links(tc, a)
  assert.equal(kept.length, 1)
  // (Over uTP by default, TCP when uTP is off.)
  if (/Outgoing$/.test(kept[0].type)) assert.equal(kept[0].remotePort, a.torrentPort)
  else assert.match(kept[0].type, /^(tcp|utp)Incoming$/)
  assert.equal(links(seeded, c).length, 1)
  assert.equal(links(tb, a).length, 1)
  assert.equal(links(tb, c).length, 1)
  // Before the folders go (t.after runs in order, the folder's first): C is still writing.
  await Promise.all([a, b, c].map(x => x.destroy()))
})

// WebTorrent's wire.ut_pex: npm ut_pex's API on every wire of a public torrent, over the
// engine's ut_pex. The peer is WebTorrent 2.8.5, whose wires speak npm ut_pex itself.
const webtorrent = () => new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
const destroyed = client => new Promise(resolve => client.destroy(resolve))

// A WebTorrent seeder and our client connected to it: resolves with both ends' wires.
async function connectedToWebTorrent (t, onOurWire = () => {}, opts = {}, addOpts = {}) {
  const dir = await tempDir(t)
  const wt = webtorrent()
  t.after(() => destroyed(wt))
  const seeded = await new Promise(resolve => wt.seed(Object.assign(randomBytes(300_000), { name: 'pex.bin' }),
    { announce: [], path: dir }, resolve))
  if (!wt.torrentPort) await once(wt, 'listening')
  const theirWire = once(seeded, 'wire')
  const ours = client(t, { utp: false, ...opts })
  const torrent = ours.add(seeded.torrentFile, { store: 'memory', ...addOpts })
  const ourWire = new Promise(resolve => torrent.on('wire', wire => { onOurWire(wire); resolve(wire) }))
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  const ends = { ours: await ourWire, theirs: (await theirWire)[0], torrent }
  // Until both extension handshakes are in (each side's ut_pex id known to the other).
  const deadline = Date.now() + 10_000
  while (!(ends.theirs.peerExtendedMapping?.ut_pex && ends.ours.peerExtendedHandshake?.m) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return ends
}

// Nothing listens at these loopback addresses: they are only named, never reached.
const NOWHERE = ['127.0.0.9:1', '127.0.0.9:2', '127.0.0.9:3']

test('wire.ut_pex: the peer hears addPeer()/dropPeer() in our next message; stop() holds it, start() sends it', { timeout: 60_000 }, async t => {
  const { ours, theirs } = await connectedToWebTorrent(t, wire => {
    // As the npm package's: the methods and the name.
    for (const m of ['start', 'stop', 'reset', 'addPeer', 'addPeer6', 'dropPeer', 'dropPeer6', 'on']) {
      assert.equal(typeof wire.ut_pex[m], 'function', m)
    }
    assert.equal(wire.ut_pex.name, 'ut_pex')
    wire.ut_pex.stop()
    wire.ut_pex.addPeer(NOWHERE[0], { isSender: true, supportsUtp: true })
    wire.ut_pex.dropPeer(NOWHERE[1])
  })
  const heard = []
  theirs.ut_pex.on('peer', (peer, flags) => heard.push(['peer', peer, flags.isSender, flags.supportsUtp]))
  theirs.ut_pex.on('dropped', peer => heard.push(['dropped', peer]))
  await new Promise(resolve => setTimeout(resolve, 2500)) // past the first message's tick
  assert.deepEqual(heard, [], 'stopped: nothing sent')
  ours.ut_pex.start()
  const deadline = Date.now() + 10_000
  while (heard.length < 2 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  assert.deepEqual(heard, [['peer', NOWHERE[0], true, true], ['dropped', NOWHERE[1]]])
})

test('wire.ut_pex: the peer\'s messages are its \'peer\' and \'dropped\' events, each address once', { timeout: 60_000 }, async t => {
  const { ours, theirs } = await connectedToWebTorrent(t)
  const heard = []
  ours.ut_pex.on('peer', (peer, flags) => heard.push(['peer', peer, flags.isSender]))
  ours.ut_pex.on('dropped', peer => heard.push(['dropped', peer]))
  const order = []
  ours.ut_pex.on('peer', () => order.push('ut_pex'))
  ours.ut_pex.on('dropped', () => order.push('ut_pex'))
  ours.on('extended', name => { if (name === 'ut_pex') order.push('extended') })
  // npm ut_pex sends every 65 s; its own message encoder is called here at once.
  theirs.ut_pex.addPeer(NOWHERE[2], { isSender: true })
  theirs.ut_pex._sendMessage()
  await once(ours, 'extended', 10_000)
  theirs.ut_pex.addPeer(NOWHERE[2], { isSender: true }) // told again: no second 'peer'
  theirs.ut_pex.dropPeer(NOWHERE[1])
  theirs.ut_pex._sendMessage()
  await once(ours, 'extended', 10_000)
  assert.deepEqual(heard, [['peer', NOWHERE[2], true], ['dropped', NOWHERE[1]]])
  assert.deepEqual(order, ['ut_pex', 'extended', 'ut_pex', 'extended'], 'the extension before the wire\'s event, as bittorrent-protocol')
})

test('an app\'s own npm ut_pex on our wire hears the peer, as on WebTorrent\'s', { timeout: 60_000 }, async t => {
  const heard = []
  const { ours, theirs } = await connectedToWebTorrent(t, wire => {
    wire.use(utPex())
    wire.ut_pex.on('peer', peer => heard.push(peer))
  })
  assert.notEqual(ours.ut_pex.constructor.name, 'WirePex')
  theirs.ut_pex.addPeer(NOWHERE[0])
  theirs.ut_pex._sendMessage()
  const deadline = Date.now() + 10_000
  while (heard.length < 1 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  assert.deepEqual(heard, [NOWHERE[0]])
})

test('no wire.ut_pex with utPex: false or on a private torrent, as WebTorrent', { timeout: 60_000 }, async t => {
  const { ours } = await connectedToWebTorrent(t, () => {}, { utPex: false })
  assert.equal(ours.ut_pex, undefined)
  const { ours: ofPrivate } = await connectedToWebTorrent(t, () => {}, {}, { private: true })
  assert.equal(ofPrivate.ut_pex, undefined)
})
