// Storage in the browser: the default store survives a reload and a browser restart (resume,
// with altered pieces found and fetched again), memory stays bounded while downloading and
// while seeding a big File, and a store over its quota fails the torrent cleanly.
// Runs inside tests/browser/run.sh's network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { browserName, collectErrors, startHarness, launchPersistent } from './harness.mjs'
import { startTracker } from '../../scripts/tracker.mjs'
import { safeName } from '../../web/storage/util.js'

const MiB = 1024 * 1024
// The bound this issue sets on the WebAssembly memory while downloading or seeding with the
// default store (the module's maximum is 256 MiB).
const HEAP_BOUND = 64 * MiB

let h, tracker, trackerURL, dir
before(async () => {
  tracker = await startTracker()
  trackerURL = tracker.url
  h = await startHarness()
  dir = await mkdtemp(join(tmpdir(), 'wt-storage-'))
})
after(async () => {
  await h?.close()
  await tracker?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

// A file of `size` pseudo-random bytes on disk, and the SHA-256 of its bytes [start, end).
async function makeFile (name, size, ranges = []) {
  const path = join(dir, name)
  const f = await open(path, 'w')
  const block = Buffer.alloc(4 * MiB)
  randomFillSync(block)
  const hashes = ranges.map(() => createHash('sha256'))
  const whole = createHash('sha256')
  for (let at = 0; at < size; at += block.length) {
    block.writeUInt32LE(at / block.length, 0) // every block differs
    const chunk = block.subarray(0, Math.min(block.length, size - at))
    await f.write(chunk)
    if (size <= 256 * MiB) whole.update(chunk)
    ranges.forEach(([start, end], i) => {
      const from = Math.max(start, at)
      const to = Math.min(end, at + chunk.length)
      if (from < to) hashes[i].update(chunk.subarray(from - at, to - at))
    })
  }
  await f.close()
  return { path, sha256: whole.digest('hex'), rangeHashes: hashes.map(x => x.digest('hex')) }
}

// A '#' line every 10 s while a long download runs: where each page stands, if it stalls
// (requests out to each peer, store requests not yet answered, the last warnings).
function logProgress (pages, label) {
  const state = () => {
    const t = window.torrent ?? window.client?.torrents[0]
    if (!t || t._id === null) return 'no torrent'
    const peers = window.client._engine?.peers(t._id) ?? []
    return `${(t.progress * 100).toFixed(1)}%, ↓ ${(t.downloadSpeed / 1048576).toFixed(1)} ↑ ${(t.uploadSpeed / 1048576).toFixed(1)} MiB/s, ` +
      `requests out ${peers.map(p => p.outstanding).join('/')}, store waiting ${JSON.stringify(t._storage?.inFlight)}, ` +
      `warnings ${(window.warnings ?? []).slice(-3).join(' | ')}`
  }
  const timer = setInterval(() => {
    for (const [name, page] of Object.entries(pages)) {
      page.evaluate(state).then(line => console.log(`# ${label} ${name}: ${line}`), () => {})
    }
  }, 10_000)
  return () => clearInterval(timer)
}

function watch (page) {
  collectErrors(page)
  return page
}

// --- in the pages --------------------------------------------------------------------------

// The largest WebAssembly memory the page's client has had, sampled every 50 ms.
function probeHeap () {
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

// Seeds the file of the page's <input type=file>.
async function seedInput ({ trackerURL, uploadLimit }) {
  const client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } }, uploadLimit })
  window.client = client
  const file = document.getElementById('file').files[0]
  window.warnings = []
  client.on('warning', w => window.warnings.push(`${w.code}: ${w.message}`))
  const hashing = []
  const torrent = await new Promise((resolve, reject) => {
    const t = client.seed(file, {}, resolve)
    t.on('warning', w => window.warnings.push(`${w.code}: ${w.message}`))
    t.on('hashing', (hashed, total) => hashing.push([hashed, total]))
    t.once('error', reject)
  })
  return {
    magnet: torrent.magnetURI,
    infoHash: torrent.infoHash,
    pieceLength: torrent.pieceLength,
    pieceCount: torrent.pieceCount,
    hashingEvents: hashing.length,
    lastHashing: hashing[hashing.length - 1]
  }
}

