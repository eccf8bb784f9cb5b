// The engine's storage requests for one torrent, performed on its store (web/storage/).
// The engine writes whole verified pieces and reads byte ranges of verified pieces: blocks
// for peers, pieces read back by the resume check, and the user's reads (file streams).
// Big pieces (longer than the engine's streamPieceBytes) are streamed instead: their blocks
// come as `unverified` writes (store.put(piece, bytes, offset): stored, not held), the
// engine may read such bytes back (`unverified` reads, for its own hashing only), and a
// 'complete' op once the piece is verified makes it held (store.complete(piece)).
// A whole piece may come before it is verified, with its expected SHA-1 (`verify`, when the
// host hashes pieces: hostHashes): it is hashed on its way to the store and written only when
// it matches; the engine gets the digest either way (and the bytes back when it differs,
// for smart ban) and judges it.
// The store is opened on the first request; requests run concurrently; a failure completes
// the request with ok = false, and a failed write fails the torrent (onError) instead of
// being retried forever.

// Pieces kept after serving a block from them: peers ask for a piece's blocks one after
// another, and one read of the whole piece is much cheaper than one per 16 KiB block.
const CACHE_BYTES = 8 << 20
const CACHE_PIECES = 256
// A store that reads runs of pieces (a File) is read up to RUN_BYTES at a time: each read of a
// File cost the seeding page of the browser bench 5-10 ms of its main thread however short
// (slice() and arrayBuffer(), while the browser's threads are busy moving the channel). On a
// 64 MiB seed, 1 MiB runs spent 0.83 s of a 9.4 s rep there, 4 MiB runs 0.44-0.49 s. Runs
// are aligned windows of that size (our picker's extents, and libtorrent's, are such
// windows), and the cache holds three: the one being served, the next one read ahead, one
// to spare.
const RUN_BYTES = 4 << 20
const RUN_CACHE_BYTES = 3 * RUN_BYTES
// Spare write buffers kept for reuse at most (bytes), and how long they are kept unused. On
// this project's test machine (a VM) a fresh 64 KiB ArrayBuffer cost 0.26 ms where copying
// into one that exists cost 0.006 ms: a download's pieces come out of the engine into
// buffers the store hands back once written (stores that keep the bytes hand back nothing).
const SPARE_BYTES = 8 << 20
const SPARE_IDLE_MS = 5000
const STALL_MS = 30_000
const READ_TIMEOUT_MS = 20_000
const SWEEP_MS = 1000
// WebCrypto, where the page has it (secure contexts; Node 20 has it too).
const subtle = globalThis.crypto?.subtle

// Buffers of the sizes pieces and blocks come in, reused from one write to the next.
export class BufferPool {
  constructor (maxBytes = SPARE_BYTES) {
    this.maxBytes = maxBytes
    this.bytes = 0
    this._spares = new Map() // byteLength -> [ArrayBuffer]
    this._used = false       // taken from since the last idle check
    this._timer = undefined
  }

  // A Uint8Array of its own (spanning its whole buffer) holding a copy of `bytes`.
  copy (bytes) {
    const buffer = this._spares.get(bytes.length)?.pop()
    if (!buffer) return bytes.slice()
    this.bytes -= buffer.byteLength
    this._used = true
    const out = new Uint8Array(buffer)
    out.set(bytes)
    return out
  }

  // Keeps `bytes` for a later copy() when it spans a whole, attached buffer and there is
  // room; spares not asked for in SPARE_IDLE_MS are dropped.
  give (bytes) {
    if (!(bytes instanceof Uint8Array) || bytes.byteOffset !== 0) return
    const buffer = bytes.buffer
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== bytes.byteLength || buffer.byteLength === 0) return
    if (this.bytes + buffer.byteLength > this.maxBytes) return
    let list = this._spares.get(buffer.byteLength)
    if (!list) this._spares.set(buffer.byteLength, list = [])
    list.push(buffer)
    this.bytes += buffer.byteLength
    if (this._timer === undefined) {
      this._timer = setInterval(() => {
        if (!this._used) this.clear()
        this._used = false
      }, SPARE_IDLE_MS)
      this._timer.unref?.() // Node: spares keep no process alive
    }
  }

  clear () {
    this._spares.clear()
    this.bytes = 0
    this._timer = clearInterval(this._timer)
  }
}

