// BEP 10 extensions registered in the 'wire' listener (WebTorrent's pattern): the fields
// and name an extension adds are in our FIRST extension handshake, so the remote's
// extension never sees a handshake without them, and our extension's onExtendedHandshake
// gets the remote's fields. Between two of our clients, and with WebTorrent 2.x under
// Node on the other side (TCP on loopback).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebTorrent from 'webtorrent'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import MemoryChunkStore from 'memory-chunk-store'
import { tempDir, once, randomBytes } from './helpers.mjs'

// An extension class that puts `tag` in our handshake and records every handshake of the
// peer it is shown, as the peer's tag and whether the peer's "m" names it.
function tagging (tag, seen) {
  function Ext (wire) { wire.extendedHandshake.x_tag = tag }
  Ext.prototype.name = 'x_tag'
  Ext.prototype.onExtendedHandshake = function (h) {
    seen.push({ tag: h.x_tag, named: Boolean(h.m && h.m.x_tag) })
  }
  return Ext
}

const until = async (pred, what, ms = 30000) => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (pred()) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

// Two of our clients: a seeder of `data` whose wires use tagging(1, seenBySeeder), and a
// leecher.
async function taggedSeeder (t, data, name, seenBySeeder) {
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  const leecher = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([seeder.destroy(), leecher.destroy()]))
  const seeding = seeder.seed(Object.assign(Buffer.from(data), { name }), { announceList: [] })
  seeding.on('wire', wire => wire.use(tagging(1, seenBySeeder)))
  await once(seeding, 'seed')
  await seeder.whenReady()
  return { seeder, leecher, seeding }
}

test("an extension used in 'wire' is in the first handshake between two of our clients", async t => {
  const seenBySeeder = []
  const seenByLeecher = []
  const { seeder, leecher, seeding } = await taggedSeeder(t, randomBytes(91, 200_001), 'tagged.bin', seenBySeeder)
  // A magnet: the metadata comes through ut_metadata, after the extension handshakes.
  const torrent = leecher.add(`magnet:?xt=urn:btih:${seeding.infoHash}`, { store: 'memory' })
  let offered
  torrent.on('wire', wire => {
    const Ext = tagging(2, seenByLeecher)
    Ext.prototype.onHandshake = (infoHash, peerId, extensions) => { offered = { infoHash, peerId, extensions } }
    wire.use(Ext)
  })
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  // As bittorrent-protocol's: the peer's reserved bits.
  assert.deepEqual(offered, { infoHash: seeding.infoHash, peerId: seeder.peerId, extensions: { dht: false, fast: true, extended: true } })
  const wire = torrent.wires[0]
  assert.equal(wire.destroy(), wire, 'destroy() returns the wire, as bittorrent-protocol\'s')
  await until(() => seenBySeeder.length > 0 && seenByLeecher.length > 0, 'both handshakes')
  await new Promise(resolve => setTimeout(resolve, 300)) // a second handshake would be here by now
  // One handshake each way, and it carries the other's extension and field.
  assert.deepEqual(seenBySeeder, [{ tag: 2, named: true }])
  assert.deepEqual(seenByLeecher, [{ tag: 1, named: true }])
})

test("with WebTorrent 2.x: each side's extension, used in 'wire', sees the other's fields in the first handshake", async t => {
  const dir = await tempDir(t)
  const data = randomBytes(92, 150_001)
  const wt = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
  const ours = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([new Promise(resolve => wt.destroy(resolve)), ours.destroy()]))
  const seenByWebTorrent = []
  const seenByUs = []
  const seeding = await new Promise(resolve => {
    wt.seed(Object.assign(Buffer.from(data), { name: 'tagged.bin' }), { announce: [], path: dir }, resolve)
      .on('wire', wire => wire.use(tagging(7, seenByWebTorrent)))
  })
  if (!wt.torrentPort) await once(wt, 'listening')
  const torrent = ours.add(seeding.torrentFile, { store: 'memory' })
  torrent.on('wire', wire => wire.use(tagging(8, seenByUs)))
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  await once(torrent, 'done')
  assert.deepEqual(Buffer.from(await torrent.files[0].arrayBuffer()), Buffer.from(data))
  await until(() => seenByWebTorrent.length > 0 && seenByUs.length > 0, 'both handshakes')
  await new Promise(resolve => setTimeout(resolve, 300))
  // WebTorrent's extension got one handshake from us, with our extension in it.
  assert.deepEqual(seenByWebTorrent, [{ tag: 8, named: true }])
  assert.deepEqual(seenByUs, [{ tag: 7, named: true }])
})