// Adds the magnet (default store unless `store`); window.finished resolves once done with
// the SHA-256 of [start, end) of the first file and what this page's client received.
function leech ({ magnet, trackerURL, store, range, clientOpts }) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const client = new window.WasmTorrent({ ...clientOpts, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  window.client = client
  const torrent = client.add(magnet, store ? { store } : {})
  window.torrent = torrent
  window.torrentErrors = []
  window.hashFailed = 0
  window.warnings = []
  torrent.on('warning', w => {
    window.warnings.push(`${w.code}: ${w.message}`)
    if (w.code === 'hash_failed') window.hashFailed++
  })
  if (range) {
    // Only the pieces under the range.
    torrent.once('ready', () => {
      torrent.deselect(0, torrent.pieceCount - 1)
      torrent.select(Math.floor(range[0] / torrent.pieceLength), Math.floor((range[1] - 1) / torrent.pieceLength))
    })
  }
  window.failed = new Promise(resolve => torrent.once('error', err => resolve({ code: err.code, message: err.message })))
  // A range is a partial selection: 'idle' when it is verified (the torrent is not done).
  window.finished = new Promise((resolve, reject) => { torrent.once(range ? 'idle' : 'done', resolve); torrent.once('error', reject) })
    .then(async () => {
      const [start, end] = range ?? [0, torrent.length]
      const buffer = await torrent.files[0].arrayBuffer({ start, end: end - 1 })
      return { sha256: hex(await crypto.subtle.digest('SHA-256', buffer)), length: buffer.byteLength, downloaded: torrent.received }
    })
  window.finished.catch(() => {}) // a test that expects the error awaits window.failed
}

// --- tests ------------------------------------------------------------------------------------

// A page that seeds the file at `path` from its <input type=file> (probe: it samples its heap).
async function seedFromDisk (path, { probe = false, uploadLimit } = {}) {
  const seeder = await h.newPage('/tests/browser/pages/client.html')
  if (probe) await seeder.evaluate(probeHeap)
  await seeder.evaluate(addFileInput)
  await seeder.setInputFiles('#file', path)
  const seeded = await seeder.evaluate(seedInput, { trackerURL, uploadLimit })
  return { seeder, seeded }
}

test('the default store survives a reload (only the rest is fetched) and a browser restart (altered pieces are fetched again)', { timeout: 240_000 }, async () => {
  const size = 32 * MiB
  const file = await makeFile('resume.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path, { uploadLimit: 3 * MiB })
  const uploaded = () => seeder.evaluate(() => window.client.torrents[0].uploaded)

  const profile = await mkdtemp(join(dir, 'profile-'))
  let browser = await launchPersistent(profile)
  let leecher = watch(await browser.newPage())
  await leecher.goto(new URL('/tests/browser/pages/client.html', h.url).href)
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  await leecher.waitForFunction(() => window.torrent.progress >= 0.5, null, { timeout: 60_000, polling: 50 })
  const progressAtReload = await leecher.evaluate(() => window.torrent.progress)
  await leecher.reload()
  const before = await uploaded()

  // Re-added after the reload: what was stored is checked and kept.
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const got = await leecher.evaluate(() => window.finished)
  const after = await uploaded()
  assert.equal(got.sha256, file.sha256, 'byte-exact after the reload')
  const remaining = size * (1 - progressAtReload)
  // Margin: blocks in flight at the reload (about a second at the seeder's 3 MiB/s) and
  // pieces whose store writes had not finished.
  const margin = 4 * MiB + 2 * seeded.pieceLength
  console.log(`# reload at ${(progressAtReload * 100).toFixed(0)}%: the seeder sent ${((after - before) / MiB).toFixed(1)} MiB after it, ${(remaining / MiB).toFixed(1)} MiB were missing`)
  assert.ok(after - before <= remaining + margin, `after the reload the seeder sent ${after - before} bytes; missing were ${remaining}`)
  assert.ok(got.downloaded <= remaining + margin)
  assert.deepEqual(leecher.errors, [])
  await browser.close()

  // Between two runs of the browser, on disk: a byte of piece 2 is flipped, piece 5 loses
  // its end (zeros, as a write cut short) and the piece stored last is truncated (its file
  // ends inside it). The worker store's layout (web/storage/opfs-worker.js): files of 64 MiB
  // of slots of one piece length, slot s in file floor(s / perFile) at (s % perFile) *
  // pieceLength, and an index file holding slot + 1 for each piece (4 bytes, little-endian).
  browser = await launchPersistent(profile)
  leecher = watch(await browser.newPage())
  await leecher.goto(new URL('/tests/browser/pages/client.html', h.url).href)
  await leecher.evaluate(async ({ folder, pieceLength, size }) => {
    const perFile = Math.max(1, Math.floor((64 << 20) / pieceLength))
    const root = await navigator.storage.getDirectory()
    const pieces = await (await root.getDirectoryHandle('wasmtorrent')).getDirectoryHandle(folder)
    const index = new DataView(await (await (await pieces.getFileHandle('index')).getFile()).arrayBuffer())
    const slotOf = i => index.getUint32(i * 4, true) - 1
    const edit = async (i, fn) => {
      const slot = slotOf(i)
      if (slot < 0) throw new Error(`piece ${i} is not in the index`)
      const handle = await pieces.getFileHandle(`${Math.floor(slot / perFile)}.pieces`)
      const w = await handle.createWritable({ keepExistingData: true })
      await fn(w, (slot % perFile) * pieceLength, await handle.getFile())
      await w.close()
    }
    await edit(2, async (w, at, file) => {
      const byte = new Uint8Array(await file.slice(at + 100, at + 101).arrayBuffer())
      await w.write({ type: 'write', position: at + 100, data: new Uint8Array([byte[0] ^ 0xff]) })
    })
    await edit(5, (w, at) => w.write({ type: 'write', position: at + 1000, data: new Uint8Array(pieceLength - 1000) }))
    const count = Math.ceil(size / pieceLength)
    let last = 0
    for (let i = 1; i < count; i++) if (slotOf(i) > slotOf(last)) last = i
    if (last === 2 || last === 5) throw new Error('the piece stored last is one already altered')
    await edit(last, (w, at) => w.truncate(at + 10))
  }, { folder: safeName(seeded.infoHash), pieceLength: seeded.pieceLength, size })
  const before2 = await uploaded()
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const again = await leecher.evaluate(() => window.finished)
  const after2 = await uploaded()
  assert.equal(again.sha256, file.sha256, 'byte-exact after the restart')
  console.log(`# restart: the seeder sent ${((after2 - before2) / MiB).toFixed(2)} MiB (pieces of ${seeded.pieceLength / 1024} KiB)`)
  assert.ok(again.downloaded >= 3 * seeded.pieceLength, 'the three bad pieces were fetched again')
  assert.ok(again.downloaded <= 5 * seeded.pieceLength, `only they: ${again.downloaded} bytes`)
  assert.equal(await leecher.evaluate(() => window.hashFailed), 0, 'no unverified byte was ever treated as had')
  assert.deepEqual(leecher.errors, [])
  await browser.close()
  await seeder.evaluate(() => window.client.destroy())
  assert.deepEqual(seeder.errors, [])
})

test(`a 256 MiB download with the default store keeps the WebAssembly memory at most ${HEAP_BOUND / MiB} MiB on both pages`, { timeout: 300_000 }, async () => {
  const size = 256 * MiB
  const file = await makeFile('heap.bin', size)
  const seeder = await h.newPage('/tests/browser/pages/client.html')
  const leecher = await h.newPage('/tests/browser/pages/client.html')
  await seeder.evaluate(probeHeap)
  await leecher.evaluate(probeHeap)
  await seeder.evaluate(addFileInput)
  await seeder.setInputFiles('#file', file.path)
  const seeded = await seeder.evaluate(seedInput, { trackerURL })
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const stop = logProgress({ leecher, seeder }, '256 MiB')
  const got = await leecher.evaluate(() => window.finished).finally(stop)
  assert.equal(got.sha256, file.sha256, 'byte-exact')
  const peaks = await Promise.all([seeder, leecher].map(p => p.evaluate(() => window.peakHeap)))
  console.log(`# 256 MiB: peak WebAssembly memory ${peaks.map(p => (p / MiB).toFixed(0)).join(' MiB (seeder), ')} MiB (leecher)`)
  for (const peak of peaks) assert.ok(peak > 0 && peak <= HEAP_BOUND, `peak ${peak} bytes`)
  await leecher.evaluate(() => window.client.remove(window.torrent, { destroyStore: true }))
  for (const p of [seeder, leecher]) await p.evaluate(() => window.client.destroy())
  await rm(file.path)
  assert.deepEqual(seeder.errors, [])
  assert.deepEqual(leecher.errors, [])
})

test(`seeding a 1 GiB File from an <input type=file> hashes it in chunks with progress and keeps the memory at most ${HEAP_BOUND / MiB} MiB`, { timeout: 300_000 }, async () => {
  const size = 1024 * MiB + 12345
  const range = [size - 20 * MiB, size - 1000] // a leecher fetches the pieces under it
  const file = await makeFile('big.bin', size, [range])
  const { seeder, seeded } = await seedFromDisk(file.path, { probe: true })
  assert.ok(seeded.hashingEvents >= 100, `${seeded.hashingEvents} 'hashing' events`)
  assert.deepEqual(seeded.lastHashing, [size, size])

  const leecher = await h.newPage('/tests/browser/pages/client.html')
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL, store: 'memory', range })
  const got = await leecher.evaluate(() => window.finished)
  assert.equal(got.sha256, file.rangeHashes[0], 'the range is byte-exact')
  const peak = await seeder.evaluate(() => window.peakHeap)
  console.log(`# 1 GiB seed: peak WebAssembly memory ${(peak / MiB).toFixed(0)} MiB`)
  assert.ok(peak > 0 && peak <= HEAP_BOUND, `peak ${peak} bytes`)
  for (const p of [seeder, leecher]) await p.evaluate(() => window.client.destroy())
  await rm(file.path)
  assert.deepEqual(seeder.errors, [])
  assert.deepEqual(leecher.errors, [])
})

