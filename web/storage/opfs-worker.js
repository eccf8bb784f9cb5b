// Pieces in a few large OPFS files, written and read by a dedicated worker through
// createSyncAccessHandle(), which only workers have and which skips createWritable()'s swap
// file. The worker is built from this file's own source (a Blob URL), so the library still
// ships as one script.
//
// Layout, under wasmtorrent/<store name>/:
//   <k>.pieces  pieces [k * perFile, (k + 1) * perFile) end to end (filePieces())
//   have        one byte per piece: 1 once the piece's bytes were written (a piece written
//               in parts, as the engine streams big pieces: once complete() is called; the
//               first part written clears it)
// Opening a file costs round trips to the browser process (measured: one file per 64 KiB
// piece held the store near 5 MiB/s), so a file holds up to FILE_BYTES and stays open. A
// piece the have file claims is only a candidate: the engine hashes it before trusting it
// (a crash between the two writes, a file altered on disk).

import { Geometry, Pending, safeName, storageError } from './util.js'
import { ROOT, opfsAvailable } from './opfs.js'

export const FILE_BYTES = 64 << 20
// Pieces per file: piece i is in file pieceFile(i) at (i % perFile) * pieceLength.
export const filePieces = pieceLength => Math.max(1, Math.floor(FILE_BYTES / pieceLength))
export const pieceFile = (index, perFile) => `${Math.floor(index / perFile)}.pieces`

// Runs inside the worker, from its source text: it must not use anything outside itself.
// Every message carries the torrent's geometry: pieceLength, pieceCount, torrentLength and
// perFile (filePieces(pieceLength)).
function workerMain () {
  const MAX_OPEN = 64         // sync access handles kept open (each holds a file open)
  const open = new Map()      // file name -> FileSystemSyncAccessHandle, oldest use first
  let dir = null
  let queue = Promise.resolve() // one operation at a time: handles are exclusive

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
      h = await (await (await folder(m)).getFileHandle(name, { create: true })).createSyncAccessHandle()
      if (open.size >= MAX_OPEN) release(open.keys().next().value)
    }
    open.set(name, h)
    return h
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
  }

  const where = (m, index) => ({
    name: `${Math.floor(index / m.perFile)}.pieces`,
    at: (index % m.perFile) * m.pieceLength
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

  const ops = {
    // The pieces the have file claims whose file is long enough to hold them.
    async open (m) {
      const marks = new Uint8Array(m.pieceCount)
      ;(await access(m, 'have')).read(marks, { at: 0 })
      const held = []
      const sizes = new Map()
      for (let i = 0; i < m.pieceCount; i++) {
        if (marks[i] !== 1) continue
        const { name, at } = where(m, i)
        if (!sizes.has(name)) sizes.set(name, await fileSize(m, name))
        if (sizes.get(name) >= at + pieceSize(m, i)) held.push(i)
      }
      return held
    },
    async put (m) {
      const have = await access(m, 'have')
      const { name, at } = where(m, m.index)
      const h = await access(m, name)
      try {
        // Over quota, Chromium (156) writes part and returns a bogus count instead of
        // throwing; a short write means no space either way.
        const n = h.write(new Uint8Array(m.buf), { at })
        if (n !== m.buf.byteLength) throw new DOMException(`wrote ${n} of ${m.buf.byteLength} bytes`, 'QuotaExceededError')
        have.write(new Uint8Array([1]), { at: m.index })
      } catch (err) { // not claimed: a later run fetches it again
        try { have.write(new Uint8Array([0]), { at: m.index }) } catch {}
        throw err
      }
    },
    // A part of a piece at m.offset, the piece not claimed (its have byte cleared first
    // when m.clear: a piece written again after it failed the resume check).
    async write (m) {
      const have = m.clear ? await access(m, 'have') : null
      const { name, at } = where(m, m.index)
      const h = await access(m, name)
      if (have) have.write(new Uint8Array([0]), { at: m.index })
      const n = h.write(new Uint8Array(m.buf), { at: at + m.offset })
      if (n !== m.buf.byteLength) throw new DOMException(`wrote ${n} of ${m.buf.byteLength} bytes`, 'QuotaExceededError')
    },
    // As put's: a crash between the bytes and the claim costs a piece that fails the hash.
    async complete (m) {
      (await access(m, 'have')).write(new Uint8Array([1]), { at: m.index })
    },
    async get (m) {
      const { name, at } = where(m, m.index)
      const h = await access(m, name)
      const size = h.getSize()
      if (at + m.offset + m.length > size) throw new DOMException(`the file ends at byte ${size}`, 'NotReadableError')
      const buf = new Uint8Array(m.length)
      const n = h.read(buf, { at: at + m.offset })
      if (n !== m.length) throw new DOMException(`read ${n} of ${m.length} bytes`, 'NotReadableError')
      return buf.buffer
    },
    async close () { closeAll() },
    async destroy (m) {
      closeAll()
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle(m.root, { create: true })
      await top.removeEntry(m.folder, { recursive: true }).catch(err => {
        if (err.name !== 'NotFoundError') throw err
      })
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

export class OpfsWorkerStore {
  static kind = 'opfs-worker' // survives minification, unlike the class name
  static available () {
    return opfsAvailable() && typeof Worker === 'function' && typeof URL.createObjectURL === 'function'
  }

  constructor (opts) {
    this._geo = new Geometry(opts)
    this._folderName = safeName(this._geo.name)
    this._worker = null
    this._calls = new Map() // message id -> { resolve, reject }
    this._nextId = 1
    this._pending = new Pending()
    this._cleared = new Set() // pieces written in parts whose have byte was cleared
  }

  _startWorker () {
    workerURL ??= URL.createObjectURL(new Blob([`(${workerMain})()`], { type: 'text/javascript' }))
    const worker = new Worker(workerURL)
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

  // put(index, bytes): the whole piece, claimed in the have file; put(index, bytes, offset):
  // a part, written in place, the piece claimed only by complete(index).
  put (index, bytes, offset) {
    return this._pending.run((async () => {
      const part = offset !== undefined
      if (part) this._geo.checkPart(index, bytes, offset)
      else this._geo.checkPut(index, bytes)
      const buf = bytes.slice().buffer // a copy now, moved to the worker: `bytes` is free at once
      try {
        if (!part) {
          await this._call('put', { index, buf }, [buf])
          return
        }
        const clear = !this._cleared.has(index)
        this._cleared.add(index)
        await this._call('write', { index, buf, offset, clear }, [buf])
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
