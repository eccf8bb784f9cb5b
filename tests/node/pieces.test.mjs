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