test('a store over its quota: the torrent fails with storage_full, the page goes on, and what was stored resumes once there is room', { timeout: 180_000, skip: browserName === 'firefox' && 'the quota is set through Chromium\'s DevTools protocol (Firefox: the test below)' }, async () => {
  const size = 24 * MiB
  const file = await makeFile('quota.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path)

  const context = await h.newContext()
  const leecher = await h.newPage('/tests/browser/pages/client.html', { context })
  const cdp = await context.newCDPSession(leecher)
  const origin = new URL(h.url).origin
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 6 * MiB })
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const failed = await leecher.evaluate(() => window.failed)
  assert.equal(failed.code, 'storage_full', failed.message)
  assert.equal(await leecher.evaluate(() => window.client.torrents.length), 0, 'the torrent was removed')

  // Room again: the same page adds the torrent again; what was stored is checked and kept.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 * MiB })
  await leecher.evaluate(() => window.client.destroy())
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const got = await leecher.evaluate(() => window.finished)
  assert.equal(got.sha256, file.sha256, 'byte-exact')
  assert.ok(got.downloaded < size, `resumed: ${got.downloaded} of ${size} bytes fetched`)
  for (const p of [seeder, leecher]) await p.evaluate(() => window.client.destroy())
  assert.deepEqual(leecher.errors, [])
  assert.deepEqual(seeder.errors, [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// Firefox's quota: its temporary storage capped through a pref (the origin's share of it is
// a fifth), then, in the same profile, raised again.
test('Firefox: a store over its quota fails with storage_full, the page goes on, and what was stored resumes once there is room', { timeout: 180_000, skip: browserName !== 'firefox' && 'Firefox only (Chromium: the test above)' }, async () => {
  const size = 24 * MiB
  const file = await makeFile('quota-firefox.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path)
  const profile = await mkdtemp(join(dir, 'profile-'))
  const limitKiB = 'dom.quotaManager.temporaryStorage.fixedLimit'
  let browser = await launchPersistent(profile, { firefoxPrefs: { [limitKiB]: 30 * 1024 } })
  let leecher = watch(await browser.newPage())
  await leecher.goto(new URL('/tests/browser/pages/client.html', h.url).href)
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const failed = await leecher.evaluate(() => window.failed)
  assert.equal(failed.code, 'storage_full', failed.message)
  assert.equal(await leecher.evaluate(() => window.client.torrents.length), 0, 'the torrent was removed')
  assert.deepEqual(leecher.errors, [])
  await browser.close()

  browser = await launchPersistent(profile, { firefoxPrefs: { [limitKiB]: 4 * 1024 * 1024 } })
  leecher = watch(await browser.newPage())
  await leecher.goto(new URL('/tests/browser/pages/client.html', h.url).href)
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const got = await leecher.evaluate(() => window.finished)
  assert.equal(got.sha256, file.sha256, 'byte-exact')
  assert.ok(got.downloaded < size, `resumed: ${got.downloaded} of ${size} bytes fetched`)
  assert.deepEqual(leecher.errors, [])
  await browser.close()
  await seeder.evaluate(() => window.client.destroy())
  assert.deepEqual(seeder.errors, [])
})

// The folders of the origin's OPFS stores, as the page sees them.
const opfsFolders = () => (async () => {
  const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('wasmtorrent', { create: true })
  const names = []
  for await (const key of top.keys()) names.push(decodeURIComponent(key))
  return names.sort()
})()

test('two tabs with the same torrent: the first owns the persistent store, the second keeps a copy of its own (not memory), deleted when removed; copies closed tabs left are swept', { timeout: 120_000 }, async () => {
  const size = 8 * MiB
  const file = await makeFile('tabs.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path)
  const context = await h.newContext()
  const tabs = [await h.newPage('/tests/browser/pages/client.html', { context }), await h.newPage('/tests/browser/pages/client.html', { context })]
  for (const tab of tabs) await tab.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const got = await Promise.all(tabs.map(tab => tab.evaluate(() => window.finished)))
  for (const g of got) assert.equal(g.sha256, file.sha256, 'byte-exact')
  const stores = await Promise.all(tabs.map(tab => tab.evaluate(() => ({
    kind: window.torrent._storage.store.constructor.kind,
    name: decodeURIComponent(window.torrent._storage.store._folderName)
  }))))
  assert.deepEqual(stores.map(s => s.kind), ['opfs-worker', 'opfs-worker'], 'both on disk, none in memory')
  const infoHash = await tabs[0].evaluate(() => window.torrent.infoHash)
  const copies = stores.filter(s => s.name !== infoHash)
  assert.equal(copies.length, 1, 'whichever claimed the store first has it; the other a copy')
  assert.match(copies[0].name, new RegExp(`^${infoHash}#copy-[0-9a-f]{12}$`))
  // The tab with the copy is told (its pieces will not survive a reload); the other is not.
  const warnings = await Promise.all(tabs.map(tab => tab.evaluate(() => window.warnings.filter(w => w.startsWith('store_in_use')).length)))
  assert.deepEqual(warnings.sort(), [0, 1])
  assert.deepEqual(await tabs[0].evaluate(opfsFolders), [infoHash, copies[0].name].sort())
  for (const tab of tabs) await tab.evaluate(() => window.client.destroy())
  assert.deepEqual(await tabs[0].evaluate(opfsFolders), [infoHash], 'the copy is deleted with its torrent, the store kept')

  // A copy a closed tab left (no tab holds its lock) is deleted by the next page that uses
  // a store; one a live tab holds is not.
  const stale = `${infoHash}#copy-0123456789ab`
  const held = `${infoHash}#copy-ba9876543210`
  for (const name of [stale, held]) {
    await tabs[0].evaluate(async name => {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('wasmtorrent', { create: true })
      await top.getDirectoryHandle(encodeURIComponent(name), { create: true })
    }, name)
  }
  await tabs[1].evaluate(name => new Promise(resolve => {
    navigator.locks.request(`wasmtorrent-store:${name}`, () => { resolve(); return new Promise(() => {}) })
  }), held)
  const next = await h.newPage('/tests/browser/pages/client.html', { context })
  await next.evaluate(leech, { magnet: seeded.magnet, trackerURL })
  const again = await next.evaluate(() => window.finished)
  assert.equal(again.sha256, file.sha256)
  const want = JSON.stringify([infoHash, held].sort())
  let folders
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise(resolve => setTimeout(resolve, 100))) {
    folders = await next.evaluate(opfsFolders)
    if (JSON.stringify(folders) === want) break
  }
  assert.deepEqual(folders, [infoHash, held].sort(), 'the stale copy is gone, the held one kept')
  await next.evaluate(() => window.client.destroy())
  await seeder.evaluate(() => window.client.destroy())
  for (const p of [seeder, ...tabs, next]) assert.deepEqual(p.errors, [])
})

test("store: 'idb' (IndexedDB, where OPFS is missing) also survives a reload", { timeout: 120_000 }, async () => {
  const size = 8 * MiB
  const file = await makeFile('idb.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path)
  const leecher = await h.newPage('/tests/browser/pages/client.html')
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL, store: 'idb' })
  const first = await leecher.evaluate(() => window.finished)
  assert.equal(first.sha256, file.sha256)
  assert.equal(await leecher.evaluate(() => window.torrent._storage.store.constructor.kind), 'idb')
  await leecher.reload()
  // A copy a closed tab left in IndexedDB (see the two-tab test) is swept too.
  const stale = `wasmtorrent-${encodeURIComponent(seeded.infoHash + '#copy-0123456789ab')}`
  await leecher.evaluate(db => new Promise((resolve, reject) => {
    const req = indexedDB.open(db, 1)
    req.onsuccess = () => { req.result.close(); resolve() }
    req.onerror = () => reject(req.error)
  }), stale)
  await leecher.evaluate(leech, { magnet: seeded.magnet, trackerURL, store: 'idb' })
  const again = await leecher.evaluate(() => window.finished)
  assert.equal(again.sha256, file.sha256)
  assert.equal(again.downloaded, 0, 'every piece came from IndexedDB')
  let names
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise(resolve => setTimeout(resolve, 100))) {
    names = await leecher.evaluate(async () => (await indexedDB.databases()).map(d => d.name))
    if (!names.includes(stale)) break
  }
  assert.ok(!names.includes(stale), 'the stale copy is gone')
  assert.ok(names.includes(`wasmtorrent-${seeded.infoHash}`), 'the store is kept')
  for (const p of [seeder, leecher]) await p.evaluate(() => window.client.destroy())
  for (const p of [seeder, leecher]) assert.deepEqual(p.errors, [])
})

// The stores that write a piece whole (util.js's WholePieceStore): OPFS from the page's own
// thread (where the worker's sync access handles are missing) and IndexedDB, driven directly.
test('the whole-piece stores (OPFS on the page, IndexedDB): parts read back until complete, pieces held after reopening, nothing after destroy', { timeout: 60_000 }, async () => {
  const page = await h.newPage('/tests/browser/pages/client.html')
  for (const [path, name] of [['/web/storage/opfs.js', 'OpfsStore'], ['/web/storage/idb.js', 'IdbStore']]) {
    const r = await page.evaluate(async ({ path, name }) => {
      const Store = (await import(path))[name]
      const opts = { name: 'whole-' + name, pieceLength: 8, length: 20 } // pieces of 8, 8, 4
      const bytes = n => Uint8Array.from({ length: n }, (_, i) => n * 10 + i)
      const s = new Store(opts)
      const out = { kind: Store.kind, before: [...await s.open()] }
      await s.put(0, bytes(8))
      await s.put(1, bytes(8).subarray(0, 3), 0)
      await s.put(1, bytes(8).subarray(3), 3)
      out.part = [...await s.get(1, 2, 4)] // from the parts, before complete
      out.reopenedEarly = [...await new Store(opts).open()] // piece 1 not stored yet
      await s.complete(1)
      out.badPut = await s.put(2, bytes(3)).then(() => 'stored', e => e.code)
      await s.put(2, bytes(4))
      out.whole = [...await s.get(0, 0, 8)]
      out.last = [...await s.get(2, 1, 3)]
      out.badGet = await s.get(2, 2, 4).then(() => 'read', e => e.code)
      await s.close()
      const again = new Store(opts)
      out.reopened = [...await again.open()].sort()
      out.afterReopen = [...await again.get(1, 0, 8)]
      await again.destroy()
      out.afterDestroy = [...await new Store(opts).open()]
      return out
    }, { path, name })
    const b = n => Array.from({ length: n }, (_, i) => n * 10 + i)
    assert.deepEqual(r.before, [], r.kind)
    assert.deepEqual(r.part, b(8).slice(2, 6), r.kind)
    assert.deepEqual(r.reopenedEarly, [0], r.kind)
    assert.equal(r.badPut, 'storage_failed', r.kind)
    assert.deepEqual(r.whole, b(8), r.kind)
    assert.deepEqual(r.last, b(4).slice(1), r.kind)
    assert.equal(r.badGet, 'storage_failed', r.kind)
    assert.deepEqual(r.reopened, [0, 1, 2], r.kind)
    assert.deepEqual(r.afterReopen, b(8), r.kind)
    assert.deepEqual(r.afterDestroy, [], r.kind)
  }
  assert.deepEqual(page.errors, [])
  await page.close()
})

test('streamed pieces: blocks written in parts to the default store, held once complete, resumed after a reload', { timeout: 120_000 }, async () => {
  const size = 16 * MiB
  const file = await makeFile('streamed.bin', size)
  const { seeder, seeded } = await seedFromDisk(file.path)
  // Every piece streams (streamPieceBytes 1): its blocks go to the OPFS worker store as parts
  // (the have byte unset) and the piece is claimed on 'complete'.
  console.log(`# streamed: pieces of ${seeded.pieceLength / 1024} KiB`)
  const opts = { magnet: seeded.magnet, trackerURL, clientOpts: { streamPieceBytes: 1 } }
  const leecher = await h.newPage('/tests/browser/pages/client.html')
  await leecher.evaluate(leech, opts)
  const first = await leecher.evaluate(() => window.finished)
  assert.equal(first.sha256, file.sha256)
  assert.equal(await leecher.evaluate(() => window.torrent._storage.store.constructor.kind), 'opfs-worker')
  assert.equal(await leecher.evaluate(() => window.hashFailed), 0)
  await leecher.reload()
  await leecher.evaluate(leech, opts)
  const again = await leecher.evaluate(() => window.finished)
  assert.equal(again.sha256, file.sha256)
  assert.equal(again.downloaded, 0, 'every piece was claimed complete in the store')
  for (const p of [seeder, leecher]) await p.evaluate(() => window.client.destroy())
  for (const p of [seeder, leecher]) assert.deepEqual(p.errors, [])
})

test('a seed of bytes is kept in the default store: after a reload the torrent is added back whole with no peer (whatever its path); with a bitfield one piece is hashed before ready', { timeout: 120_000 }, async () => {
  const page = await h.newPage('/tests/browser/pages/client.html')
  const hex = async bytes => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), b => b.toString(16).padStart(2, '0')).join('')
  const seeded = await page.evaluate(async hexSource => {
    const hex = eval(hexSource) // eslint-disable-line no-eval
    const bytes = new Uint8Array(3 * 1024 * 1024 + 5000)
    for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536))
    window.client = new window.WasmTorrent({ tracker: false })
    // A path names no store (WebTorrent's browser store ignores it): found without it below.
    const torrent = await window.client.seedAsync(bytes, { name: 'kept.bin', pieceLength: 256 * 1024, path: '/first' })
    const result = { torrentFile: Array.from(torrent.torrentFile), kind: torrent._builtStore?.constructor.kind, pieces: torrent.pieceCount, sha256: await hex(bytes), path: torrent.path }
    await window.client.destroy()
    return result
  }, hex.toString())
  assert.equal(seeded.kind, 'opfs-worker', 'bytes seeded are written to the default store')
  await page.reload()
  const resumed = await page.evaluate(async ({ torrentFile, pieces, hexSource }) => {
    const hex = eval(hexSource) // eslint-disable-line no-eval
    window.client = new window.WasmTorrent({ tracker: false })
    const bitfield = new Uint8Array(Math.ceil(pieces / 8)).fill(0xff)
    bitfield[bitfield.length - 1] = (0xff << (8 - (pieces % 8 || 8))) & 0xff
    const torrent = window.client.add(new Uint8Array(torrentFile), { bitfield })
    const verified = []
    torrent.on('verified', i => verified.push(i))
    await new Promise(resolve => torrent.once('ready', resolve))
    const atReady = [...verified]
    if (!torrent.done) await new Promise(resolve => torrent.once('done', resolve))
    const bytes = new Uint8Array(await torrent.files[0].arrayBuffer())
    return { atReady, received: torrent.received, sha256: await hex(bytes), path: torrent.path }
  }, { ...seeded, hexSource: hex.toString() })
  assert.deepEqual([seeded.path, resumed.path], ['/first', '/webtorrent'], "the add option, else WebTorrent's default")
  assert.deepEqual(resumed.atReady, [1], 'the spot check: the file\'s second piece')
  assert.equal(resumed.received, 0, 'nothing downloaded')
  assert.equal(resumed.sha256, seeded.sha256, 'byte-exact (each piece hashed as it was read)')
  await page.evaluate(() => window.client.destroy())
  assert.deepEqual(page.errors, [])
})

