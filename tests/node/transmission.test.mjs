// The Node host against Transmission 3.00 (Debian's transmission-daemon) over TCP on loopback
// (issue 14): each way, a multi-file torrent with odd sizes, an empty file and non-ASCII
// names, byte-exact on disk (but for Transmission's own gap: it creates no empty files). Transmission does not dial 127.x peers (TOOLCHAIN.md), so
// wasmtorrent dials it: through addPeer with its peer port, or through the peers an HTTP
// tracker (bittorrent-tracker's server) hands out.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { stat } from 'node:fs/promises'
import { tempDir, makeContent, sameFiles, once, startTracker, trackerKnows } from './helpers.mjs'
import { startTransmission, SEEDING } from './peers/transmission.mjs'

// What Transmission downloaded: every file with data byte-exact. Transmission 3.00 never
// creates a zero-length file on disk (transmission/transmission#417, fixed in 4.1 by #6232),
// so the empty file may be missing; if it is there, it must be empty.
async function transmissionGot (dir, files) {
  const differs = await sameFiles(dir, files.filter(f => f.data.length > 0))
  if (differs) return differs
  for (const f of files.filter(f => f.data.length === 0)) {
    const st = await stat(path.join(dir, f.path)).catch(() => null)
    if (st && st.size !== 0) return `${f.path} is not empty`
  }
  return null
}

function client (t) {
  const c = new WasmTorrent({ dht: false }) // trackers: those a torrent names
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

test('Transmission seeds, wasmtorrent downloads to a folder (addPeer)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Sammlung ü', 51)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const tr = await startTransmission(t, dir, path.join(dir, 'seed'))
  const id = await tr.add(torrentFile, path.join(dir, 'seed'))
  await tr.waitFor(id, s => s.status === SEEDING && s.percentDone === 1, 30000, 'Transmission to verify and seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`127.0.0.1:${tr.peerPort}`), true)
  await once(torrent, 'wire')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.equal(torrent.progress, 1)
  assert.ok((await tr.status(id)).uploadedEver >= 1_000_003, 'Transmission sent the bytes')
})

test('wasmtorrent seeds a folder from disk, Transmission downloads it (wasmtorrent dials)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Ordner ✓', 53)
  const c = client(t)
  const torrent = c.seed(content.root, { announce: [], pieceLength: 65536 })
  await once(torrent, 'seed')
  const tr = await startTransmission(t, dir, path.join(dir, 'down'))
  const id = await tr.add(torrent.torrentFile)
  // Dialled while it still checks the (missing) files, Transmission drops the connection
  // and wasmtorrent's next try comes ~10 s later: wait until it downloads (4).
  await tr.waitFor(id, s => s.status === 4, 30000, 'Transmission to start downloading')
  assert.equal(torrent.addPeer(`127.0.0.1:${tr.peerPort}`), true)
  await tr.waitFor(id, s => s.percentDone === 1 && s.leftUntilDone === 0 && s.status === SEEDING, 60000, 'Transmission to finish')
  assert.equal(await transmissionGot(path.join(dir, 'down'), content.files), null)
  assert.ok(torrent.uploaded >= 1_000_003)
})

test('through an HTTP tracker: Transmission seeds, then downloads, wasmtorrent finds and dials it', async t => {
  const tracker = await startTracker(t)
  const dir = await tempDir(t)

  // Transmission seeds; wasmtorrent learns its address from the tracker.
  const first = await makeContent(path.join(dir, 'seed1'), 'über Tracker', 57)
  const torrentFile = await WasmTorrent.createTorrent(first.root, { announceList: [[tracker.http]], pieceLength: 16384 })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const tr = await startTransmission(t, dir, path.join(dir, 'seed1'))
  const id1 = await tr.add(torrentFile, path.join(dir, 'seed1'))
  await tr.waitFor(id1, s => s.status === SEEDING, 30000, 'Transmission to seed')
  await trackerKnows(tracker, parsed.infoHash, s => s.complete > 0, 'Transmission')
  const c = client(t)
  const down = c.add(torrentFile, { path: path.join(dir, 'down1') })
  await once(down, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down1'), first.files), null)

  // wasmtorrent seeds, Transmission (which announced first) downloads: Transmission does not
  // dial 127.x, so the connection is wasmtorrent's, to the address the tracker gave it.
  const second = await makeContent(path.join(dir, 'seed2'), 'zurück ✓', 59)
  const torrentFile2 = await WasmTorrent.createTorrent(second.root, { announceList: [[tracker.http]], pieceLength: 32768 })
  const parsed2 = await WasmTorrent.parseTorrent(torrentFile2)
  const id2 = await tr.add(torrentFile2, path.join(dir, 'down2'))
  await trackerKnows(tracker, parsed2.infoHash, s => s.incomplete > 0, 'Transmission')
  const seeded = c.seed(second.root, { announce: [tracker.http], pieceLength: 32768 })
  await once(seeded, 'seed')
  assert.equal(seeded.infoHash, parsed2.infoHash)
  await tr.waitFor(id2, s => s.percentDone === 1 && s.status === SEEDING, 60000, 'Transmission to finish')
  assert.equal(await transmissionGot(path.join(dir, 'down2'), second.files), null)
})
