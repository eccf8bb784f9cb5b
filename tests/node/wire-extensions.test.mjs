// WebTorrent's wire objects of the extensions the engine speaks itself: wire.ut_pex,
// wire.ut_metadata and wire.lt_donthave (npm ut_pex's, ut_metadata's and lt_donthave's APIs),
// and an app's own use() of those packages on our wire. The peer is WebTorrent 2.8.5 under
// Node, whose wires speak those npm packages (TCP on loopback).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebTorrent from 'webtorrent'
import utPex from 'ut_pex'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import MemoryChunkStore from 'memory-chunk-store'
import { tempDir, once, randomBytes } from './helpers.mjs'

const until = async (pred, what, ms = 10_000) => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (pred()) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

const webtorrent = () => new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
const destroyed = client => new Promise(resolve => client.destroy(resolve))

// A WebTorrent seeder; resolves with it and its torrent.
async function webtorrentSeeder (t) {
  const dir = await tempDir(t)
  const wt = webtorrent()
  t.after(() => destroyed(wt))
  const seeded = await new Promise(resolve => wt.seed(Object.assign(randomBytes(7, 300_000), { name: 'wire.bin' }),
    { announce: [], path: dir }, resolve))
  if (!wt.torrentPort) await once(wt, 'listening')
  return { wt, seeded }
}

// Our client connected to a WebTorrent seeder: resolves with both ends' wires once both
// extension handshakes are in. addOpts.magnet: added by its magnet link.
async function connectedToWebTorrent (t, onOurWire = () => {}, opts = {}, { magnet, ...addOpts } = {}) {
  const { wt, seeded } = await webtorrentSeeder(t)
  const theirWire = once(seeded, 'wire')
  const ours = client(t, { utp: false, ...opts })
  const torrent = ours.add(magnet ? seeded.magnetURI : seeded.torrentFile, { store: 'memory', ...addOpts })
  const ourWire = new Promise(resolve => torrent.on('wire', wire => { onOurWire(wire); resolve(wire) }))
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  const ends = { ours: await ourWire, theirs: (await theirWire)[0], torrent, seeded }
  const deadline = Date.now() + 10_000
  while (!(ends.theirs.peerExtendedMapping?.ut_metadata && ends.ours.peerExtendedHandshake?.m) && Date.now() < deadline) {
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
  const send = () => {
    theirs.ut_pex._sendMessage()
    return once(ours, 'extended', 10_000)
  }
  theirs.ut_pex.addPeer(NOWHERE[2], { isSender: true })
  theirs.ut_pex.dropPeer(NOWHERE[1])
  await send()
  theirs.ut_pex.addPeer(NOWHERE[0]) // within 10 s: the engine ignores the message
  await send()
  assert.deepEqual(heard, [['peer', NOWHERE[2], true], ['dropped', NOWHERE[1]]])
  await new Promise(resolve => setTimeout(resolve, 10_500))
  theirs.ut_pex.addPeer(NOWHERE[2], { isSender: true }) // told again: no second 'peer'
  theirs.ut_pex.dropPeer(NOWHERE[0])
  await send()
  assert.deepEqual(heard, [['peer', NOWHERE[2], true], ['dropped', NOWHERE[1]], ['dropped', NOWHERE[0]]])
  assert.deepEqual(order, ['ut_pex', 'ut_pex', 'extended', 'extended', 'ut_pex', 'extended'],
    'the extension before the wire\'s event, as bittorrent-protocol')
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

test('wire.ut_metadata: \'metadata\' with the same bytes as WebTorrent\'s wire gives, once, when a magnet\'s metadata arrives', { timeout: 60_000 }, async t => {
  const { wt, seeded } = await webtorrentSeeder(t)
  const record = torrent => {
    const got = []
    torrent.on('wire', wire => {
      for (const m of ['fetch', 'cancel', 'setMetadata', 'on']) assert.equal(typeof wire.ut_metadata[m], 'function', m)
      wire.ut_metadata.on('metadata', buf => got.push(Buffer.from(buf)))
    })
    return got
  }
  // WebTorrent 2.8.5 as the oracle, then ours, each fetching the magnet from the seeder.
  const theirs = webtorrent()
  t.after(() => destroyed(theirs))
  const theirTorrent = theirs.add(seeded.magnetURI, { store: MemoryChunkStore })
  const theirGot = record(theirTorrent)
  theirTorrent.once('infoHash', () => theirTorrent.addPeer(`127.0.0.1:${wt.torrentPort}`))
  await once(theirTorrent, 'metadata')
  const ours = client(t, { utp: false })
  const ourTorrent = ours.add(seeded.magnetURI, { store: 'memory' })
  const ourGot = record(ourTorrent)
  let wireMetadataFirst = null
  ourTorrent.once('metadata', () => { wireMetadataFirst = ourGot.length === 1 })
  ourTorrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  await once(ourTorrent, 'done')
  assert.equal(theirGot.length, 1)
  assert.equal(ourGot.length, 1)
  assert.ok(ourGot[0].equals(theirGot[0]), 'the same bytes: the torrent { info } bencoded')
  assert.equal(wireMetadataFirst, true, 'before the torrent\'s metadata event, as WebTorrent\'s')
  assert.ok(Buffer.from(ourTorrent.wires[0].ut_metadata.metadata).equals(Buffer.from(seeded.infoBuffer)))
  // As npm's: true once the metadata is known.
  assert.equal(await ourTorrent.wires[0].ut_metadata.setMetadata(seeded.torrentFile), true)
})

test('wire.lt_donthave: the peer\'s donthave of a piece it had is \'donthave\'; donthave() reaches the peer', { timeout: 60_000 }, async t => {
  // Ours selects nothing: it stays a leecher beside the WebTorrent seeder.
  const { ours, theirs } = await connectedToWebTorrent(t, () => {}, {}, { deselect: true })
  assert.equal(ours.lt_donthave.name, 'lt_donthave')
  const heard = []
  ours.lt_donthave.on('donthave', index => heard.push(index))
  const order = []
  ours.lt_donthave.on('donthave', () => order.push('lt_donthave'))
  ours.on('extended', name => { if (name === 'lt_donthave') order.push('extended') })
  await until(() => theirs.lt_donthave._peerSupports, 'WebTorrent to see our lt_donthave')
  await until(() => ours.peerPieces.get(2), 'the seeder\'s pieces')
  theirs.lt_donthave.donthave(2)
  await until(() => heard.length === 1, 'donthave')
  theirs.lt_donthave.donthave(2) // had no more: no event, as npm lt_donthave's
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.deepEqual(heard, [2])
  assert.deepEqual(order, ['lt_donthave', 'extended', 'extended'])
  // Ours to the peer: its wire's 'extended' with the piece's 4 bytes.
  const told = new Promise(resolve => theirs.on('extended', (name, buf) => { if (name === 'lt_donthave') resolve(Buffer.from(buf)) }))
  ours.lt_donthave.donthave(5)
  assert.deepEqual([...await told], [0, 0, 0, 5])
})
