// Interop with a web seed (BEP 19): one torrent whose url-list names a local HTTP server
// (scripts/webseed.mjs on 127.0.0.1, another origin than the pages) and whose announce is a
// bittorrent-tracker WebSocket server, shared between a wasmtorrent page and a page running
// WebTorrent's own browser bundle (npm webtorrent, dist/webtorrent.min.js). Whichever comes
// first takes the file from the web seed; the second takes at least part of it from the first
// over WebRTC, and both end byte-exact. Loopback only (tests/browser/run.sh's netns).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import Server from 'bittorrent-tracker/server'
import { startHarness } from './harness.mjs'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { createTorrentNpm, randomBytes } from '../js/helpers.mjs'

const KiB = 1024
const MiB = 1024 * KiB
const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')
const b64 = bytes => Buffer.from(bytes).toString('base64')

// A file per direction, so that the second part owes nothing to the first one's pages.
const files = {
  'webtorrent-first': { path: 'webtorrent first.bin', data: randomBytes(21, 6 * MiB + 4321) },
  'wasmtorrent-first': { path: 'wasmtorrent first.bin', data: randomBytes(22, 6 * MiB + 1234) }
}

let h, seed, tracker, trackerURL
before(async () => {
  h = await startHarness()
  const served = {}
  for (const f of Object.values(files)) served[`/interop/${f.path}`] = f.data
  // Paced (per response) so that the second page finds its peer before the server could
  // have sent it everything: 1 MiB/s per request, about 4 MiB/s for each client's four.
  seed = await startWebSeed({ files: served, rate: 1 * MiB })
  tracker = new Server({ udp: false, http: false, ws: true, stats: false })
  await new Promise(resolve => tracker.listen(0, '127.0.0.1', resolve))
  trackerURL = `ws://127.0.0.1:${tracker.ws.address().port}`
})
after(async () => {
  await h?.close()
  await seed?.close()
  await new Promise(resolve => tracker ? tracker.close(resolve) : resolve())
})

async function torrentOf (file) {
  return createTorrentNpm([new File([file.data], file.path)], {
    announceList: [[trackerURL]],
    urlList: [`${seed.url}/interop/${encodeURIComponent(file.path)}`],
    pieceLength: 256 * KiB,
    creationDate: new Date('2026-01-01')
  })
}

// In a page of either library: adds the .torrent (base64), waits for 'done', returns the
// file's SHA-256 and the torrent's counters. The client and torrent stay in window.client,
// window.torrent: the page goes on seeding.
async function download ({ lib, torrent, trackerURL }) {
  const bytes = Uint8Array.from(atob(torrent), c => c.charCodeAt(0))
  const rtcConfig = { iceServers: [] }
  const client = lib === 'wasmtorrent'
    ? new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig } })
    : new window.WebTorrent({ tracker: { rtcConfig } })
  window.client = client
  const t = lib === 'wasmtorrent' ? client.add(bytes, { store: 'memory' }) : client.add(bytes)
  window.torrent = t
  const warnings = []
  t.on('warning', w => warnings.push(String(w?.code ?? w?.message ?? w)))
  await new Promise((resolve, reject) => {
    if (t.done) return resolve()
    t.once('done', resolve)
    t.once('error', err => reject(new Error(String(err?.message ?? err))))
    client.once('error', err => reject(new Error(String(err?.message ?? err))))
  })
  const buffer = await t.files[0].arrayBuffer()
  const digest = await crypto.subtle.digest('SHA-256', buffer)
  return {
    sha256: Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join(''),
    length: buffer.byteLength,
    downloaded: t.downloaded,
    webSeedDownloaded: t.webSeedDownloaded ?? null,
    uploaded: t.uploaded,
    warnings
  }
}

const pageOf = lib => lib === 'wasmtorrent' ? '/tests/browser/pages/client.html' : '/tests/browser/pages/webtorrent.html'

async function openClientPage (lib) {
  const page = await h.newPage(pageOf(lib))
  await page.waitForFunction(() => window.WebTorrent || window.WasmTorrent)
  return page
}

const destroy = page => page.evaluate(() => new Promise(resolve => {
  const out = window.client.destroy(() => resolve())
  if (out?.then) out.then(resolve, resolve)
}))

test('a torrent with a web seed: WebTorrent has it from the web seed, then wasmtorrent completes from both', { timeout: 120_000 }, async () => {
  const file = files['webtorrent-first']
  const torrent = b64(await torrentOf(file))
  const wt = await openClientPage('webtorrent')
  const first = await wt.evaluate(download, { lib: 'webtorrent', torrent, trackerURL })
  assert.equal(first.sha256, sha256(file.data), 'WebTorrent: byte-exact')
  const servedToFirst = seed.stats().byPath[`/interop/${file.path}`] ?? 0
  assert.ok(servedToFirst >= file.data.length, `WebTorrent took the file from the web seed (${servedToFirst} bytes served)`)

  const ours = await openClientPage('wasmtorrent')
  const second = await ours.evaluate(download, { lib: 'wasmtorrent', torrent, trackerURL })
  assert.equal(second.length, file.data.length)
  assert.equal(second.sha256, sha256(file.data), 'wasmtorrent: byte-exact')
  const fromPeer = second.downloaded - second.webSeedDownloaded
  console.log(`# WebTorrent first: wasmtorrent took ${(fromPeer / MiB).toFixed(2)} MiB from the WebTorrent peer, ${(second.webSeedDownloaded / MiB).toFixed(2)} MiB from the web seed`)
  assert.ok(fromPeer > 0, `bytes from the WebTorrent peer: downloaded ${second.downloaded}, from the web seed ${second.webSeedDownloaded}`)
  assert.deepEqual(second.warnings, [])

  await destroy(ours)
  await destroy(wt)
  assert.deepEqual(ours.errors, [], 'no errors in the wasmtorrent page')
  assert.deepEqual(wt.errors, [], 'no errors in the WebTorrent page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

test('a torrent with a web seed: wasmtorrent has it from the web seed, then WebTorrent completes from both', { timeout: 120_000 }, async () => {
  const file = files['wasmtorrent-first']
  const torrent = b64(await torrentOf(file))
  const ours = await openClientPage('wasmtorrent')
  const first = await ours.evaluate(download, { lib: 'wasmtorrent', torrent, trackerURL })
  assert.equal(first.sha256, sha256(file.data), 'wasmtorrent: byte-exact')
  assert.equal(first.webSeedDownloaded, file.data.length, 'wasmtorrent, alone, took every byte from the web seed')
  assert.deepEqual(first.warnings, [])

  const wt = await openClientPage('webtorrent')
  const second = await wt.evaluate(download, { lib: 'webtorrent', torrent, trackerURL })
  assert.equal(second.length, file.data.length)
  assert.equal(second.sha256, sha256(file.data), 'WebTorrent: byte-exact')
  const uploaded = await ours.evaluate(() => window.torrent.uploaded)
  console.log(`# wasmtorrent first: it uploaded ${(uploaded / MiB).toFixed(2)} MiB to the WebTorrent page`)
  assert.ok(uploaded > 0, `the wasmtorrent page uploaded ${uploaded} bytes to WebTorrent`)

  await destroy(wt)
  await destroy(ours)
  assert.deepEqual(ours.errors, [], 'no errors in the wasmtorrent page')
  assert.deepEqual(wt.errors, [], 'no errors in the WebTorrent page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})
