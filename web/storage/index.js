// Piece stores: where a torrent's verified pieces live. The engine writes whole verified
// pieces (big pieces in parts, then complete) and reads byte ranges of them; one store per
// torrent, all with this interface (memory.js is the smallest):
//
//   new Store({ name, pieceLength, length })  name: the torrent's storage (info-hash or path)
//   open()        -> Promise<Set<index>>  pieces held (maybe corrupt: the engine re-hashes)
//   put(i, bytes) -> Promise<void>  the whole piece, held at once; `bytes` is copied before
//                 put() returns
//   put(i, bytes, offset) -> Promise<void>  a part of piece i at `offset` (a big piece the
//                 engine streams, not verified yet): stored, but the piece is not held (open()
//                 does not report it) until complete(i); get() reads such parts back
//   put(i, bytes, offset, true)  the same, offset undefined for a whole piece, and the
//                 caller gives `bytes` up: the store may keep it or move its buffer to a
//                 worker instead of copying (ownBytes() in util.js); a store that does not
//                 keep them may resolve with them (or, moved to a worker, their buffer moved
//                 back) once written, and the caller reuses them
//   complete(i)   -> Promise<void>  piece i was written in parts and verified: held from now
//   get(i, offset, length) -> Promise<Uint8Array>  a new array, the caller's to keep
//   close()       -> Promise<void>  release handles, keep the data (a later call reopens)
//   destroy()     -> Promise<void>  delete the data
//   Store.available() -> boolean
//
// Failures reject with a WasmTorrentError: code 'storage_full' when over quota (or out of
// space), 'storage_failed' otherwise (missing piece, range outside it, I/O error).
// storeFor() maps WebTorrent's `store` option onto a store class.

import { WasmTorrentError } from '../api/errors.js'
import { MemoryStore } from './memory.js'
import { OpfsStore, ROOT } from './opfs.js'
import { OpfsWorkerStore } from './opfs-worker.js'
import { IdbStore } from './idb.js'
import { BlobStore } from './blob.js'
import { ChunkStoreAdapter, chunkStoreClass } from './chunk-store.js'

export { MemoryStore, OpfsStore, OpfsWorkerStore, IdbStore, BlobStore, ChunkStoreAdapter, chunkStoreClass }

// A torrent whose persistent store another tab owns (OPFS files are opened by one tab at a
// time) keeps its pieces in a copy of its own, so that a big torrent in a second tab is not
// held in memory: a store named copyName(name), which its torrent deletes when it is removed.
// A tab closed before that leaves its copy behind: sweepCopies() deletes the copies no tab
// holds (each is locked by its torrent while in use, see lockName).
const COPY_MARK = '#copy-'
export function copyName (name) {
  const random = globalThis.crypto.getRandomValues(new Uint8Array(6))
  return name + COPY_MARK + Array.from(random, b => b.toString(16).padStart(2, '0')).join('')
}
export const lockName = name => `wasmtorrent-store:${name}`

// Deletes, where nobody holds them, the copies left in OPFS and IndexedDB; best effort.
export async function sweepCopies () {
  if (typeof navigator === 'undefined' || !navigator.locks) return
  const unheld = (name, remove) => navigator.locks.request(lockName(name), { ifAvailable: true }, lock => lock && remove())
  const named = encoded => { try { return decodeURIComponent(encoded) } catch { return '' } }
  if (OpfsStore.available()) {
    try {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true })
      const copies = []
      for await (const key of top.keys()) if (named(key).includes(COPY_MARK)) copies.push(key)
      for (const key of copies) await unheld(named(key), () => top.removeEntry(key, { recursive: true })).catch(() => {})
    } catch {}
  }
  if (IdbStore.available() && indexedDB.databases) {
    try {
      for (const { name: db } of await indexedDB.databases()) {
        const name = db?.startsWith(IdbStore.prefix) ? named(db.slice(IdbStore.prefix.length)) : ''
        if (!name.includes(COPY_MARK)) continue
        await unheld(name, () => new Promise(resolve => {
          const req = indexedDB.deleteDatabase(db)
          req.onsuccess = req.onerror = req.onblocked = () => resolve()
        })).catch(() => {})
      }
    } catch {}
  }
}

