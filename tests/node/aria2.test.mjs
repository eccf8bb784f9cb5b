// The Node host against aria2 1.36 (Debian's aria2c, driven over JSON-RPC) over TCP on
// loopback (issue 14): each way, a multi-file torrent with odd sizes, an empty file and
// non-ASCII names, byte-exact on disk; once with wasmtorrent dialling aria2's listening
// port, once with each finding the other through an HTTP tracker (bittorrent-tracker's).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, startTracker, trackerKnows } from './helpers.mjs'
import { startAria2, seeding } from './peers/aria2.mjs'

function client (t) {
  const c = new WasmTorrent({ dht: false }) // trackers: those a torrent names
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

test('aria2 seeds, wasmtorrent downloads to a folder (addPeer)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Sammlung ü', 61)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const aria2 = await startAria2(t, dir)
  const gid = await aria2.add(torrentFile, path.join(dir, 'seed'))
  await aria2.waitFor(gid, seeding, 30000, 'aria2 to verify and seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`127.0.0.1:${aria2.peerPort}`), true)
  await once(torrent, 'wire')
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.equal(torrent.progress, 1)
  assert.ok(Number((await aria2.status(gid)).uploadLength) >= 1_000_003, 'aria2 sent the bytes')
})

test('wasmtorrent seeds a folder from disk, aria2 downloads it (wasmtorrent dials)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Ordner ✓', 63)
  const c = client(t)
  const torrent = c.seed(content.root, { announce: [], pieceLength: 65536 })
  await once(torrent, 'seed')
  const aria2 = await startAria2(t, dir)
  const gid = await aria2.add(torrent.torrentFile, path.join(dir, 'down'))
  assert.equal(torrent.addPeer(`127.0.0.1:${aria2.peerPort}`), true)
  await aria2.waitFor(gid, seeding, 60000, 'aria2 to finish')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok(torrent.uploaded >= 1_000_003)
})

test('through an HTTP tracker: aria2 seeds to wasmtorrent, then downloads from it', async t => {
  const tracker = await startTracker(t)
  const dir = await tempDir(t)
  const aria2 = await startAria2(t, dir)
  const c = client(t)

  // aria2 seeds and announces; wasmtorrent finds it through the tracker.
  const first = await makeContent(path.join(dir, 'seed1'), 'über Tracker', 67)
  const torrentFile = await WasmTorrent.createTorrent(first.root, { announceList: [[tracker.http]], pieceLength: 16384 })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const gid1 = await aria2.add(torrentFile, path.join(dir, 'seed1'))
  await aria2.waitFor(gid1, seeding, 30000, 'aria2 to seed')
  await trackerKnows(tracker, parsed.infoHash, s => s.complete > 0, 'aria2')
  const down = c.add(torrentFile, { path: path.join(dir, 'down1') })
  await once(down, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down1'), first.files), null)

  // wasmtorrent seeds and announces first; aria2 finds it through the tracker.
  const second = await makeContent(path.join(dir, 'seed2'), 'zurück ✓', 69)
  const seeded = c.seed(second.root, { announce: [tracker.http], pieceLength: 32768 })
  await once(seeded, 'seed')
  await trackerKnows(tracker, seeded.infoHash, s => s.complete > 0, 'aria2')
  const gid2 = await aria2.add(seeded.torrentFile, path.join(dir, 'down2'))
  await aria2.waitFor(gid2, seeding, 60000, 'aria2 to finish')
  assert.equal(await sameFiles(path.join(dir, 'down2'), second.files), null)
})
