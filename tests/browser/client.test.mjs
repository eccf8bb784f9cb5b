// The browser client end to end: pages (one browser context each = one peer) find each other
// through a real bittorrent-tracker WebSocket server on 127.0.0.1 and move a torrent over
// WebRTC data channels. Runs inside tests/browser/run.sh's network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startHarness } from './harness.mjs'
import { startTracker } from '../../scripts/tracker.mjs'

const MiB = 1024 * 1024
const size = Number(process.env.WT_E2E_MIB || 64) * MiB // the size; WT_E2E_MIB=4 for a quick run

let h
let tracker
let trackerURL
before(async () => {
  tracker = await startTracker()
  trackerURL = tracker.url
  h = await startHarness()
})
after(async () => {
  await h?.close()
  await tracker?.close()
})

// In page A: seed `size` random bytes; returns the magnet and the SHA-256 of the bytes.
async function seed ({ size, trackerURL }) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const data = new Uint8Array(size)
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)))
  const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  window.client = client
  client.on('warning', w => console.log('warning', w.message))
  const torrent = await client.seedAsync(new File([data], 'random.bin'))
  window.uploadEvents = 0
  torrent.on('upload', () => window.uploadEvents++)
  return {
    magnet: torrent.magnetURI,
    infoHash: torrent.infoHash,
    sha256: hex(await crypto.subtle.digest('SHA-256', data)),
    done: torrent.done,
    progress: torrent.progress
  }
}

// In a leeching page: add the magnet alone; window.finished resolves with the SHA-256 of what
// arrived once the torrent is done.
// With viaOpts, the tracker is given to add() ({announce}) instead of the client.
async function leech ({ magnet, trackerURL, viaOpts = false }) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const client = new window.WasmTorrent({ tracker: { announce: viaOpts ? [] : [trackerURL], rtcConfig: { iceServers: [] } } })
  window.client = client
  const start = performance.now()
  const torrent = viaOpts
    ? client.add(magnet.replace(/&tr=[^&]*/g, ''), { announce: [trackerURL] })
    : client.add(magnet)
  window.torrent = torrent
  window.warnings = []
  torrent.on('warning', w => window.warnings.push(`${w.code}: ${w.message}`))
  const events = { infoHash: 0, metadata: 0, ready: 0, download: 0, wire: 0 }
  for (const name of Object.keys(events)) torrent.on(name, () => events[name]++)
  window.finished = new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    .then(async () => {
      const ms = performance.now() - start
      const buffer = await torrent.files[0].arrayBuffer()
      return {
        sha256: hex(await crypto.subtle.digest('SHA-256', buffer)),
        length: buffer.byteLength,
        name: torrent.name,
        infoHash: torrent.infoHash,
        progress: torrent.progress,
        downloaded: torrent.downloaded,
        events,
        ms
      }
    })
}

// The leecher's state every 10 s until it finishes: if a download stalls, the log says where.
function finished (page) {
  const timer = setInterval(() => {
    page.evaluate(() => {
      const t = window.torrent
      const peers = t._id === null ? [] : window.client._engine.peers(t._id)
      return `${(t.progress * 100).toFixed(1)}%, ${(t.downloadSpeed / 1048576).toFixed(1)} MiB/s, ` +
        `requests out ${peers.map(p => p.outstanding).join('/')}, store waiting ${JSON.stringify(t._storage?.inFlight)}, ` +
        `warnings ${window.warnings.slice(-3).join(' | ')}`
    }).then(line => console.log(`# leecher: ${line}`), () => {})
  }, 10_000)
  return page.evaluate(() => window.finished).finally(() => clearInterval(timer))
}

