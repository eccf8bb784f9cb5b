// The piece stores that run under Node.js (web/storage/): MemoryStore, BlobStore and
// ChunkStoreAdapter, and storeFor(). OPFS and IndexedDB need a browser.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import {
  MemoryStore, BlobStore, ChunkStoreAdapter, OpfsStore, OpfsWorkerStore, IdbStore,
  storeFor, defaultStore, chunkStoreClass
} from '../../web/storage/index.js'
import { ownBytes } from '../../web/storage/util.js'

// 3 full pieces of 1000 bytes and a last one of 500.
const geo = { name: 'test', pieceLength: 1000, length: 3500 }
const piece = i => Uint8Array.from({ length: i === 3 ? 500 : 1000 }, (_, k) => (i * 7 + k) & 255)

async function rejectsWith (promise, code) {
  await assert.rejects(promise, err => {
    assert.equal(err.name, 'WasmTorrentError', err.message)
    assert.equal(err.code, code, err.message)
    return true
  })
}

// What every writable store must do.
async function roundTrip (store) {
  assert.deepEqual(await store.open(), new Set())
  const bytes = piece(0)
  const put = store.put(0, bytes)
  bytes.fill(0) // the store copied it when put() was called
  await put
  await store.put(3, piece(3))
  assert.deepEqual(await store.get(0, 10, 20), piece(0).subarray(10, 30))
  assert.deepEqual(await store.get(3, 0, 500), piece(3), 'the short last piece')
  assert.deepEqual(await store.get(3, 500, 0), new Uint8Array(0))
  assert.deepEqual([...await store.open()].sort(), [0, 3])

  // A view into a larger buffer stores just its bytes.
  const big = new Uint8Array(3000)
  big.set(piece(1), 1234)
  await store.put(1, big.subarray(1234, 2234))
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))

  // Given up (owned): the same bytes stored, a view into a larger buffer too.
  await store.put(1, big.subarray(1234, 2234), undefined, true)
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))
  await store.put(1, piece(1), undefined, true)
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))

  // The result is the caller's: changing it changes nothing stored.
  ;(await store.get(1, 0, 1000)).fill(9)
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))

  await rejectsWith(store.get(2, 0, 10), 'storage_failed') // not stored
  await rejectsWith(store.get(3, 400, 200), 'storage_failed') // past the last piece's end
  await rejectsWith(store.get(0, -1, 10), 'storage_failed')
  await rejectsWith(store.get(4, 0, 10), 'storage_failed') // no such piece
  await rejectsWith(store.put(2, new Uint8Array(999)), 'storage_failed') // wrong size
  await rejectsWith(store.put(3, new Uint8Array(1000)), 'storage_failed') // the last is shorter
  await rejectsWith(store.put(4, new Uint8Array(1000)), 'storage_failed')
  await rejectsWith(store.put(2, [1, 2, 3]), 'storage_failed')
  assert.deepEqual([...await store.open()].sort(), [0, 1, 3], 'failed puts left nothing')
}

test('MemoryStore: put, get, open, the short last piece, errors', async () => {
  assert.equal(MemoryStore.available(), true)
  const store = new MemoryStore(geo)
  await roundTrip(store)
  await store.close()
  assert.deepEqual([...await store.open()].sort(), [0, 1, 3], 'close keeps the data')
  await store.destroy()
  assert.deepEqual(await store.open(), new Set(), 'destroy deletes it')
})

test('ownBytes: the bytes themselves only when given up and spanning their buffer', () => {
  const whole = piece(0)
  assert.equal(ownBytes(whole, true), whole, 'kept (or moved to a worker) as they are')
  const copy = ownBytes(whole, false)
  assert.notEqual(copy.buffer, whole.buffer)
  assert.deepEqual(copy, whole)
  const view = new Uint8Array(3000).subarray(1000, 2000)
  const own = ownBytes(view, true)
  assert.equal(own.buffer.byteLength, 1000, 'a view\'s bytes, not its whole buffer')
})

