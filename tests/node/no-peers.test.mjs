// WebTorrent's 'noPeers' per source under Node: a source is reported only while the torrent
// holds no peer that it named (a tracker's peer silences 'tracker'; one added by hand counts
// for no source).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes, startTracker, trackerKnows } from './helpers.mjs'

// LSD off: where a multicast group can be joined it would add 'lsd' (tests/node/lsd.test.mjs).
function client (t, opts = {}) {
  const c = new WasmTorrent({ dht: false, lsd: false, ...opts })
  t.after(() => c.destroy())
  return c
}

// The sources 'noPeers' names over `ms`.
async function noPeersOver (torrent, ms) {
  const seen = new Set()
  const listener = source => seen.add(source)
  torrent.on('noPeers', listener)
  await new Promise(resolve => setTimeout(resolve, ms))
  torrent.off('noPeers', listener)
  return [...seen].sort()
}

test("'noPeers': a peer from the tracker silences 'tracker'; a peer added by hand silences nothing", async t => {
  const tracker = await startTracker(t)
  const seeder = client(t)
  const seeding = seeder.seed(Object.assign(Buffer.from(randomBytes(81, 100_001)), { name: 'sources.bin' }),
    { announceList: [[tracker.http]] })
  await once(seeding, 'seed')
  await trackerKnows(tracker, seeding.infoHash, s => s.complete > 0, 'the seeder')

  // Nothing selected: the connection stays (two seeds would part).
  const viaTracker = client(t).add(seeding.torrentFile, { store: 'memory', deselect: true, noPeersIntervalTime: 0.1 })
  await once(viaTracker, 'wire')
  assert.deepEqual(await noPeersOver(viaTracker, 600), ['ut_pex'])

  const byHand = client(t, { tracker: false }).add(seeding.torrentFile, { store: 'memory', deselect: true, noPeersIntervalTime: 0.1 })
  await once(byHand, 'ready')
  byHand.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(byHand, 'wire')
  assert.equal(byHand.numPeers, 1)
  assert.deepEqual(await noPeersOver(byHand, 600), ['ut_pex'])
})