const byName = { memory: MemoryStore, opfs: OpfsWorkerStore, idb: IdbStore }
const ours = [MemoryStore, OpfsStore, OpfsWorkerStore, IdbStore, BlobStore, ChunkStoreAdapter]

const isOurStore = option => ours.some(S => option === S || option.prototype instanceof S)

// WebTorrent's `store` option given as an abstract-chunk-store: any function but our own
// classes (WebTorrent calls `new store(chunkLength, opts)`: a class, a factory function that
// returns the store, a bound constructor; its methods may be the instance's own fields).
export const isChunkStoreOption = option => typeof option === 'function' && !isOurStore(option)

// The best store that keeps pieces across reloads here, else memory.
export function defaultStore () {
  return [OpfsWorkerStore, OpfsStore, IdbStore].find(S => S.available()) ?? MemoryStore
}

// The same, tried once per page: an API that is there may still refuse. Firefox's private
// windows have navigator.storage.getDirectory(), which rejects (SecurityError); storage
// blocked for the site (cookies off, a third-party frame) rejects OPFS and IndexedDB alike;
// a Content-Security-Policy may forbid the OPFS worker (blob:), leaving OPFS from the page.
let usableStore = null
export function usableDefaultStore () {
  usableStore ??= (async () => {
    if (OpfsStore.available() && await settles(navigator.storage.getDirectory())) {
      return OpfsWorkerStore.available() && await OpfsWorkerStore.starts() ? OpfsWorkerStore : OpfsStore
    }
    if (IdbStore.available() && await idbOpens()) return IdbStore
    return MemoryStore
  })()
  return usableStore
}

const settles = promise => promise.then(() => true, () => false)

function idbOpens () {
  return new Promise(resolve => {
    try {
      const name = IdbStore.prefix + 'probe'
      const req = indexedDB.open(name)
      req.onsuccess = () => { // nothing of the probe is kept
        req.result.close()
        indexedDB.deleteDatabase(name)
        resolve(true)
      }
      req.onerror = req.onblocked = () => resolve(false)
    } catch {
      resolve(false)
    }
  })
}

// WebTorrent's `store` option -> a store class: undefined -> defaultStore(); 'memory',
// 'opfs', 'idb' (our extension); one of our classes as is; an abstract-chunk-store
// constructor wrapped in ChunkStoreAdapter.
export function storeFor (option) {
  if (option === undefined || option === null) return defaultStore()
  if (typeof option === 'string' && Object.hasOwn(byName, option)) {
    const S = byName[option]
    if (S === OpfsWorkerStore && !S.available() && OpfsStore.available()) return OpfsStore
    if (!S.available()) throw new WasmTorrentError(`store: '${option}' is not available here`, { code: 'not_supported', context: 'store' })
    return S
  }
  if (typeof option === 'function') return isOurStore(option) ? option : chunkStoreClass(option)
  throw new WasmTorrentError('store: give \'memory\', \'opfs\', \'idb\' or an abstract-chunk-store constructor', { code: 'invalid_argument', context: 'store' })
}

// WebTorrent's add option preloadedStore: a store object that already holds the torrent's
// pieces, used as it is -> a store class whose instances use it: an abstract-chunk-store
// (callback put/get) behind ChunkStoreAdapter, or one of ours (open/put/get promises).
export function preloadedStoreClass (store) {
  if (store && typeof store.open === 'function' && typeof store.put === 'function' && typeof store.get === 'function' &&
      typeof store.close === 'function') {
    return class { constructor () { return store } }
  }
  if (store && typeof store.put === 'function' && typeof store.get === 'function') {
    return class extends ChunkStoreAdapter {
      constructor (opts) { super({ ...opts, preloaded: store }) }
    }
  }
  throw new WasmTorrentError('preloadedStore: give an abstract-chunk-store (put, get) or a store of ours', { code: 'invalid_argument', context: 'preloadedStore' })
}
