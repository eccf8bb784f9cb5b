// The DHT (BEP 5) under Node against libtorrent's: a few libtorrent nodes on 127.0.0.1, one
// seeding a torrent it announces on the DHT only; wasmtorrent, bootstrapped from one node,
// gets the torrent from a magnet holding only the info-hash. Also: a second wasmtorrent finds
// the first through the DHT alone, and the node table survives a restart (state file).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { stat } from 'node:fs/promises'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, jsonProcess, here, writeTorrent } from './helpers.mjs'

test('a magnet with only the info-hash, found through a DHT of libtorrent nodes', { timeout: 180_000 }, async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'dht', 51)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const lt = jsonProcess(t, '/usr/bin/python3', [path.join(here, 'peers/libtorrent_dht.py'), '4', await writeTorrent(dir, torrentFile), path.join(dir, 'seed')])
  const { ports } = await lt.waitFor(s => s.seeding && s.dht_nodes.every(n => n >= 2), 60000, 'the libtorrent DHT to form')

  const stateFile = path.join(dir, 'dht-state')
  const c = new WasmTorrent({ tracker: false, dht: { bootstrap: [`127.0.0.1:${ports[0]}`], stateFile } })
  t.after(() => c.destroy())
  const torrent = c.add(`magnet:?xt=urn:btih:${parsed.infoHash}`, { path: path.join(dir, 'down') })
  const announced = once(torrent, 'dhtAnnounce', 150000) // as WebTorrent's, once the announce ends
  await once(torrent, 'done', 150000)
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  await announced
  assert.ok(c.dhtNodes >= 2, `${c.dhtNodes} nodes in the table`)
  await c.destroy()
  assert.ok((await stat(stateFile)).size > 20, 'the node table was saved')

  // Restarted without a router: the saved nodes are enough to find the torrent again.
  const again = new WasmTorrent({ tracker: false, dht: { bootstrap: [], stateFile } })
  t.after(() => again.destroy())
  const second = again.add(`magnet:?xt=urn:btih:${parsed.infoHash}`, { path: path.join(dir, 'again') })
  await once(second, 'done', 150000)
  assert.equal(await sameFiles(path.join(dir, 'again'), content.files), null)
})
