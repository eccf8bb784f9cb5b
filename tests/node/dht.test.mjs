// The DHT (BEP 5) under Node against libtorrent's: a few libtorrent nodes on 127.0.0.1, one
// seeding a torrent it announces on the DHT only; wasmtorrent, bootstrapped from one node,
// gets the torrent from a magnet holding only the info-hash, over IPv4 and over IPv6 (BEP 32,
// libtorrent's nodes on [::1]). Also: the node table survives a restart (state file).
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

test('the IPv6 DHT (BEP 32): a magnet with only the info-hash, found through libtorrent nodes on [::1]', { timeout: 180_000 }, async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'dht6', 52)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const lt = jsonProcess(t, '/usr/bin/python3', [path.join(here, 'peers/libtorrent_dht.py'), '4', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), 'ipv6'])
  // Once the seeder has announced, our lookup finds it (rather than it finding our announce).
  const { ports } = await lt.waitFor(s => s.seeding && s.announced && s.dht_nodes.every(n => n >= 2), 60000, 'the libtorrent DHT to form')

  // Bootstrapped from an IPv6 node only: whatever is found comes through the IPv6 DHT.
  const stateFile = path.join(dir, 'dht-state')
  const c = new WasmTorrent({ tracker: false, lsd: false, dht: { bootstrap: [`[::1]:${ports[0]}`], stateFile } })
  t.after(() => c.destroy())
  const torrent = c.add(`magnet:?xt=urn:btih:${parsed.infoHash}`, { path: path.join(dir, 'down') })
  const peers = []
  torrent.on('peer', addr => peers.push(addr))
  const announced = once(torrent, 'dhtAnnounce', 150000)
  await once(torrent, 'done', 150000)
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok(peers.includes(`[::1]:${ports[3]}`), `the seeder is found through the IPv6 DHT (peers: ${peers.join(', ')})`)
  await announced
  assert.ok(c.dhtNodes >= 2, `${c.dhtNodes} nodes in the table`)
  await c.destroy()

  // The IPv6 nodes are saved (under nodes6) and a restart without a router finds the torrent again.
  const again = new WasmTorrent({ tracker: false, lsd: false, dht: { bootstrap: [], stateFile } })
  t.after(() => again.destroy())
  const second = again.add(`magnet:?xt=urn:btih:${parsed.infoHash}`, { path: path.join(dir, 'again') })
  await once(second, 'done', 150000)
  assert.equal(await sameFiles(path.join(dir, 'again'), content.files), null)
})
