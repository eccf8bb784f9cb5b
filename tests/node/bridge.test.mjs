// The bridge between the classic swarm and the browser swarm (what webtorrent-hybrid did):
// only libtorrent (TCP) has the torrent; a Node wasmtorrent joins both its TCP swarm and a
// WebSocket tracker's WebRTC swarm; a browser page (Chromium, wasmtorrent) gets the files
// through the Node client. Needs the veth pair of WT_NETNS_VETH=1 (node-datachannel).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { startTracker } from '../../scripts/tracker.mjs'
import { startHarness } from '../browser/harness.mjs'
import { tempDir, makeContent, once, libtorrentPeer, writeTorrent } from './helpers.mjs'

test('a browser page gets a torrent that only libtorrent seeds, through a Node client', { timeout: 180_000 }, async t => {
  const tracker = await startTracker({ log: () => {} })
  t.after(() => tracker.close())
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'bridge', 21)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const bridge = new WasmTorrent({ tracker: { announce: [tracker.url], rtcConfig: { iceServers: [] } } })
  t.after(() => bridge.destroy())
  const relay = bridge.add(torrentFile, { path: path.join(dir, 'bridge') })
  await once(relay, 'infoHash')
  relay.addPeer(`127.0.0.1:${port}`)

  const h = await startHarness()
  t.after(() => h.close())
  const page = await h.newPage('/tests/browser/pages/client.html')
  const got = await page.evaluate(async ({ magnet, trackerURL }) => {
    const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const torrent = client.add(magnet, { store: 'memory' })
    await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    const out = {}
    for (const f of torrent.files) {
      const digest = await crypto.subtle.digest('SHA-256', await f.arrayBuffer())
      out[f.path] = Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
    }
    return out
  }, { magnet: relay.magnetURI, trackerURL: tracker.url })

  const expected = Object.fromEntries(content.files.map(f => [f.path, createHash('sha256').update(f.data).digest('hex')]))
  assert.deepEqual(got, expected)
  assert.ok(relay.received >= relay.length, 'the Node client got the torrent from libtorrent')
  assert.ok(relay.uploaded > 0, 'and passed it on to the page')
})
