// The storage benchmark: what the default persistent store costs, against WebTorrent 2.8.5's
// default store (fsa-chunk-store on the origin private file system) in the same run.
//   a  download 1 GiB with the default store: a wasmtorrent seeder page seeds a File from an
//      <input type=file>; a wasmtorrent leecher (OPFS worker store), then a WebTorrent leecher
//      (its default store), each in a persistent profile so that the store is on disk, fetch
//      it from that seeder. Peak WebAssembly memory of both wasmtorrent pages (sampled in the
//      page every 50 ms), peak JS heap of each leecher page (CDP Runtime.getHeapUsage every
//      50 ms: the page's main thread, not the store's worker), MiB/s.
//   b  seed a 4 GiB File: wasmtorrent hashes it (time, MiB/s, 'hashing' events, peak
//      WebAssembly memory), then a leecher with store 'memory' fetches the pieces under 64 MiB
//      near the end; WebTorrent seeds the same File in a persistent profile: the time to its
//      'metadata' (hashing) and to 'seed' (hashing, then a copy of the File into its store),
//      or how it failed.
//   c  resume 1 GiB after a reload: a fresh page of the profile that a filled adds the
//      .torrent bytes (no metadata wait, no peer: the seeder is gone) and the store's pieces
//      are hashed again before anything is trusted; add() → 'done'. First with the profile's
//      files dropped from the page cache (read from the disk), then again at once (cached).
// The test files are made on disk in a temporary folder (a 4 MiB random block repeated with
// a block counter) and deleted afterwards, with the profiles. The input file is dropped from
// the page cache before each library hashes it, so both read it from the disk. One rep per
// measurement (they are big).
//
//   bash scripts/loopback.sh node tests/bench/storage_bench.mjs [options]
//   (or npm run bench -- storage [options])
//     --only LIST        parts, comma-separated: download,seed,resume (resume needs download:
//                        it runs it as the way to fill the stores)
//     --mib M            size for download and resume (default 1024)
//     --seed-mib M       size for seed (default 4096)
//     --range-mib M      what the leecher of the seed part fetches (default 64)
//     --piece-kib K      piece length of the download and resume torrent (default: as
//                        createTorrent picks it, 1 MiB for 1 GiB)
//     --no-webtorrent    wasmtorrent only
//     --json FILE        where to write the results (default build/bench/storage.json)
// Needs dist/ (npm run build). Must run inside a network namespace that has only loopback.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { launchBrowser, launchPersistent, newContext, repoRoot, startServer } from '../browser/harness.mjs'
import { startTracker } from '../../scripts/tracker.mjs'
import { notLoopbackOnly, round, seederAnnounced, withTimeout } from './common.mjs'

const MiB = 1024 * 1024
const log = msg => console.log(`[bench:storage] ${msg}`)

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'download,seed,resume' },
    mib: { type: 'string', default: '1024' },
    'seed-mib': { type: 'string', default: '4096' },
    'range-mib': { type: 'string', default: '64' },
    'piece-kib': { type: 'string' },
    'no-webtorrent': { type: 'boolean', default: false },
    json: { type: 'string', default: join(repoRoot, 'build/bench/storage.json') }
  }
})
const parts = new Set(args.only.split(','))
for (const p of parts) if (!['download', 'seed', 'resume'].includes(p)) fail(`unknown part ${p}`)
const size = Math.round(Number(args.mib) * MiB)
const seedSize = Math.round(Number(args['seed-mib']) * MiB)
const pieceLength = args['piece-kib'] ? Math.round(Number(args['piece-kib']) * 1024) : undefined
const rangeSize = Math.round(Number(args['range-mib']) * MiB)
const withWebTorrent = !args['no-webtorrent']
if (!(size > 0 && seedSize > 0 && rangeSize > 0 && rangeSize < seedSize)) fail('--mib, --seed-mib, --range-mib: positive, the range below the seed')

function fail (message) {
  console.error(`[bench:storage] error: ${message}`)
  process.exit(1)
}

const outside = notLoopbackOnly('npm run bench -- storage')
if (outside) fail(outside)

// Generous bounds: a stall fails the measurement instead of the whole run hanging.
const downloadTimeout = (120 + size / MiB) * 1000 // 1 MiB/s at worst
const seedTimeout = (60 + seedSize / MiB / 10) * 1000 // 10 MiB/s at worst
const resumeTimeout = (60 + size / MiB / 5) * 1000