test('constructors check name, pieceLength and length', () => {
  for (const bad of [{ ...geo, name: '' }, { ...geo, name: 5 }, { ...geo, pieceLength: 0 },
    { ...geo, pieceLength: 1.5 }, { ...geo, length: -1 }, { pieceLength: 16384, length: 1 }]) {
    assert.throws(() => new MemoryStore(bad), err => err.code === 'invalid_argument')
  }
  const empty = new MemoryStore({ ...geo, length: 0 })
  return rejectsWith(empty.put(0, new Uint8Array(0)), 'storage_failed')
})

test('BlobStore: every piece held, reads across blob boundaries', async () => {
  const all = new Uint8Array(3500)
  for (let i = 0; i < 4; i++) all.set(piece(i), i * 1000)
  // Files of 1, 0, 998, 1001, 1500 bytes: piece 0 spans three of them, piece 1 two.
  const cuts = [0, 1, 1, 999, 2000, 3500]
  const blobs = cuts.slice(1).map((end, i) => new Blob([all.subarray(cuts[i], end)]))
  const store = new BlobStore({ ...geo, blobs })
  assert.equal(BlobStore.available(), true)
  assert.deepEqual(await store.open(), new Set([0, 1, 2, 3]))
  for (let i = 0; i < 4; i++) assert.deepEqual(await store.get(i, 0, piece(i).length), piece(i), `piece ${i}`)
  assert.deepEqual(await store.get(0, 0, 1), all.subarray(0, 1))
  assert.deepEqual(await store.get(0, 998, 2), all.subarray(998, 1000))
  assert.deepEqual(await store.get(1, 999, 1), all.subarray(1999, 2000))
  assert.deepEqual(await store.get(3, 499, 1), all.subarray(3499))
  assert.deepEqual(await store.get(2, 5, 0), new Uint8Array(0))
  await rejectsWith(store.get(3, 400, 101), 'storage_failed')
  await rejectsWith(store.get(4, 0, 1), 'storage_failed')
  await rejectsWith(store.put(0, piece(0)), 'storage_failed') // read-only
  await store.close()
  await store.destroy()
  assert.deepEqual(await store.get(2, 0, 1000), piece(2), 'destroy leaves the files alone')

  // Many files, empty ones among them (a read finds its first file by a search): every
  // byte range reads as the concatenation.
  const many = []
  for (let at = 0, k = 0; at < 3500; k++) {
    const length = Math.min(3500 - at, k % 5 === 2 ? 0 : 1 + (k * 37) % 90)
    many.push(new Blob([all.subarray(at, at + length)]))
    at += length
  }
  many.push(new Blob([]))
  const manyStore = new BlobStore({ ...geo, blobs: many })
  for (let start = 0; start < 3500; start += 97) {
    for (const length of [0, 1, 50, 333, 1000]) {
      const i = Math.floor(start / 1000)
      const len = Math.min(length, Math.min(3500, (i + 1) * 1000) - start)
      assert.deepEqual(await manyStore.get(i, start - i * 1000, len), all.subarray(start, start + len), `bytes ${start}+${len}`)
    }
  }

  assert.throws(() => new BlobStore({ ...geo, blobs: [new Blob(['x'])] }), err => err.code === 'invalid_argument')
  assert.throws(() => new BlobStore({ ...geo, blobs: 'x' }), err => err.code === 'invalid_argument')
})

// A small abstract-chunk-store with callbacks, and ways to make it fail.
class TinyChunkStore {
  constructor (chunkLength, opts) {
    this.chunkLength = chunkLength
    this.opts = opts
    this.chunks = new Map()
    this.failNext = null // an Error for the next put
    this.closed = false
    TinyChunkStore.last = this
  }

  put (index, buf, cb) {
    if (this.failNext) { const err = this.failNext; this.failNext = null; return queueMicrotask(() => cb(err)) }
    this.chunks.set(index, buf) // keeps the caller's buffer, as some real stores do
    queueMicrotask(() => cb(null))
  }

  get (index, opts, cb) {
    const buf = this.chunks.get(index)
    if (!buf) return cb(new Error('Chunk not found')) // synchronously: allowed too
    if (index === 2) return cb(null, buf.subarray(0, 3)) // a store that returns too little
    cb(null, buf.subarray(opts.offset, opts.offset + opts.length))
  }

