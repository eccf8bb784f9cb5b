// A web seed is a wire, as WebTorrent shows it: a 'wire' event of type 'webSeed' whose peer
// id is the SHA-1 of the seed's URL, counted by numPeers and listed in torrent.wires, its
// 'download' events adding up to what the server carried, and still there after 'done'.
// The oracle is WebTorrent 2.8.5 downloading the same torrent from the same server; ours
// must agree with it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import WebTorrent from 'webtorrent'
import createTorrent from 'create-torrent'
import MemoryChunkStore from 'memory-chunk-store'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { randomBytes } from './helpers.mjs'

const quiet = { dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false }
const data = randomBytes(601, 900 * 1024 + 5)

function torrentWith (urlList) {
  return new Promise((resolve, reject) => createTorrent(Buffer.from(data), {
    name: 'seeded.bin', announceList: [], urlList, pieceLength: 64 * 1024, createdBy: 'test', creationDate: 1
  }, (err, bytes) => err ? reject(err) : resolve(bytes)))
}

// What a library's torrent shows of its web seed while downloading, and just after.
async function observe (client, torrentBytes, addOpts, destroy) {
  const torrent = client.add(torrentBytes, addOpts)
  const seen = { wires: [], numPeersAtWire: [], downloadedOnWire: 0, behindAtVerified: 0 }
  // The web seed is the only source: at each verified piece its wire has counted at least
  // the bytes of the pieces verified so far (until 2026-12-07 ours counted a tick late).
  let verified = 0
  torrent.on('verified', () => {
    verified++
    if (seen.downloadedOnWire < verified * 64 * 1024 - 64 * 1024) seen.behindAtVerified++
  })
  torrent.on('wire', (wire, addr) => {
    // (and the extension objects WebTorrent use()s on every wire)
    const extensions = ['ut_metadata', 'ut_pex', 'lt_donthave'].filter(name => typeof wire[name]?.on === 'function')
    seen.wires.push({ type: wire.type, peerId: wire.peerId, addr, remoteAddress: wire.remoteAddress, extensions })
    seen.numPeersAtWire.push(torrent.numPeers)
    wire.on('download', bytes => { seen.downloadedOnWire += bytes })
    wire.on('close', () => { seen.closed = true })
  })
  await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
  seen.downloadedAtDone = seen.downloadedOnWire
  await new Promise(resolve => setTimeout(resolve, 1500))
  seen.closedAfterDone = Boolean(seen.closed)
  seen.wiresLeft = torrent.wires.length
  seen.numPeersLeft = torrent.numPeers
  await destroy()
  return seen
}

test('a web seed is a wire: the same as WebTorrent 2.8.5 shows it', async t => {
  const seed = await startWebSeed({ files: { '/seeded.bin': data } })
  t.after(() => seed.close())
  const url = `${seed.url}/seeded.bin`
  const torrentBytes = await torrentWith([url])

  const wt = new WebTorrent(quiet)
  const theirs = await observe(wt, torrentBytes, { store: MemoryChunkStore }, () => new Promise(resolve => wt.destroy(resolve)))
  const ours = new WasmTorrent({ ...quiet, webSeeds: 'always' })
  const mine = await observe(ours, torrentBytes, { store: 'memory' }, () => ours.destroy())

  const peerId = createHash('sha1').update(url).digest('hex')
  const extensions = ['ut_metadata', 'ut_pex', 'lt_donthave']
  assert.deepEqual(theirs.wires, [{ type: 'webSeed', peerId, addr: null, remoteAddress: undefined, extensions }], 'the oracle')
  assert.deepEqual(mine.wires, theirs.wires)
  assert.deepEqual(mine.numPeersAtWire, theirs.numPeersAtWire)
  assert.equal(theirs.downloadedAtDone, data.length)
  assert.equal(mine.downloadedAtDone, data.length)
  assert.equal(mine.downloadedOnWire, data.length)
  assert.equal(theirs.behindAtVerified, 0, 'the oracle')
  assert.equal(mine.behindAtVerified, 0)
  assert.deepEqual([theirs.closedAfterDone, theirs.wiresLeft, theirs.numPeersLeft], [false, 1, 1], 'the oracle')
  assert.deepEqual([mine.closedAfterDone, mine.wiresLeft, mine.numPeersLeft], [false, 1, 1])
  assert.equal(theirs.closed, true, 'closed by destroy')
  assert.equal(mine.closed, true, 'closed by destroy')
})

test('a web seed\'s wire: its fields, wire.destroy() and removePeer(url) remove the seed, addWebSeed brings it back', async t => {
  const seed = await startWebSeed({ files: { '/seeded.bin': data }, rate: 128 * 1024 })
  t.after(() => seed.close())
  const url = `${seed.url}/seeded.bin`
  const client = new WasmTorrent({ ...quiet, webSeeds: 'always' })
  t.after(() => client.destroy())
  const torrent = client.add(await torrentWith([url]), { store: 'memory' })
  const [wire] = await new Promise(resolve => torrent.once('wire', (...args) => resolve(args)))
  assert.equal(wire.url, url)
  assert.equal(wire.peerPieces.get(torrent.pieces.length - 1), true, 'a seed has every piece')
  assert.equal(wire.peerChoking, false)
  assert.deepEqual(torrent.wires, [wire])
  assert.equal(torrent._peers.get(url).type, 'webSeed')
  await new Promise(resolve => wire.once('download', resolve))
  assert.ok(wire.downloaded > 0)

  // destroy(): the seed leaves (no more requests to it), as WebTorrent's.
  const closed = new Promise(resolve => wire.once('close', resolve))
  wire.destroy()
  await closed
  assert.deepEqual(torrent.wires, [])
  assert.equal(torrent.numPeers, 0)
  assert.deepEqual(torrent.webSeeds, [])
  const asked = seed.stats().requests
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.ok(seed.stats().requests <= asked + 1, 'no new request once removed')
  assert.equal(torrent.done, false)

  // Added again: a new wire, and the download completes.
  const again = new Promise(resolve => torrent.once('wire', resolve))
  torrent.addWebSeed(url)
  const wire2 = await again
  assert.notEqual(wire2, wire)
  // removePeer(url) removes it too
  const closed2 = new Promise(resolve => wire2.once('close', resolve))
  torrent.removePeer(url)
  await closed2
  assert.deepEqual(torrent.webSeeds, [])
  torrent.addWebSeed(url)
  await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
  assert.deepEqual(Buffer.from(await torrent.files[0].arrayBuffer()), Buffer.from(data))
})

test('a web seed that refuses connections: the warning gives Node\'s reason, not a guess about CORS', async t => {
  // A port nothing listens on: taken, then freed.
  const net = await import('node:net')
  const port = await new Promise(resolve => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
  const client = new WasmTorrent({ ...quiet, webSeeds: 'always' })
  t.after(() => client.destroy())
  const torrent = client.add(await torrentWith([`http://127.0.0.1:${port}/seeded.bin`]), { store: 'memory' })
  const warning = await new Promise(resolve => torrent.on('warning', w => { if (/web seed/.test(w.message)) resolve(w) }))
  assert.match(warning.message, /ECONNREFUSED/)
  assert.doesNotMatch(warning.message, /CORS/)
})