// A reload does not wait for the old page's storage worker: for a moment it still holds the
// store's files open (sync access handles are exclusive), while its lock on the store is
// already gone. Another tab of the context (here the seeder) keeps that worker alive.
test('a reload mid-download with the store still open in the old page\'s worker: the torrent added at once resumes', { timeout: 120_000 }, async () => {
  const context = await h.newContext()
  const seeder = await h.newPage('/tests/browser/pages/client.html', { context })
  const page = await h.newPage('/tests/browser/pages/client.html', { context })
  const magnet = await seeder.evaluate(async trackerURL => {
    const bytes = new Uint8Array(16 * 1024 * 1024)
    for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536))
    window.client = new window.WasmTorrent({ uploadLimit: 4 << 20, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const torrent = await window.client.seedAsync(bytes, { name: 'open.bin', store: 'memory', announce: [trackerURL] })
    return torrent.magnetURI
  }, trackerURL)
  const add = ({ magnet, trackerURL }) => {
    window.client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const torrent = window.torrent = window.client.add(magnet)
    window.result = new Promise(resolve => {
      torrent.once('error', err => resolve({ error: err.code + ': ' + err.message }))
      torrent.once('done', () => resolve({ done: true }))
    })
  }
  await page.evaluate(add, { magnet, trackerURL })
  await page.waitForFunction(() => window.torrent.progress >= 0.3, null, { polling: 20, timeout: 60_000 })
  await page.reload() // writing: the old page's worker holds its handles
  await page.evaluate(add, { magnet, trackerURL })
  assert.deepEqual(await page.evaluate(() => window.result), { done: true })
  await page.evaluate(() => window.client.remove(window.torrent, { destroyStore: true }))
  // The origin's only store gone, nothing of the library's is left in its OPFS.
  const left = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory()
    for (const end = Date.now() + 5000; Date.now() < end; await new Promise(resolve => setTimeout(resolve, 50))) {
      const names = []
      for await (const name of root.keys()) names.push(name)
      if (!names.length) return names
    }
    const names = []
    for await (const name of root.keys()) names.push(name)
    return names
  })
  assert.deepEqual(left, [], 'destroyStore of the last store leaves no empty wasmtorrent/ folder')
  for (const p of [page, seeder]) await p.evaluate(() => window.client.destroy())
  assert.deepEqual([...page.errors, ...seeder.errors], [])
})