const mib = bytes => round(bytes / MiB, 1)
const rate = (bytes, ms) => round(bytes / MiB / (ms / 1000), 1)

// --- files and the page cache ---------------------------------------------------------

// `size` bytes: a 4 MiB random block repeated, its first 4 bytes the block's index (every
// piece differs); returns the SHA-256 of [start, end) for each range.
async function makeFile (path, size, ranges = []) {
  const f = await open(path, 'w')
  const block = Buffer.alloc(4 * MiB)
  randomFillSync(block)
  const hashes = ranges.map(() => createHash('sha256'))
  for (let at = 0; at < size; at += block.length) {
    block.writeUInt32LE(at / block.length, 0)
    const chunk = block.subarray(0, Math.min(block.length, size - at))
    await f.write(chunk)
    ranges.forEach(([start, end], i) => {
      const from = Math.max(start, at)
      const to = Math.min(end, at + chunk.length)
      if (from < to) hashes[i].update(chunk.subarray(from - at, to - at))
    })
  }
  await f.close()
  return hashes.map(h => h.digest('hex'))
}

async function filesUnder (path) {
  const entries = await readdir(path, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath ?? e.path, e.name))
}

// Writes the files out and drops them from the page cache (dd's nocache: fadvise
// DONTNEED on these files alone, not the machine's whole cache), so the next read is from
// the disk. Returns the bytes of them still cached (fincore), before and after.
async function evict (path) {
  const files = path.endsWith('/') ? await filesUnder(path) : [path]
  const cached = () => {
    let total = 0
    for (let i = 0; i < files.length; i += 500) {
      const out = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files.slice(i, i + 500)], { encoding: 'utf8' })
      for (const line of out.stdout.split('\n')) total += Number(line) || 0
    }
    return total
  }
  const before = cached()
  for (let i = 0; i < files.length; i += 500) execFileSync('sync', files.slice(i, i + 500))
  for (const f of files) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'])
  return { files: files.length, cached_before_mib: mib(before), cached_after_mib: mib(cached()) }
}

// --- pages ------------------------------------------------------------------------------

let http, tracker, trackerURL, browser, dir

function watch (page) {
  page.errors = []
  page.on('pageerror', err => page.errors.push(String(err)))
  page.on('console', msg => { if (msg.type() === 'error') page.errors.push(msg.text()) })
  page.on('crash', () => page.errors.push('the page crashed'))
  return page
}

async function openPage (context, path) {
  const page = watch(await context.newPage())
  await page.goto(new URL(path, http.url).href)
  if (path.includes('webtorrent')) await page.waitForFunction(() => window.WebTorrent, null, { timeout: 30_000 })
  return page
}

const WASMTORRENT = '/tests/browser/pages/client.html'
const WEBTORRENT = '/tests/browser/pages/webtorrent.html'

// The page's JS heap (CDP, every 50 ms) while it runs; stop() gives the peaks in MiB.
// usedSize is V8's heap; backingStorageSize (when Chromium reports it) the ArrayBuffers' memory.
async function heapSampler (context, page) {
  const cdp = await context.newCDPSession(page)
  const peak = { used: 0, total: 0, backing: null, samples: 0 }
  let busy = false
  const timer = setInterval(async () => {
    if (busy) return
    busy = true
    try {
      const u = await cdp.send('Runtime.getHeapUsage')
      peak.used = Math.max(peak.used, u.usedSize)
      peak.total = Math.max(peak.total, u.totalSize)
      if (u.backingStorageSize !== undefined) peak.backing = Math.max(peak.backing ?? 0, u.backingStorageSize)
      peak.samples++
    } catch {} finally { busy = false }
  }, 50)
  return () => {
    clearInterval(timer)
    cdp.detach().catch(() => {})
    return { used_mib: mib(peak.used), total_mib: mib(peak.total), array_buffers_mib: peak.backing === null ? null : mib(peak.backing), samples: peak.samples }
  }
}

// A line every 10 s while something long runs.
function every10s (page, label, fn) {
  const timer = setInterval(() => {
    page.evaluate(fn).then(line => line && log(`  ${label}: ${line}`), () => {})
  }, 10_000)
  return () => clearInterval(timer)
}
const progressLine = () => {
  const t = window.torrent
  return t && `${(t.progress * 100).toFixed(1)}%, ${(t.downloadSpeed / 1048576).toFixed(1)} MiB/s, ${t.numPeers} peers`
}

