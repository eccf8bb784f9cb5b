// Interop with the reference implementation: the real WebTorrent browser bundle (npm
// webtorrent, dist/webtorrent.min.js) in one page, wasmtorrent in another, a real
// bittorrent-tracker WebSocket server on 127.0.0.1. Runs inside tests/browser/run.sh's
// network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import Server from 'bittorrent-tracker/server'
import { startHarness } from './harness.mjs'

const MiB = 1024 * 1024
const size = 4 * MiB

let h
let tracker
let trackerURL
before(async () => {
  tracker = new Server({ udp: false, http: false, ws: true, stats: false })
  tracker.on('error', err => console.error('tracker error', err))
  await new Promise(resolve => tracker.listen(0, '127.0.0.1', resolve))
  trackerURL = `ws://127.0.0.1:${tracker.http.address().port}`
  h = await startHarness()
})
after(async () => {
  await h?.close()
  await new Promise(resolve => tracker ? tracker.close(resolve) : resolve())
})

// Runs in a page: `size` random bytes and their SHA-256.
async function randomFile (size) {
  const data = new Uint8Array(size)
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)))
  const digest = await crypto.subtle.digest('SHA-256', data)
  window.file = new File([data], 'random.bin')
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
}

async function sha256 (buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer)
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
}

test('wasmtorrent seeds, WebTorrent downloads from the magnet', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/client.html')
  const b = await h.newPage('/tests/browser/pages/webtorrent.html')
  await b.waitForFunction(() => window.WebTorrent)
  const expected = await a.evaluate(randomFile, size)
  const magnet = await a.evaluate(async trackerURL => {
    const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    window.client = client
    const torrent = await client.seedAsync(window.file)
    return torrent.magnetURI
  }, trackerURL)

  const got = await b.evaluate(async ({ magnet, trackerURL, sha256src }) => {
    const sha256 = eval(sha256src) // eslint-disable-line no-eval
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    window.client = client
    const torrent = client.add(magnet, { announce: [trackerURL] })
    await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    const buffer = await torrent.files[0].arrayBuffer()
    return { sha256: await sha256(buffer), length: buffer.byteLength, name: torrent.name }
  }, { magnet, trackerURL, sha256src: `(${sha256})` })
  assert.equal(got.length, size)
  assert.equal(got.name, 'random.bin')
  assert.equal(got.sha256, expected, 'byte-exact')
  const uploaded = await a.evaluate(() => window.client.torrents[0].uploaded)
  assert.ok(uploaded >= size, 'wasmtorrent uploaded the torrent')
  await a.evaluate(() => window.client.destroy())
  await b.evaluate(() => new Promise(resolve => window.client.destroy(resolve)))
  assert.deepEqual(a.errors, [], 'no errors in the wasmtorrent page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

test('WebTorrent seeds, wasmtorrent downloads from the magnet alone (ut_metadata)', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/webtorrent.html')
  const b = await h.newPage('/tests/browser/pages/client.html')
  await a.waitForFunction(() => window.WebTorrent)
  const expected = await a.evaluate(randomFile, size)
  const magnet = await a.evaluate(async trackerURL => {
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    window.client = client
    const torrent = await new Promise(resolve => client.seed(window.file, { announce: [trackerURL] }, resolve))
    return torrent.magnetURI
  }, trackerURL)

  const got = await b.evaluate(async ({ magnet, trackerURL, sha256src }) => {
    const sha256 = eval(sha256src) // eslint-disable-line no-eval
    const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    window.client = client
    const torrent = client.add(magnet)
    await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    const buffer = await torrent.files[0].arrayBuffer()
    return { sha256: await sha256(buffer), length: buffer.byteLength, name: torrent.name }
  }, { magnet, trackerURL, sha256src: `(${sha256})` })
  assert.equal(got.length, size)
  assert.equal(got.name, 'random.bin')
  assert.equal(got.sha256, expected, 'byte-exact')
  await b.evaluate(() => window.client.destroy())
  await a.evaluate(() => new Promise(resolve => window.client.destroy(resolve)))
  assert.deepEqual(b.errors, [], 'no errors in the wasmtorrent page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})
