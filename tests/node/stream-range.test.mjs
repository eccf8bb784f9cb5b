// A bounded stream fetches its range and nothing past it: the reader's readahead stops at
// the range's end. Against a WebTorrent seeder, which sends blocks it queued before a
// cancel, a readahead past the end cost 1 to 3 pieces nobody read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebTorrent from 'webtorrent'
import MemoryChunkStore from 'memory-chunk-store'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes } from './helpers.mjs'

const quiet = { dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false }

test('a stream of pieces 10 to 13 of a deselected torrent downloads those four pieces only, from a WebTorrent seeder', { timeout: 60_000 }, async t => {
  const pieceLength = 256 * 1024
  const data = randomBytes(41, 20 * pieceLength)
  const seeder = new WebTorrent(quiet)
  const leecher = new WasmTorrent(quiet)
  t.after(() => Promise.all([new Promise(resolve => seeder.destroy(resolve)), leecher.destroy()]))
  const seed = await new Promise(resolve => seeder.seed(Buffer.from(data), { name: 'range.bin', pieceLength, announce: [], store: MemoryChunkStore }, resolve))
  seeder.throttleUpload(2 * 1024 * 1024)
  if (!seeder.torrentPort) await once(seeder, 'listening')
  const torrent = leecher.add(seed.torrentFile, { store: 'memory', deselect: true })
  const verified = []
  torrent.on('verified', i => verified.push(i))
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'wire')
  const start = 10 * pieceLength + 100
  const end = start + 1_000_000 // piece 13
  const chunks = []
  for await (const chunk of torrent.files[0].createReadStream({ start, end })) chunks.push(chunk)
  assert.ok(Buffer.concat(chunks).equals(data.subarray(start, end + 1)))
  // What was asked past the range would come within this time.
  await new Promise(resolve => setTimeout(resolve, 2000))
  assert.deepEqual(verified.sort((a, b) => a - b), [10, 11, 12, 13])
})