// In the page: the largest WebAssembly memory of window.client, every 50 ms.
function probeWasmHeap () {
  window.peakHeap = 0
  setInterval(() => {
    const M = window.client?._M
    if (M) window.peakHeap = Math.max(window.peakHeap, M.HEAPU8.length)
  }, 50)
}

function addFileInput () {
  const input = document.createElement('input')
  input.type = 'file'
  input.id = 'file'
  document.body.append(input)
}

// In a wasmtorrent page: seeds the <input>'s File; the time from seed() to the torrent
// (every piece hashed), and its 'hashing' events.
async function seedWasmtorrent ({ trackerURL, pieceLength }) {
  const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  window.client = client
  await client.whenReady() // the module's loading is not hashing
  const file = document.getElementById('file').files[0]
  let events = 0
  let last = null
  const start = performance.now()
  const torrent = await new Promise((resolve, reject) => {
    const t = client.seed(file, pieceLength ? { pieceLength } : {}, resolve)
    t.on('hashing', (hashed, total) => { events++; last = [hashed, total] })
    t.once('error', reject)
  })
  const ms = performance.now() - start
  window.torrent = torrent
  return {
    ms,
    magnet: torrent.magnetURI,
    infoHash: torrent.infoHash,
    pieceLength: torrent.pieceLength,
    pieceCount: torrent.pieceCount,
    torrentFile: Array.from(torrent.torrentFile),
    hashingEvents: events,
    lastHashing: last
  }
}

// In a wasmtorrent page: adds the magnet (default store unless `store`; only the pieces under
// `range` when `select`); window.finished resolves at 'done' ('idle' for a range) with the time and the SHA-256
// of [start, end) of the first file.
function leechWasmtorrent ({ magnet, trackerURL, store, range, select }) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  window.client = client
  window.finished = client.whenReady().then(() => new Promise((resolve, reject) => {
    const start = performance.now()
    const torrent = client.add(magnet, store ? { store } : {})
    window.torrent = torrent
    let hashFailed = 0
    torrent.on('warning', w => { if (w.code === 'hash_failed') hashFailed++ })
    if (select) torrent.once('ready', () => {
      torrent.deselect(0, torrent.pieceCount - 1)
      torrent.select(Math.floor(range[0] / torrent.pieceLength), Math.floor((range[1] - 1) / torrent.pieceLength))
    })
    // A partial selection is 'idle' when verified; the torrent is not done then.
    torrent.once(select ? 'idle' : 'done', () => resolve({ ms: performance.now() - start, hashFailed }))
    torrent.once('error', reject)
  })).then(async r => {
    const t = window.torrent
    const buffer = await t.files[0].arrayBuffer({ start: range[0], end: range[1] - 1 })
    const { usage } = await navigator.storage.estimate()
    return {
      ...r,
      sha256: hex(await crypto.subtle.digest('SHA-256', buffer)),
      downloaded: t.received,
      pieceLength: t.pieceLength,
      store: t._storage?.store.constructor.kind ?? null,
      storageBytes: usage
    }
  })
  window.finished.catch(() => {})
}

// In a WebTorrent page: the same with WebTorrent's default store.
function leechWebTorrent ({ magnet, trackerURL, range }) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
  window.client = client
  const start = performance.now()
  const torrent = client.add(magnet, { announce: [trackerURL] })
  window.torrent = torrent
  window.finished = new Promise((resolve, reject) => {
    torrent.once('done', () => resolve({ ms: performance.now() - start }))
    torrent.once('error', err => reject(new Error(String(err?.message ?? err))))
    client.once('error', err => reject(new Error(String(err?.message ?? err))))
  }).then(async r => {
    const buffer = await torrent.files[0].arrayBuffer({ start: range[0], end: range[1] - 1 })
    const { usage } = await navigator.storage.estimate()
    return {
      ...r,
      sha256: hex(await crypto.subtle.digest('SHA-256', buffer)),
      downloaded: torrent.received,
      pieceLength: torrent.pieceLength,
      torrentFile: Array.from(torrent.torrentFile),
      storageBytes: usage
    }
  })
  window.finished.catch(() => {})
}

