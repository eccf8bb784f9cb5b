// Per-torrent rate limits (WebTorrent's torrentUploadLimit / torrentDownloadLimit client
// options, client.throttleTorrentUpload/Download, torrent.throttleUploadSpeed /
// throttleDownloadSpeed): bytes moved never exceed the limit over the time elapsed (plus
// the engine's burst of a quarter second, at least 32 KiB, and a block), whatever the
// machine's speed; an unlimited torrent beside a limited one still completes. Written from
// WebTorrent's documented behaviour.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { once, randomBytes } from './helpers.mjs'

const RATE = 100_000 // bytes/s
const SLACK = 64 * 1024 // burst (32 KiB at this rate) + a block, rounded up

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

async function seed (c, bytes, name) {
  const torrent = c.seed(bytes, { name, announce: [] })
  await once(torrent, 'seed')
  return torrent
}

// The leecher downloads `seeded` from `seeder`; returns its torrent once done.
async function fetch (leecher, seeder, seeded, opts = {}) {
  const torrent = leecher.add(seeded.torrentFile, { store: 'memory', ...opts })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done', 120_000)
  return torrent
}

const within = (bytes, since) => bytes <= RATE * (performance.now() - since) / 1000 + SLACK

test('torrentUploadLimit: each torrent of the seeder uploads no faster than the limit', async t => {
  const started = performance.now()
  const seeder = client(t, { torrentUploadLimit: RATE })
  await seeder.whenReady()
  const data = randomBytes(21, 300_000)
  const seeded = await seed(seeder, data, 'limited.bin')
  const torrent = await fetch(client(t), seeder, seeded)
  assert.ok(seeded.uploaded >= data.length)
  assert.ok(within(seeded.uploaded, started), `${seeded.uploaded} bytes in ${(performance.now() - started) / 1000} s`)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
})

test('torrent.throttleUploadSpeed limits one torrent; another of the same client runs unlimited', async t => {
  const seeder = client(t)
  await seeder.whenReady()
  const slowData = randomBytes(22, 250_000)
  const freeData = randomBytes(23, 250_000)
  const slow = await seed(seeder, slowData, 'slow.bin')
  const free = await seed(seeder, freeData, 'free.bin')
  const started = performance.now()
  slow.throttleUploadSpeed(RATE)
  const leecher = client(t)
  const [a, b] = await Promise.all([fetch(leecher, seeder, slow), fetch(leecher, seeder, free)])
  assert.ok(within(slow.uploaded, started), `${slow.uploaded} bytes in ${(performance.now() - started) / 1000} s`)
  assert.deepEqual(new Uint8Array(await a.files[0].arrayBuffer()), slowData)
  assert.deepEqual(new Uint8Array(await b.files[0].arrayBuffer()), freeData)
  // -1 lifts it.
  slow.throttleUploadSpeed(-1)
})

test('client.throttleTorrentDownload and torrent.throttleDownloadSpeed limit what a torrent receives', async t => {
  const seeder = client(t)
  await seeder.whenReady()
  const data = randomBytes(24, 250_000)
  const seeded = await seed(seeder, data, 'down.bin')
  const leecher = client(t)
  leecher.throttleTorrentDownload(RATE)
  const started = performance.now()
  const torrent = await fetch(leecher, seeder, seeded)
  assert.ok(within(torrent.received, started), `${torrent.received} bytes in ${(performance.now() - started) / 1000} s`)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)

  // The torrent's own limit after the client's.
  const other = randomBytes(25, 200_000)
  const seeded2 = await seed(seeder, other, 'down2.bin')
  leecher.throttleTorrentDownload(-1)
  const second = leecher.add(seeded2.torrentFile, { store: 'memory' })
  second.throttleDownloadSpeed(RATE)
  const started2 = performance.now()
  await once(second, 'infoHash')
  second.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(second, 'done', 120_000)
  assert.ok(within(second.received, started2), `${second.received} bytes in ${(performance.now() - started2) / 1000} s`)
})

test('a download limit set during a transfer holds from then on, not after the blocks asked for before it', async t => {
  const seeder = client(t, { uploadLimit: 1_000_000 })
  await seeder.whenReady()
  const data = randomBytes(26, 8_000_000)
  const seeded = await seed(seeder, data, 'mid.bin')
  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { store: 'memory' })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  // Running at the seeder's 1 MB/s for a second and a half: the leecher has seconds of
  // blocks asked for.
  while (torrent.received < 1_500_000) await new Promise(resolve => setTimeout(resolve, 50))
  leecher.throttleDownload(RATE)
  const before = torrent.received
  const started = performance.now()
  await new Promise(resolve => setTimeout(resolve, 2000))
  const got = torrent.received - before
  // A second of the new rate stays asked for, and what the seeder sent before the
  // cancels reached it (its burst: a quarter second at 1 MB/s): far below the 2 MB or more
  // that the requests already made would bring.
  const allowed = RATE * (performance.now() - started) / 1000 + RATE + 250_000 + SLACK
  assert.ok(got <= allowed, `${got} bytes in the 2 s after the limit (at most ${Math.round(allowed)})`)
  assert.ok(got > 0, 'still downloading, under the limit')
  leecher.throttleDownload(-1)
  await once(torrent, 'done', 60_000)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
})