test(`two pages: A seeds ${size / MiB} MiB, B downloads it from the magnet`, { timeout: 180_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/client.html')
  const b = await h.newPage('/tests/browser/pages/client.html')
  const seeded = await a.evaluate(seed, { size, trackerURL })
  assert.equal(seeded.done, true)
  assert.equal(seeded.progress, 1)
  assert.match(seeded.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}/)

  await b.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const got = await finished(b)
  console.log(`# ${size / MiB} MiB in ${(got.ms / 1000).toFixed(2)} s: ${(size / MiB / (got.ms / 1000)).toFixed(1)} MiB/s`)
  assert.equal(got.length, size)
  assert.equal(got.sha256, seeded.sha256, 'byte-exact')
  assert.equal(got.infoHash, seeded.infoHash)
  assert.equal(got.name, 'random.bin')
  assert.equal(got.progress, 1)
  assert.equal(got.events.infoHash, 1)
  assert.equal(got.events.metadata, 1)
  assert.equal(got.events.ready, 1)
  assert.ok(got.events.download > 0)
  assert.ok(got.events.wire >= 1)

  await a.waitForFunction(() => window.uploadEvents > 0, null, { timeout: 10_000 }) // at the next tick
  await a.evaluate(() => window.client.destroy())
  await b.evaluate(() => window.client.destroy())
  assert.deepEqual(a.errors, [], 'no errors in page A')
  assert.deepEqual(b.errors, [], 'no errors in page B')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

test('three pages: one seeder, two leechers that also trade with each other', { timeout: 180_000 }, async () => {
  const size3 = 16 * MiB
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => h.newPage('/tests/browser/pages/client.html')))
  const seeded = await a.evaluate(seed, { size: size3, trackerURL })
  await b.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  await c.evaluate(leech, { magnet: seeded.magnet, trackerURL, viaOpts: true })
  const [gotB, gotC] = await Promise.all([finished(b), finished(c)])
  assert.equal(gotB.sha256, seeded.sha256, 'B byte-exact')
  assert.equal(gotC.sha256, seeded.sha256, 'C byte-exact')
  const uploaded = await Promise.all([b, c].map(p => p.evaluate(() => window.torrent.uploaded)))
  const seederUploaded = await a.evaluate(() => window.client.torrents[0].uploaded)
  console.log(`# three pages: seeder uploaded ${(seederUploaded / MiB).toFixed(1)} MiB, leechers ${uploaded.map(u => (u / MiB).toFixed(1)).join(' and ')} MiB`)
  assert.ok(uploaded[0] + uploaded[1] > 0, 'the leechers traded pieces with each other')
  for (const p of [a, b, c]) await p.evaluate(() => window.client.destroy())
  for (const p of [a, b, c]) assert.deepEqual(p.errors, [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

test('client API: seed from bytes, get, remove, destroy; bad input is an error event', { timeout: 60_000 }, async () => {
  const p = await h.newPage('/tests/browser/pages/client.html')
  const out = await p.evaluate(async trackerURL => {
    const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const events = []
    for (const name of ['torrent', 'add', 'remove']) client.on(name, () => events.push(name))
    const data = new TextEncoder().encode('hello wasmtorrent')
    const torrent = await client.seedAsync([{ path: 'dir/hello.txt', data }, { path: 'dir/b.bin', data: new Uint8Array(70000) }], { name: 'dir' })
    const text = new TextDecoder().decode(await torrent.files.find(f => f.name === 'hello.txt').arrayBuffer())
    const blob = await torrent.files[0].blob()
    const parsed = await window.WasmTorrent.parseTorrent(torrent.magnetURI)
    const result = {
      name: torrent.name,
      files: torrent.files.map(f => [f.path, f.length]),
      text,
      blobSize: blob.size,
      same: (await client.get(torrent.infoHash)) === torrent && (await client.get(torrent.magnetURI)) === torrent,
      magnetHash: parsed.infoHash === torrent.infoHash,
      magnetTracker: parsed.announce.includes(trackerURL),
      progress: client.progress,
      done: torrent.done
    }
    await client.remove(torrent.infoHash)
    result.afterRemove = client.torrents.length
    result.bad = await new Promise(resolve => {
      const t = client.add(new Uint8Array([100, 52, 58, 105]))
      t.once('error', err => resolve(err.code))
    })
    client.destroy()
    result.events = events
    result.destroyed = client.destroyed
    return result
  }, trackerURL)
  assert.equal(out.name, 'dir')
  assert.deepEqual(out.files.map(f => f[0]).sort(), ['dir/b.bin', 'dir/hello.txt'])
  assert.equal(out.text, 'hello wasmtorrent')
  assert.ok(out.blobSize > 0)
  assert.equal(out.same, true)
  assert.equal(out.magnetHash, true)
  assert.equal(out.magnetTracker, true)
  assert.equal(out.progress, 0) // of the torrents not finished: none (as WebTorrent's client.progress)
  assert.equal(out.done, true)
  assert.equal(out.afterRemove, 0)
  assert.equal(out.bad, 'bencode_truncated')
  // As WebTorrent: 'add' at once, 'torrent' when ready; the bad add is removed too.
  assert.deepEqual(out.events, ['add', 'torrent', 'remove', 'add', 'remove'])
  assert.equal(out.destroyed, true)
  assert.deepEqual(p.errors, [])
})
