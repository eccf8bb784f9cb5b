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

// Skipped: intermittent. In about 2 runs of 6 (and once in CI) C never dials A within 150 s,
// with B still downloading from a slow A; not yet explained (B's first ut_pex message to C,
// or C's dial of the address it gets). See the issue 14 note.
test.skip('a peer learnt through ut_pex is dialled (intermittent: see above)', { timeout: 150_000 }, async t => {
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
  await b.ready

  const c = client(t)
  const tc = c.add(seeded.torrentFile, { path: path.join(dir, 'c') })
  await once(tc, 'infoHash')
  const fromA = new Promise(resolve => tc.on('wire', wire => { if (wire.remotePort === a.torrentPort) resolve(wire) }))
  tc.addPeer(`127.0.0.1:${b.torrentPort}`) // C is told of B only
  const wire = await fromA
  assert.equal(wire.type, 'tcpOutgoing')
  // Before the folders go (t.after runs in order, the folder's first): C is still writing.
  await Promise.all([a, b, c].map(x => x.destroy()))
})