// In a WebTorrent page: seeds the <input>'s File with the default store; window.seedState
// has the times reached so far (metadata: hashed; seed: also copied into the store).
function seedWebTorrent ({ trackerURL }) {
  const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
  window.client = client
  const state = window.seedState = {}
  const file = document.getElementById('file').files[0]
  const start = performance.now()
  window.finished = new Promise((resolve, reject) => {
    const fail = err => { state.error = String(err?.message ?? err); reject(new Error(state.error)) }
    client.once('error', fail)
    const t = client.seed(file, { announceList: [[trackerURL]] }, torrent => {
      state.seedMs = performance.now() - start
      resolve({ ...state, infoHash: torrent.infoHash, pieceLength: torrent.pieceLength, torrentFile: Array.from(torrent.torrentFile) })
    })
    t.once('error', fail)
    t.once('metadata', () => { state.metadataMs = performance.now() - start })
    t.once('ready', () => { state.readyMs = performance.now() - start })
  })
  window.finished.catch(() => {})
}

// In a page of either library: adds the .torrent bytes to a fresh client and times
// add() → 'done' (every piece read back from the store and hashed).
async function resume ({ lib, torrentFile, trackerURL }) {
  const rtcConfig = { iceServers: [] }
  const bytes = new Uint8Array(torrentFile)
  const client = lib === 'wasmtorrent'
    ? new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig } })
    : new window.WebTorrent({ tracker: { rtcConfig } })
  window.client = client
  if (!client.ready) await new Promise(resolve => client.once('ready', resolve))
  const start = performance.now()
  const torrent = client.add(bytes, lib === 'wasmtorrent' ? {} : { announce: [trackerURL] })
  window.torrent = torrent
  let readyMs = null
  torrent.once('ready', () => { readyMs = performance.now() - start })
  const ms = await new Promise((resolve, reject) => {
    torrent.once('done', () => resolve(performance.now() - start))
    torrent.once('error', err => reject(new Error(String(err?.message ?? err))))
  })
  return {
    ms,
    readyMs,
    // bytes from peers (`downloaded` counts the verified pieces, in both libraries)
    downloaded: torrent.received,
    progress: torrent.progress,
    numPeers: torrent.numPeers,
    store: lib === 'wasmtorrent' ? torrent._storage?.store.constructor.kind ?? null : null
  }
}

const destroyClient = page => page.evaluate(() => new Promise(resolve => {
  const c = window.client
  if (!c) return resolve()
  const r = c.destroy(() => resolve())
  if (r?.then) r.then(resolve, resolve)
  setTimeout(resolve, 10_000)
})).catch(() => {})

// `promise` or an Error after `ms`, with the page's status in the message.
function bounded (promise, ms, page, what) {
  return withTimeout(promise, ms, async () => {
    const status = await page.evaluate(() => {
      const t = window.torrent
      return { seedState: window.seedState, progress: t?.progress, numPeers: t?.numPeers, downloaded: t?.received }
    }).catch(err => String(err))
    return `${what}: timed out after ${ms / 1000} s; ${JSON.stringify(status)}`
  })
}

const errorOf = err => err.message.split('\n')[0] // Playwright appends a call log

// --- a: download with the default store ------------------------------------------------

// A seeder page with `path` in its <input type=file>, seeding it (wasmtorrent).
async function wasmtorrentSeeder (path, pieceLength) {
  const context = await newContext(browser)
  const page = await openPage(context, WASMTORRENT)
  await page.evaluate(probeWasmHeap)
  await page.evaluate(addFileInput)
  await page.setInputFiles('#file', path)
  const stopHeap = await heapSampler(context, page)
  const seeded = await page.evaluate(seedWasmtorrent, { trackerURL, pieceLength })
  return { context, page, seeded, stopHeap }
}

