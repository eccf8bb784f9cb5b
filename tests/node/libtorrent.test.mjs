// The Node host against libtorrent 2.0 (Debian's python3-libtorrent) over TCP on loopback:
// each way, a multi-file torrent with odd sizes, an empty file and non-ASCII names, byte-exact
// on disk; and a magnet with only the info-hash, whose metadata comes from libtorrent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, libtorrentPeer, writeTorrent } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false })
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

test('libtorrent seeds, wasmtorrent downloads to a folder (addPeer)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'))
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`127.0.0.1:${port}`), true)
  const [wire] = await once(torrent, 'wire')
  assert.match(wire.remoteAddress ?? '127.0.0.1', /127\.0\.0\.1/)
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.equal(torrent.progress, 1)
})

test('wasmtorrent seeds a folder from disk, libtorrent downloads it', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Ordner ✓', 5)
  const c = client(t)
  await c.whenReady()
  assert.ok(c.torrentPort > 0)
  const torrent = c.seed(content.root, { announce: [], pieceLength: 65536 })
  await once(torrent, 'seed')
  const lt = libtorrentPeer(t, 'download', await writeTorrent(dir, torrent.torrentFile), path.join(dir, 'down'), [`127.0.0.1:${c.torrentPort}`])
  await lt.waitFor(s => s.done, 60000, 'libtorrent to finish')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok(torrent.uploaded >= 1_000_003)
})

test('a magnet with only the info-hash and x.pe: the metadata comes from libtorrent', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'magnet', 9)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const torrent = c.add(`magnet:?xt=urn:btih:${parsed.infoHash}&x.pe=127.0.0.1:${port}`, { path: path.join(dir, 'down') })
  await once(torrent, 'metadata')
  assert.equal(torrent.name, 'magnet')
  assert.deepEqual(torrent.files.map(f => f.path), parsed.files.map(f => f.path))
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})