  close (cb) { this.closed = true; queueMicrotask(() => cb(null)) }
  destroy (cb) { this.chunks.clear(); this.close(cb) }
}

test('ChunkStoreAdapter: a callback chunk store behind the promise interface', async () => {
  const Store = storeFor(TinyChunkStore)
  assert.ok(Store.prototype instanceof ChunkStoreAdapter)
  const store = new Store({ ...geo, files: [{ path: 'a', length: 3500, offset: 0 }], storeOpts: { extra: 1 } })
  const all = new Set([0, 1, 2, 3])
  assert.deepEqual(await store.open(), all, 'it cannot tell: every piece')
  const inner = TinyChunkStore.last
  assert.equal(inner.chunkLength, 1000)
  assert.equal(inner.opts.length, 3500)
  assert.equal(inner.opts.name, 'test')
  assert.equal(inner.opts.extra, 1)
  assert.equal(inner.opts.files[0].path, 'a')

  const bytes = piece(0)
  await store.put(0, bytes)
  bytes.fill(0) // the chunk store kept our copy, not this
  assert.deepEqual(await store.get(0, 10, 20), piece(0).subarray(10, 30))
  await store.put(3, piece(3))
  assert.deepEqual(await store.get(3, 0, 500), piece(3))
  await rejectsWith(store.get(1, 0, 10), 'storage_failed') // missing
  await store.put(2, piece(2))
  await rejectsWith(store.get(2, 0, 10), 'storage_failed') // short answer
  await rejectsWith(store.put(1, new Uint8Array(5)), 'storage_failed')

  inner.failNext = Object.assign(new Error('quota'), { name: 'QuotaExceededError' })
  await rejectsWith(store.put(1, piece(1)), 'storage_full')
  inner.failNext = new Error('disk on fire')
  await rejectsWith(store.put(1, piece(1)), 'storage_failed')

  await store.close()
  assert.equal(inner.closed, true)
  await store.destroy()
})

test('ChunkStoreAdapter over memory-chunk-store (when installed)', async t => {
  let MemoryChunkStore
  try {
    MemoryChunkStore = createRequire(import.meta.url)('memory-chunk-store')
  } catch {
    return t.skip('memory-chunk-store is not installed')
  }
  const store = new (storeFor(MemoryChunkStore))(geo)
  assert.deepEqual(await store.open(), new Set([0, 1, 2, 3]))
  for (let i = 0; i < 4; i++) await store.put(i, piece(i))
  for (let i = 0; i < 4; i++) assert.deepEqual(await store.get(i, 0, piece(i).length), piece(i))
  assert.deepEqual(await store.get(1, 999, 1), piece(1).subarray(999))
  assert.deepEqual(await store.get(1, 5, 0), new Uint8Array(0))
  await store.destroy()
  await rejectsWith(new (chunkStoreClass(MemoryChunkStore))(geo).get(0, 0, 1), 'storage_failed')
})

test('storeFor maps WebTorrent\'s store option; defaultStore under Node.js', () => {
  assert.equal(OpfsStore.available(), false)
  assert.equal(OpfsWorkerStore.available(), false)
  assert.equal(IdbStore.available(), typeof indexedDB !== 'undefined')
  assert.equal(defaultStore(), MemoryStore)
  assert.equal(storeFor(undefined), MemoryStore)
  assert.equal(storeFor(null), MemoryStore)
  assert.equal(storeFor('memory'), MemoryStore)
  assert.equal(storeFor(MemoryStore), MemoryStore)
  assert.equal(storeFor(BlobStore), BlobStore)
  const Wrapped = chunkStoreClass(TinyChunkStore)
  assert.equal(storeFor(Wrapped), Wrapped)
  assert.throws(() => storeFor('opfs'), err => err.code === 'not_supported')
  for (const bad of ['disk', 'toString', 5, {}]) {
    assert.throws(() => storeFor(bad), err => err.code === 'invalid_argument', String(bad))
  }
  // Any other function is a chunk store's constructor, as WebTorrent calls it with `new`: a
  // factory returning the store, a class whose methods are its instances' own fields.
  const factory = (chunkLength, opts) => new TinyChunkStore(chunkLength, opts)
  assert.ok(storeFor(function (n, o) { return factory(n, o) }).prototype instanceof ChunkStoreAdapter)
})

