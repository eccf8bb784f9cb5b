// Pieces as OPFS files (the same layout as OpfsStore: wasmtorrent/<store name>/<index>),
// written and read by a dedicated worker through createSyncAccessHandle(), which only
// workers have and which skips createWritable()'s swap file. The worker is built from this
// file's own source (a Blob URL), so the library still ships as one script.

import { Geometry, Pending, safeName, storageError } from './util.js'
import { ROOT, opfsAvailable } from './opfs.js'

// Runs inside the worker, from its source text: it must not use anything outside itself.
function workerMain () {
  const MAX_OPEN = 64         // sync access handles kept open (each holds a file open)
  const open = new Map()      // file name -> FileSystemSyncAccessHandle, oldest use first
  let dir = null
  let queue = Promise.resolve() // one operation at a time: handles are exclusive

  async function folder (root, name) {
    if (!dir) {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle(root, { create: true })
      dir = await top.getDirectoryHandle(name, { create: true })
    }
    return dir
  }

  async function access (d, name, create) {
    let h = open.get(name)
    if (h) {
      open.delete(name) // move to the newest end
    } else {
      h = await (await d.getFileHandle(name, { create })).createSyncAccessHandle()
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

  const ops = {
    async list (m) {
      const d = await folder(m.root, m.folder)
      const out = []
      for await (const [name, handle] of d.entries()) {
        if (handle.kind !== 'file') continue
        const h = open.get(name)
        out.push([name, h ? h.getSize() : (await handle.getFile()).size])
      }
      return out
    },
    async put (m) {
      const d = await folder(m.root, m.folder)
      const h = await access(d, m.name, true)
      try {
        // Over quota, Chromium (156) writes part and returns a bogus count instead of
        // throwing; a short write means no space either way.
        const n = h.write(new Uint8Array(m.buf), { at: 0 })
        if (n !== m.buf.byteLength) throw new DOMException(`wrote ${n} of ${m.buf.byteLength} bytes`, 'QuotaExceededError')
        h.truncate(n)
      } catch (err) { // no half-written piece: drop the file
        release(m.name)
        await d.removeEntry(m.name).catch(() => {})
        throw err
      }
    },
    async get (m) {
      const h = await access(await folder(m.root, m.folder), m.name, false)
      const size = h.getSize()
      if (m.offset + m.length > size) throw new DOMException(`the file holds ${size} bytes`, 'NotReadableError')
      const buf = new Uint8Array(m.length)
      const n = h.read(buf, { at: m.offset })
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
      this._worker.postMessage({ id, op, root: ROOT, folder: this._folderName, ...args }, transfer)
    })
  }

  open () {
    return this._pending.run((async () => {
      let entries
      try {
        entries = await this._call('list')
      } catch (err) {
        throw storageError('open: OPFS folder ' + this._folderName, err)
      }
      const held = new Set()
      for (const [name, size] of entries) {
        const index = /^(0|[1-9][0-9]*)$/.test(name) ? Number(name) : -1
        if (size > 0 && size === this._geo.pieceSize(index)) held.add(index)
      }
      return held
    })())
  }

  put (index, bytes) {
    return this._pending.run((async () => {
      this._geo.checkPut(index, bytes)
      const buf = bytes.slice().buffer // a copy now, moved to the worker: `bytes` is free at once
      try {
        await this._call('put', { name: String(index), buf }, [buf])
      } catch (err) {
        throw storageError(`put: piece ${index}`, err)
      }
    })())
  }

  get (index, offset, length) {
    return this._pending.run((async () => {
      this._geo.checkGet(index, offset, length)
      try {
        return new Uint8Array(await this._call('get', { name: String(index), offset, length }))
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
