// Pieces in a few large OPFS files, written and read by a dedicated worker through
// createSyncAccessHandle(), which only workers have and which skips createWritable()'s swap
// file. The worker is built from this file's own source (a Blob URL), so the library still
// ships as one script.
//
// Layout, under wasmtorrent/<store name>/:
//   <k>.pieces  slots [k * perFile, (k + 1) * perFile), one piece length each, end to end
//   index       4 bytes per piece (little-endian): its slot + 1 once its bytes were written
//               (a piece written in parts, as the engine streams big pieces: once complete()
//               is called), 0 otherwise
// Slots are handed out in the order pieces are first written, lowest free first, so the
// files grow from their start whatever order pieces arrive in: a file written at the
// offset of a late piece would count its whole length against the origin's quota (a 6 MiB
// quota was spent by two pieces). Opening a file costs round trips to the browser process
// (measured: one file per 64 KiB piece held the store near 5 MiB/s), so a file holds up to
// FILE_BYTES and stays open. A piece the index claims is only a candidate: the engine
// hashes it before trusting it (a crash between the two writes, a file altered on disk).

import { Geometry, ownBytes, Pending, safeName, storageError } from './util.js'
import { ROOT, opfsAvailable } from './opfs.js'

export const FILE_BYTES = 64 << 20
// Slots per file: slot s is in file slotFile(s, perFile) at (s % perFile) * pieceLength.
export const filePieces = pieceLength => Math.max(1, Math.floor(FILE_BYTES / pieceLength))
export const slotFile = (slot, perFile) => `${Math.floor(slot / perFile)}.pieces`
export const INDEX_FILE = 'index'