// Big pieces the engine streams: parts written at offsets, not held until complete().
async function partsRoundTrip (store, { listsHeld = true } = {}) {
  await store.open()
  const whole = piece(1)
  const block = 300
  // Out of order, the caller's buffer reused at once.
  for (const at of [600, 0, 300, 900]) {
    const bytes = whole.slice(at, Math.min(at + block, 1000))
    const put = store.put(1, bytes, at)
    bytes.fill(0)
    await put
  }
  if (listsHeld) assert.equal((await store.open()).has(1), false, 'parts only: not held')
  assert.deepEqual(await store.get(1, 250, 100), whole.subarray(250, 350), 'parts read back')
  await store.complete(1)
  if (listsHeld) assert.equal((await store.open()).has(1), true, 'held once complete')
  assert.deepEqual(await store.get(1, 0, 1000), whole)
  // The short last piece in parts.
  await store.put(3, piece(3).subarray(200), 200)
  await store.put(3, piece(3).subarray(0, 200), 0)
  await store.complete(3)
  assert.deepEqual(await store.get(3, 0, 500), piece(3))
  // A whole put then complete(): complete changes nothing.
  await store.put(0, piece(0))
  await store.complete(0)
  assert.deepEqual(await store.get(0, 0, 1000), piece(0))
  await rejectsWith(store.put(3, new Uint8Array(100), 450), 'storage_failed') // past the piece's end
  await rejectsWith(store.put(2, new Uint8Array(10), -1), 'storage_failed')
  await rejectsWith(store.put(9, new Uint8Array(10), 0), 'storage_failed') // no such piece
}

test('MemoryStore: pieces written in parts are held only once complete', async () => {
  const store = new MemoryStore(geo)
  await partsRoundTrip(store)
  // A held piece written again in parts (it failed the engine's check) is no longer held.
  await store.put(1, new Uint8Array(100).fill(7), 0)
  assert.equal((await store.open()).has(1), false)
  assert.deepEqual(await store.get(1, 0, 2), Uint8Array.of(7, 7))
  await store.put(1, piece(1), 0) // the engine writes every block of it again
  await store.complete(1)
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))
})

test('ChunkStoreAdapter: parts are assembled and the chunk store gets the whole piece on complete', async () => {
  const Store = storeFor(TinyChunkStore)
  const store = new Store({ ...geo, files: [{ path: 'a', length: 3500, offset: 0 }] })
  await store.open()
  const inner = TinyChunkStore.last
  await store.put(1, piece(1).subarray(500), 500)
  assert.equal(inner.chunks.has(1), false, 'nothing given to the chunk store before complete')
  await store.put(1, piece(1).subarray(0, 500), 0)
  assert.deepEqual(await store.get(1, 400, 200), piece(1).subarray(400, 600), 'read back from memory')
  await store.complete(1)
  assert.deepEqual(inner.chunks.get(1), piece(1), 'one whole chunk')
  assert.deepEqual(await store.get(1, 0, 1000), piece(1))
  await partsRoundTrip(new Store({ ...geo, files: [] }), { listsHeld: false })
  // A failed put on complete is the store's error.
  await store.put(3, piece(3), 0)
  inner.failNext = Object.assign(new Error('quota'), { name: 'QuotaExceededError' })
  await rejectsWith(store.complete(3), 'storage_full')
})

