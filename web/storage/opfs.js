// Pieces as files in the Origin Private File System: wasmtorrent/<store name>/<index>.
// Writes go through createWritable(), which fills a swap file and swaps it in on close(),
// so a failed write never leaves a half-written piece behind. For the same reason a piece
// written in parts (a big piece the engine streams) is assembled in JS memory and written
// whole on complete(): writing part of a file through a swap file copies the whole file.

import { ownBytes, safeName, storageError, WholePieceStore } from './util.js'

export const ROOT = 'wasmtorrent'
const PIECE_NAME = /^(0|[1-9][0-9]*)$/

export function opfsAvailable () {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function'
}

export class OpfsStore extends WholePieceStore {
  static kind = 'opfs' // survives minification, unlike the class name
  static available () { return opfsAvailable() }

  constructor (opts) {
    super(opts)
    this._folderName = safeName(this._geo.name)
    this._dir = null          // Promise<FileSystemDirectoryHandle>, made on first use
    this._files = new Map()   // index -> FileSystemFileHandle
  }

  _folder () {
    if (!this._dir) {
      this._dir = (async () => {
        const root = await navigator.storage.getDirectory()
        const top = await root.getDirectoryHandle(ROOT, { create: true })
        return top.getDirectoryHandle(this._folderName, { create: true })
      })()
      this._dir.catch(() => { this._dir = null }) // let a later call try again
    }
    return this._dir
  }

  async _file (index, create) {
    let file = this._files.get(index)
    if (!file) {
      file = await (await this._folder()).getFileHandle(String(index), { create })
      this._files.set(index, file)
    }
    return file
  }

  open () {
    return this._pending.run((async () => {
      try {
        const dir = await this._folder()
        const checks = []
        for await (const [name, handle] of dir.entries()) {
          const index = PIECE_NAME.test(name) ? Number(name) : -1
          const size = this._geo.pieceSize(index)
          if (handle.kind !== 'file' || size === 0) continue
          this._files.set(index, handle)
          checks.push(handle.getFile().then(f => f.size === size ? index : -1))
        }
        return new Set((await Promise.all(checks)).filter(i => i >= 0))
      } catch (err) {
        throw storageError('open: OPFS folder ' + this._folderName, err)
      }
    })())
  }

  async _putWhole (index, bytes, owned) {
    this._geo.checkPut(index, bytes)
    const copy = ownBytes(bytes, owned)
    let writable = null
    try {
      writable = await (await this._file(index, true)).createWritable() // starts empty
      await writable.write(copy)
      await writable.close()
      return copy === bytes ? bytes : undefined
    } catch (err) {
      if (writable) await writable.abort().catch(() => {})
      this._files.delete(index)
      await this._folder().then(dir => dir.removeEntry(String(index))).catch(() => {})
      throw storageError(`put: piece ${index}`, err)
    }
  }

  async _getStored (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    let buf
    try {
      const file = await (await this._file(index, false)).getFile()
      buf = await file.slice(offset, offset + length).arrayBuffer()
    } catch (err) {
      if (err?.name === 'NotFoundError') this._files.delete(index)
      throw storageError(`get: piece ${index}`, err)
    }
    if (buf.byteLength !== length) throw storageError(`get: piece ${index} is short (${buf.byteLength} of ${length} bytes)`)
    return new Uint8Array(buf)
  }

  async close () {
    await this._pending.settled()
    this._files.clear()
    this._dir = null
  }

  async destroy () {
    this._parts.clear()
    await this.close()
    try {
      const root = await navigator.storage.getDirectory()
      const top = await root.getDirectoryHandle(ROOT)
      await top.removeEntry(this._folderName, { recursive: true })
      await root.removeEntry(ROOT).catch(() => {}) // only when empty (not recursive)
    } catch (err) {
      if (err?.name !== 'NotFoundError') throw storageError('destroy: OPFS folder ' + this._folderName, err)
    }
  }
}
