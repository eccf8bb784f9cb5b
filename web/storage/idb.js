// Pieces in IndexedDB: a database 'wasmtorrent-<store name>' with two object stores, both
// keyed by piece index: 'pieces' (an ArrayBuffer per piece) and 'sizes' (its byteLength),
// written in one transaction, so open() learns what is held without reading every piece.
// A piece written in parts (a big piece the engine streams) is assembled in JS memory and
// stored whole on complete() (an IndexedDB value is written whole).

import { ownBytes, safeName, storageError, WholePieceStore } from './util.js'

const PIECES = 'pieces'
const SIZES = 'sizes'

// An IDBRequest or IDBTransaction as a promise; a transaction rejects with the error that
// aborted it (QuotaExceededError when over quota).
function done (target) {
  return new Promise((resolve, reject) => {
    if (target instanceof IDBTransaction) {
      target.oncomplete = () => resolve()
      target.onabort = target.onerror = () => reject(target.error ?? new DOMException('transaction aborted', 'AbortError'))
    } else {
      target.onsuccess = () => resolve(target.result)
      target.onerror = () => reject(target.error)
    }
  })
}

export class IdbStore extends WholePieceStore {
  static kind = 'idb' // survives minification, unlike the class name
  static available () { return typeof indexedDB !== 'undefined' }
  static prefix = 'wasmtorrent-' // each store's database: the prefix and its name (safeName)

  constructor (opts) {
    super(opts)
    this._dbName = IdbStore.prefix + safeName(this._geo.name)
    this._db = null          // Promise<IDBDatabase>, opened on first use
    this._last = null        // { index, buf: Promise<ArrayBuffer> }: the piece read last, as
                             // block reads come in runs (IndexedDB reads whole values)
  }

  _open () {
    if (!this._db) {
      const req = indexedDB.open(this._dbName, 1)
      req.onupgradeneeded = () => {
        req.result.createObjectStore(PIECES)
        req.result.createObjectStore(SIZES)
      }
      this._db = done(req).then(db => {
        db.onversionchange = () => { db.close(); this._db = null } // don't block a delete elsewhere
        return db
      })
      this._db.catch(() => { this._db = null })
    }
    return this._db
  }

  open () {
    return this._pending.run((async () => {
      try {
        const tx = (await this._open()).transaction(SIZES, 'readonly')
        const sizes = tx.objectStore(SIZES)
        const [keys, values] = await Promise.all([done(sizes.getAllKeys()), done(sizes.getAll())])
        const held = new Set()
        keys.forEach((index, i) => {
          if (values[i] > 0 && values[i] === this._geo.pieceSize(index)) held.add(index)
        })
        return held
      } catch (err) {
        throw storageError('open: IndexedDB ' + this._dbName, err)
      }
    })())
  }

  async _putWhole (index, bytes, owned) {
    this._geo.checkPut(index, bytes)
    const buf = ownBytes(bytes, owned).buffer
    if (this._last?.index === index) this._last = null
    try {
      const tx = (await this._open()).transaction([PIECES, SIZES], 'readwrite')
      tx.objectStore(PIECES).put(buf, index)
      tx.objectStore(SIZES).put(bytes.length, index)
      await done(tx) // all or nothing: the bytes were copied into the database
      if (buf === bytes.buffer) return bytes // owned: the caller may reuse them
    } catch (err) {
      throw storageError(`put: piece ${index}`, err)
    }
  }

  async _getStored (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    if (this._last?.index !== index) this._last = { index, buf: this._read(index) }
    const last = this._last
    let buf
    try {
      buf = await last.buf
    } catch (err) {
      if (this._last === last) this._last = null
      throw err
    }
    if (offset + length > buf.byteLength) throw storageError(`get: piece ${index} is short (${buf.byteLength} bytes)`)
    return new Uint8Array(buf.slice(offset, offset + length))
  }

  async _read (index) {
    let buf
    try {
      const tx = (await this._open()).transaction(PIECES, 'readonly')
      buf = await done(tx.objectStore(PIECES).get(index))
    } catch (err) {
      throw storageError(`get: piece ${index}`, err)
    }
    if (!(buf instanceof ArrayBuffer)) throw storageError(`get: piece ${index} is not stored`)
    return buf
  }

  async close () {
    await this._pending.settled()
    this._last = null
    const db = this._db
    this._db = null
    if (db) (await db.catch(() => null))?.close()
  }

  async destroy () {
    this._parts.clear()
    await this.close()
    try {
      await done(indexedDB.deleteDatabase(this._dbName)) // waits while another tab holds it open
    } catch (err) {
      throw storageError('destroy: IndexedDB ' + this._dbName, err)
    }
  }
}
