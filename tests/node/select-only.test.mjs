// A magnet's so= (BEP 53, select only), as WebTorrent's torrent: only the files it lists are
// selected once the metadata arrives, 'idle' fires when they are verified (the torrent is
// not done), and selecting the other file later brings 'done' when that one is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once } from './helpers.mjs'

test('magnet so=: only the listed files are downloaded (idle, not done); a later select() completes the torrent (done)', { timeout: 60_000 }, async t => {
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  const leecher = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => Promise.all([seeder.destroy(), leecher.destroy()]))
  const a = new Uint8Array(48 * 1024).fill(1)
  const b = new Uint8Array(48 * 1024).fill(2)
  const seed = seeder.seed([Object.assign(a, { name: 'a.bin' }), Object.assign(b, { name: 'b.bin' })], { name: 'pair', announce: [], pieceLength: 16 * 1024 })
  await once(seed, 'ready')
  if (!seeder.listening) await once(seeder, 'listening')
  const torrent = leecher.add(`${seed.magnetURI}&so=1`, { store: 'memory' })
  torrent.on('infoHash', () => torrent.addPeer(`127.0.0.1:${seeder.address().port}`))
  await once(torrent, 'idle')
  assert.deepEqual(torrent.files.map(f => f.progress), [0, 1])
  assert.equal(torrent.downloaded, b.length)
  assert.equal(torrent.done, false)
  assert.equal(torrent.progress, 0.5)
  torrent.files[0].select()
  await once(torrent, 'done')
  assert.deepEqual(torrent.files.map(f => f.progress), [1, 1])
  assert.equal(torrent.done, true)
})