// Runs inside the worker, from its source text: it must not use anything outside itself.
// Every message carries the torrent's geometry: pieceLength, pieceCount, torrentLength and
// perFile (filePieces(pieceLength)).
function workerMain () {
  const MAX_OPEN = 64         // sync access handles kept open (each holds a file open)
  const HANDLE_WAIT_MS = 5000 // for a file another worker has open (see openHandle)
  const open = new Map()      // file name -> FileSystemSyncAccessHandle, oldest use first
  let dir = null
  let queue = Promise.resolve() // one operation at a time: handles are exclusive
  let slots = null            // piece -> slot (-1: none), read from the index on first use
  let used = null             // slot -> 1 when a piece has it
  let nextFree = 0            // no free slot below this

  async function folder (m) {
    if (!dir) {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle(m.root, { create: true })
      dir = await top.getDirectoryHandle(m.folder, { create: true })
    }
    return dir
  }

  async function access (m, name) {
    let h = open.get(name)
    if (h) {
      open.delete(name) // move to the newest end
    } else {
      h = await openHandle(await (await folder(m)).getFileHandle(name, { create: true }))
      if (open.size >= MAX_OPEN) release(open.keys().next().value)
    }
    open.set(name, h)
    return h
  }

  // A page reloaded (or closed) drops its lock on the store at once, but its worker may hold
  // the files open a moment longer (a probe's re-add 0.5 s after a reload mid-download was
  // refused, one 2 s after was not): a handle refused as in use is asked for again, for up
  // to HANDLE_WAIT_MS.
  async function openHandle (file) {
    for (let waited = 0, delay = 25; ; waited += delay, delay = Math.min(delay * 2, 500)) {
      try {
        return await file.createSyncAccessHandle()
      } catch (err) {
        if (err?.name !== 'NoModificationAllowedError' || waited >= HANDLE_WAIT_MS) throw err
        await new Promise(resolve => setTimeout(resolve, delay))
      }
    }
  }

  function release (name) {
    const h = open.get(name)
    if (!h) return
    open.delete(name)
    try { h.close() } catch {}
  }

  function closeAll () {
    for (const name of [...open.keys()]) {
      try { open.get(name).flush() } catch {}
      release(name)
    }
    dir = null
    slots = null
  }

  const where = (m, slot) => ({
    name: `${Math.floor(slot / m.perFile)}.pieces`,
    at: (slot % m.perFile) * m.pieceLength
  })

  const pieceSize = (m, index) => Math.min(m.pieceLength, m.torrentLength - index * m.pieceLength)

  async function fileSize (m, name) {
    const h = open.get(name)
    if (h) return h.getSize()
    try {
      return (await (await (await folder(m)).getFileHandle(name)).getFile()).size
    } catch {
      return 0 // no such file
    }
  }

  // The index, read once: a piece keeps its slot only when the slot is in range, not
  // claimed by another piece and inside its file; every other slot is free.
  async function loadSlots (m) {
    if (slots) return
    const raw = new Uint8Array(m.pieceCount * 4)
    ;(await access(m, 'index')).read(raw, { at: 0 })
    const view = new DataView(raw.buffer)
    slots = new Int32Array(m.pieceCount).fill(-1)
    used = new Uint8Array(m.pieceCount)
    nextFree = 0
    const sizes = new Map()
    for (let i = 0; i < m.pieceCount; i++) {
      const slot = view.getUint32(i * 4, true) - 1
      if (slot < 0 || slot >= m.pieceCount || used[slot]) continue
      const { name, at } = where(m, slot)
      if (!sizes.has(name)) sizes.set(name, await fileSize(m, name))
      if (sizes.get(name) < at + pieceSize(m, i)) continue
      slots[i] = slot
      used[slot] = 1
    }
  }

  function allocate (index) {
    if (slots[index] >= 0) return { slot: slots[index], fresh: false }
    while (used[nextFree]) nextFree++
    const slot = nextFree
    slots[index] = slot
    used[slot] = 1
    return { slot, fresh: true }
  }

  function free (index) {
    const slot = slots[index]
    if (slot < 0) return
    slots[index] = -1
    used[slot] = 0
    nextFree = Math.min(nextFree, slot)
  }

  async function claim (m, index, slot) {
    const entry = new Uint8Array(4)
    new DataView(entry.buffer).setUint32(0, slot + 1, true)
    ;(await access(m, 'index')).write(entry, { at: index * 4 })
  }

  // Over quota, Chromium (156) writes part and returns a bogus count instead of throwing:
  // a short write means no space either way.
  function writeAll (h, buf, at) {
    const n = h.write(buf, { at })
    if (n !== buf.byteLength) throw new DOMException('the storage quota is exceeded (a write came up short)', 'QuotaExceededError')
  }

  const ops = {
    // The pieces the index claims.
    async open (m) {
      await loadSlots(m)
      const held = []
      for (let i = 0; i < m.pieceCount; i++) if (slots[i] >= 0) held.push(i)
      return held
    },
    async put (m) {
      await loadSlots(m)
      const { slot, fresh } = allocate(m.index)
      const { name, at } = where(m, slot)
      try {
        writeAll(await access(m, name), new Uint8Array(m.buf), at)
        if (fresh) await claim(m, m.index, slot)
      } catch (err) { // not claimed: a later run fetches it again
        if (fresh) free(m.index)
        throw err
      }
      return m.buf // back to the page, which reuses it
    },
    // A part of a piece at m.offset, the piece not claimed (its index entry cleared first
    // when m.clear: a piece written again after it failed the resume check).
    async write (m) {
      await loadSlots(m)
      if (m.clear) (await access(m, 'index')).write(new Uint8Array(4), { at: m.index * 4 })
      const { slot } = allocate(m.index)
      const { name, at } = where(m, slot)
      writeAll(await access(m, name), new Uint8Array(m.buf), at + m.offset)
      return m.buf
    },
    // As put's: a crash between the bytes and the claim costs a piece that fails the hash.
    async complete (m) {
      await loadSlots(m)
      if (slots[m.index] >= 0) await claim(m, m.index, slots[m.index])
    },
    async get (m) {
      await loadSlots(m)
      const slot = slots[m.index]
      if (slot < 0) throw new DOMException(`piece ${m.index} is not stored`, 'NotReadableError')
      const { name, at } = where(m, slot)
      const h = await access(m, name)
      const size = h.getSize()
      if (at + m.offset + m.length > size) throw new DOMException(`the file ends at byte ${size}`, 'NotReadableError')
      const buf = new Uint8Array(m.length)
      const n = h.read(buf, { at: at + m.offset })
      if (n !== m.length) throw new DOMException(`read ${n} of ${m.length} bytes`, 'NotReadableError')
      return buf.buffer
    },
    async close () { closeAll() },
    async ping () {},
    async destroy (m) {
      closeAll()
      const root = await navigator.storage.getDirectory()
      const top = await root.getDirectoryHandle(m.root).catch(err => {
        if (err.name !== 'NotFoundError') throw err
      })
      if (!top) return
      await top.removeEntry(m.folder, { recursive: true }).catch(err => {
        if (err.name !== 'NotFoundError') throw err
      })
      // The last torrent's folder gone: the library's own folder too. Not recursive, so
      // a folder another tab has just made stays (the removal fails, and that is fine).
      await root.removeEntry(m.root).catch(() => {})
    }
  }

  self.onmessage = ({ data: m }) => {
    queue = queue.then(() => ops[m.op](m)).then(
      result => self.postMessage({ id: m.id, result }, result instanceof ArrayBuffer ? [result] : []),
      err => self.postMessage({ id: m.id, error: { name: err?.name || 'Error', message: err?.message || String(err) } })
    )
  }
}

let workerURL = null // one Blob URL for every store's worker, kept for the page's life
let spareWorker = null // started ahead by prewarm(), taken by the next store

function newWorker () {
  workerURL ??= URL.createObjectURL(new Blob([`(${workerMain})()`], { type: 'text/javascript' }))
  return new Worker(workerURL)
}

export class OpfsWorkerStore {
  static kind = 'opfs-worker' // survives minification, unlike the class name
  static available () {
    return opfsAvailable() && typeof Worker === 'function' && typeof URL.createObjectURL === 'function'
  }