test('TorrentStorage: unverified block writes, read-backs and complete', async () => {
  const { TorrentStorage } = await import('../../web/engine/storage.js')
  const store = new MemoryStore(geo)
  const done = new Map() // id -> { ok, bytes }
  let settle
  const ts = new TorrentStorage({
    store,
    pieceLength: geo.pieceLength,
    length: geo.length,
    complete: (id, ok, bytes) => { done.set(id, { ok, bytes }); settle?.() },
    completeDigest: () => assert.fail('no digest reads here'),
    deliver: () => assert.fail('no user reads here'),
    onError: err => assert.fail(err),
    onWarning: () => {}
  })
  const run = async o => {
    const wait = new Promise(resolve => { settle = resolve })
    ts.handle(o)
    await wait
    return done.get(o.id)
  }
  const whole = piece(1)
  // Two blocks of piece 1, the second first.
  assert.equal((await run({ op: 'write', id: 1, piece: 1, pieceOffset: 500, offset: 1500, length: 500, unverified: true, data: whole.slice(500) })).ok, true)
  assert.equal((await run({ op: 'write', id: 2, piece: 1, pieceOffset: 0, offset: 1000, length: 500, unverified: true, data: whole.slice(0, 500) })).ok, true)
  // A peer's read of the unverified piece fails; the engine's own read-back gets the bytes.
  assert.equal((await run({ op: 'read', id: 3, piece: 1, pieceOffset: 0, offset: 1000, length: 100 })).ok, false)
  const back = await run({ op: 'read', id: 4, piece: 1, pieceOffset: 400, offset: 1400, length: 200, unverified: true })
  assert.equal(back.ok, true)
  assert.deepEqual(back.bytes, whole.subarray(400, 600))
  assert.equal((await store.open()).has(1), false)
  // Verified: complete makes it held, and served.
  assert.equal((await run({ op: 'complete', id: 5, piece: 1, offset: 1000 })).ok, true)
  assert.equal((await store.open()).has(1), true)
  const read = await run({ op: 'read', id: 6, piece: 1, pieceOffset: 0, offset: 1000, length: 1000 })
  assert.deepEqual(read.bytes, whole)
  // A whole piece: held at its write, complete is answered at once.
  assert.equal((await run({ op: 'write', id: 7, piece: 0, pieceOffset: 0, offset: 0, length: 1000, data: piece(0) })).ok, true)
  assert.equal((await run({ op: 'complete', id: 8, piece: 0, offset: 0 })).ok, true)
  assert.deepEqual((await run({ op: 'read', id: 9, piece: 0, pieceOffset: 10, offset: 10, length: 5 })).bytes, piece(0).subarray(10, 15))
  await ts.close()
})

test('TorrentStorage: a verify write is hashed by the host, written only when it matches', async () => {
  const { TorrentStorage } = await import('../../web/engine/storage.js')
  const { createHash } = await import('node:crypto')
  const sha1 = bytes => createHash('sha1').update(bytes).digest()
  for (const [kind, hash] of [['sync', sha1], ['async', async bytes => sha1(bytes)]]) {
    const store = new MemoryStore(geo)
    const done = new Map() // id -> { ok, digest, bytes }
    let settle
    const ts = new TorrentStorage({
      store,
      pieceLength: geo.pieceLength,
      length: geo.length,
      complete: () => assert.fail('a verify write completes with its digest'),
      sha1: hash,
      completeDigest: (id, digest, ok, bytes) => { done.set(id, { ok, digest, bytes }); settle?.() },
      deliver: () => assert.fail('no user reads here'),
      onError: err => assert.fail(err),
      onWarning: () => {}
    })
    const run = async o => {
      const wait = new Promise(resolve => { settle = resolve })
      ts.handle(o)
      await wait
      return done.get(o.id)
    }
    const good = await run({ op: 'write', id: 1, piece: 2, pieceOffset: 0, offset: 2000, length: 1000, data: piece(2), verify: sha1(piece(2)) })
    assert.equal(good.ok, true, kind)
    assert.deepEqual([...good.digest], [...sha1(piece(2))], kind)
    assert.equal(good.bytes, undefined, kind)
    assert.deepEqual(await store.get(2, 0, 1000), piece(2), kind)
    const bad = piece(1)
    bad[10] ^= 1
    const failed = await run({ op: 'write', id: 2, piece: 1, pieceOffset: 0, offset: 1000, length: 1000, data: bad, verify: sha1(piece(1)) })
    assert.equal(failed.ok, true, kind)
    assert.deepEqual([...failed.digest], [...sha1(bad)], kind)
    assert.deepEqual(failed.bytes, bad, `${kind}: the bytes come back`)
    assert.deepEqual([...await store.open()], [2], `${kind}: nothing written for the bad piece`)
    await ts.close()
  }
})