// WebTorrent's opts.utPex: false leaves ut_pex (BEP 11) out of the extension handshake.
test('opts.utPex false: the client does not offer ut_pex; one with the default does', async t => {
  const data = randomBytes(93, 50_001)
  const seeder = new WasmTorrent({ tracker: false, dht: false, utPex: false })
  const leecher = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([seeder.destroy(), leecher.destroy()]))
  const offers = { bySeeder: [], byLeecher: [] }
  const probe = list => {
    function Probe () {}
    Probe.prototype.name = 'x_probe'
    Probe.prototype.onExtendedHandshake = h => list.push(Boolean(h.m?.ut_pex))
    return Probe
  }
  const seeding = seeder.seed(Object.assign(Buffer.from(data), { name: 'probe.bin' }), { announceList: [], store: 'memory' })
  seeding.on('wire', wire => wire.use(probe(offers.bySeeder)))
  await once(seeding, 'seed')
  const torrent = leecher.add(seeding.torrentFile, { store: 'memory' })
  torrent.on('wire', wire => wire.use(probe(offers.byLeecher)))
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  await until(() => offers.bySeeder.length > 0 && offers.byLeecher.length > 0, 'both handshakes')
  assert.deepEqual(offers.byLeecher, [false]) // the seeder's handshake, as the leecher saw it
  assert.deepEqual(offers.bySeeder, [true])
})

test('an extension used on one wire is spoken with that peer only, each wire its own fields', async t => {
  const data = randomBytes(92, 100_003)
  const seeder = new WasmTorrent({ tracker: false, dht: false, utPex: false })
  t.after(() => seeder.destroy())
  const seeding = seeder.seed(Object.assign(Buffer.from(data), { name: 'some.bin' }), { announceList: [] })
  const seenBySeeder = []
  let wires = 0
  // The seeder uses it on its first wire only, with a field of that wire's own.
  seeding.on('wire', wire => { if (wires++ === 0) wire.use(tagging(10, seenBySeeder)) })
  await once(seeding, 'seed')
  await seeder.whenReady()
  const seen = [[], []]
  const theirs = []
  for (const i of [0, 1]) {
    const leecher = new WasmTorrent({ tracker: false, dht: false, utPex: false })
    t.after(() => leecher.destroy())
    const torrent = leecher.add(seeding.torrentFile, { store: 'memory' })
    torrent.on('wire', wire => wire.use(tagging(20 + i, seen[i])))
    torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
    await once(torrent, 'done')
    await until(() => torrent.wires[0]?.peerExtendedHandshake?.m, `leecher ${i}'s handshake`)
    theirs.push(torrent.wires[0].peerExtendedHandshake)
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.deepEqual(seen[0], [{ tag: 10, named: true }], 'the first peer hears of it')
  // The second does not (WebTorrent's wire.use is per wire); its extension is not told.
  assert.equal(theirs[1].m.x_tag, undefined)
  assert.equal(theirs[1].x_tag, undefined)
  assert.deepEqual(seen[1], [])
  assert.deepEqual(seenBySeeder, [{ tag: 20, named: true }])
  const [first, second] = seeding.wires
  assert.ok(first.x_tag && !second.x_tag)
  // Still, the peer named x_tag: a message to it goes out, as bittorrent-protocol's.
  assert.doesNotThrow(() => second.extended('x_tag', { hi: 1 }))
})

test("wire.extended(name or the peer's id) sends to the peer's extension without use(), as bittorrent-protocol's; an unknown name throws", async t => {
  const dir = await tempDir(t)
  const data = randomBytes(93, 100_001)
  const wt = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
  const ours = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([new Promise(resolve => wt.destroy(resolve)), ours.destroy()]))
  const heard = []
  function Chat () {}
  Chat.prototype.name = 'x_chat'
  Chat.prototype.onMessage = buf => heard.push(Buffer.from(buf).toString())
  const seeding = await new Promise(resolve => {
    wt.seed(Object.assign(Buffer.from(data), { name: 'chat.bin' }), { announce: [], path: dir }, resolve)
      .on('wire', wire => wire.use(Chat))
  })
  if (!wt.torrentPort) await once(wt, 'listening')
  const torrent = ours.add(seeding.torrentFile, { store: 'memory' })
  const wired = once(torrent, 'wire')
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  const [wire] = await wired
  await until(() => wire.peerExtendedMapping.x_chat, "the peer's extension handshake")
  wire.extended('x_chat', { text: 'by name' })
  wire.extended(wire.peerExtendedMapping.x_chat, Buffer.from('by id'))
  assert.throws(() => wire.extended('x_nobody', 'x'), /Unrecognized extension: x_nobody/)
  await until(() => heard.length === 2, 'both messages')
  assert.deepEqual(heard, ['d4:text7:by namee', 'by id'])
})