export class TorrentStorage {
  // store: a store (web/storage/); complete(id, ok, bytes?): reports to the engine;
  // sha1(bytes) -> digest or a Promise of it: the host's SHA-1, for verify writes;
  // completeDigest(id, digest, ok, bytes?): reports a piece's SHA-1 (digestOnly reads
  // instead of the bytes; verify writes, with the bytes that were not written);
  // deliver(userRead, bytes | error): hands a user read its bytes directly (no copy through
  // the engine); onError(err): the store cannot go on (err.code 'storage_full' when out of
  // quota, else 'storage_failed'); onWarning(err): a request has waited 30 s.
  // cacheSlots: most pieces kept in the cache (WebTorrent's storeCacheSlots; 0: none, every
  // read goes to the store as asked), under CACHE_BYTES (RUN_CACHE_BYTES for a store read in
  // runs) either way.
  constructor ({ store, pieceLength, length, complete, sha1, completeDigest, deliver, onError, onWarning, cacheSlots }) {
    this.store = store
    this._cacheSlots = typeof cacheSlots === 'number' && cacheSlots >= 0 ? Math.floor(cacheSlots) : CACHE_PIECES
    // Pieces the cache keeps at most, and pieces per run (three runs fit in the cache).
    const cacheBytes = store.getRun ? Math.max(CACHE_BYTES, RUN_CACHE_BYTES) : CACHE_BYTES
    this._cachePieces = Math.max(1, Math.min(this._cacheSlots, Math.floor(cacheBytes / pieceLength)))
    this._runPieces = Math.max(1, Math.min(Math.floor(RUN_BYTES / pieceLength), Math.floor(this._cachePieces / 3)))
    this.pieceLength = pieceLength
    this.length = length
    this._complete = complete
    this._sha1 = sha1
    this._completeDigest = completeDigest
    this._deliver = deliver
    this._onError = onError
    this._onWarning = onWarning
    this._opened = null
    this._openDone = false
    this._held = new Set()
    this._parts = new Set() // pieces written in parts and not completed yet
    this.inFlight = { write: 0, read: 0 } // requests the store has not answered (diagnostics)
    this._cache = new Map() // piece -> Promise<Uint8Array> (the whole piece), in LRU order
    this._lastFetched = -2 // the piece read from the store last (read-ahead while in order)
    this._sequential = false // pieces asked in order from one window (RUN_BYTES) to the next
    this._lastAsked = -2
    this._jobs = new Set() // requests in flight: { o, started, warned, settled, timeOut }
    this._buffers = new BufferPool() // what writes copy the engine's bytes into
    this._sweepTimer = undefined
    this._closed = false
  }

  // The pieces the store holds (maybe corrupt: the engine hashes them) are noted, so that
  // the resume check of a piece it never had fails without asking it.
  open () {
    this._opened ??= this.store.open().then(held => {
      this._held = held
      this._openDone = true
    }, err => {
      // A store that cannot be opened cannot hold the download: the torrent's error now,
      // not at its first write (its resume check would pass as "nothing held").
      if (!this._closed) this._onError(err)
      throw err
    })
    return this._opened
  }

  // rescanFiles(): a store that can tell (rescan()) may hold pieces put there from outside
  // since open(); they are noted too (the engine hashes them before having any).
  async rescan () {
    await this.open()
    const held = await this.store.rescan?.()
    for (const piece of held ?? []) this._held.add(piece)
    this._cache.clear()
  }

  // o: the engine's storage output {op, id, piece, pieceOffset, offset, length, userRead,
  // digestOnly, unverified, data}; a write's data is a view into the engine's memory, valid
  // only until the host calls the engine again.
  handle (o) {
    if (o.op === 'write') o.data = this._buffers.copy(o.data)
    // A piece written whole is held already (resume is re-hashing: nothing to record); one
    // written in parts becomes held now.
    if (o.op === 'complete' && !this._parts.has(o.piece)) return this._complete(o.id, true)
    if (o.op === 'complete') {
      // Every part is written (the engine waited for its writes): readable at once, while
      // the store records the claim; the engine may ask to read it in the same batch.
      this._parts.delete(o.piece)
      this._cache.delete(o.piece)
      this._held.add(o.piece)
    }
    // The resume check asks for every piece; once the store has said what it holds, one it
    // does not hold fails at once (no job, no promise): an empty store's check of 1,024
    // pieces took 50-100 ms before a magnet's first request.
    if (o.op === 'read' && o.digestOnly && this._openDone && !this._held.has(o.piece)) return this._complete(o.id, false)
    const kind = o.op === 'read' ? 'read' : 'write'
    this.inFlight[kind]++
    // A read that never settles (a File whose disk went away, a stuck browser read) would
    // hold one of the peer's read slots for good: after READ_TIMEOUT_MS it fails (the peer
    // asks again) and its late answer is dropped. A write is only ever reported (_sweep).
    const job = { o, started: performance.now(), warned: false, settled: false, timeOut: null }
    this._jobs.add(job)
    this._sweepTimer ??= setInterval(() => this._sweep(), SWEEP_MS)
    const work = o.op === 'complete'
      ? this._markComplete(o)
      : o.op === 'write'
        ? this._write(o)
        : Promise.race([this._read(o, () => job.settled), new Promise((resolve, reject) => { job.timeOut = reject })])
    work.catch(err => {
      if (o.op === 'read' && !o.unverified) {
        this._cache.delete(o.piece)
        if (!job.settled && err?.code === 'timed_out') this._onWarning?.(err)
      }
      this._fail(o, err)
    }).finally(() => {
      job.settled = true
      this._jobs.delete(job)
      if (this._jobs.size === 0) this._sweepTimer = clearInterval(this._sweepTimer)
      this.inFlight[kind]--
    })
  }

