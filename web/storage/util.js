// What every store shares: the torrent's piece geometry, argument checks, the errors the
// host expects (storage_full / storage_failed), and a safe name for per-torrent storage.

import { WasmTorrentError } from '../api/errors.js'

// cause: what the store threw (kept as err.cause: a Node file system error keeps its code
// there, ENOTDIR, EACCES...); out of space is storage_full, in browsers and under Node.
export function storageError (message, cause) {
  const full = cause?.name === 'QuotaExceededError' || cause?.code === 'ENOSPC' || cause?.code === 'EDQUOT'
  const err = new WasmTorrentError(cause ? `${message}: ${cause.message || cause.name || cause}` : message,
    { code: full ? 'storage_full' : 'storage_failed' })
  if (cause) err.cause = cause
  return err
}

// The bytes a store keeps from put(): `bytes` itself when the caller gave it up (owned) and
// it spans its whole buffer (which may then be moved to a worker), otherwise a copy of just
// these bytes (the caller may reuse them; a view's buffer may be much larger).
export function ownBytes (bytes, owned) {
  return owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

// { name, pieceLength, length } as every store's constructor receives it.
export class Geometry {
  constructor ({ name, pieceLength, length }) {
    if (typeof name !== 'string' || name === '') {
      throw new WasmTorrentError('store: name must be a non-empty string', { code: 'invalid_argument', context: 'name' })
    }
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new WasmTorrentError('store: pieceLength must be a positive integer', { code: 'invalid_argument', context: 'pieceLength' })
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new WasmTorrentError('store: length must be a non-negative integer', { code: 'invalid_argument', context: 'length' })
    }
    this.name = name
    this.pieceLength = pieceLength
    this.length = length
    this.pieceCount = Math.ceil(length / pieceLength)
  }

  // Bytes in piece `index` (the last one is shorter); 0 when there is no such piece.
  pieceSize (index) {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) return 0
    return Math.min(this.pieceLength, this.length - index * this.pieceLength)
  }

  checkPut (index, bytes) {
    const size = this.pieceSize(index)
    if (size === 0) throw storageError(`put: no piece ${index}`)
    if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
      throw storageError(`put: piece ${index} must be a Uint8Array of ${size} bytes`)
    }
  }

  checkGet (index, offset, length) {
    const size = this.pieceSize(index)
    if (size === 0) throw storageError(`get: no piece ${index}`)
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw storageError(`get: bytes [${offset}, ${offset + length}) are outside piece ${index} (${size} bytes)`)
    }
  }

  // A part of a piece: bytes at `offset` within it (put(index, bytes, offset)).
  checkPart (index, bytes, offset) {
    const size = this.pieceSize(index)
    if (size === 0) throw storageError(`put: no piece ${index}`)
    if (!(bytes instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0 || offset + bytes.length > size) {
      throw storageError(`put: a part of piece ${index} must be a Uint8Array within its ${size} bytes`)
    }
  }

  // Every index, for stores that hold (or cannot tell and claim) all pieces.
  allPieces () {
    const all = new Set()
    for (let i = 0; i < this.pieceCount; i++) all.add(i)
    return all
  }
}

// A file or folder name for any string, one-to-one: encodeURIComponent, then also the
// characters it keeps that a file system might treat specially ('.', '*', '~', ...), so
// '..', '/a/b' or 'C:\x' cannot escape or collide.
export function safeName (name) {
  return encodeURIComponent(name).replace(/[!'()*.~]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

// Tracks a store's operations in flight, so close() and destroy() can wait for them
// (OPFS will not delete a file that is being written).
export class Pending {
  constructor () { this._set = new Set() }
  run (promise) {
    this._set.add(promise)
    const done = () => this._set.delete(promise)
    promise.then(done, done)
    return promise
  }

  settled () { return Promise.allSettled([...this._set]) }
}

// Pieces written in parts (put(index, bytes, offset)), assembled in JS memory until
// complete(index), for stores that can only write a piece whole (IndexedDB values, OPFS
// files written through a swap file, abstract-chunk-stores). The engine streams big pieces
// so that the WebAssembly heap stays bounded; with these stores the JS side holds the
// pieces in progress instead (OpfsWorkerStore, the default, writes parts in place).
export class Parts {
  constructor (geo) {
    this._geo = geo
    this._pieces = new Map() // index -> Uint8Array of the piece's size
  }

  write (index, bytes, offset) {
    this._geo.checkPart(index, bytes, offset)
    let piece = this._pieces.get(index)
    if (!piece) this._pieces.set(index, piece = new Uint8Array(this._geo.pieceSize(index)))
    piece.set(bytes, offset) // a copy: the caller may reuse `bytes`
  }

  has (index) { return this._pieces.has(index) }

  peek (index) { return this._pieces.get(index) }

  // A copy of bytes of a piece in progress (zeros where nothing was written yet).
  read (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    return this._pieces.get(index).slice(offset, offset + length)
  }

  // The assembled piece, forgotten here (undefined when none was written in parts).
  take (index) {
    const piece = this._pieces.get(index)
    this._pieces.delete(index)
    return piece
  }

  clear () { this._pieces.clear() }
}

// A store that writes a piece whole (IndexedDB values, OPFS files written through a swap
// file, abstract-chunk-stores): a piece written in parts is assembled in Parts, read back
// from there, and stored whole on complete(index). A subclass gives the whole-piece
// operations, both async: _putWhole(index, bytes, owned), which may resolve with `bytes`
// once stored when they were given up (owned), for the caller to reuse, and
// _getStored(index, offset, length). Both are tracked in _pending for close() to wait for.
export class WholePieceStore {
  constructor (opts) {
    this._geo = new Geometry(opts)
    this._pending = new Pending()
    this._parts = new Parts(this._geo)
  }

  // put(index, bytes): the whole piece; put(index, bytes, offset): a part.
  put (index, bytes, offset, owned = false) {
    if (offset !== undefined) {
      try {
        this._parts.write(index, bytes, offset)
      } catch (err) {
        return Promise.reject(err)
      }
      return Promise.resolve()
    }
    return this._pending.run(this._putWhole(index, bytes, owned))
  }

  // The assembled piece is read from memory until it is stored (a copy is stored: reads
  // may still come from the parts meanwhile).
  async complete (index) {
    const piece = this._parts.peek(index)
    if (!piece) return
    await this.put(index, piece)
    if (this._parts.peek(index) === piece) this._parts.take(index)
  }

  get (index, offset, length) {
    if (this._parts.has(index)) {
      try {
        return Promise.resolve(this._parts.read(index, offset, length))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this._pending.run(this._getStored(index, offset, length))
  }
}

// Blob.slice()'s reading of (start, end): WebIDL's [Clamp] long long (the nearest integer,
// ties to even), negative from the end, clamped to [0, size].
export function sliceRange (size, start = 0, end = size) {
  const integer = n => {
    n = Number(n) || 0
    const r = Math.round(n)
    return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
  }
  const at = n => n < 0 ? Math.max(size + n, 0) : Math.min(n, size)
  const from = at(integer(start))
  return [from, Math.max(from, at(end === undefined ? size : integer(end)))]
}

// In `starts` (where each of a torrent's files begins, in order, never decreasing): the
// last index whose start is at or before `at`, where a read or write from `at` begins. A
// search, not a walk: a torrent may have 100,000 files, and this runs for every block.
export function fileAt (starts, at) {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (starts[mid] <= at) lo = mid
    else hi = mid - 1
  }
  return lo
}