test('a seed of bytes removed while it is being written to the store: the store is closed, and the same seed is kept on the next try', { timeout: 120_000 }, async () => {
  const page = await h.newPage('/tests/browser/pages/client.html')
  const result = await page.evaluate(async () => {
    const bytes = new Uint8Array(24 * 1024 * 1024)
    for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536))
    const opts = { name: 'interrupted.bin', pieceLength: 256 * 1024 }
    window.client = new window.WasmTorrent({ tracker: false })
    const first = window.client.seed(bytes, opts)
    while (!first._builtStore) await new Promise(resolve => setTimeout(resolve, 1))
    const interrupted = !first.ready
    await window.client.destroy()
    window.client = new window.WasmTorrent({ tracker: false })
    const warnings = []
    const second = window.client.seed(bytes, opts)
    second.on('warning', err => warnings.push(err.message))
    await new Promise(resolve => second.once('seed', resolve))
    const kind = second._builtStore?.constructor.kind
    const back = new Uint8Array(await second.files[0].arrayBuffer())
    const same = back.length === bytes.length && back.every((b, i) => b === bytes[i])
    await window.client.destroy()
    return { interrupted, warnings, kind, same }
  })
  assert.ok(result.interrupted, 'removed before the writing was done')
  assert.deepEqual(result.warnings, [])
  assert.equal(result.kind, 'opfs-worker', 'the second seed opened the store the first one had been writing')
  assert.ok(result.same)
  assert.deepEqual(page.errors, [])
})