  // One timer for every request in flight (two per request cost the seeder's main thread a
  // few percent): reads past READ_TIMEOUT_MS fail; a store that stops answering stalls the
  // download (the engine waits for its writes), so it is said once, not hung in silence.
  _sweep () {
    const now = performance.now()
    for (const job of this._jobs) {
      const age = now - job.started
      if (job.timeOut && age >= READ_TIMEOUT_MS) {
        job.timeOut(Object.assign(new Error(`store read of piece ${job.o.piece} timed out`), { code: 'timed_out' }))
        job.timeOut = null
      }
      if (!job.warned && age >= STALL_MS) {
        job.warned = true
        this._onWarning?.(new Error(`the store has not answered a ${job.o.op} of piece ${job.o.piece} for ${STALL_MS / 1000} s ` +
          `(${this.inFlight.write} writes and ${this.inFlight.read} reads waiting)`))
      }
    }
  }

  // o.data is a copy out of the engine, given to the store (which may move it to a worker
  // and hand it back): the digest has read it first (WebCrypto copies its input when called).
  async _write (o) {
    const length = o.data.length
    const digest = o.verify && this._sha1(o.data)
    await this.open()
    this._cache.delete(o.piece)
    // A piece the engine has not verified: written only when its digest matches.
    if (o.verify && !sameBytes(await digest, o.verify)) return this._completeDigest(o.id, await digest, true, o.data)
    if (o.unverified) {
      // A block of a streamed piece: not held (nor read for anyone) until 'complete'.
      this._held.delete(o.piece)
      this._parts.add(o.piece)
      this._reuse(o.data, length, await this.store.put(o.piece, o.data, o.pieceOffset, true))
    } else {
      this._reuse(o.data, length, await this.store.put(o.piece, o.data, undefined, true))
      this._parts.delete(o.piece)
      this._held.add(o.piece)
    }
    if (o.verify) this._completeDigest(o.id, await digest, true)
    else this._complete(o.id, true)
  }

  // What a store handed back from a write: the bytes it was given (not kept), or the same
  // bytes moved to a worker and back (the given array's buffer is detached).
  _reuse (given, length, back) {
    if (back === given || (back instanceof Uint8Array && given.buffer.byteLength === 0 && back.length === length)) {
      this._buffers.give(back)
    }
  }

  // A whole piece the host has (torrent.load()): stored and readable; the engine hashes
  // it (recheck) before it counts as had.
  async putPiece (piece, bytes) {
    await this.open()
    this._cache.delete(piece)
    await this.store.put(piece, bytes)
    this._parts.delete(piece)
    this._held.add(piece)
  }

  async _markComplete (o) {
    await this.open()
    await this.store.complete?.(o.piece)
    this._complete(o.id, true)
  }

  async _read (o, late) {
    await this.open()
    // Bytes of a streamed piece the engine wrote and reads back to hash them: from the
    // store as written, past the held check and the cache, and only to the engine.
    const bytes = o.unverified ? await this.store.get(o.piece, o.pieceOffset, o.length) : await this._bytes(o.offset, o.length)
    if (late()) return
    if (o.digestOnly && subtle) {
      // The resume check needs only the piece's SHA-1: WebCrypto's runs off the main thread
      // (several pieces at once) and several times faster than the engine's, and the bytes
      // stay out of the heap.
      this._completeDigest(o.id, new Uint8Array(await subtle.digest('SHA-1', bytes)), true)
      return
    }
    if (o.userRead) {
      // The user gets a buffer of its own: it may transfer it (postMessage), and a view
      // into a cached piece would take the piece with it.
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
      this._deliver(o.userRead, own)
      this._complete(o.id, true)
    } else {
      this._complete(o.id, true, bytes)
    }
  }

  // A read that fails costs the engine a piece (it is fetched again); a write that fails
  // would fail again (no space, a store that broke): the torrent stops with the error.
  _fail (o, err) {
    if (this._closed) return
    if (o.userRead) this._deliver(o.userRead, err)
    this._complete(o.id, false)
    if (o.op !== 'read') this._onError(err)
  }