// A TorrentStorage over `store` that serves block reads only; done: read id -> { ok, bytes }.
async function blockReader (store, pieceLength, length, cacheSlots = undefined) {
  const { TorrentStorage } = await import('../../web/engine/storage.js')
  const done = new Map()
  const ts = new TorrentStorage({
    store,
    pieceLength,
    length,
    complete: (id, ok, bytes) => done.set(id, { ok, bytes }),
    completeDigest: () => assert.fail('no digest reads here'),
    deliver: () => assert.fail('no user reads here'),
    onError: err => assert.fail(err),
    onWarning: () => {},
    cacheSlots
  })
  return { ts, done }
}

test('TorrentStorage over a BlobStore: blocks asked piece after piece are read a run at a time, byte-exact', async () => {
  // 40 pieces of 32 KiB (a 4 MiB run holds all of them), the last one short.
  const pieceLength = 32 << 10
  const length = 40 * pieceLength - 1000
  const all = Uint8Array.from({ length }, (_, k) => (k * 31 + (k >> 9)) & 255)
  const store = new BlobStore({ name: 'runs', pieceLength, length, blobs: [new Blob([all.subarray(0, 100000)]), new Blob([all.subarray(100000)])] })
  let runs = 0
  let singles = 0
  const getRun = store.getRun.bind(store)
  const get = store.get.bind(store)
  store.getRun = (first, count) => { runs++; return getRun(first, count) }
  store.get = (index, offset, n) => { singles++; return get(index, offset, n) }
  const { ts, done } = await blockReader(store, pieceLength, length)
  const read = async (id, piece, begin, n) => {
    ts.handle({ op: 'read', id, piece, pieceOffset: begin, offset: piece * pieceLength + begin, length: n })
    while (!done.has(id)) await new Promise(resolve => setTimeout(resolve, 1))
    const got = done.get(id)
    assert.equal(got.ok, true)
    assert.deepEqual(got.bytes, all.subarray(piece * pieceLength + begin, piece * pieceLength + begin + n), `piece ${piece} at ${begin}`)
  }
  let id = 0
  // One piece out of order, then every piece in order, 16 KiB blocks.
  await read(++id, 7, 0, 16384)
  for (let p = 0; p < 40; p++) {
    const size = Math.min(pieceLength, length - p * pieceLength)
    for (let begin = 0; begin < size; begin += 16384) await read(++id, p, begin, Math.min(16384, size - begin))
  }
  // Piece 7 alone (it neither follows the piece read before it nor begins a window), then
  // runs: from piece 0 (it begins a window) up to 7, which is cached, and from 8 on.
  assert.equal(singles, 1)
  assert.ok(runs >= 2 && runs <= 4, `${runs} runs`)
  await ts.close()
})

// Asks every block of the pieces in `order` (default 0..count-1; a piece's blocks together),
// checks the bytes; runs: [first piece, count, the piece being asked when the run was read];
// bytes: how many bytes were read from the store.
async function readPieces ({ pieceLength, count, cacheSlots, order = [...Array(count).keys()] }) {
  const length = count * pieceLength
  const all = Uint8Array.from({ length }, (_, k) => (k * 7 + (k >> 11)) & 255)
  const store = new BlobStore({ name: 'ahead', pieceLength, length, blobs: [new Blob([all])] })
  const runs = [] // [first piece, count, the piece asked when the run was read]
  let asking = -1
  const getRun = store.getRun.bind(store)
  const get = store.get.bind(store)
  let bytes = 0
  store.getRun = (first, count) => { runs.push([first, count, asking]); bytes += count * pieceLength; return getRun(first, count) }
  store.get = (index, offset, n) => { bytes += n; return get(index, offset, n) }
  const { ts, done } = await blockReader(store, pieceLength, length, cacheSlots)
  let id = 0
  for (const p of order) {
    asking = p
    const ids = []
    for (let begin = 0; begin < pieceLength; begin += 16384) {
      ids.push(++id)
      ts.handle({ op: 'read', id, piece: p, pieceOffset: begin, offset: p * pieceLength + begin, length: 16384 })
    }
    while (!ids.every(i => done.has(i))) await new Promise(resolve => setTimeout(resolve, 1))
    for (const [k, i] of ids.entries()) {
      const at = p * pieceLength + k * 16384
      assert.deepEqual(done.get(i).bytes, all.subarray(at, at + 16384), `piece ${p}, block ${k}`)
    }
  }
  await ts.close()
  return { runs, bytes }
}