async function downloadPart (file, tailHash, tail) {
  const result = { size_mib: size / MiB }
  log(`a: seeding ${size / MiB} MiB (wasmtorrent, from the File)`)
  const seeder = await wasmtorrentSeeder(file, pieceLength)
  result.seeder = {
    hash_ms: round(seeder.seeded.ms, 0),
    piece_length: seeder.seeded.pieceLength
  }
  await seederAnnounced(tracker.server, seeder.seeded.infoHash)
  const profiles = {}

  // wasmtorrent's leecher, default store, persistent profile.
  {
    const profile = profiles.wasmtorrent = await mkdtemp(join(dir, 'profile-wasmtorrent-'))
    const context = await launchPersistent(profile)
    const page = await openPage(context, WASMTORRENT)
    await page.evaluate(probeWasmHeap)
    await seeder.page.evaluate(() => { window.peakHeap = 0 }) // its peak while serving, not hashing
    const stopHeap = await heapSampler(context, page)
    const stopLog = every10s(page, 'wasmtorrent leecher', progressLine)
    log('a: wasmtorrent leecher, default store')
    try {
      await page.evaluate(leechWasmtorrent, { magnet: seeder.seeded.magnet, trackerURL, range: tail })
      const got = await bounded(page.evaluate(() => window.finished), downloadTimeout, page, 'wasmtorrent download')
      const js = stopHeap()
      if (got.sha256 !== tailHash) throw new Error(`the last ${mib(tail[1] - tail[0])} MiB differ from the file`)
      result.wasmtorrent = {
        ok: true,
        ms: round(got.ms, 0),
        mib_per_s: rate(size, got.ms),
        store: got.store,
        stored_mib: mib(got.storageBytes),
        hash_failed: got.hashFailed,
        peak_wasm_mib: { leecher: mib(await page.evaluate(() => window.peakHeap)), seeder: mib(await seeder.page.evaluate(() => window.peakHeap)) },
        peak_js_heap_leecher: js,
        page_errors: page.errors
      }
      result.wasmtorrent_torrent_file = seeder.seeded.torrentFile
    } catch (err) {
      stopHeap()
      result.wasmtorrent = { ok: false, error: errorOf(err), page_errors: page.errors }
    } finally {
      stopLog()
      await destroyClient(page) // closes the store: its files are complete on disk
      await context.close().catch(() => {})
    }
    log(`a: wasmtorrent: ${describe(result.wasmtorrent)}`)
  }

  // WebTorrent's leecher, its default store, persistent profile, from the same seeder.
  if (withWebTorrent) {
    const profile = profiles.webtorrent = await mkdtemp(join(dir, 'profile-webtorrent-'))
    const context = await launchPersistent(profile)
    const page = await openPage(context, WEBTORRENT)
    const stopHeap = await heapSampler(context, page)
    const stopLog = every10s(page, 'WebTorrent leecher', progressLine)
    log('a: WebTorrent leecher, default store')
    try {
      await page.evaluate(leechWebTorrent, { magnet: seeder.seeded.magnet, trackerURL, range: tail })
      const got = await bounded(page.evaluate(() => window.finished), downloadTimeout, page, 'WebTorrent download')
      const js = stopHeap()
      if (got.sha256 !== tailHash) throw new Error(`the last ${mib(tail[1] - tail[0])} MiB differ from the file`)
      result.webtorrent = {
        ok: true,
        ms: round(got.ms, 0),
        mib_per_s: rate(size, got.ms),
        stored_mib: mib(got.storageBytes),
        peak_js_heap_leecher: js,
        page_errors: page.errors
      }
      result.webtorrent_torrent_file = got.torrentFile
    } catch (err) {
      stopHeap()
      result.webtorrent = { ok: false, error: errorOf(err), page_errors: page.errors }
    } finally {
      stopLog()
      await destroyClient(page)
      await context.close().catch(() => {})
    }
    log(`a: WebTorrent: ${describe(result.webtorrent)}`)
  }
  seeder.stopHeap()
  await destroyClient(seeder.page)
  await seeder.context.close()
  if (result.wasmtorrent.ok && result.webtorrent?.ok) {
    result.ratio_mib_per_s = round(result.wasmtorrent.mib_per_s / result.webtorrent.mib_per_s, 2)
  }
  return { result, profiles }
}

function describe (r) {
  if (!r) return 'not run'
  if (!r.ok) return `FAILED: ${r.error}`
  const parts = [`${r.mib_per_s} MiB/s (${(r.ms / 1000).toFixed(1)} s)`]
  if (r.peak_wasm_mib) parts.push(`peak WebAssembly memory ${r.peak_wasm_mib.leecher} MiB leecher, ${r.peak_wasm_mib.seeder} MiB seeder`)
  if (r.peak_js_heap_leecher) parts.push(`peak JS heap (leecher) ${r.peak_js_heap_leecher.used_mib} MiB`)
  if (r.store) parts.push(`store ${r.store}, ${r.stored_mib} MiB in the origin's storage`)
  return parts.join(', ')
}

// --- b: seeding a big File ---------------------------------------------------------------

