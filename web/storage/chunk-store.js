// A user's abstract-chunk-store (WebTorrent's `store` option: a constructor
// `new Store(chunkLength, opts)` with callback methods put, get, close, destroy) behind the
// promise interface of the other stores.
//
// Such a store cannot list what it holds, so open() reports every piece: the engine then
// reads and hashes each one, and a piece the store lacks simply fails its read and is
// downloaded. That costs one read per piece at start, which is what WebTorrent does too.
//
// A chunk store only takes whole chunks: a piece the engine writes in parts (a big piece,
// streamed so that the WebAssembly heap stays bounded) is assembled in JS memory and put
// whole on complete(); until then its parts are read back from that memory.

import { ownBytes, storageError, WholePieceStore } from './util.js'

// Calls fn(...args, cb) and settles with the callback's (err, value).
function callback (fn, self, ...args) {
  return new Promise((resolve, reject) => {
    fn.call(self, ...args, (err, value) => err ? reject(err) : resolve(value))
  })
}

export class ChunkStoreAdapter extends WholePieceStore {
  static kind = 'chunk-store' // survives minification, unlike the class name
  static available () { return true }

  // Store: the chunk store's constructor; files, torrent, storeOpts: passed on to it, as
  // WebTorrent does ({ ...storeOpts, length, files, name, torrent }); chunkStoreOpts: what
  // it gets instead, when given (the client's: WebTorrent's whole set). preloaded: a chunk
  // store already made (WebTorrent's add option preloadedStore), used instead of Store.
  constructor ({ Store, preloaded, files, torrent, storeOpts, chunkStoreOpts, ...opts }) {
    super(opts)
    this._Store = Store
    this._preloaded = preloaded ?? null
    this._storeOpts = chunkStoreOpts ?? { ...storeOpts, length: this._geo.length, files, name: this._geo.name, torrent }
    this._store = null // made on first use, again after close()
  }

  _inner () {
    this._store ??= this._preloaded ?? new this._Store(this._geo.pieceLength, this._storeOpts)
    return this._store
  }

  async open () {
    try {
      this._inner()
    } catch (err) {
      throw storageError('open: the chunk store', err)
    }
    return this._geo.allPieces()
  }

  async _putWhole (index, bytes, owned) {
    this._geo.checkPut(index, bytes)
    try {
      // Ours to give: some chunk stores keep the buffer they are given.
      await callback(this._inner().put, this._store, index, ownBytes(bytes, owned))
    } catch (err) {
      throw storageError(`put: piece ${index}`, err)
    }
  }

  async _getStored (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    if (length === 0) return new Uint8Array(0) // chunk stores read { length: 0 } as "to the end"
    let buf
    try {
      buf = await callback(this._inner().get, this._store, index, { offset, length })
    } catch (err) {
      throw storageError(`get: piece ${index}`, err)
    }
    if (!(buf instanceof Uint8Array) || buf.length !== length) {
      throw storageError(`get: piece ${index}: the chunk store returned ${buf?.length} of ${length} bytes`)
    }
    return buf
  }

  async close () {
    const store = this._store
    this._store = null
    if (store?.close) await callback(store.close, store).catch(err => { throw storageError('close: the chunk store', err) })
  }

  async destroy () {
    this._parts.clear()
    const store = this._store ?? this._inner()
    this._store = null
    const destroy = store.destroy ?? store.close
    if (destroy) await callback(destroy, store).catch(err => { throw storageError('destroy: the chunk store', err) })
  }
}

// A class with the usual constructor ({ name, pieceLength, length, ... }) for one chunk
// store constructor.
export function chunkStoreClass (Store) {
  return class extends ChunkStoreAdapter {
    constructor (opts) { super({ ...opts, Store }) }
  }
}