test('TorrentStorage over a BlobStore: in order, the next run is read before its pieces are asked (read-ahead), byte-exact', async () => {
  // 256 pieces of 64 KiB: windows of 64 pieces (4 MiB).
  const { runs, bytes } = await readPieces({ pieceLength: 64 << 10, count: 256 })
  // Piece 0's window (it begins one), the next window when it is asked (the reader crossed
  // into it: it reads on in order), and from then on each window read while the one before
  // it is asked.
  assert.deepEqual(runs.map(([first, count]) => [first, count]), [[0, 64], [64, 64], [128, 64], [192, 64]])
  for (const [first, , asked] of runs.slice(2)) assert.ok(asked < first, `the run from ${first} was read when piece ${asked} was asked`)
  assert.equal(bytes, 256 << 16, 'every byte read once')
})

test('TorrentStorage over a BlobStore: extents asked in random order (the picker\'s affinity) are read once, no window ahead', async () => {
  // Windows 2, 0, 3, 1 of 64 pieces, each in order from its start (as the picker takes an
  // extent): one read per window.
  const window = n => Array.from({ length: 64 }, (_, k) => n * 64 + k)
  const { runs, bytes } = await readPieces({ pieceLength: 64 << 10, count: 256, order: [2, 0, 3, 1].flatMap(window) })
  assert.deepEqual(runs.map(([first, count]) => [first, count]), [[128, 64], [0, 64], [192, 64], [64, 64]])
  assert.equal(bytes, 256 << 16, 'every byte read once')
})

test('TorrentStorage over a BlobStore: pieces asked at random are read alone, unless one begins a window', async () => {
  // 5, 70 and 130 neither follow the piece before them nor begin a window; 64 begins one,
  // read up to 70, which is cached.
  const { runs, bytes } = await readPieces({ pieceLength: 64 << 10, count: 256, order: [5, 70, 130, 64] })
  assert.deepEqual(runs.map(([first, count]) => [first, count]), [[64, 6]])
  assert.equal(bytes, 9 << 16)
})

test('TorrentStorage over a BlobStore: runs shrink to a third of the cache (storeCacheSlots), so a run is not evicted before it is served', async () => {
  // 12 cache slots: windows of 4 pieces (the last piece, 16, is read alone).
  const { runs } = await readPieces({ pieceLength: 64 << 10, count: 17, cacheSlots: 12 })
  assert.deepEqual(runs.map(([first, count]) => [first, count]), [[0, 4], [4, 4], [8, 4], [12, 4]])
  for (const [first, , asked] of runs.slice(2)) assert.ok(asked < first, `the run from ${first} was read when piece ${asked} was asked`)
})

test('TorrentStorage: a whole piece served from the cache is the user\'s own copy (transferring it leaves the cache whole)', async () => {
  const { TorrentStorage } = await import('../../web/engine/storage.js')
  const store = new MemoryStore(geo)
  for (let i = 0; i < 4; i++) await store.put(i, piece(i))
  const done = new Map()
  const delivered = new Map()
  const ts = new TorrentStorage({
    store,
    pieceLength: geo.pieceLength,
    length: geo.length,
    complete: (id, ok, bytes) => done.set(id, { ok, bytes }),
    completeDigest: () => assert.fail('no digest reads here'),
    deliver: (userRead, bytes) => delivered.set(userRead, bytes),
    onError: err => assert.fail(err),
    onWarning: () => {}
  })
  const read = async (o) => {
    ts.handle({ op: 'read', pieceOffset: o.offset - o.piece * geo.pieceLength, ...o })
    while (!done.has(o.id)) await new Promise(resolve => setTimeout(resolve, 1))
    assert.equal(done.get(o.id).ok, true)
    return o.userRead ? delivered.get(o.userRead) : done.get(o.id).bytes
  }
  await ts.open()
  assert.deepEqual(await read({ id: 1, piece: 2, offset: 2000, length: 100 }), piece(2).subarray(0, 100)) // caches piece 2
  const mine = await read({ id: 2, piece: 2, offset: 2000, length: 1000, userRead: 7 })
  assert.deepEqual(mine, piece(2))
  structuredClone(mine.buffer, { transfer: [mine.buffer] }) // as a page posting it to its service worker
  assert.equal(mine.byteLength, 0)
  assert.deepEqual(await read({ id: 3, piece: 2, offset: 2500, length: 500 }), piece(2).subarray(500))
  await ts.close()
})