async function seedPart (file, rangeHash, range) {
  const result = { size_mib: seedSize / MiB, range_mib: mib(range[1] - range[0]) }
  result.input_evicted = await evict(file)
  log(`b: wasmtorrent seeds ${seedSize / MiB} MiB (hashing it)`)
  const seeder = await wasmtorrentSeeder(file)
  const s = seeder.seeded
  const jsHashing = seeder.stopHeap()
  result.wasmtorrent = {
    ok: true,
    hash_ms: round(s.ms, 0),
    hash_mib_per_s: rate(seedSize, s.ms),
    hashing_events: s.hashingEvents,
    last_hashing_event: s.lastHashing,
    piece_length: s.pieceLength,
    pieces: s.pieceCount,
    peak_wasm_mib_hashing: mib(await seeder.page.evaluate(() => window.peakHeap)),
    peak_js_heap_hashing: jsHashing
  }
  log(`b: wasmtorrent hashed in ${(s.ms / 1000).toFixed(1)} s (${result.wasmtorrent.hash_mib_per_s} MiB/s), ${s.hashingEvents} 'hashing' events, ` +
      `peak WebAssembly memory ${result.wasmtorrent.peak_wasm_mib_hashing} MiB`)

  // A leecher in memory fetches the pieces under the range near the end.
  await seederAnnounced(tracker.server, s.infoHash)
  const context = await newContext(browser)
  const page = await openPage(context, WASMTORRENT)
  try {
    await page.evaluate(leechWasmtorrent, { magnet: s.magnet, trackerURL, store: 'memory', range, select: true })
    const got = await bounded(page.evaluate(() => window.finished), downloadTimeout, page, 'range download')
    if (got.sha256 !== rangeHash) throw new Error('the range differs from the file')
    result.wasmtorrent.range_fetch = { ok: true, ms: round(got.ms, 0), mib_per_s: rate(range[1] - range[0], got.ms), downloaded_mib: mib(got.downloaded) }
  } catch (err) {
    result.wasmtorrent.range_fetch = { ok: false, error: errorOf(err) }
  }
  result.wasmtorrent.peak_wasm_mib = mib(await seeder.page.evaluate(() => window.peakHeap))
  result.wasmtorrent.page_errors = [...seeder.page.errors, ...page.errors]
  log(`b: a leecher fetched the last ${result.range_mib} MiB: ${JSON.stringify(result.wasmtorrent.range_fetch)}; ` +
      `seeder's peak WebAssembly memory overall ${result.wasmtorrent.peak_wasm_mib} MiB`)
  await destroyClient(page)
  await context.close()
  await destroyClient(seeder.page)
  await seeder.context.close()

  if (withWebTorrent) {
    result.input_evicted_webtorrent = await evict(file)
    log(`b: WebTorrent seeds the same ${seedSize / MiB} MiB File (default store, persistent profile)`)
    const profile = await mkdtemp(join(dir, 'profile-webtorrent-seed-'))
    const context = await launchPersistent(profile)
    const page = await openPage(context, WEBTORRENT)
    await page.evaluate(addFileInput)
    await page.setInputFiles('#file', file)
    const stopHeap = await heapSampler(context, page)
    const stopLog = every10s(page, 'WebTorrent seeder', () => JSON.stringify(window.seedState))
    try {
      await page.evaluate(seedWebTorrent, { trackerURL })
      const got = await bounded(page.evaluate(() => window.finished), seedTimeout, page, 'WebTorrent seed')
      result.webtorrent = {
        ok: true,
        hash_ms: round(got.metadataMs, 0),
        hash_mib_per_s: rate(seedSize, got.metadataMs),
        seed_ms: round(got.seedMs, 0),
        piece_length: got.pieceLength
      }
    } catch (err) {
      const state = await page.evaluate(() => window.seedState).catch(() => null)
      result.webtorrent = {
        ok: false,
        error: errorOf(err),
        hash_ms: state?.metadataMs ? round(state.metadataMs, 0) : null,
        hash_mib_per_s: state?.metadataMs ? rate(seedSize, state.metadataMs) : null
      }
    }
    result.webtorrent.peak_js_heap = stopHeap()
    result.webtorrent.page_errors = page.errors
    stopLog()
    await destroyClient(page)
    await context.close().catch(() => {})
    await rm(profile, { recursive: true, force: true })
    const w = result.webtorrent
    log(`b: WebTorrent: ${w.ok ? '' : `FAILED (${w.error}); `}hashed in ${w.hash_ms === null ? '—' : (w.hash_ms / 1000).toFixed(1) + ' s'}` +
        `${w.seed_ms ? `, seeding (copied into its store) after ${(w.seed_ms / 1000).toFixed(1)} s` : ''}, peak JS heap ${w.peak_js_heap.used_mib} MiB`)
    if (w.hash_ms) result.ratio_hash_time = round(result.wasmtorrent.hash_ms / w.hash_ms, 2)
  }
  return result
}