  // Starts a worker for the next store: a worker takes about 40 ms to start, which a magnet
  // otherwise spends after its metadata arrives, before its first request (the engine
  // checks the store first).
  static prewarm () {
    if (spareWorker) return
    try {
      const worker = newWorker()
      // One that fails before a store takes it is dropped: the store's own start reports.
      worker.onerror = e => {
        e.preventDefault?.()
        worker.terminate()
        if (spareWorker === worker) spareWorker = null
      }
      spareWorker = worker
    } catch {} // e.g. the page's CSP forbids blob: workers: the store's start says so
  }

  // Whether a worker starts here and answers (a page's Content-Security-Policy may forbid
  // blob: workers: worker-src without blob:); the worker is kept as the spare.
  static starts () {
    return new Promise(resolve => {
      let worker
      try { worker = newWorker() } catch { return resolve(false) }
      const done = ok => {
        clearTimeout(timer)
        worker.onmessage = worker.onerror = null
        if (ok && !spareWorker) spareWorker = worker
        else worker.terminate()
        resolve(ok)
      }
      const timer = setTimeout(() => done(false), 10000)
      worker.onmessage = () => done(true)
      worker.onerror = e => { e.preventDefault?.(); done(false) }
      worker.postMessage({ id: 0, op: 'ping' })
    })
  }

  constructor (opts) {
    this._geo = new Geometry(opts)
    this._folderName = safeName(this._geo.name)
    this._worker = null
    this._calls = new Map() // message id -> { resolve, reject }
    this._nextId = 1
    this._pending = new Pending()
    this._cleared = new Set() // pieces written in parts whose index entry was cleared
  }

  _startWorker () {
    const worker = spareWorker ?? newWorker()
    spareWorker = null
    worker.onmessage = ({ data }) => {
      const call = this._calls.get(data.id)
      if (!call) return
      this._calls.delete(data.id)
      if (data.error) call.reject(new DOMException(data.error.message, data.error.name))
      else call.resolve(data.result)
    }
    worker.onerror = e => { // e.g. the page's CSP forbids blob: workers
      e.preventDefault?.()
      this._stopWorker(new DOMException(e.message || 'the storage worker failed', 'OperationError'))
    }
    this._worker = worker
  }

  _stopWorker (reason) {
    this._worker?.terminate()
    this._worker = null
    for (const call of this._calls.values()) call.reject(reason)
    this._calls.clear()
  }

  // Sends one operation to the worker (started on first use); rejects with the worker's
  // error as a DOMException.
  _call (op, args = {}, transfer = []) {
    return new Promise((resolve, reject) => {
      if (!this._worker) this._startWorker()
      const id = this._nextId++
      this._calls.set(id, { resolve, reject })
      const { pieceLength, pieceCount, length: torrentLength } = this._geo
      const geometry = { pieceLength, pieceCount, torrentLength, perFile: filePieces(pieceLength) }
      this._worker.postMessage({ id, op, root: ROOT, folder: this._folderName, ...geometry, ...args }, transfer)
    })
  }

  open () {
    return this._pending.run((async () => {
      try {
        return new Set(await this._call('open'))
      } catch (err) {
        throw storageError('open: OPFS folder ' + this._folderName, err)
      }
    })())
  }

  // put(index, bytes): the whole piece, claimed in the index; put(index, bytes, offset):
  // a part, written in place, the piece claimed only by complete(index). Resolves with the
  // bytes back from the worker once written (the caller may reuse them).
  put (index, bytes, offset, owned = false) {
    return this._pending.run((async () => {
      const part = offset !== undefined
      if (part) this._geo.checkPart(index, bytes, offset)
      else this._geo.checkPut(index, bytes)
      const buf = ownBytes(bytes, owned).buffer // moved to the worker
      try {
        let back
        if (part) {
          const clear = !this._cleared.has(index)
          this._cleared.add(index)
          back = await this._call('write', { index, buf, offset, clear }, [buf])
        } else {
          back = await this._call('put', { index, buf }, [buf])
        }
        return back instanceof ArrayBuffer ? new Uint8Array(back) : undefined
      } catch (err) {
        throw storageError(`put: piece ${index}`, err)
      }
    })())
  }

  complete (index) {
    return this._pending.run((async () => {
      if (!this._cleared.delete(index)) return // written whole: claimed already
      try {
        await this._call('complete', { index })
      } catch (err) {
        throw storageError(`complete: piece ${index}`, err)
      }
    })())
  }

  get (index, offset, length) {
    return this._pending.run((async () => {
      this._geo.checkGet(index, offset, length)
      try {
        return new Uint8Array(await this._call('get', { index, offset, length }))
      } catch (err) {
        throw storageError(`get: piece ${index}`, err)
      }
    })())
  }

  async close () {
    await this._pending.settled()
    if (!this._worker) return
    await this._call('close').catch(() => {})
    this._stopWorker(new DOMException('store closed', 'AbortError'))
  }

  async destroy () {
    await this._pending.settled()
    try {
      await this._call('destroy')
    } catch (err) {
      throw storageError('destroy: OPFS folder ' + this._folderName, err)
    } finally {
      this._stopWorker(new DOMException('store destroyed', 'AbortError'))
    }
  }
}
