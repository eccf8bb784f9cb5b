// ut_pex (BEP 11) with real addresses under Node: a client that knows only one peer learns
// the others from it and dials them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, once } from './helpers.mjs'

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