// --- c: resume after a reload ------------------------------------------------------------

async function resumeOnce (lib, profile, torrentFile, cold) {
  const evicted = cold ? await evict(profile + '/') : null
  const context = await launchPersistent(profile)
  const page = await openPage(context, lib === 'wasmtorrent' ? WASMTORRENT : WEBTORRENT)
  try {
    const got = await bounded(page.evaluate(resume, { lib, torrentFile, trackerURL }), resumeTimeout, page, `${lib} resume`)
    if (got.progress !== 1 || got.downloaded !== 0) throw new Error(`not resumed from the store: progress ${got.progress}, ${got.downloaded} bytes downloaded`)
    return { ok: true, ms: round(got.ms, 0), mib_per_s: rate(size, got.ms), ready_ms: got.readyMs === null ? null : round(got.readyMs, 0), store: got.store, evicted, page_errors: page.errors }
  } catch (err) {
    return { ok: false, error: errorOf(err), evicted, page_errors: page.errors }
  } finally {
    await destroyClient(page)
    await context.close().catch(() => {})
  }
}

async function resumePart (download) {
  const result = { size_mib: size / MiB }
  const libs = [['wasmtorrent', download.result.wasmtorrent_torrent_file]]
  if (withWebTorrent) libs.push(['webtorrent', download.result.webtorrent_torrent_file])
  for (const [lib, torrentFile] of libs) {
    if (!download.result[lib]?.ok) {
      result[lib] = { ok: false, error: 'its store was not filled: the download failed' }
      continue
    }
    result[lib] = { filled_by: `downloading it in part a (from the wasmtorrent seeder) in the same profile; pieces of ${download.result.seeder.piece_length / 1024} KiB` }
    for (const cache of ['cold', 'warm']) {
      log(`c: ${lib} resumes ${size / MiB} MiB (${cache === 'cold' ? 'profile dropped from the page cache' : 'cached'})`)
      const r = result[lib][cache] = await resumeOnce(lib, download.profiles[lib], torrentFile, cache === 'cold')
      log(`c: ${lib} ${cache}: ${r.ok ? `${(r.ms / 1000).toFixed(2)} s, ${r.mib_per_s} MiB/s${r.evicted ? `, page cache ${r.evicted.cached_before_mib} → ${r.evicted.cached_after_mib} MiB` : ''}` : `FAILED: ${r.error}`}`)
    }
  }
  for (const cache of ['cold', 'warm']) {
    const a = result.wasmtorrent?.[cache]
    const b = result.webtorrent?.[cache]
    if (a?.ok && b?.ok) (result.ratio_ms ??= {})[cache] = round(a.ms / b.ms, 2)
  }
  return result
}

// --- main -------------------------------------------------------------------------------

const started = performance.now()
tracker = await startTracker()
trackerURL = tracker.url
http = await startServer()
browser = await launchBrowser()
dir = await mkdtemp(join(tmpdir(), 'wt-storage-bench-'))
const loadAtStart = loadavg().map(x => round(x, 2))
const output = {
  date: new Date().toISOString(),
  machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model, loadavg_at_start: loadAtStart, chromium: browser.version(), node: process.version },
  config: {
    parts: [...parts],
    download_mib: size / MiB,
    seed_mib: seedSize / MiB,
    range_mib: rangeSize / MiB,
    reps: 1,
    setup: 'one Chromium for the non-persistent pages (seeders, the in-memory leecher), one persistent Chromium per default-store page (fresh profile in a temporary folder); a WebSocket tracker on 127.0.0.1; loopback-only network namespace',
    heaps: 'WebAssembly: window.client._M.HEAPU8.length every 50 ms in the page; JS: CDP Runtime.getHeapUsage every 50 ms (the page main thread)'
  }
}
let failed = false
try {
  const needDownload = parts.has('download') || parts.has('resume')
  let download = null
  if (needDownload) {
    const file = join(dir, 'download.bin')
    const tail = [size - Math.min(16 * MiB, size), size]
    log(`making ${size / MiB} MiB in ${dir}`)
    const [tailHash] = await makeFile(file, size, [tail])
    download = await downloadPart(file, tailHash, tail)
    await rm(file)
    const { wasmtorrent_torrent_file: w, webtorrent_torrent_file: t, ...shown } = download.result
    output.download = shown
  }
  if (parts.has('seed')) {
    const file = join(dir, 'seed.bin')
    const range = [seedSize - rangeSize - 1000, seedSize - 1000]
    log(`making ${seedSize / MiB} MiB in ${dir}`)
    const [rangeHash] = await makeFile(file, seedSize, [range])
    output.seed = await seedPart(file, rangeHash, range)
    await rm(file)
  }
  if (parts.has('resume')) output.resume = await resumePart(download)
} catch (err) {
  failed = true
  output.error = err.stack
  console.error(err)
} finally {
  await browser.close().catch(() => {})
  await http.close()
  await tracker.close()
  await rm(dir, { recursive: true, force: true })
}
output.minutes = round((performance.now() - started) / 60_000, 1)
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify(output, null, 2) + '\n')

