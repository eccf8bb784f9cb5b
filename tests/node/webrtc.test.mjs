// WebRTC under Node (node-datachannel): two Node clients that only meet through a WebSocket
// tracker move a torrent over data channels. Run in a namespace with a veth pair
// (WT_NETNS_VETH=1 scripts/loopback.sh): libdatachannel gathers no candidate on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { startTracker } from '../../scripts/tracker.mjs'
import { tempDir, makeContent, sameFiles, once } from './helpers.mjs'

test('two Node clients meet through a WebSocket tracker and move a torrent over WebRTC', async t => {
  const tracker = await startTracker({ log: () => {} })
  t.after(() => tracker.close())
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'rtc', 11)
  const opts = { tracker: { announce: [tracker.url], rtcConfig: { iceServers: [] } } }
  const seeder = new WasmTorrent(opts)
  const leecher = new WasmTorrent(opts)
  t.after(() => Promise.all([seeder.destroy(), leecher.destroy()]))
  for (const c of [seeder, leecher]) c.on('warning', err => assert.notEqual(err.code, 'no_webrtc', err.message))

  const seeded = seeder.seed(content.root, { announce: [tracker.url] })
  await once(seeded, 'seed')
  const torrent = leecher.add(seeded.magnetURI, { path: path.join(dir, 'down') })
  await once(torrent, 'done', 90000)
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.ok(seeded.uploaded >= seeded.length)
})
