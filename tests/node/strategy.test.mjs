// The add option strategy (WebTorrent's 'rarest' | 'sequential') through the public API:
// a leecher with 'sequential' verifies the pieces of a throttled seeder in piece order.
// Ours defaults to 'rarest'; an unknown strategy throws from add.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes } from './helpers.mjs'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

test("strategy 'sequential': the pieces of a throttled seeder are verified in increasing order", async t => {
  const seeder = client(t)
  const data = randomBytes(31, 48 * 16 * 1024) // 48 pieces of 16 KiB
  const seeded = seeder.seed(data, { name: 'in-order.bin', announce: [], pieceLength: 16 * 1024, store: 'memory' })
  await once(seeded, 'seed')
  assert.equal(seeded.pieces.length, 48)
  seeded.throttleUploadSpeed(256 * 1024) // few requests served at a time

  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { store: 'memory', strategy: 'sequential' })
  const verified = []
  torrent.on('verified', i => verified.push(i))
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done', 120_000)
  assert.deepEqual(verified, Array.from({ length: 48 }, (_, i) => i))
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
})

test('strategy: anything but rarest or sequential throws invalid_argument from add; both are taken', async t => {
  const c = client(t)
  const magnet = 'magnet:?xt=urn:btih:' + 'ab'.repeat(20)
  for (const strategy of ['random', 'Sequential', 1, true]) {
    assert.throws(() => c.add(magnet, { strategy }), { name: 'WasmTorrentError', code: 'invalid_argument' })
  }
  assert.equal(c.torrents.length, 0)
  for (const strategy of ['rarest', 'sequential', undefined]) {
    const torrent = c.add(magnet, { store: 'memory', strategy })
    await once(torrent, 'infoHash')
    await torrent.destroy()
  }
})