// --- summary ------------------------------------------------------------------------------

console.log()
const d = output.download
if (d) {
  console.log(`a. download ${d.size_mib} MiB with the default store (persistent profile, one rep)`)
  console.log(`   wasmtorrent (${d.wasmtorrent.store ?? '?'}): ${describe(d.wasmtorrent)}`)
  if (d.webtorrent) console.log(`   WebTorrent (fsa-chunk-store): ${describe(d.webtorrent)}`)
  if (d.ratio_mib_per_s) console.log(`   MiB/s, wasmtorrent/WebTorrent = ${d.ratio_mib_per_s}`)
}
const s = output.seed
if (s) {
  const w = s.wasmtorrent
  console.log(`b. seed a ${s.size_mib} MiB File (one rep, read from the disk)`)
  console.log(`   wasmtorrent: hashed in ${(w.hash_ms / 1000).toFixed(1)} s = ${w.hash_mib_per_s} MiB/s, ${w.hashing_events} 'hashing' events, ` +
              `peak WebAssembly memory ${w.peak_wasm_mib_hashing} MiB hashing, ${w.peak_wasm_mib} MiB overall; ` +
              `leecher fetched ${s.range_mib} MiB near the end: ${w.range_fetch.ok ? `${w.range_fetch.mib_per_s} MiB/s` : `FAILED: ${w.range_fetch.error}`}`)
  if (s.webtorrent) {
    const t = s.webtorrent
    console.log(`   WebTorrent: ${t.ok ? '' : `FAILED: ${t.error}; `}hashed in ${t.hash_ms ? `${(t.hash_ms / 1000).toFixed(1)} s = ${t.hash_mib_per_s} MiB/s` : '—'}` +
                `${t.seed_ms ? `, seeding after ${(t.seed_ms / 1000).toFixed(1)} s (copied into its store)` : ''}, peak JS heap ${t.peak_js_heap.used_mib} MiB`)
  }
  if (s.ratio_hash_time) console.log(`   hashing time, wasmtorrent/WebTorrent = ${s.ratio_hash_time}`)
}
const r = output.resume
if (r) {
  console.log(`c. resume ${r.size_mib} MiB after a reload (add .torrent bytes → 'done', every piece re-hashed; one rep each)`)
  for (const lib of ['wasmtorrent', 'webtorrent']) {
    if (!r[lib]) continue
    const line = x => !x ? '—' : x.ok ? `${x.ms} ms (${x.mib_per_s} MiB/s)` : `FAILED: ${x.error}`
    console.log(`   ${lib === 'wasmtorrent' ? 'wasmtorrent' : 'WebTorrent '}: from the disk ${line(r[lib].cold)}, cached ${line(r[lib].warm)}${r[lib].error ? ` (${r[lib].error})` : ''}`)
  }
  if (r.ratio_ms) console.log(`   time, wasmtorrent/WebTorrent: ${Object.entries(r.ratio_ms).map(([k, v]) => `${k === 'cold' ? 'from the disk' : 'cached'} ${v}`).join(', ')}`)
}
console.log(`(${output.minutes} min; load average at the start ${loadAtStart.join(' ')})`)
log(`wrote ${args.json}`)
if (failed) fail('the benchmark failed (see above)')
