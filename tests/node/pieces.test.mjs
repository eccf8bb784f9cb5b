// torrent.pieces as WebTorrent's: { length, missing } per piece not verified yet, where
// missing counts the bytes not received yet, and null once verified.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false })
  t.after(() => c.destroy())
  return c
}

test('torrent.pieces: missing falls block by block while a piece arrives; null once verified', async t => {
  const PIECE = 256 * 1024
  const seeder = client(t)
  const data = randomBytes(41, 4 * PIECE - 1000)
  const seeded = seeder.seed(data, { name: 'pieces.bin', announce: [], pieceLength: PIECE, store: 'memory' })
  await once(seeded, 'seed')
  seeded.throttleUploadSpeed(128 * 1024) // a piece takes about two seconds

  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { store: 'memory', strategy: 'sequential' })
  await once(torrent, 'ready')
  assert.deepEqual(torrent.pieces.map(p => p && p.missing), [PIECE, PIECE, PIECE, PIECE - 1000])
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  const partial = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const p = torrent.pieces.find(p => p && p.missing > 0 && p.missing < p.length)
      if (p) { clearInterval(timer); resolve(p) }
    }, 20)
    torrent.once('done', () => { clearInterval(timer); reject(new Error('no piece seen in progress')) })
  })
  assert.equal(partial.missing % (16 * 1024), 0, 'whole blocks of a full-size piece')
  if (!torrent.done) await once(torrent, 'done', 60_000)
  assert.deepEqual(torrent.pieces, [null, null, null, null])
})

// torrent.store.get(index, [{ offset, length }], cb), which apps use to read verified pieces
// (abstract-chunk-store's get): the same bytes as WebTorrent 2.8.5's store gives.
test('torrent.store.get reads verified pieces as WebTorrent\'s store does; a piece not had is an error', async t => {
  const { default: WebTorrent } = await import('webtorrent')
  const { default: MemoryChunkStore } = await import('memory-chunk-store')
  const PIECE = 32 * 1024
  const data = randomBytes(42, 3 * PIECE + 500)
  const theirs = new WebTorrent({ tracker: false, dht: false, lsd: false, natUpnp: false, natPmp: false })
  t.after(() => new Promise(resolve => theirs.destroy(resolve)))
  const model = await new Promise(resolve => theirs.seed(data, { name: 'store.bin', announce: [], pieceLength: PIECE, store: MemoryChunkStore }, resolve))
  const ours = client(t)
  const seeded = ours.seed(data, { name: 'store.bin', announce: [], pieceLength: PIECE, store: 'memory' })
  await once(seeded, 'seed')
  assert.equal(seeded.infoHash, model.infoHash)
  const get = (torrent, ...args) => new Promise((resolve, reject) =>
    torrent.store.get(...args, (err, buf) => err ? reject(err) : resolve(Buffer.from(buf))))
  for (const args of [[0], [3], [1, { offset: 100, length: 1000 }], [2, { offset: 5 }], [3, { length: 7 }]]) {
    const [a, b] = await Promise.all([get(model, ...args), get(seeded, ...args)])
    assert.ok(b.equals(a), `store.get(${JSON.stringify(args)})`)
  }
  assert.ok((await get(seeded, 1)).equals(data.subarray(PIECE, 2 * PIECE)), 'the oracle')
  // A torrent that has nothing yet: every get fails; none before the metadata.
  const other = client(t)
  const empty = other.add(seeded.torrentFile, { store: 'memory' })
  await once(empty, 'ready')
  await assert.rejects(get(empty, 0), /Chunk not found/)
  await assert.rejects(get(empty, 9), /Chunk not found/)
  assert.equal(other.add('magnet:?xt=urn:btih:' + 'cd'.repeat(20)).store, null)
})