test("an extension's calls and the wire's 'extended' events come in WebTorrent's order; fields set after use() are sent", async t => {
  const data = randomBytes(93, 150_001)
  const wt = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
  const ours = new WasmTorrent({ tracker: false, dht: false, utp: false })
  t.after(() => Promise.all([new Promise(resolve => wt.destroy(resolve)), ours.destroy()]))
  // Each side logs what its wire and extension see, in order; WebTorrent's log is the oracle.
  function logging (log) {
    function Ext (wire) { this.wire = wire }
    Ext.prototype.name = 'x_order'
    Ext.prototype.onHandshake = () => log.push('onHandshake')
    Ext.prototype.onExtendedHandshake = h => {
      log.push(`onExtendedHandshake late=${h.late}`)
      setTimeout(() => log.wire.extended('x_order', { hello: 1 }), 100)
    }
    Ext.prototype.onMessage = () => log.push('onMessage')
    return Ext
  }
  const onWire = log => wire => {
    log.wire = wire
    wire.on('extended', name => log.push(`extended ${name}`))
    wire.use(logging(log))
    log.push('use returned')
    wire.extendedHandshake.late = 5 // after use(), in the same listener
  }
  const theirs = []
  const mine = []
  const seeding = await new Promise(resolve => {
    wt.seed(Object.assign(Buffer.from(data), { name: 'ordered.bin' }), { announce: [], store: MemoryChunkStore }, resolve)
      .on('wire', onWire(theirs))
  })
  if (!wt.torrentPort) await once(wt, 'listening')
  const torrent = ours.add(seeding.torrentFile, { store: 'memory' })
  torrent.on('wire', onWire(mine))
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${wt.torrentPort}`)
  await until(() => theirs.includes('onMessage') && mine.includes('onMessage'), 'both messages')
  const expected = ['use returned', 'onHandshake', 'onExtendedHandshake late=5', 'extended handshake', 'onMessage', 'extended x_order']
  // WebTorrent's incoming wire (its side here) calls no onHandshake for an extension used in
  // 'wire': the handshake was handled before. Ours dialled, as bittorrent-protocol's does.
  assert.deepEqual([...theirs], expected.filter(e => e !== 'onHandshake'), 'the oracle')
  assert.deepEqual([...mine], expected)
})

test("use() of a name used already: the later extension is the wire's and hears the peer, as bittorrent-protocol's", async t => {
  const seenBySeeder = []
  const seenByFirst = []
  const seenBySecond = []
  const { seeder, leecher, seeding } = await taggedSeeder(t, randomBytes(93, 100_001), 'twice.bin', seenBySeeder)
  const torrent = leecher.add(seeding.torrentFile, { store: 'memory' })
  let used
  torrent.on('wire', wire => {
    wire.use(tagging(3, seenByFirst))
    const Second = tagging(4, seenBySecond)
    wire.use(Second)
    used = wire.x_tag instanceof Second
  })
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  await until(() => seenBySeeder.length > 0 && seenBySecond.length > 0, 'both handshakes')
  assert.equal(used, true, 'wire[name] is the later one')
  assert.deepEqual(seenBySecond, [{ tag: 1, named: true }])
  assert.deepEqual(seenByFirst, [])
  assert.deepEqual(seenBySeeder, [{ tag: 4, named: true }]) // each constructor ran; the later field stands
})

test("wire.extended's payloads as bittorrent-protocol's: nothing (null, undefined) empty, an ArrayBuffer bencoded; a name the peer lacks is 'Unrecognized extension'", async t => {
  const got = []
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  const leecher = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([seeder.destroy(), leecher.destroy()]))
  function Probe (wire) { this._wire = wire }
  Probe.prototype.name = 'x_probe'
  Probe.prototype.onMessage = function (buf) { got.push(Buffer.from(buf).toString('latin1')) }
  function Lonely () {}
  Lonely.prototype.name = 'x_lonely' // the leecher's only: the seeder names no id for it
  const seeding = seeder.seed(Object.assign(Buffer.from(randomBytes(93, 50_000)), { name: 'probe.bin' }), { announceList: [] })
  seeding.on('wire', wire => wire.use(Probe))
  await once(seeding, 'seed')
  const torrent = leecher.add(seeding.torrentFile, { store: 'memory' })
  const ready = new Promise(resolve => torrent.on('wire', wire => {
    wire.use(Probe)
    wire.use(Lonely)
    wire.on('extended', ext => { if (ext === 'handshake') resolve(wire) })
  }))
  torrent.once('infoHash', () => torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`))
  const wire = await ready
  wire.extended('x_probe', null)
  wire.extended('x_probe', undefined)
  wire.extended('x_probe', new Uint8Array([0, 0]).buffer)
  wire.extended('x_probe', 'hi')
  assert.throws(() => wire.extended('x_lonely', { a: 1 }), /^WasmTorrentError: Unrecognized extension: x_lonely$|Unrecognized extension: x_lonely/)
  await until(() => got.length === 4, 'the four messages')
  assert.deepEqual(got, ['', '', '2:\0\0', '2:hi'])
  // Destroyed: the torrent's 'close', then its wires', each out of torrent.wires by then.
  const order = []
  torrent.on('close', () => order.push(['torrent', torrent.wires.length]))
  wire.on('close', () => order.push(['wire', torrent.wires.length]))
  await torrent.destroy()
  await until(() => order.length === 2, "the wire's 'close'")
  assert.deepEqual(order, [['torrent', 0], ['wire', 0]])
})
