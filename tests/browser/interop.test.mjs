// Interop with the reference implementation: the real WebTorrent browser bundle (npm
// webtorrent, dist/webtorrent.min.js) in one page, wasmtorrent in another, a real
// bittorrent-tracker WebSocket server on 127.0.0.1. Runs inside tests/browser/run.sh's
// network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startHarness, repoRoot } from './harness.mjs'
import { startTracker } from '../../scripts/tracker.mjs'
import { build } from 'esbuild'

const MiB = 1024 * 1024
const size = 4 * MiB

let h
let tracker
let trackerURL
// simple-peer as an app bundles it (the fork WebTorrent uses), for the pages to import.
const simplePeerURL = '/build/browser-test/simple-peer.mjs'
before(async () => {
  await build({
    stdin: { contents: "export { default } from '@thaunknown/simple-peer'", resolveDir: repoRoot },
    bundle: true, format: 'esm', platform: 'browser', outfile: repoRoot + simplePeerURL.slice(1), logLevel: 'warning'
  })
  tracker = await startTracker()
  trackerURL = tracker.url
  h = await startHarness()
})
after(async () => {
  await h?.close()
  await tracker?.close()
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

// Runs in a page: random files (name -> SHA-256), kept in window.files as File objects.
async function randomFiles (specs) {
  const hashes = {}
  window.files = []
  for (const { name, size } of specs) {
    const data = new Uint8Array(size)
    for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)))
    const digest = await crypto.subtle.digest('SHA-256', data)
    hashes[name] = Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
    window.files.push(new File([data], name))
  }
  return hashes
}

// Runs in a page (either library): waits for `done`, returns name -> SHA-256 of each file.
async function fileHashes (torrent) {
  await new Promise((resolve, reject) => {
    if (torrent.done) return resolve()
    torrent.once('done', resolve)
    torrent.once('error', reject)
  })
  const out = {}
  for (const f of torrent.files) {
    const digest = await crypto.subtle.digest('SHA-256', await f.arrayBuffer())
    out[f.name] = Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
  }
  return out
}

const multi = [{ name: 'a.bin', size: 300_001 }, { name: 'b.txt', size: 17 }, { name: 'c.bin', size: 1_500_000 }]

for (const [from, to] of [['wasmtorrent', 'WebTorrent'], ['WebTorrent', 'wasmtorrent']]) {
  test(`multi-file torrent: ${from} seeds, ${to} downloads`, { timeout: 120_000 }, async () => {
    const pageOf = lib => lib === 'WebTorrent' ? '/tests/browser/pages/webtorrent.html' : '/tests/browser/pages/client.html'
    const a = await h.newPage(pageOf(from))
    const b = await h.newPage(pageOf(to))
    for (const p of [a, b]) await p.waitForFunction(() => window.WebTorrent || window.WasmTorrent)
    const expected = await a.evaluate(randomFiles, multi)
    const magnet = await a.evaluate(async ({ trackerURL, lib }) => {
      const Client = lib === 'WebTorrent' ? window.WebTorrent : window.WasmTorrent
      window.client = new Client({ tracker: { rtcConfig: { iceServers: [] } } })
      const torrent = await new Promise(resolve =>
        window.client.seed(window.files, { name: 'multi', announce: [trackerURL] }, resolve))
      return torrent.magnetURI
    }, { trackerURL, lib: from })
    const got = await b.evaluate(async ({ magnet, lib, fileHashesSrc }) => {
      const fileHashes = eval(fileHashesSrc) // eslint-disable-line no-eval
      const Client = lib === 'WebTorrent' ? window.WebTorrent : window.WasmTorrent
      window.client = new Client({ tracker: { rtcConfig: { iceServers: [] } } })
      return fileHashes(window.client.add(magnet))
    }, { magnet, lib: to, fileHashesSrc: `(${fileHashes})` })
    assert.deepEqual(got, expected, 'every file byte-exact')
    for (const p of [a, b]) await p.evaluate(() => new Promise(resolve => window.client.destroy(() => resolve())))
    const ours = from === 'wasmtorrent' ? a : b
    assert.deepEqual(ours.errors, [], 'no errors in the wasmtorrent page')
    assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
  })
}

test('WebTorrent seeds, wasmtorrent downloads over a simple-peer connection both pages signalled themselves (addPeer)', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/webtorrent.html')
  const b = await h.newPage('/tests/browser/pages/client.html')
  await a.waitForFunction(() => window.WebTorrent)
  const expected = await a.evaluate(randomFile, size)
  // No tracker: the only peer is the app's own connection, signalled by the test.
  const { magnet, offer } = await a.evaluate(async url => {
    const { default: Peer } = await import(url)
    const client = new window.WebTorrent({ tracker: false })
    window.client = client
    const torrent = await new Promise(resolve => client.seed(window.file, { announce: [] }, resolve))
    const peer = new Peer({ initiator: true, trickle: false, config: { iceServers: [] } })
    window.peer = peer
    const offer = await new Promise(resolve => peer.once('signal', resolve))
    torrent.addPeer(peer)
    return { magnet: torrent.magnetURI, offer }
  }, simplePeerURL)

  const answer = await b.evaluate(async ({ url, magnet, offer }) => {
    const { default: Peer } = await import(url)
    const client = new window.WasmTorrent({ tracker: false })
    window.client = client
    const torrent = client.add(magnet)
    window.torrent = torrent
    window.told = []
    torrent.on('peer', p => window.told.push(p === window.peer))
    torrent.on('wire', wire => { window.wireType = wire.type })
    const peer = new Peer({ trickle: false, config: { iceServers: [] } })
    window.peer = peer
    const answer = new Promise(resolve => peer.once('signal', resolve))
    peer.signal(offer)
    window.added = torrent.addPeer(peer) // still connecting
    return answer
  }, { url: simplePeerURL, magnet, offer })
  await a.evaluate(answer => window.peer.signal(answer), answer)

  const got = await b.evaluate(async sha256src => {
    const sha256 = eval(sha256src) // eslint-disable-line no-eval
    const torrent = window.torrent
    await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    const buffer = await torrent.files[0].arrayBuffer()
    return { sha256: await sha256(buffer), length: buffer.byteLength, added: window.added, told: window.told, wireType: window.wireType }
  }, `(${sha256})`)
  assert.equal(got.added, true)
  assert.deepEqual(got.told, [true], "'peer' names the simple-peer object")
  assert.equal(got.wireType, 'webrtc')
  assert.equal(got.length, size)
  assert.equal(got.sha256, expected, 'byte-exact')
  await b.evaluate(() => window.client.destroy())
  await a.evaluate(() => new Promise(resolve => window.client.destroy(resolve)))
  assert.deepEqual(b.errors, [], 'no errors in the wasmtorrent page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})