  // Bytes [offset, offset + length) of the torrent, across pieces when they span several.
  async _bytes (offset, length) {
    const parts = []
    for (let at = offset; at < offset + length;) {
      const piece = Math.floor(at / this.pieceLength)
      const begin = at - piece * this.pieceLength
      const n = Math.min(offset + length - at, this._pieceSize(piece) - begin)
      parts.push(this._slice(piece, begin, n))
      at += n
    }
    const got = await Promise.all(parts)
    if (got.length === 1) return got[0]
    const out = new Uint8Array(length)
    let at = 0
    for (const p of got) { out.set(p, at); at += p.length }
    return out
  }

  _slice (piece, begin, n) {
    if (!this._held.has(piece)) return Promise.reject(new Error(`piece ${piece} is not stored`))
    const size = this._pieceSize(piece)
    if (this._cacheSlots === 0) return this.store.get(piece, begin, n)
    let whole = this._cache.get(piece)
    if (!whole && n === size && !this.store.getRun) return this.store.get(piece, 0, n)
    // A block: read the whole piece once and serve its other blocks from memory.
    const inOrder = this._lastFetched === piece - 1 || this._cache.has(piece - 1)
    // Reading on into the next window pays only while the reader goes on from one window to
    // the next: a picker with extent affinity (ours, libtorrent's) jumps to another extent,
    // which may follow one read before (in order, but not asked right after it).
    if (!inOrder) this._sequential = false
    else if (piece % this._runPieces === 0 && this._lastAsked === piece - 1) this._sequential = true
    this._lastAsked = piece
    if (whole) this._cache.delete(piece) // re-insert: most recently used last
    else whole = this._fetch(piece, size, inOrder)
    this._cache.set(piece, whole)
    if (this._sequential) this._readAhead(piece)
    while (this._cache.size > this._cachePieces) this._cache.delete(this._cache.keys().next().value)
    // A whole piece is a copy: a user read may transfer its buffer (postMessage), which
    // would take the cached piece with it.
    return whole.then(bytes => n === size ? bytes.slice() : bytes.subarray(begin, begin + n))
  }

  // The piece from the store. A store that reads runs of pieces at once (a File: see
  // RUN_BYTES) is read a run at a time while pieces are asked in order, to the end of the
  // piece's window (runs are aligned, as the picker's extents are); the pieces that follow go
  // into the cache. A piece asked out of order is read alone (the reader may be reading
  // pieces at random), unless it begins a window: a picker with extent affinity starts an
  // extent there, and a random reader lands there once in a window's worth of pieces.
  _fetch (piece, size, inOrder) {
    this._lastFetched = piece
    const startsWindow = piece % this._runPieces === 0
    if (!this.store.getRun || !(inOrder || startsWindow)) return this._cached(piece, this.store.get(piece, 0, size))
    return this._fetchRun(piece)
  }

  // While pieces are asked in order across windows, the next window is read before it is
  // asked for: a peer's reads in flight then find their pieces in the cache instead of each
  // run's read latency stalling its channel (the reads in flight per peer are fewer than a run).
  _readAhead (piece) {
    if (!this.store.getRun) return
    const perRun = this._runPieces
    const last = (Math.floor(piece / perRun) + 2) * perRun - 1 // the next window's last piece
    let next = piece + 1
    while (next <= last && this._cache.has(next)) next++
    if (next <= last && this._held.has(next)) this._fetchRun(next)
  }

  // Pieces first.. (to the end of first's window, those that are held and not cached) in
  // one read, each cached; resolves with the first.
  _fetchRun (first) {
    let count = 1
    const most = this._runPieces - first % this._runPieces
    while (count < most && this._held.has(first + count) && !this._cache.has(first + count)) count++
    this._lastFetched = Math.max(this._lastFetched, first + count - 1)
    if (count === 1) {
      const one = this._cached(first, this.store.get(first, 0, this._pieceSize(first)))
      this._cache.set(first, one)
      return one
    }
    const run = this.store.getRun(first, count)
    for (let i = 0; i < count; i++) {
      const at = i * this.pieceLength
      const p = first + i
      this._cache.set(p, this._cached(p, run.then(bytes => bytes.subarray(at, at + this._pieceSize(p)))))
    }
    return this._cache.get(first)
  }

  _cached (piece, bytes) {
    bytes.catch(() => this._cache.delete(piece))
    return bytes
  }

  _pieceSize (piece) {
    return Math.min(this.pieceLength, this.length - piece * this.pieceLength)
  }

  async close ({ destroy = false } = {}) {
    this._closed = true
    this._sweepTimer = clearInterval(this._sweepTimer)
    this._onWarning = null
    this._cache.clear()
    this._buffers.clear()
    if (this._opened) await this._opened.catch(() => {})
    if (destroy) await this.store.destroy()
    else await this.store.close()
  }
}

function sameBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