test('TorrentStorage: a write is copied when handled, and only buffers a store hands back are reused', async () => {
  const { TorrentStorage } = await import('../../web/engine/storage.js')
  // Stores that do not keep what they are given: one hands the bytes back, one moves them
  // to "a worker" (transfer) and gets them back; and MemoryStore, which keeps them.
  const copying = (moves) => {
    const inner = new MemoryStore(geo)
    const given = []
    return {
      given,
      open: () => inner.open(),
      get: (...a) => inner.get(...a),
      close: () => inner.close(),
      async put (index, bytes, offset, owned) {
        given.push(bytes.buffer)
        await inner.put(index, bytes.slice(), offset)
        if (!moves) return bytes
        return new Uint8Array(structuredClone(bytes.buffer, { transfer: [bytes.buffer] }))
      }
    }
  }
  const kept = new MemoryStore(geo)
  const keptGiven = []
  const keptPut = kept.put.bind(kept)
  kept.put = (index, bytes, ...rest) => { keptGiven.push(bytes.buffer); return keptPut(index, bytes, ...rest) }
  for (const [kind, store, given, reused] of [['handed back', copying(false), null, true], ['moved and back', copying(true), null, true], ['kept', kept, keptGiven, false]]) {
    let settle
    const ts = new TorrentStorage({
      store,
      pieceLength: geo.pieceLength,
      length: geo.length,
      complete: () => settle(),
      completeDigest: () => assert.fail('no digests here'),
      deliver: () => assert.fail('no user reads here'),
      onError: err => assert.fail(err),
      onWarning: () => {}
    })
    const engineMemory = new Uint8Array(4000)
    for (const i of [0, 1, 2]) {
      // The engine's view: overwritten as soon as the host calls the engine again.
      const view = engineMemory.subarray(100, 1100)
      view.set(piece(i))
      const wait = new Promise(resolve => { settle = resolve })
      ts.handle({ op: 'write', id: i + 1, piece: i, pieceOffset: 0, offset: i * 1000, length: 1000, data: view })
      view.fill(0xee)
      await wait
    }
    for (const i of [0, 1, 2]) assert.deepEqual(await store.get(i, 0, 1000), piece(i), `${kind}: piece ${i} intact`)
    const buffers = given ?? store.given
    assert.equal(buffers.length, 3, kind)
    // Handed back: the next write reuses the one buffer; kept: every write gets its own.
    assert.equal(new Set(buffers.map(b => b.byteLength === 0 ? 'moved' : b)).size, reused ? 1 : 3, kind)
    await ts.close()
  }
})

test('BufferPool: copies into spares of the same size, within its byte limit, wholes only', async () => {
  const { BufferPool } = await import('../../web/engine/storage.js')
  const pool = new BufferPool(2500)
  const a = pool.copy(Uint8Array.of(1, 2, 3))
  assert.deepEqual(a, Uint8Array.of(1, 2, 3))
  pool.give(a)
  const b = pool.copy(Uint8Array.of(4, 5, 6))
  assert.equal(b.buffer, a.buffer, 'the spare is reused')
  assert.deepEqual(b, Uint8Array.of(4, 5, 6))
  assert.notEqual(pool.copy(Uint8Array.of(7, 8, 9)).buffer, a.buffer, 'taken: not handed out twice')
  pool.give(new Uint8Array(10).subarray(2, 5)) // part of a buffer: not kept
  assert.equal(pool.bytes, 0)
  pool.give(new Uint8Array(1000))
  pool.give(new Uint8Array(1000))
  pool.give(new Uint8Array(1000)) // over 2500 bytes: dropped
  assert.equal(pool.bytes, 2000)
  pool.clear()
  assert.equal(pool.bytes, 0)
})
