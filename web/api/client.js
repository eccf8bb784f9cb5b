// The browser client: WebTorrent-compatible Client / Torrent over the engine's client
// facade (bindings: M.Client), driven by engine/driver.js: the engine's commands go to the
// transports (transports/) and each torrent's store (engine/storage.js over storage/), its
// events become the API's. Trackers, offers/answers routing and the BitTorrent protocol
// are in C++.

import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'
import { File, enginePriority } from './file.js'
import { Wire, WebSeedWire, WireMetadata, useEngineExtensions, PEER_MESSAGES_AT_CONNECT } from './wire.js'
import { BitField } from './bitfield.js'
import { bytesToHex, hexToBytes, concatBytes, base32ToHex, toBuffer } from './hex.js'
import { StreamServer } from '../stream/server.js'
import { WebSocketTransport } from '../transports/websocket.js'
import { RtcTransport, BUFFER_HIGH, DEFAULT_ICE_SERVERS, SPARE_OFFERS } from '../transports/rtc.js'
import { HttpTransport } from '../transports/http.js'
import { StreamTransport } from '../transports/stream.js'
import { Driver, now } from '../engine/driver.js'
import { TorrentStorage } from '../engine/storage.js'
import { storeFor, isChunkStoreOption, preloadedStoreClass, usableDefaultStore, copyName, lockName, sweepCopies } from '../storage/index.js'
import { MemoryStore } from '../storage/memory.js'
import { storageError } from '../storage/util.js'
import { ChunkStoreAdapter } from '../storage/chunk-store.js'
import { BlobStore, joinBlobs } from '../storage/blob.js'
// Only the version is bundled (esbuild keeps the named field of a JSON import).
import { version } from '../../package.json'

// A throttle's argument as WebTorrent 3's: a number (or numeric string) of bytes/s, rounded,
// or -1 (unlimited); null for anything else (NaN, infinite, another negative number), which
// the throttle methods refuse (false) and which changes nothing.
function throttleRate (rate) {
  rate = Number(rate)
  if (!Number.isFinite(rate) || (rate < 0 && rate !== -1)) return null
  return Math.round(rate)
}
// client.maxConns for the engine: a count (what is not a number: as WebTorrent's, whose
// comparison with it never stops a connection).
function connectionCount (n) {
  const count = Number(n)
  return Number.isNaN(count) ? 65535 : Math.max(0, Math.min(65535, Math.floor(count)))
}

// globalThis.WEBTORRENT_ANNOUNCE, as create-torrent and WebTorrent read it: a tracker URL or
// a list of them (webtorrent-hybrid sets it), forced into torrents created and announced.
export function forcedTrackers () {
  return [].concat(globalThis.WEBTORRENT_ANNOUNCE || []).filter(url => typeof url === 'string')
}

// The add option announce: WebTorrent's is a list of tracker URLs, ours also one URL;
// anything else (a number, an object) is ignored and so are entries that are not strings,
// as WebTorrent ignores them (until 2026-12-07 they reached the engine and failed there).
function trackerUrls (value) {
  if (typeof value === 'string') return [value]
  return Array.isArray(value) ? value.filter(url => typeof url === 'string') : undefined
}

// A client's or torrent's throttle (which: 'download' | 'upload'): its _limits, applied.
function setThrottle (owner, which, value) {
  const rate = throttleRate(value)
  if (rate === null) return false
  owner._limits[which] = rate
  owner._applyLimits()
}

// A rate in WebTorrent's terms (bytes/s, -1 or absent = unlimited) for the engine (0 =
// unlimited, so a requested 0 becomes 1 byte/s).
function engineRate (rate) {
  if (rate === undefined || rate === null || rate < 0) return 0
  return Math.max(1, Math.floor(rate))
}

// load()'s content without the pad files (BEP 47), which the app never has: its files'
// bytes in order, as torrent.files lists them. Put back where they belong, the pads
// zeros, so that the pieces come out as the torrent's. Anything else is left as given.
function withPads (bytes, torrent) {
  const files = torrent.files
  const content = files.reduce((sum, f) => sum + f.length, 0)
  if (content === torrent.length || bytes.length !== content) return bytes
  const whole = new Uint8Array(torrent.length)
  let at = 0
  for (const f of files) {
    whole.set(bytes.subarray(at, at + f.length), f.offset)
    at += f.length
  }
  return whole
}

// WebCrypto, where the page has it (secure contexts; Node has it too).
const subtle = globalThis.crypto?.subtle

// Asks the browser not to evict the origin's storage under pressure (a half-downloaded film
// would be lost), once per page. Chromium decides silently from the site's engagement;
// where asking would show the user a prompt (Firefox), the page should ask itself, from a
// click: a prompt out of nowhere is worse than an eviction.
let persistAsked = false
// Store name -> the torrent of this page that uses it.
const storeHolders = new Map()
function persistStorage () {
  if (persistAsked || typeof navigator === 'undefined' || !navigator.storage?.persist) return
  persistAsked = true
  sweepCopies() // copies of stores that closed tabs left behind (see copyName), once per page
  const state = navigator.permissions?.query({ name: 'persistent-storage' }).then(s => s.state, () => 'prompt') ?? Promise.resolve('prompt')
  state.then(s => { if (s !== 'prompt') return navigator.storage.persist() }).catch(() => {})
}

// opts.peerId: 40 hex digits, or 20 bytes (a Uint8Array, or a 20-character string).
// WebTorrent's webSeeds option is a boolean (default true); here also the policy:
// 'fallback' (default: web seeds fetch what the peers cannot give, see README) or 'always'
// (a web seed is one more peer, as in WebTorrent). false, as WebTorrent's: a torrent's own
// web seeds (url-list, ws=) are not used, those the app adds (addWebSeed) are.
function webSeedPolicy (value) {
  if (value === undefined || value === true || value === false) return undefined
  if (value === 'fallback' || value === 'always') return value
  throw new WasmTorrentError(`webSeeds: expected true, false, 'fallback' or 'always', not ${value}`, { code: 'invalid_argument', context: 'webSeeds' })
}

// WebTorrent's `secure` (protocol encryption on TCP and uTP peers): false/0 dials plain
// BitTorrent; 1 (WebTorrent 3's level 1) dials with MSE offering plaintext and RC4, and as
// responder takes plaintext; true (WebTorrent 2's) the same, taking RC4; both fall back to a
// plain dial when the MSE handshake fails. 2 (WebTorrent 3's level 2): MSE with RC4 only, no
// fallback. 'required' (ours): as 2, and plain peers refused. Incoming MSE is answered whatever
// the option (WebTorrent answers it only with secure).
function encryptionPolicy (secure) {
  if (secure === 'required') return 'required'
  if (secure === 1) return 'plaintext'
  if (secure === true) return 'rc4'
  if (secure === 2) return 'rc4only'
  if (secure === undefined || secure === null || secure === false || secure === 0) return 'plain'
  throw new WasmTorrentError(`secure: ${String(secure)} is not false, true, 0, 1, 2 or 'required'`, { code: 'invalid_argument' })
}
// The info-hash a torrent id names (hex), or undefined: 40 hex digits or 32 base32, a magnet
// with either, 20 bytes, a parsed torrent's infoHash. Others (.torrent bytes, URLs, paths)
// are known once read.
function infoHashOf (id) {
  if (id instanceof Uint8Array) return id.length === 20 ? bytesToHex(id) : undefined
  if (id && typeof id === 'object' && !(id instanceof URL)) id = id.infoHash
  if (typeof id !== 'string') return undefined
  const hash = /^(?:(?:stream-)?magnet:\?(?:.*&)?xt=urn:btih:)?([0-9a-f]{40}|[a-z2-7]{32})(?:$|&)/i.exec(id.trim())?.[1]
  if (!hash) return undefined
  return hash.length === 40 ? hash.toLowerCase() : base32ToHex(hash)
}

// What a torrent must own alone to use a store of class Store named `name` (null: nothing):
// a browser's persistent store (OPFS files are opened exclusively), or under Node its files
// in `folder` (two writers of the same files would clash). Another torrent with the same
// key (another tab, or another client of this process) keeps its pieces in memory. Memory
// stores, and the app's own chunk stores, are not locked (as WebTorrent's).
function storeLock (Store, name, folder = null) {
  if (folder) return `${folder}/${name}`
  return ['opfs', 'opfs-worker', 'idb'].includes(Store.kind) ? name : null
}

// Another tab (or client, or torrent of this page) holds the torrent's store: this one
// keeps its pieces in a copy of its own, deleted when it is removed (or, where there is no
// copy, in memory), and the app is told (they will not survive a reload).
const storeInUse = copy => new WasmTorrentError(copy
  ? 'store: another tab or client has this torrent open; its pieces are kept in a copy of its own here, deleted when it is removed'
  : 'store: another tab or client has this torrent open; its pieces are kept in memory here', { code: 'store_in_use' })

// The engine's form: "-WM0001-" and 12 alphanumerics; as hex.
function randomPeerId () {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  const id = '-WM0001-' + Array.from(bytes, b => alphabet[b % alphabet.length]).join('')
  return bytesToHex(new TextEncoder().encode(id))
}

function randomHex (n) {
  const bytes = new Uint8Array(n)
  globalThis.crypto?.getRandomValues?.(bytes)
  return bytesToHex(bytes)
}

// The add option `bitfield` as bytes: a Uint8Array (a Buffer), an ArrayBuffer, or a
// BitField (npm bitfield, WebTorrent's own) by its buffer; anything else: none.
function bitfieldBytes (value) {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (value?.buffer instanceof Uint8Array) return value.buffer
  return null
}

// The add option strategy: WebTorrent's 'rarest' or 'sequential'. Unset, ours is rarest
// first (WebTorrent's default is 'sequential'): it spreads pieces over the swarm, and
// streaming readers get their pieces first by deadline either way.
function pickStrategy (value) {
  if (value === undefined || value === null) return 'rarest'
  if (value === 'rarest' || value === 'sequential') return value
  throw new WasmTorrentError(`strategy: expected 'rarest' or 'sequential', not ${value}`, { code: 'invalid_argument', context: 'strategy' })
}

// The add option and setPriority's argument: the torrent's share of the client's
// connections (maxConnsTotal), as priority squared against the other torrents'. 1 when unset.
function connectionPriority (value) {
  if (value === undefined || value === null) return 1
  const n = Number(value)
  if (!Number.isFinite(n) || n < 1) {
    throw new WasmTorrentError(`priority: expected a number of at least 1, not ${value}`, { code: 'invalid_argument', context: 'priority' })
  }
  return n
}

function peerIdHex (id, name = 'peerId') {
  if (id === undefined || id === null) return undefined
  if (typeof id === 'string' && /^[0-9a-fA-F]{40}$/.test(id)) return id.toLowerCase()
  if (ArrayBuffer.isView(id) && !(id instanceof Uint8Array)) id = new Uint8Array(id.buffer, id.byteOffset, id.byteLength)
  const bytes = typeof id === 'string' ? Uint8Array.from(id, c => c.charCodeAt(0)) : id
  if (bytes instanceof Uint8Array && bytes.length === 20 && bytes.every(b => b < 256)) {
    return bytesToHex(bytes)
  }
  throw new WasmTorrentError(`${name}: give 20 bytes (a Uint8Array or 40 hex digits)`, { code: 'invalid_argument', context: name })
}

// A connection object an app may give addPeer or addWebSeed (see transports/stream.js).
function isConnection (value) {
  return Boolean(value) && typeof value === 'object' && typeof value.write === 'function' &&
    typeof value.on === 'function' && typeof value.destroy === 'function'
}

// An announce parameter of getAnnounceOpts for the engine: [key, text, literal] (literal:
// a JSON number or boolean), or null for a value no tracker can carry (objects, bytes,
// null, undefined, NaN), which is left out.
function announceParam (key, value) {
  if (typeof value === 'string') return [key, value, false]
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return [key, String(value), true]
  if (typeof value === 'bigint') return [key, String(value), true]
  return null
}

// internals: { getModule, createTorrent, parseTorrent, toMagnetURI, collectInputs, isPadFile, host }.
// host: what the environment adds (web/node.js): { Tcp: a transport class for addressed
// peers, Udp: one for UDP trackers, webrtc(): RTCPeerConnection and WebSocket, Store: the default store, storeRoot(opts): its folder, inputs(input): turns file
// system paths into inputs }; absent in browsers.
export function makeClientClass (internals) {
  const { getModule, createTorrent, toMagnetURI, collectInputs } = internals
  const host = internals.host ?? {}

  class Torrent extends Emitter {
    constructor (client, opts = {}) {
      super()
      this._client = client
      this._id = null
      this._opts = opts
      this._addedAt = now()
      // Not known yet: undefined, as WebTorrent's (an app may test `=== undefined`).
      this.infoHash = undefined
      this.name = opts.name
      this.files = []
      // Lengths: undefined until known, as WebTorrent's.
      this.length = undefined
      this.pieceLength = undefined
      this.pieceCount = 0
      this.announce = [...client._announce] // the torrent's trackers, once known
      this.ready = false        // as WebTorrent's: the metadata is known and the store checked
      this._hasMetadata = false // the metadata is known (files, pieces)
      this.destroyed = false
      this.paused = Boolean(opts.paused) // add(id, { paused: true }) starts paused
      // WebTorrent's torrent.strategy (its code): the add option, here 'rarest' when unset
      // (see pickStrategy; a seed has nothing to pick).
      this.strategy = opts.strategy === 'sequential' ? 'sequential' : 'rarest'
      this.priority = connectionPriority(opts.priority) // see setPriority
      // WebTorrent's add options: skipVerify takes every piece in the store as had, a
      // bitfield (bytes, MSB first, or a BitField) the pieces it names; the engine still
      // hashes each before a byte of it is read or sent.
      this.skipVerify = Boolean(opts.skipVerify)
      this._startupBitfield = bitfieldBytes(opts.bitfield)
      this._hasStartupBitfield = false
      // As WebTorrent's: the add option, else its default folder (browsers: '/webtorrent',
      // which names nothing there; Node: the folder given once the info-hash is known, but
      // for a chunk store of the app's: WebTorrent's `<tmp>/webtorrent`, where fs-chunk-store
      // would otherwise put the files in the working folder).
      this.path = opts.path ?? (!host.Store ? '/webtorrent' : isChunkStoreOption(opts.store) ? host.chunkStorePath() : null)
      this.maxWebConns = opts.maxWebConns ?? client._opts.maxWebConns ?? 4 // per web seed
      // WebTorrent's add options, as its torrent shows them (alwaysChokeSeeders: ours never
      // unchokes a seeder, which is never interested).
      this.addUID = opts.addUID || false
      this.rootDir = opts.rootDir || null
      this.storeOpts = opts.storeOpts
      this.alwaysChokeSeeders = opts.alwaysChokeSeeders ?? true
      this.urlList = []
      this.lastPieceLength = undefined
      // The add option, else the torrent's own flag once known (_applyPrivate); undefined for
      // a torrent without one, as WebTorrent's (parse-torrent's).
      this.private = typeof opts.private === 'boolean' ? opts.private : undefined
      this.created = undefined
      this.createdBy = undefined
      this.comment = undefined
      this._done = false
      this._unreported = null // pieces of the batch being dispatched not told yet (_dispatch)
      this._reportedReceived = 0 // for 'download' (bytes since the last report)
      this._reportedUpload = 0
      this._limits = { download: undefined, upload: undefined } // throttle*Speed(); unset: the client's
      this._torrentFile = null   // the .torrent bytes, when added from them or seeded
      this._torrentFileOut = null // torrentFile, once built
      this._blobURL = null // torrentFileBlobURL: { bytes, url }
      this._readerCount = 0 // streams of the torrent's files open (readers in the engine)
      this._reads = new Map()    // engine read id -> { resolve, reject }
      this._wires = new Map()    // engine connection id -> Wire
      this._webSeedWires = new Map() // web seed URL -> WebSeedWire (see _syncWebSeeds)
      this._pendingPeers = []    // addPeer() before the engine knew the torrent (channels)
      this._connections = new Map() // addPeer(simple-peer), addWebSeed(conn): key -> StreamTransport entry
      this._pendingAddresses = [] // likewise, "ip:port" addresses (checked, 'peer' told)
      this._uncheckedAddresses = [] // and those given before the client's engine existed
      this._pendingWebSeeds = [] // addWebSeed() likewise
      this._webSeedsTold = new Set() // web seed URLs a 'peer' event named
      this._makeStore = null     // (info) => store, once the torrent's store is decided
      this._storage = null       // its TorrentStorage, from the first storage request
      this._releaseStore = null  // lets another tab have the store, once this one is done
      this._storeReleased = null // settles when it has
      this._storeIsCopy = false  // its store is a copy of its own, deleted at remove (copyName)
      this._noPeersTimer = null
      this._rescans = []          // rescanFiles(): { resolve, reject } of the pass under way
      this._notified = []         // select() notify callbacks: { from, to, next, notify }
      this._rescanning = null     // the chain of rescanFiles() passes, one at a time
      this.once('close', () => {
        clearInterval(this._noPeersTimer)
        const err = new WasmTorrentError('torrent destroyed', { code: 'destroyed' })
        for (const { reject } of this._reads.values()) reject(err)
        this._reads.clear()
        for (const { reject } of this._rescans.splice(0)) reject(err)
        // Out of torrent.wires at once; their 'close' after the torrent's, as WebTorrent's.
        const wires = [...this._wires.values(), ...this._webSeedWires.values()]
        this._wires.clear()
        this._webSeedWires.clear()
        queueMicrotask(() => { for (const w of wires) w._onClose() })
        // Connections the engine never took (the engine closes the ones it did)
        for (const entry of [...this._connections.values()]) if (entry.id < 0) this._client._streams.drop(entry)
      })
    }

    get wires () { return [...this._wires.values(), ...this._webSeedWires.values()] }

    // WebTorrent's private map of peers, which its tests read: here the connected ones,
    // keyed by the address their 'wire' event gave, each { id, addr, type, wire }.
    get _peers () {
      return new Map(this.wires.map(wire => [wire._address, { id: wire._address, addr: wire._address, type: wire.type, wire }]))
    }

    // WebTorrent's torrent.client: null once the torrent is destroyed.
    // As WebTorrent's: null once 'close' was emitted (its listeners still see the client).
    get client () { return this._closed ? null : this._client }

    // WebTorrent's torrent.metadata (the .torrent, once known) and torrent.info (its info
    // dictionary decoded, as parse-torrent's), both from WebTorrent's code, undocumented.
    get metadata () { return this._hasMetadata ? this.torrentFile : null }
    get info () {
      if (!this.infoBuffer) return undefined
      this._info ??= this._client._bdecode(this.infoBuffer)
      return this._info
    }

    // WebTorrent's torrent.discovery, its part that apps read: dht is the client's DHT when
    // this torrent uses it, false for a private torrent or a client without one; lsd is true
    // when the torrent is announced by Local Service Discovery (false likewise).
    get discovery () {
      return { dht: (!this.private && this._client.dht) || false, lsd: !this.private && this._client.lsd }
    }

    // WebTorrent's torrent.bitfield of verified pieces (a BitField: get(index), buffer...), as
    // it is now.
    get bitfield () {
      return new BitField(this._havePieces() ?? new Uint8Array(Math.ceil(this.pieceCount / 8)))
    }

    // The verified pieces, one bit each (null before the engine has the torrent); once
    // destroyed, as they were then.
    _havePieces () {
      if (this.destroyed) return this._final?.have ?? null
      return this._id === null ? null : this._client._engine.havePieces(this._id)
    }

    // What a destroyed torrent still tells, as WebTorrent's does (the totals on 'close', in
    // destroy's callback): taken just before the engine lets go of it.
    _snapshot () {
      if (this._id === null || !this._client._engine) return null
      const stats = this._stats()
      for (const key of Object.keys(stats ?? {})) if (key.endsWith('Speed')) stats[key] = 0
      if (stats) stats.peers = 0
      return { stats, have: this._havePieces(), pieces: this.pieces, torrentFile: this.torrentFile }
    }

    // The .torrent file (Uint8Array), as WebTorrent's: the info dict as added, seeded or
    // received, with the torrent's trackers (`announce`) and web seeds (`urlList`: a magnet's
    // ws= and the add option's too), built once; null before the metadata.
    get torrentFile () {
      if (this._torrentFileOut) return this._torrentFileOut
      if (this.destroyed) return this._final?.torrentFile ?? null
      const source = this._torrentFile ?? (this._id !== null && this._hasMetadata ? this._client._engine.torrentFile(this._id) : null)
      if (!source) return null
      this._torrentFileOut = this._client._torrentFileWith(source, this.announce, this.urlList, this.private)
      return this._torrentFileOut
    }

    // The .torrent as a Blob (WebTorrent's torrentFileBlob), and an object URL of it.
    get torrentFileBlob () {
      const bytes = this.torrentFile
      return bytes ? new Blob([bytes], { type: 'application/x-bittorrent' }) : null
    }

    // One object URL per .torrent (a UI that reads it on every render gets the same string
    // and leaks nothing), revoked when the bytes change and when the torrent is destroyed.
    get torrentFileBlobURL () {
      const bytes = this.destroyed ? null : this.torrentFile
      if (this._blobURL?.bytes === bytes) return this._blobURL.url
      this._revokeBlobURL()
      if (!bytes || typeof URL.createObjectURL !== 'function') return null
      this._blobURL = { bytes, url: URL.createObjectURL(this.torrentFileBlob) }
      return this._blobURL.url
    }

    _revokeBlobURL () {
      if (this._blobURL) URL.revokeObjectURL(this._blobURL.url)
      this._blobURL = null
    }

    // As WebTorrent's: null once verified, else { length, missing } where missing counts the
    // bytes not received yet (a piece being hashed: 0).
    get pieces () {
      if (this.destroyed) return this._final?.pieces ?? []
      // A .torrent's pieces from 'infoHash' on, as WebTorrent's: all missing until the
      // engine has the torrent.
      const states = this._id === null ? new Uint8Array(this.pieceCount) : this.pieceStates()
      const received = new Map()
      const partial = this._id !== null && states.length ? this._client._engine.partialPieces(this._id) : []
      for (let i = 0; i < partial.length; i += 2) received.set(partial[i], partial[i + 1])
      return Array.from(states, (state, i) => {
        if (state === 3) return null
        const length = i === states.length - 1 ? this.lastPieceLength : this.pieceLength
        return { length, missing: length - (received.get(i) ?? 0) }
      })
    }

    // WebTorrent's: the info-hash's 20 bytes (a Uint8Array, as parse-torrent gives it), once known.
    get infoHashBuffer () { return this.infoHash ? hexToBytes(this.infoHash) : undefined }

    // As WebTorrent's: the trackers and web seeds (ws=), and until the metadata the magnet's
    // own xs=, x.pe=, so=, kt=, v2 xt= and other parameters.
    // null until it can be built: the engine builds it, and a first client's add() of a
    // magnet or info-hash knows the info-hash before the module has loaded. A getter that
    // threw there would end the app that logs it (WebTorrent's reads undefined then).
    get magnetURI () {
      if (!this.infoHash) return null
      try {
        return toMagnetURI({ infoHash: this.infoHash, name: this.name ?? undefined, announce: this.announce, urlList: this.urlList, ...(this._hasMetadata ? {} : this._magnetParams) })
      } catch (err) {
        if (err.code === 'not_initialized') return null
        throw err
      }
    }

    _stats () {
      if (this.destroyed) return this._final?.stats ?? null
      return this._id === null ? null : this._client._engine.stats(this._id)
    }
    // As WebTorrent's: verified bytes over the whole torrent's length, deselected files
    // included (a partial selection ends below 1; 'idle' tells when it is complete).
    get progress () {
      const s = this._stats()
      return s?.total ? s.have / s.total : (this._done ? 1 : 0)
    }
    // Bytes of verified pieces (a seed: its length), as WebTorrent's; `received` counts
    // every payload byte that arrived, wasted ones (duplicates, failed hashes) included.
    get downloaded () { return this._stats()?.have ?? 0 }
    get received () { return this._stats()?.downloaded ?? 0 }
    get uploaded () { return this._stats()?.uploaded ?? 0 }
    get downloadSpeed () { return this._stats()?.downloadSpeed ?? 0 }
    get uploadSpeed () { return this._stats()?.uploadSpeed ?? 0 }
    // WebTorrent's private _numQueued, which apps show (webtorrent-cli's --verbose): peers
    // known and not connected yet, waiting to be dialled or being dialled.
    get _numQueued () {
      const s = this._stats()
      if (!s?.peersBySource) return 0
      return Math.max(0, Object.values(s.peersBySource).reduce((a, b) => a + b, 0) - s.peers)
    }
    // As WebTorrent's (wires.length): web seeds count.
    get numPeers () { return (this._stats()?.peers ?? 0) + this._webSeedWires.size }
    // Bytes that came from web seeds (part of `received`): a site's offload is
    // 1 - webSeedDownloaded / received.
    get webSeedDownloaded () { return this._stats()?.webSeedDownloaded ?? 0 }
    // Each web seed: { url, state: 'active' | 'waiting' | 'dropped', downloaded, requests,
    // failures, error, message }.
    get webSeeds () { return this._id === null || this.destroyed ? [] : this._client._engine.webSeeds(this._id) }
    // As WebTorrent's: uploaded / received, or / length for a torrent that received nothing
    // (a seed).
    get ratio () {
      const base = this.received || this.length
      return base ? this.uploaded / base : 0
    }
    // As WebTorrent's: every file complete (true from 'done' on). A partial selection
    // that is complete is 'idle', not done.
    get done () { return this._done }
    get timeRemaining () {
      const s = this._stats()
      if (!s) return this.done ? 0 : Infinity // as WebTorrent's: not done, nothing moving
      if (s.complete) return 0
      return s.downloadSpeed > 0 ? ((s.total - s.have) / s.downloadSpeed) * 1000 : Infinity
    }

    // What parsing the torrent id told (a .torrent's fields, or a magnet's info-hash and
    // name), before the engine has the torrent; WebTorrent assigns the same then.
    _applyParsed (parsed) {
      this.infoHash = parsed.infoHash.toLowerCase()
      if (parsed.name) this.name = parsed.name
      if (Array.isArray(parsed.files)) this._applyPrivate(parsed)
      // The client's own trackers serve public torrents only (so does the engine).
      if (this.private) this.announce = []
      this._addTrackers(parsed.announce, this._opts.announce)
      this.urlList = Array.from(new Set([...(parsed.urlList ?? []), ...[].concat(this._opts.urlList ?? [])]))
      // A magnet's so= (BEP 53): the files to select once the metadata is known.
      if (Array.isArray(parsed.so) && parsed.so.length > 0) this.so = parsed.so
      // A magnet's xs=, x.pe=, so=, kt= and BitTorrent v2 xt= stay in magnetURI until the
      // metadata, as WebTorrent's.
      if (!Array.isArray(parsed.files)) {
        this._magnetParams = { xs: parsed.xs, peerAddresses: parsed.peerAddresses, so: parsed.so, keywords: parsed.keywords, infoHashV2: parsed.infoHashV2 }
        // and its other parameters (xl, ix...), as magnet-uri writes them back
        for (const [key, value] of Object.entries(parsed)) if (key.length === 2 && !(key in this._magnetParams) && !['xt', 'dn', 'tr', 'ws', 'as', 'kt'].includes(key)) this._magnetParams[key] = value
      }
      if (Array.isArray(parsed.files)) {
        // A .torrent's files from 'infoHash' on, as WebTorrent's (parse-torrent's entries,
        // plain objects); the metadata makes them Files.
        if (!this._hasMetadata) this.files = parsed.files.filter(f => !internals.isPadFile(f)).map(({ name, path, length, offset }) => ({ name, path, length, offset }))
        if (parsed.infoBuffer instanceof Uint8Array) this.infoBuffer ??= parsed.infoBuffer
        this.length = parsed.length
        this.pieceLength = parsed.pieceLength
        this.lastPieceLength = parsed.lastPieceLength
        this.pieceCount = parsed.pieces?.length ?? 0
        this.created = parsed.created
        this.createdBy = parsed.createdBy
        this.comment = parsed.comment
      }
    }

    _addTrackers (...lists) {
      this.announce = Array.from(new Set([...lists.flatMap(l => [].concat(l ?? [])), ...this.announce]))
    }

    _attach (id) {
      this._id = id
      this._client._byId.set(id, this)
      const info = this._client._engine.info(id)
      // The info-hash of a magnet comes from the link; of a .torrent from the metadata.
      if (info) this._onMetadata(info)
      for (const { dc, early } of this._pendingPeers.splice(0)) this._client._attachChannel(this, dc, early)
      for (const entry of this._connections.values()) if (entry.id < 0) this._client._attachStream(this, entry)
      // Told already ('peer' when they were given): into the engine without a word.
      for (const address of this._pendingAddresses.splice(0)) this._client._input((E, t) => E.addPeer(id, address, t))
      for (const address of this._uncheckedAddresses.splice(0)) this.addPeer(address)
      for (const url of this._pendingWebSeeds.splice(0)) this.addWebSeed(url)
      if (this.paused) this._client._input((E, t) => E.pause(id, t))
      this._applyLimits()
      this._startNoPeers()
    }

    // WebTorrent's per-torrent throttles: bytes/s, -1 = unlimited, under the client's
    // limits (a byte must fit both). Unset, the client's torrentDownloadLimit /
    // torrentUploadLimit (throttleTorrentDownload/Upload) applies.
    throttleDownloadSpeed (rate) { return setThrottle(this, 'download', rate) }
    throttleUploadSpeed (rate) { return setThrottle(this, 'upload', rate) }

    // WebTorrent's (newer than 2.8.5): the torrent's share of the client's connections
    // against the other torrents', as priority squared (1 by default). It matters only where
    // the client has a limit over all torrents (maxConnsTotal, or WebTorrent's name for it,
    // connectionBudget): a torrent dials while it holds fewer than its share. Raising it
    // dials waiting peers at once; lowering it closes nothing.
    setPriority (priority) {
      this.priority = connectionPriority(priority)
      if (this._id !== null && !this.destroyed) this._client._input((E, t) => E.setTorrentPriority(this._id, this.priority, t))
    }
    _applyLimits () {
      if (this._id === null || this.destroyed) return
      const byDefault = this._client._torrentLimits
      const download = engineRate(this._limits.download ?? byDefault.download)
      const upload = engineRate(this._limits.upload ?? byDefault.upload)
      this._client._input((E, t) => E.setTorrentRateLimits(this._id, download, upload, t))
    }

    // WebTorrent's 'noPeers': every noPeersIntervalTime seconds (default 30), once for each
    // enabled source of peers ('tracker', 'dht', 'lsd', 'ut_pex') that the torrent holds no peer
    // from (the engine's peersBySource: connected, connecting or waiting to be dialled).
    _startNoPeers () {
      const client = this._client
      const every = (Number(this._opts.noPeersIntervalTime) || 30) * 1000
      this._noPeersTimer = setInterval(() => {
        const counts = this._stats()?.peersBySource
        if (this.destroyed || !counts) return
        const sources = {
          tracker: client._opts.tracker !== false,
          dht: Boolean(client._dht) && !this.private,
          lsd: client.lsd && !this.private,
          ut_pex: client._opts.utPex !== false
        }
        for (const [source, enabled] of Object.entries(sources)) {
          if (enabled && !(counts[source] > 0) && !this.destroyed) this.emit('noPeers', source)
        }
      }, every)
      this._noPeersTimer.unref?.() // Node: does not keep the process alive
    }

    // A peer connected by the app itself, as WebTorrent's: a simple-peer instance (or any
    // duplex stream to a BitTorrent peer of this torrent, connected or still connecting).
    // Ours also takes an RTCDataChannel (open or still connecting): hand it over before it
    // can receive anything (in ondatachannel, or right after createDataChannel), a message
    // that arrives before is lost. The browser has no TCP, so "ip:port" addresses are
    // refused with a clear error.
    addPeer (peer) {
      if (this.destroyed) throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' }) // as WebTorrent's
      if (isConnection(peer)) return this._addConnection(peer, 'webrtc', peer.id || peer, peer)
      if (typeof RTCDataChannel !== 'undefined' && peer instanceof RTCDataChannel) {
        if (this._id === null) {
          // Not in the engine yet: keep what arrives meanwhile.
          const early = []
          peer.binaryType = 'arraybuffer'
          peer.onmessage = e => early.push(e.data)
          this._pendingPeers.push({ dc: peer, early })
        } else {
          this._client._attachChannel(this, peer)
        }
        return true
      }
      if (typeof peer === 'string' && this._client._tcp) {
        // "ip:port" / "[ip6]:port": the engine dials it when it has room. "host:port"
        // (e.g. localhost) is resolved first under Node, as WebTorrent's.
        const m = /^([^[\]:]+):(\d+)$/.exec(peer)
        if (m && host.lookup && !/^\d{1,3}(\.\d{1,3}){3}$/.test(m[1])) {
          host.lookup(m[1]).then(ip => {
            if (!this.destroyed) this.addPeer(ip.includes(':') ? `[${ip}]:${m[2]}` : `${ip}:${m[2]}`)
          }, err => this.emit('warning', new WasmTorrentError(`addPeer ${peer}: ${err.message}`, { code: 'lookup_failed' })))
          return true
        }
        // As WebTorrent's: 'blockedPeer' (the blocklist holds it), 'peer' or 'invalidPeer',
        // at once. Before the engine has the torrent (from the 'infoHash' listener, where
        // WebTorrent's apps call it), the address waits, checked as the engine would; before
        // even the client's engine exists, it waits unchecked.
        let result = 'invalid'
        if (this._id === null) {
          const engine = this._client._engine
          if (!engine) {
            this._uncheckedAddresses.push(peer)
            return true
          }
          result = engine.checkPeer(peer)
          if (result === 'added' && this._pendingAddresses.includes(peer)) result = 'invalid'
          if (result === 'added') this._pendingAddresses.push(peer)
        } else {
          this._client._input((E, t) => { result = E.addPeer(this._id, peer, t) })
        }
        if (result === 'blocked') this.emit('blockedPeer', peer)
        else if (result === 'added') this.emit('peer', peer)
        else this.emit('invalidPeer', peer)
        return result === 'added'
      }
      throw new WasmTorrentError(this._client._tcp
        ? 'addPeer: give an "ip:port" address, a simple-peer instance (or another connection object) or an RTCDataChannel'
        : 'addPeer: give a simple-peer instance (or another connection object) or an RTCDataChannel (addresses need TCP, which browsers lack)',
        { code: 'not_supported' })
    }

    // Closes the connection to a peer: its Wire, its peer id (hex), the connection object
    // given to addPeer or addWebSeed (or its id / connId), a web seed's URL or, as
    // WebTorrent's for TCP and uTP peers, an "ip:port" ("[ip6]:port"): connected, being
    // dialled or waiting to be, it leaves the torrent and is not dialled again unless added
    // again.
    removePeer (peer) {
      if (typeof peer === 'string' && /^https?:\/\//i.test(peer)) return void this._removeWebSeed(peer) // as WebTorrent's
      const key = this._connections.has(peer?.id) ? peer.id : peer
      const entry = this._connections.get(key) ?? [...this._connections.values()].find(e => e.conn === peer)
      if (entry) { // its end takes it out of _connections
        if (entry.id >= 0) this._client._streams.fail(entry.id)
        else this._client._streams.drop(entry)
        return
      }
      if (typeof peer === 'string' && this._client._tcp && !this.destroyed) {
        this._pendingAddresses = this._pendingAddresses.filter(a => a !== peer)
        this._uncheckedAddresses = this._uncheckedAddresses.filter(a => a !== peer)
        if (this._id !== null) this._client._input((E, t) => E.removePeer(this._id, peer, t))
      }
      const address = w => w.remoteAddress && (w.remoteAddress.includes(':') ? `[${w.remoteAddress}]:${w.remotePort}` : `${w.remoteAddress}:${w.remotePort}`)
      const wire = peer instanceof Wire ? peer : this.wires.find(w => w.peerId === peer || address(w) === peer)
      if (wire && !wire.destroyed) wire.destroy()
    }

    // Ours (Node: HTTP and UDP trackers): asks the tracker the torrent announces to for the
    // swarm's counts (scrape; the torrent also emits 'scrape', as bittorrent-tracker's client).
    // Resolves { announce, complete, incomplete, downloaded }; rejects when the torrent has
    // no HTTP or UDP tracker, or the tracker cannot be reached.
    scrape () {
      return new Promise((resolve, reject) => {
        if (this._id === null || this.destroyed) {
          return reject(new WasmTorrentError('scrape: the torrent is not in the client yet', { code: 'invalid_argument' }))
        }
        const done = () => { this.off('scrape', onScrape); this.off('warning', onWarning) }
        const onScrape = data => { done(); resolve(data) }
        const onWarning = err => { if (/^tracker_/.test(err?.code)) { done(); reject(err) } }
        this.on('scrape', onScrape)
        this.on('warning', onWarning)
        let asked = false
        this._client._input((E, t) => { asked = E.scrape(this._id, t) })
        if (!asked) {
          done()
          reject(new WasmTorrentError('scrape: the torrent has no HTTP or UDP tracker that can be scraped', { code: 'no_tracker' }))
        }
      })
    }

    // A BEP 19 web seed: an HTTP(S) URL holding the torrent's files (for a multi-file
    // torrent, the folder above the torrent's name). Or, as WebTorrent's, a custom web seed:
    // a connection object with a string `connId` that speaks the BitTorrent wire protocol
    // as a seed (as WebTorrent's WebConn does; see transports/stream.js), its wire's type
    // 'webSeed'.
    addWebSeed (url) {
      if (url instanceof URL) url = url.href
      if (url && typeof url === 'object' && typeof url.connId === 'string') {
        if (!isConnection(url)) {
          throw new WasmTorrentError('addWebSeed: a connection object needs write(), on() and destroy()', { code: 'invalid_argument' })
        }
        if (this.destroyed) throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' })
        if (this._connections.has(url.connId)) {
          this.emit('warning', new WasmTorrentError(`ignoring duplicate web seed: ${url.connId}`, { code: 'invalid_argument' }))
          this.emit('invalidPeer', url.connId)
          return
        }
        this._addConnection(url, 'webSeed', url.connId, url.connId)
        return
      }
      if (typeof url !== 'string') {
        // As WebTorrent's
        this.emit('warning', new WasmTorrentError('addWebSeed must be passed a string or connection object with id property', { code: 'invalid_argument' }))
        return
      }
      if (!/^https?:\/\/./i.test(url)) {
        this.emit('warning', new WasmTorrentError(`ignoring invalid web seed: ${url}`, { code: 'invalid_argument' })) // as WebTorrent's
        this.emit('invalidPeer', url) // as WebTorrent's
        return
      }
      if (this.destroyed) throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' }) // as WebTorrent's
      if (this._id === null) {
        this._pendingWebSeeds.push(url)
        return
      }
      // As WebTorrent's: 'peer' with the URL, or a warning and 'invalidPeer' for one the
      // torrent has already (or one past the engine's limit on web seeds).
      let added = false
      this._client._input((E, t) => { added = E.addWebSeed(this._id, url, t) })
      if (added) {
        this._webSeedsTold.add(url)
        this.emit('peer', url)
        queueMicrotask(() => this._syncWebSeeds())
      } else {
        // The engine refuses one it has (its URL as a URL parser writes it), and an
        // unusable URL ('http://', spaces in the host), with WebTorrent's words for each.
        const duplicate = this.webSeeds.some(s => s.url === url || s.url === url.replace(/ /g, '%20'))
        this.emit('warning', new WasmTorrentError(`ignoring ${duplicate ? 'duplicate' : 'invalid'} web seed: ${url}`, { code: 'invalid_argument' }))
        this.emit('invalidPeer', url)
      }
    }

    // A connection object the app brought (addPeer, addWebSeed), under `key` (as
    // WebTorrent's: the object's id, or the object; a web seed's connId). As WebTorrent's,
    // one the torrent holds already, or one given while the torrent is paused, is destroyed
    // and refused ('invalidPeer', false); otherwise 'peer' names it (`told`).
    _addConnection (conn, type, key, told) {
      if (this.destroyed) {
        try { conn.destroy() } catch {}
        throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' })
      }
      if (type !== 'webSeed' && (this._connections.has(key) || this.paused)) {
        try { conn.destroy() } catch {}
        this.emit('invalidPeer', told)
        return false
      }
      // As WebTorrent's: a connection from an address the blocklist holds (Node: a socket's
      // remoteAddress; the engine's set looks "::ffff:1.2.3.4" up as 1.2.3.4) is destroyed,
      // with 'blockedPeer'.
      if (typeof conn.remoteAddress === 'string' && this._client._engine?.isBlocked?.(conn.remoteAddress)) {
        try { conn.destroy() } catch {}
        this.emit('blockedPeer', told)
        return false
      }
      const entry = this._client._streams.adopt(conn, {
        type,
        key,
        ended: () => { if (this._connections.get(key) === entry) this._connections.delete(key) }
      })
      this._connections.set(key, entry)
      if (this._id !== null) this._client._attachStream(this, entry)
      this.emit('peer', told)
      return true
    }

    // WebTorrent's load(streams, cb): content the app already has (a Readable, bytes, or a
    // list of them, in the torrent's file order) becomes the torrent's pieces: written into
    // its store, then hashed by the engine as on resume (recheck), the torrent staying live
    // (the content is held in memory meanwhile).
    load (streams, cb) {
      const loaded = this._load(streams)
      if (cb) loaded.then(() => cb(null), cb)
      return loaded
    }

    async _load (streams) {
      const gone = () => new WasmTorrentError('torrent destroyed', { code: 'destroyed' })
      if (!this.ready || this._id === null) {
        await new Promise((resolve, reject) => { this.once('ready', resolve); this.once('close', () => reject(gone())) })
      }
      const chunks = []
      for (const s of [].concat(streams)) {
        if (s instanceof Uint8Array) chunks.push(s)
        else for await (const c of s) chunks.push(typeof c === 'string' ? new TextEncoder().encode(c) : c)
      }
      const bytes = withPads(concatBytes(chunks), this)
      if (bytes.length !== this.length) {
        throw new WasmTorrentError(`load: ${bytes.length} bytes given, the torrent has ${this.length}`, { code: 'invalid_argument' })
      }
      if (this.destroyed) throw gone()
      // Into the torrent's store, piece by piece: the pieces the engine lacks (one it has
      // stays as verified; one in progress is the peers'). Then the engine hashes them
      // (recheck) with the torrent live: no second 'started' announce, connections kept.
      const client = this._client
      const storage = client._storageOf(this._id)
      if (!storage) throw gone()
      const states = client._engine.pieceStates(this._id)
      const written = []
      for (let i = 0; i < this.pieceCount; i++) {
        if (states[i] !== 0) continue
        await storage.putPiece(i, bytes.subarray(i * this.pieceLength, Math.min(bytes.length, (i + 1) * this.pieceLength)))
        if (this.destroyed) throw gone()
        written.push(i)
      }
      await new Promise((resolve, reject) => this._recheck(resolve, reject))
      const have = client._engine.havePieces(this._id)
      const bad = written.filter(i => !((have?.[i >> 3] ?? 0) & (0x80 >> (i & 7))))
      if (bad.length > 0) {
        throw new WasmTorrentError(`load: ${bad.length} pieces do not match the torrent`, { code: 'hash_failed' })
      }
    }

    // Pieces [start, end] (inclusive) at a relative priority (WebTorrent's: 0 normal,
    // higher sooner); as WebTorrent's, start defaults to the first piece and end to the
    // last. deselect() stops downloading them; critical() fetches them first.
    // notify (WebTorrent's): called when the selection is updated with new data, as
    // WebTorrent's: each time its verified prefix grows, and once more when it is complete.
    select (start = 0, end = this.pieceCount - 1, priority = 0, notify) {
      if (typeof priority === 'function') [priority, notify] = [0, priority]
      this._pieces('setPiecePriority', start, end, enginePriority(priority))
      queueMicrotask(() => this._idleCheck())
      if (typeof notify === 'function') {
        const [from, to] = this._pieceRange(start, end)
        this._notified.push({ from, to, next: from, notify })
        queueMicrotask(() => this._notifySelections()) // what is verified already counts
      }
    }

    _notifySelections () {
      if (this.destroyed || this._notified.length === 0) return
      const have = this.bitfield
      this._notified = this._notified.filter(s => {
        const before = s.next
        while (s.next <= s.to && have.get(s.next)) s.next++
        if (s.next !== before) s.notify()
        if (s.next <= s.to) return true
        s.notify()
        return false
      })
    }

    deselect (start, end) {
      if (this._noPieces(start, end)) return
      this._pieces('setPiecePriority', start, end, 0)
      queueMicrotask(() => this._idleCheck())
    }
    critical (start, end) {
      if (!this._noPieces(start, end)) this._pieces('addCriticalPieces', start, end)
    }
    // deselect() and critical() of no piece (an empty range, or before the metadata) do
    // nothing, as WebTorrent's: an app's deselect(0, pieces.length - 1) before the metadata
    // must not throw. select() of such a range throws, as WebTorrent's.
    _noPieces (start, end) {
      if (this.destroyed) return false
      const [first, last] = this._pieceRange(start, end)
      return !this._hasMetadata || first > last
    }
    // [first, last] of the pieces start..end (end omitted: start alone), within the torrent's.
    _pieceRange (start, end) {
      return [Math.max(0, Math.floor(start)), Math.min(this.pieceCount - 1, Math.floor(end ?? start))]
    }

    // Pause: every connection of the torrent closed, no new ones, trackers told
    // "stopped"; pieces, readers and reads of verified bytes stay. (WebTorrent only stops
    // connecting to new peers.) Resume connects again.
    // WebTorrent's rescanFiles(cb): the store is read back and hashed, and the pieces that
    // now match (put there from outside) are had, each with 'verified' ('done' when that
    // completes the torrent); then cb(null). Different: pieces already had are not read
    // again (the engine never drops one). Before the metadata there is nothing to scan.
    // Also a Promise; cb(err) when the torrent is destroyed meanwhile.
    rescanFiles (cb) {
      if (this.destroyed) throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' })
      const pass = async () => {
        await this._storage?.rescan()
        return new Promise((resolve, reject) => this._recheck(resolve, reject))
      }
      const done = (this._rescanning ?? Promise.resolve()).catch(() => {}).then(pass)
      this._rescanning = done
      if (typeof cb === 'function') done.then(() => cb(null), err => cb(err))
      else done.catch(() => {}) // the caller has the Promise; no unhandled rejection
      return done
    }

    // One engine recheck; settles on its 'checked' event (at once before the metadata).
    _recheck (resolve, reject) {
      if (this.destroyed) return reject(new WasmTorrentError('torrent destroyed', { code: 'destroyed' }))
      let started = false
      if (this._id !== null) this._client._input((E, now) => { started = E.recheck(this._id, now) })
      if (started) this._rescans.push({ resolve, reject })
      else resolve()
    }

    // Node's files on disk: torrent.path, or with addUID "<name> - <first 8 of the info-hash>" in it.
    _filesRoot (name) {
      return this._opts.addUID && host.joinPath ? host.joinPath(this.path, `${name} - ${this.infoHash.slice(0, 8)}`) : this.path
    }

    // WebTorrent's add option fileModtimes (Node, files on disk): each file's mtime as an
    // earlier run read it (getFileModtimes). When every file is there with that mtime, the
    // store is taken as it is, as with skipVerify: no resume check, and still every piece
    // hashed before a byte of it is read or sent. Otherwise (or for a magnet, whose files are
    // not known yet) the store is checked as usual.
    // parsed: the torrent as parseTorrent read it (its name and files).
    async _modtimesUnchanged (parsed) {
      const saved = this._opts.fileModtimes
      const files = parsed?.files?.filter(f => !internals.isPadFile(f)) // as torrent.files
      if (!Array.isArray(saved) || !Array.isArray(files) || saved.length !== files.length || !host.fileModtimes) return false
      const times = await host.fileModtimes(this._filesRoot(parsed.name), files.map(f => f.path)).catch(() => null)
      return Boolean(times) && times.every((time, i) => time !== undefined && time === saved[i])
    }

    // WebTorrent's getFileModtimes(cb) (Node, files on disk): each file's last modification
    // time in ms (undefined for a file not on disk yet), in torrent.files order. Also a
    // Promise; elsewhere (browsers, a memory store) it fails with code 'not_supported'.
    getFileModtimes (cb) {
      const result = (async () => {
        const root = this._root ?? this.path
        if (!host.fileModtimes || !root) {
          throw new WasmTorrentError('getFileModtimes: this torrent has no files on disk', { code: 'not_supported' })
        }
        return host.fileModtimes(root, this.files.map(f => f.path))
      })()
      if (typeof cb === 'function') result.then(times => cb(null, times), err => cb(err))
      else result.catch(() => {})
      return result
    }

    pause () {
      if (this.paused || this.destroyed) return
      this.paused = true
      if (this._id !== null) this._client._input((E, t) => E.pause(this._id, t))
    }

    resume () {
      if (!this.paused || this.destroyed) return
      this.paused = false
      if (this._id !== null) this._client._input((E, t) => E.resume(this._id, t))
    }

    _pieces (call, start, end, ...args) {
      if (this.destroyed) throw new WasmTorrentError('torrent is destroyed', { code: 'destroyed' }) // as WebTorrent's
      if (!this._hasMetadata) throw new WasmTorrentError(`${call}: the torrent has no metadata yet`, { code: 'not_ready' })
      const [first, last] = this._pieceRange(start, end)
      if (!(first <= last)) throw new WasmTorrentError(`select: bad piece range ${start}-${end}`, { code: 'invalid_argument' })
      this._client._input((E, t) => E[call](this._id, first, last, ...args, t))
    }

    // --- for File and Wire ---
    _engine () {
      if (this._id === null || this.destroyed || !this._client._engine) {
        throw new WasmTorrentError('torrent destroyed', { code: 'destroyed' })
      }
      return this._client._engine
    }

    _verifiedBytes (offset, length) {
      const bits = this._havePieces()
      if (!bits || length === 0) return 0
      const pl = this.pieceLength
      let total = 0
      for (let p = Math.floor(offset / pl), last = Math.floor((offset + length - 1) / pl); p <= last; p++) {
        if (bits[p >> 3] & (0x80 >> (p & 7))) {
          total += Math.min(offset + length, (p + 1) * pl) - Math.max(offset, p * pl)
        }
      }
      return total
    }

    _setFilePriority (file, priority) {
      this._client._input((E, t) => this._engine().setFilePriority(this._id, file._index, priority, t))
    }

    // standIn: a file's reader for a stream about to open (file.streamURL), not counted
    // among the streams open (_readerCount).
    _openReader (offset, readahead, { standIn = false } = {}) {
      let id = 0
      this._client._input((E, t) => { id = this._engine().openReader(this._id, offset, readahead, t) })
      if (!standIn && id) this._readerCount++
      return id
    }

    _seekReader (reader, offset, readahead = -1) {
      this._client._input((E, t) => this._engine().seekReader(this._id, reader, offset, readahead, t))
    }

    _closeReader (reader, { standIn = false } = {}) {
      if (!standIn) this._readerCount--
      if (this.destroyed || !this._client._engine) return
      this._client._input((E, t) => E.closeReader(this._id, reader, t))
    }

    // WebTorrent's torrent.store, for apps that read verified pieces with abstract-chunk-
    // store's get(index, [{ offset, length }], cb); null before the metadata and once
    // destroyed. What is stored is the engine's: there is no put().
    get store () {
      if (!this._hasMetadata || this.destroyed) return null
      this._storeView ??= {
        chunkLength: this.pieceLength,
        get: (index, opts, cb) => {
          if (typeof opts === 'function') [opts, cb] = [{}, opts]
          const fail = message => queueMicrotask(() => cb(new WasmTorrentError(message, { code: 'invalid_argument' })))
          const have = this._havePieces()
          if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount || !have ||
              !(have[index >> 3] & (0x80 >> (index & 7)))) return fail('Chunk not found') // as memory-chunk-store's
          const size = index === this.pieceCount - 1 ? this.lastPieceLength : this.pieceLength
          const offset = opts?.offset ?? 0
          const length = opts?.length ?? size - offset
          if (offset < 0 || length < 0 || offset + length > size) return fail(`piece ${index}: offset ${offset} + length ${length} is past its end`)
          if (length === 0) return queueMicrotask(() => cb(null, toBuffer(new Uint8Array(0))))
          this._read(index * this.pieceLength + offset, length).then(bytes => cb(null, toBuffer(bytes)), err => cb(err))
        }
      }
      return this._storeView
    }

    // Bytes [offset, offset + length) of the torrent once their pieces are verified.
    _read (offset, length) {
      return new Promise((resolve, reject) => {
        this._client._input((E, t) => {
          const id = this._engine().readAsync(this._id, offset, length, t)
          if (!id) reject(new WasmTorrentError(`read ${offset}+${length}: out of range`, { code: 'invalid_argument' }))
          else this._reads.set(id, { resolve, reject })
        })
      })
    }

    // True when no other torrent (of this page or another tab) uses the store `name`; it is
    // this torrent's until it is removed, and the browser is asked to keep the origin's
    // storage. A torrent of this page that is closing the store is waited for (remove, then
    // add again). Without Web Locks (Node) there are no tabs.
    async _claimStore (name) {
      const holder = storeHolders.get(name)
      if (holder) {
        if (!holder._storeClosed) return false
        await holder._storeClosed
      }
      if (this.destroyed || storeHolders.has(name)) return false
      if (typeof navigator !== 'undefined' && navigator.locks) {
        let released // settles once the lock manager has let the lock go
        const release = await new Promise(resolve => {
          released = navigator.locks.request(lockName(name), { ifAvailable: true }, lock => {
            if (!lock) return resolve(null)
            return new Promise(release => resolve(release)) // held until release()
          }).catch(() => resolve(null))
        })
        if (!release) return false
        if (this.destroyed || storeHolders.has(name)) { release(); return false }
        this._releaseStore = release
        this._storeReleased = released
      }
      storeHolders.set(name, this)
      this._storeName = name
      persistStorage()
      return true
    }

    // The store `name` of class Store for this torrent, once its metadata `info` is known
    // (files: Node's files on disk, see _storeOptions).
    _newStore (Store, name, info, files) {
      return new Store({ name, pieceLength: info.pieceLength, length: info.length, files: info.files, ...this._storeOptions(info, files) })
    }

    // What a store gets besides its geometry, once the metadata is known: root, the folder
    // its files go under (Node's files: torrent.path, or with addUID, as WebTorrent's
    // fs-chunk-store, its folder "<name> - <first 8 of the info-hash>" there); a chunk
    // store (WebTorrent's store option) gets what WebTorrent gives it: { ...storeOpts,
    // torrent, path, files, length, name, addUID, rootDir, max (storeCacheSlots) }.
    _storeOptions (info, files) {
      const opts = this._opts
      const uid = `${info.name} - ${this.infoHash.slice(0, 8)}`
      this._root = files ? this._filesRoot(info.name) : this.path
      return {
        root: this._root,
        chunkStoreOpts: {
          ...opts.storeOpts,
          torrent: this,
          path: this.path ?? undefined,
          files: info.files,
          length: info.length,
          name: uid,
          addUID: Boolean(opts.addUID),
          rootDir: opts.rootDir ?? null,
          max: opts.storeCacheSlots ?? 20
        }
      }
    }

    // The engine's 'read' event: only a failure before the store was asked (the torrent
    // was removed); the store hands bytes over directly (_deliverRead).
    _onRead (e) {
      const pending = this._reads.get(e.read)
      if (!pending || e.ok) return
      this._reads.delete(e.read)
      pending.reject(new WasmTorrentError(`read ${e.offset}: storage failed`, { code: 'read_failed' }))
    }

    _deliverRead (read, bytes) {
      const pending = this._reads.get(read)
      if (!pending) return
      this._reads.delete(read)
      if (bytes instanceof Uint8Array) pending.resolve(bytes)
      else {
        // The store's own error as the cause (a chunk store's code, the file system's).
        const err = new WasmTorrentError(`read failed: ${bytes?.message ?? 'storage failed'}`, { code: 'read_failed' })
        if (bytes instanceof Error) err.cause = bytes.cause ?? bytes
        pending.reject(err)
      }
    }

    // One byte per piece: 0 missing, 1 downloading, 2 being verified, 3 have (for a
    // pieces bar); empty before the metadata.
    pieceStates () {
      if (this._id === null || this.destroyed || !this._client._engine) return new Uint8Array(0)
      return this._client._engine.pieceStates(this._id)
    }

    _peerStats (connection) {
      if (this._id === null || this.destroyed || !this._client._engine) return null
      return this._client._engine.peers(this._id).find(p => p.connection === connection) ?? null
    }

    _onMetadata (info = this._client._engine.info(this._id)) {
      if (!info || this._hasMetadata) return
      this.infoHash = info.infoHash
      this.name = info.name
      this.length = info.length
      this.pieceLength = info.pieceLength
      this.pieceCount = info.pieces
      // Not BEP 47 pad files, as libtorrent's; byEntry keeps each file's place in the info
      // dictionary, which BEP 53's so= indices count (libtorrent's and WebTorrent's count pads).
      const byEntry = info.files.map(f => f.pad ? null : new File(this, f))
      this.files = byEntry.filter(Boolean)
      this.lastPieceLength = info.length - (info.pieces - 1) * info.pieceLength
      this.infoBuffer = info.infoBuffer
      this._hasMetadata = true
      // As WebTorrent's: a bitfield of the right size, unless skipVerify.
      this._hasStartupBitfield = Boolean(this._startupBitfield) && this._startupBitfield.length === Math.ceil(this.pieceCount / 8) && !this.skipVerify
      // add(id, { deselect: true }), as WebTorrent: nothing is downloaded until select().
      // A magnet's so=, as WebTorrent: only the files it lists.
      if (this._opts.deselect || this.so) this.deselect(0, this.pieceCount - 1)
      // so.includes(i) as WebTorrent's, which apps rely on: webtorrent-cli sets torrent.so to
      // a string ('2') after add().
      if (this.so && !this._opts.deselect) byEntry.forEach((f, i) => { if (f && this.so.includes(i)) f.select() })
      if (this.created === undefined && !this._torrentFile) this._parseMetadata()
      // An empty torrent (no pieces) never asks its store for anything: opened here, it
      // makes the empty files, as a finished download has them.
      if (this.length === 0) this._client._storageOf(this._id)?.open().catch(err => this.emit('warning', err))
      // As WebTorrent's (which adds its url-list then, unless webSeeds is false): 'peer' for
      // each web seed the torrent has from its .torrent or magnet, not named yet.
      for (const { url } of this._client._opts.webSeeds === false ? [] : this.webSeeds) {
        if (this.destroyed || this._webSeedsTold.has(url)) continue
        this._webSeedsTold.add(url)
        this.emit('peer', url)
      }
      queueMicrotask(() => this._syncWebSeeds()) // their wires, after this event's listeners
      if (this.destroyed) return
      for (const wire of this._wires.values()) if (wire.ut_metadata instanceof WireMetadata) wire.ut_metadata._onTorrentMetadata()
      if (this.destroyed) return
      this.emit('metadata')
      // skipVerify: every piece is had, each with 'verified', as WebTorrent's.
      for (let i = 0; this.skipVerify && i < this.pieceCount && !this.destroyed; i++) this.emit('verified', i)
      // As WebTorrent's, 'ready' once the store is checked (the resume check, a bitfield's
      // spot check): its 'verified' events come first, and 'done' at once for a full store.
      if (this.destroyed || this._stats()?.checking) return
      this._onReady()
    }

    // The add options the engine takes besides the usual ones: what it may take as had
    // without hashing (see skipVerify and bitfield above), and requests per web seed.
    _engineExtra () {
      // uploads (WebTorrent's): unchoke slots, the optimistic one included; false or 0: none;
      // unset (or not a number): the engine's default.
      const { uploads } = this._opts
      return {
        addedAt: this._addedAt, // its speeds are measured from add(), as WebTorrent's
        trust: this.skipVerify ? true : this._startupBitfield,
        maxWebConns: this._opts.maxWebConns,
        priority: this.priority,
        uploads: uploads === false ? 0 : (uploads != null && Number(uploads) >= 0 ? Number(uploads) : undefined)
      }
    }

    _onReady () {
      if (this.ready || this.destroyed) return
      // WebTorrent's startup check selects every piece it lacks (_markUnverified), over a
      // magnet's so= and any deselect made before 'ready' (in a 'metadata' listener): its
      // torrent downloads everything, and 'done' comes. Ours too, but those pieces come
      // last (the lowest priority), after what was selected. Not with the add option
      // deselect, skipVerify or a startup bitfield, as WebTorrent's.
      if (this._hasMetadata && !this._opts.deselect && !this.skipVerify && !this._hasStartupBitfield) {
        this._client._input((E, t) => E.selectMissing(this._id, 1, t))
      }
      this.ready = true
      this.emit('ready')
      // After every 'ready' listener, as WebTorrent: what the store already holds (a seed,
      // a resumed torrent) is done, and so are its files.
      if (this.destroyed) return
      this._checkFilesDone()
      this._onDone()
      this._idleCheck()
    }

    // WebTorrent 2's 'idle' (its code, undocumented): nothing selected is left to download,
    // told after the selections change (select, deselect), at 'ready' and at 'done'.
    _idleCheck () {
      if (!this.destroyed && this.ready && this._stats()?.finished) this.emit('idle')
    }

    // A magnet's torrent: created, createdBy, comment... from the metadata received.
    _parseMetadata () {
      const bytes = this.torrentFile
      if (!bytes) return
      internals.parseTorrent(bytes).then(parsed => {
        if (this.destroyed) return
        for (const key of ['created', 'createdBy', 'comment']) this[key] ??= parsed[key]
        this._applyPrivate(parsed)
      }, () => {})
    }

    // The add option private (a boolean) overrides the torrent's own flag (BEP 27).
    _applyPrivate (parsed) {
      this.private = typeof this._opts.private === 'boolean' ? this._opts.private : parsed.private
    }

    // Every piece verified (again, after a trusted piece failed its hash), as WebTorrent's
    // 'done': once every file is complete, whatever is selected.
    _onDone () {
      if (this._unreported?.size) return // after their 'verified' (the batch's end calls again)
      if (this._done || !this.ready || this.destroyed || !this._stats()?.complete) return
      this._done = true
      this._checkFilesDone()
      this.emit('done')
    }

    // Files whose pieces are all verified emit 'done' (once each).
    _checkFilesDone (piece) {
      const bits = this._havePieces()
      if (piece === undefined) {
        for (const f of this.files) f._checkDone(bits)
        return
      }
      // The files are in the torrent's order, so their last pieces never decrease: find the
      // first file that reaches `piece` (a torrent of 100,000 files, checked per piece, would
      // otherwise scan them all each time), then the few that hold it.
      const files = this.files
      let lo = 0
      let hi = files.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (files[mid]._endPiece < piece) lo = mid + 1
        else hi = mid
      }
      for (let i = lo; i < files.length && files[i]._startPiece <= piece; i++) {
        if (files[i].includes(piece)) files[i]._checkDone(bits)
      }
    }

    // The web seeds' wires (WebSeedWire): one for each seed the engine has, from the
    // metadata on (WebTorrent's come then, with their WebConn) until the seed is dropped or
    // removed (WebTorrent 2.8.5's stays after 'done' too). Updated at the client's ticks
    // and just before 'done'.
    _syncWebSeeds () {
      if (this._id === null || this.destroyed || !this._hasMetadata) return
      // Every web seed is named by a 'peer' first: a torrent without one costs nothing here.
      if (this._webSeedWires.size === 0 && this._webSeedsTold.size === 0) return
      const stats = this._stats()
      if (!stats || (this._webSeedWires.size === 0 && !(stats.webSeeds > 0))) return
      const now = performance.now()
      const live = new Set()
      for (const seed of this._client._engine.webSeeds(this._id)) {
        if (seed.state === 'dropped') continue
        live.add(seed.url)
        let wire = this._webSeedWires.get(seed.url)
        if (!wire) {
          wire = new WebSeedWire(this, { url: seed.url, peerId: seed.peerId })
          useEngineExtensions(wire)
          this._webSeedWires.set(seed.url, wire)
          this.emit('wire', wire, null) // as WebTorrent's (a web seed's peer has no address)
          if (this.destroyed) return
        }
        wire._update(seed.downloaded, now)
      }
      for (const [url, wire] of this._webSeedWires) {
        if (live.has(url)) continue
        this._webSeedWires.delete(url)
        wire._onClose()
      }
    }

    // A web seed leaves the torrent (removePeer(url), its wire's destroy()); it may be
    // added again.
    _removeWebSeed (url) {
      if (this._id === null || this.destroyed) return false
      let removed = false
      this._client._input((E, t) => { removed = E.removeWebSeed(this._id, url, t) })
      const wire = this._webSeedWires.get(url)
      this._webSeedWires.delete(url)
      this._webSeedsTold.delete(url)
      wire?._onClose()
      return removed
    }

    // 'download' with the payload bytes received since the last report (what arrived,
    // wasted bytes included, as WebTorrent's), forwarded to the client; 'upload' likewise.
    _reportTraffic () {
      const s = this._stats()
      if (!s || this.destroyed) return
      if (s.downloaded > this._reportedReceived) {
        const bytes = s.downloaded - this._reportedReceived
        this._reportedReceived = s.downloaded
        this.emit('download', bytes)
        this._client.emit('download', bytes)
      }
      if (s.uploaded > this._reportedUpload) {
        const bytes = s.uploaded - this._reportedUpload
        this._reportedUpload = s.uploaded
        this.emit('upload', bytes)
        this._client.emit('upload', bytes)
      }
    }

    _whenDone () {
      if (this.done) return Promise.resolve()
      return new Promise((resolve, reject) => {
        this.once('done', resolve)
        this.once('close', () => reject(new WasmTorrentError('torrent destroyed', { code: 'destroyed' })))
      })
    }

    // opts.destroyStore: delete what the store holds (default: the add option
    // destroyStoreOnDestroy, false), as WebTorrent.
    destroy (opts, cb) {
      if (typeof opts === 'function') [opts, cb] = [undefined, opts]
      // As WebTorrent's: a second destroy does nothing, and its callback is never called.
      if (this.destroyed) return (this._storeClosed ?? Promise.resolve()).catch(() => {})
      const closed = this._client._remove(this, opts)
      if (cb) closed.then(() => cb(null), cb)
      return closed
    }
  }

  class WasmTorrent extends Emitter {
    // opts: { tracker: { announce: [url], rtcConfig }, peerId, maxConns, downloadLimit,
    //         uploadLimit (bytes/s, -1 = unlimited), seed (of the engine's random choices) }
    constructor (opts = {}) {
      super()
      // Browsers: which store this page may really use, found out while the module loads.
      if (!host.Store) usableDefaultStore()
      // Known at once, as WebTorrent's (the engine draws one from opts.seed, for tests).
      const peerId = peerIdHex(opts.peerId) ?? (opts.seed === undefined ? randomPeerId() : undefined)
      this.peerId = peerId
      // WebTorrent's nodeId (the DHT's, 40 hex digits or 20 bytes; opts.dht.nodeId wins, as
      // bittorrent-dht's own option). Not given: with a DHT, the engine's (BEP 42, or the one
      // its stateFile kept), known once ready; without one (dht: false, browsers), random,
      // as WebTorrent's always is.
      const nodeId = peerIdHex(opts.dht?.nodeId ?? opts.nodeId, 'nodeId')
      this._nodeId = nodeId ?? (opts.dht === false || !host.Dht ? randomHex(20) : null)
      const encryption = encryptionPolicy(opts.secure)
      this.torrents = []
      this.destroyed = false
      this._opts = opts
      const tracker = opts.tracker === false ? {} : (opts.tracker ?? {})
      // As WebTorrent's: the forced trackers join the client's, for public torrents, unless
      // tracker is false. Read when the client is created.
      const forced = opts.tracker === false ? [] : forcedTrackers()
      this._announce = Array.from(new Set([...[].concat(tracker.announce ?? []), ...forced]))
      this._byId = new Map()        // engine torrent id -> Torrent
      this._removedIds = new Set()  // engine ids of torrents removed: their late events are dropped
      const input = fn => this._input(fn)
      this._sockets = new WebSocketTransport(input)
      // Without WebRTC (turned off in the browser) a WebSocket tracker is not even opened: its
      // peers could not be reached (each torrent says so, see _warnWithoutWebRTC).
      this._noWebRTC = !host.webrtc && typeof globalThis.RTCPeerConnection !== 'function'
      this._sockets.useless = this._noWebRTC
      this._rtc = new RtcTransport({ input, heap: () => this._M.HEAPU8, rtcConfig: tracker.rtcConfig ?? { iceServers: DEFAULT_ICE_SERVERS } })
      this._streams = new StreamTransport({ input, heap: () => this._M.HEAPU8 }) // connection objects the app brings
      // Browsers: the first announce's offers are made while the module loads (prepareOffers).
      if (opts.tracker !== false && !host.webrtc && typeof globalThis.RTCPeerConnection === 'function') {
        this._rtc.prepareOffers(SPARE_OFFERS)
      }
      // WebTorrent 3's userAgent: the User-Agent of the client's HTTP requests (web seeds,
      // HTTP trackers, .torrent URLs). Sent under Node only: a page's fetch cannot set it.
      this.userAgent = typeof opts.userAgent === 'string' ? opts.userAgent : (host.userAgent ?? 'wasmtorrent (like WebTorrent)')
      this._http = new HttpTransport({ input, heap: () => this._M.HEAPU8, headers: () => this._httpHeaders() })
      // Node: TCP peers, dialled and accepted on torrentPort (0: any free port).
      this._tcp = host.Tcp ? new host.Tcp({ input, heap: () => this._M.HEAPU8 }) : null
      this._udp = host.Udp ? new host.Udp({ input, heap: () => this._M.HEAPU8 }) : null // UDP trackers
      this._dht = null // Node: the DHT's socket, once listening
      this._natPmp = null // Node: port mapping (natPmp)
      this._upnp = null // Node: port mapping (natUpnp)
      this._upnpOptions = null     // natUpnp on: { permanent }
      this._mappedPorts = []       // [protocol, port] of each port to map
      this._natPmpAnswered = false // the router speaks NAT-PMP: UPnP only for what it refuses
      this._natPmpSilence = null   // the timer that gives UPnP its turn when it does not
      // Ours (Node): the ports the gateway maps to this machine ({ protocol, internalPort,
      // externalPort, lifetime, publicAddress, via }), and the public address it reported.
      this.portMappings = []
      this.publicAddress = null
      this._utp = null // Node: uTP's socket on torrentPort, once listening (option utp)
      this.utp = Boolean(host.Utp) && opts.utp !== false // WebTorrent's client.utp
      this.seedOutgoingConnections = opts.seedOutgoingConnections ?? true // WebTorrent's
      // WebTorrent's client properties from its options, as its constructor sets them.
      this.tracker = opts.tracker !== undefined ? opts.tracker : {}
      if (this.tracker && typeof this.tracker !== 'object') this.tracker = {} // true, 'yes'...
      this.utPex = opts.utPex !== false
      this.natUpnp = opts.natUpnp ?? true
      this.natPmp = opts.natPmp ?? true
      this.enableWebSeeds = opts.webSeeds !== false
      // As WebTorrent's: connections per torrent, 55 unless a number other than 0 is given;
      // assigning client.maxConns applies to every torrent from then on.
      this._maxConns = Number(opts.maxConns) || 55
      this._utpConnections = new Set() // engine connection ids carried over uTP
      this._tcpConnections = new Set() // engine connection ids carried over TCP sockets
      // As torrentPort: the option's port from the constructor on, the one listened on once
      // the DHT listens (0 when it could not).
      this.dhtPort = host.Tcp && Number.isInteger(opts.dhtPort) && opts.dhtPort > 0 ? opts.dhtPort : 0
      // WebTorrent's client.dht, as far as it is not the protocol (the engine's): bittorrent-
      // dht's API that apps use (web/api/dht.js, Node only); null without a DHT (the dht
      // getter then reads false, as WebTorrent's).
      this._dhtView = host.Dht && opts.dht !== false ? new host.DhtView(this) : null
      // Node: Local Service Discovery's multicast sockets, once joined (WebTorrent's
      // client.lsd: whether the client announces its torrents on the local network).
      this._lsd = null
      this.lsd = false
      // As WebTorrent's: the option's port from the constructor on (0 when unset, or once
      // listening on it failed), the one listened on once 'listening'.
      this.torrentPort = host.Tcp && Number.isInteger(opts.torrentPort) && opts.torrentPort > 0 ? opts.torrentPort : 0
      this._peerOfConnection = new Map() // engine connection id -> engine peer id
      this._extensions = new Map()  // BEP 10 name -> engine extension id
      this._unnamed = new WeakMap() // seed() input without a name -> the name it was given
      this._limits = { download: opts.downloadLimit ?? -1, upload: opts.uploadLimit ?? -1 }
      // Each torrent's own limits unless it sets its own (WebTorrent's torrentDownloadLimit,
      // torrentUploadLimit).
      this._torrentLimits = { download: opts.torrentDownloadLimit ?? -1, upload: opts.torrentUploadLimit ?? -1 }
      // The host's SHA-1 (Node's, native; else WebCrypto's where the page has it: secure
      // contexts): faster than the engine's, so it hashes the pieces on their way to the store.
      // hostHashes: false leaves it to the engine (tests, benchmarks).
      this._sha1 = opts.hostHashes === false ? null : host.sha1 ?? (subtle ? async bytes => new Uint8Array(await subtle.digest('SHA-1', bytes)) : null)
      this._driver = new Driver({
        output: o => this._output(o),
        events: batch => this._dispatch(batch),
        tick: () => this._reportTraffic()
      })
      // As WebTorrent's, `ready` is false until the 'ready' event (apps test it before
      // waiting for the event); whenReady() is the same moment as a Promise.
      this.ready = false
      this._ready = getModule().then(async M => {
        if (this.destroyed) return
        if (host.webrtc) {
          // Node: WebRTC and WebSocket from optional packages, so that this client joins the
          // browser swarm too; without them it has TCP peers only (a warning says why).
          const { PeerConnection, WebSocket, missing } = await host.webrtc()
          if (PeerConnection) this._rtc.PeerConnection = PeerConnection
          if (WebSocket) this._sockets.WebSocket = WebSocket
          if (missing) queueMicrotask(() => this.emit('warning', new WasmTorrentError(missing, { code: 'no_webrtc' })))
        }
        if (this._tcp) {
          try {
            // uTP (WebTorrent's utp option, default on under Node) is UDP on the same port.
            // A port left to the system is found for both: a number free for TCP alone may
            // be another UDP socket's (another client's DHT or port mapping).
            const paired = this.utp && !opts.torrentPort ? await this._listenTcpAndUdp(input) : null
            if (paired) [this.torrentPort, this._utp] = paired
            else this.torrentPort = await this._tcp.listen(opts.torrentPort ?? 0)
            this._listened = true // 'listening' follows 'ready', as WebTorrent's
          } catch (err) {
            this.torrentPort = 0
            // Still a client: it dials out, it is only not reachable. As for uTP below: an
            // 'error' on the client (EADDRINUSE: WebTorrent's would then destroy the client),
            // a 'warning' when nobody listens for errors.
            queueMicrotask(() => {
              const heard = this.listenerCount('error') > 0
              const code = heard && err.cause?.code === 'EADDRINUSE' ? 'EADDRINUSE' : 'listen_failed'
              this.emit(heard ? 'error' : 'warning', new WasmTorrentError(`cannot accept peers: ${err.message}`, { code }))
            })
          }
          if (this.destroyed) {
            this._utp?.close()
            return this._tcp.closeAll()
          }
          if (this._utp) {
            // bound with the TCP port above
          } else if (this.utp && this.torrentPort) {
            const utp = new host.Utp({ input, heap: () => this._M.HEAPU8 })
            try {
              await utp.listen(this.torrentPort)
              this._utp = utp
            } catch (err) {
              this.utp = false // as WebTorrent: TCP only then
              // As WebTorrent's: an 'error' on the client, which goes on over TCP; with no
              // 'error' listener (where WebTorrent's would throw) a 'warning' instead.
              queueMicrotask(() => {
                if (this.destroyed) return
                if (this.listenerCount('error') === 0) {
                  this.emit('warning', new WasmTorrentError(`no uTP: ${err.message}`, { code: 'listen_failed' }))
                  return
                }
                const inUse = err.cause?.code === 'EADDRINUSE'
                const error = new Error(inUse ? 'address already in use' : `no uTP: ${err.message}`) // utp-native's text
                this.emit('error', Object.assign(error, { code: inUse ? 'EADDRINUSE' : 'listen_failed' }))
              })
            }
          } else {
            this.utp = false
          }
          // The DHT (WebTorrent's dht option, default on under Node): a UDP socket on dhtPort.
          const dht = opts.dht === undefined ? {} : opts.dht
          if (dht !== false && host.Dht) {
            this._dht = new host.Dht({ input, heap: () => this._M.HEAPU8, stateFile: host.dhtStateFile(dht) })
            try {
              this.dhtPort = await this._dht.listen(dht.port ?? opts.dhtPort ?? 0)
              queueMicrotask(() => { if (!this.destroyed) this._dhtView?.emit('listening') })
            } catch (err) {
              this._dht = null
              this._dhtView = null
              this.dhtPort = 0
              queueMicrotask(() => this.emit('warning', new WasmTorrentError(`no DHT: ${err.message}`, { code: 'listen_failed' })))
            }
          }
        }
        // Local Service Discovery (WebTorrent's lsd option, default on under Node): needs a
        // listen port to announce, and a network where the multicast group can be joined;
        // without one it is off (client.lsd false), silently, as on a machine with no LAN.
        if (this._tcp && this.torrentPort > 0 && opts.lsd !== false && host.Lsd) {
          const lsd = new host.Lsd({ input, heap: () => this._M.HEAPU8 })
          if ((await lsd.listen()).length > 0 && !this.destroyed) {
            this._lsd = lsd
            this.lsd = true
          } else {
            lsd.close()
          }
        }
        this._M = M
        this._driver.start(new M.Client({
          trackers: this._announce,
          // As WebTorrent's tracker: false: not even a torrent's own trackers are announced to.
          announceToTrackers: opts.tracker !== false,
          seed: opts.seed ?? Math.floor(Math.random() * 2 ** 52),
          sendBufferLimit: host.sendBufferLimit ?? BUFFER_HIGH,
          peerId,
          maxConns: connectionCount(this._maxConns),
          maxConnsTotal: opts.maxConnsTotal ?? opts.connectionBudget, // the latter WebTorrent's newer name
          maxWebConns: opts.maxWebConns,
          utPex: opts.utPex,
          seedOutgoingConnections: opts.seedOutgoingConnections,
          webSeeds: webSeedPolicy(opts.webSeeds),
          useUrlList: opts.webSeeds !== false,
          webSeedBudget: opts.webSeedBudget,
          streamPieceBytes: opts.streamPieceBytes ?? host.streamPieceBytes,
          hostHashes: Boolean(this._sha1),
          dialPeers: Boolean(this._tcp),
          // Message stream encryption on TCP (WebTorrent's secure; 'required': ours).
          encryption,
          encryptionEntropy: randomHex(32),
          utp: Boolean(this._utp),
          dht: this._dht ? { announceInterval: opts.dht?.announceInterval, nodeId, ipv6: this._dht.ipv6, enforceNodeId: opts.dht?.enforceNodeId === true } : false,
          // lsd: { interval, minInterval } (ms) shortens BEP 14's 5 min and 1 min, for tests.
          lsd: this._lsd ? { interval: opts.lsd?.interval, minInterval: opts.lsd?.minInterval } : false,
          // Each announce asks it (getAnnounceOpts), inside the engine's call.
          announceParams: id => this._announceParams(id),
          listenPort: this.torrentPort,
          downloadLimit: engineRate(opts.downloadLimit),
          uploadLimit: engineRate(opts.uploadLimit),
          // Our first extension handshake waits for the 'wire' listeners (see peerConnected
          // below), or this long when they never get to run.
          extensionHandshakeHold: 2000,
          // Until then the engine reports the peer's messages (see wire.js).
          peerMessagesAtConnect: PEER_MESSAGES_AT_CONNECT
        }))
        this.peerId = this._engine.peerId()
        if (this._dht && !this._nodeId) this._nodeId = this._engine.dhtNodeId()
        if (this._dht) this._dhtStarted = this._startDht(opts.dht)
        // Port mapping never stops the client: what goes wrong there is a warning.
        if (this._tcp && host.NatPmp) {
          this._startPortMapping(opts).catch(err => this.emit('warning', new WasmTorrentError(`port mapping: ${err.message}`, { code: 'port_mapping_failed' })))
        }
        // Torrents wait for it (add() awaits this._ready): no peer is met before the list is in.
        if (opts.blocklist !== undefined && opts.blocklist !== null && host.blocklistChunks) await this._loadBlocklist(opts.blocklist)
      })
      this._ready.then(() => {
        if (this.destroyed) return
        this.ready = true
        this.emit('ready')
        if (this._listened && !this.destroyed) this.emit('listening')
      }, err => this.emit('error', err))
    }

    // Resolves when the client is ready (the 'ready' event), rejects with what stopped it.
    whenReady () { return this._ready }

    // WebTorrent's blocklist option (Node; browsers' peers have no address: ignored there):
    // an array of entries ('1.2.3.4', '1.2.3.0-1.2.3.255', '1.2.3.0/24', P2P lines
    // 'name:first-last', or { start, end }), strict: a malformed one fails the load; or a
    // file path or http(s) URL of a list (gzip or not), where malformed lines are skipped
    // with a warning. The engine parses and holds it. Fails with code blocklist_failed.
    async _loadBlocklist (list) {
      const fail = (reason, code = 'blocklist_failed') =>
        new WasmTorrentError(`blocklist: cannot load ${Array.isArray(list) ? 'the array' : list}: ${reason}`, { code })
      let text = null
      if (Array.isArray(list)) {
        text = list.map((entry, i) => {
          if (entry && typeof entry === 'object' && typeof entry.start === 'string') return entry.end ? `${entry.start}-${entry.end}` : entry.start
          if (typeof entry === 'string' && !/[\r\n]/.test(entry)) return entry
          throw fail(`entry ${i} is not an address, a range or { start, end }`, 'invalid_argument')
        }).join('\n')
      } else if (typeof list !== 'string') {
        throw fail('give an array, a file path or an http(s) URL', 'invalid_argument')
      }
      const E = this._engine
      const feed = bytes => {
        for (let at = 0; at < bytes.length; at += 1 << 20) {
          const part = bytes.subarray(at, at + (1 << 20))
          this._M.HEAPU8.set(part, E.reserve(part.length))
          E.blocklistFeed(part.length)
        }
      }
      E.blocklistBegin(text !== null)
      if (text !== null) {
        feed(new TextEncoder().encode(text))
      } else {
        try {
          for await (const chunk of host.blocklistChunks(list)) {
            if (this.destroyed) return
            feed(chunk)
          }
        } catch (err) {
          if (this.destroyed) return
          throw fail(err.message) // nothing is set (the parser waits for an end that never comes)
        }
      }
      if (this.destroyed) return
      let counts
      this._input((E, t) => { counts = E.blocklistEnd(t) })
      if (counts?.error) {
        const { code, message, position, context } = counts.error
        throw new WasmTorrentError(`blocklist: ${message}`, { code, position, context })
      }
      if (counts.skipped > 0) {
        queueMicrotask(() => this.emit('warning', new WasmTorrentError(
          `blocklist: ${counts.skipped} of ${counts.lines} lines skipped (not an address, range or CIDR block; the first is line ${counts.firstSkipped})`,
          { code: 'blocklist_bad_line' })))
      }
    }

    // WebTorrent's throttles: bytes/s, -1 = unlimited (0 = as good as stopped: 1 byte/s);
    // false, and no change, for a rate that is neither (see throttleRate).
    throttleDownload (rate) { return setThrottle(this, 'download', rate) }
    throttleUpload (rate) { return setThrottle(this, 'upload', rate) }
    // Every torrent's own limit, now and for torrents added later (a torrent's
    // throttleDownloadSpeed/throttleUploadSpeed afterwards sets its own again).
    throttleTorrentDownload (rate) { return this._setTorrentLimit('download', rate) }
    throttleTorrentUpload (rate) { return this._setTorrentLimit('upload', rate) }
    _setTorrentLimit (which, value) {
      const rate = throttleRate(value)
      if (rate === null) return false
      this._torrentLimits[which] = rate
      for (const t of this.torrents) {
        t._limits[which] = undefined
        t._applyLimits()
      }
    }
    _applyLimits () {
      this._ready.then(() => this._input((E, t) => E.setRateLimits(engineRate(this._limits.download), engineRate(this._limits.upload), t)))
    }

    get downloadSpeed () { return this.torrents.reduce((a, t) => a + t.downloadSpeed, 0) }
    get uploadSpeed () { return this.torrents.reduce((a, t) => a + t.uploadSpeed, 0) }
    // Node, as WebTorrent's: whether the TCP server accepts peers ('listening' when it
    // starts), and its address { address, family, port }, null before.
    get listening () { return Boolean(this._tcp?.server?.listening) }
    // Node: the DHT's surface (web/api/dht.js); false without one (dht: false, browsers), as
    // WebTorrent's.
    get dht () { return this._dhtView ?? false }
    address () { return this.listening ? this._tcp.server.address() : null }

    // As WebTorrent's: the verified bytes of the torrents not finished yet, over their
    // length (0 when every torrent is finished).
    get progress () {
      const ts = this.torrents.filter(t => t.progress !== 1)
      const total = ts.reduce((a, t) => a + t.length, 0)
      return total ? ts.reduce((a, t) => a + t.downloaded, 0) / total : 0
    }

    // As WebTorrent's: uploaded / received over all torrents. When nothing was received
    // (only seeds), over their length, as a torrent's ratio is: WebTorrent's divides by 1
    // then, its received counting the peers' protocol bytes (about 0.1%, where ours counts
    // none), and ours read the bytes uploaded.
    get ratio () {
      const uploaded = this.torrents.reduce((a, t) => a + t.uploaded, 0)
      const received = this.torrents.reduce((a, t) => a + t.received, 0)
      const base = received || this.torrents.reduce((a, t) => a + (t.length ?? 0), 0)
      return base ? uploaded / base : 0
    }

    // The torrent of `id` (a Torrent, magnet, info-hash as hex or 20 bytes, .torrent
    // bytes, a parsed torrent), or null. A Promise, as WebTorrent 2's.
    async get (id) {
      if (id instanceof Torrent) return this.torrents.includes(id) ? id : null
      const known = this._get(id)
      if (known) return known
      let parsed
      try { parsed = await internals.parseTorrent(id) } catch { return null }
      if (!parsed?.infoHash) throw new WasmTorrentError('Invalid torrent identifier', { code: 'invalid_argument' })
      const hash = parsed.infoHash.toLowerCase()
      const find = () => this.torrents.find(t => t.infoHash === hash) ?? null
      // Not found: a torrent whose info-hash is not known yet (added from .torrent bytes or
      // a URL, still being read) may be it, as WebTorrent's get() finds a torrent added from
      // bytes right before. Once each knows its own (or is gone), look again.
      const pending = this.torrents.filter(t => !t.infoHash && !t.destroyed)
      if (find() || pending.length === 0) return find()
      await Promise.all(pending.map(t => new Promise(resolve => {
        const done = () => { t.off('infoHash', done); t.off('close', done); resolve() }
        t.once('infoHash', done)
        t.once('close', done)
      })))
      return find()
    }

    // Synchronous: a Torrent, an id that names its info-hash (infoHashOf), or the very
    // object (.torrent bytes, a Blob) a torrent was added from.
    _get (id) {
      if (id instanceof Torrent) return this.torrents.includes(id) ? id : null
      const hash = infoHashOf(id)
      if (hash) return this.torrents.find(t => t.infoHash === hash) ?? null
      return id && typeof id === 'object' ? this.torrents.find(t => t._addedFrom === id) ?? null : null
    }

    // client.add(torrentId, opts?, ontorrent?): a magnet, an info-hash (40 hex, 32 base32,
    // or 20 bytes), .torrent bytes, a parsed torrent (parse-torrent's object), a Blob, or
    // an http(s) URL of a .torrent. As WebTorrent: 'add' at once; then 'infoHash',
    // 'metadata', 'ready' on the torrent, ontorrent and the client's 'torrent' when it is
    // ready. A torrent already in the client: this one is destroyed with an error
    // "Cannot add duplicate torrent" and ontorrent gets the existing one.
    add (torrentId, opts = {}, ontorrent) {
      if (this.destroyed) throw new Error('client is destroyed')
      if (typeof opts === 'function') [opts, ontorrent] = [{}, opts]
      opts = { ...(opts ?? {}), announce: trackerUrls(opts?.announce) }
      const sequential = pickStrategy(opts.strategy) === 'sequential' // throws before anything starts
      connectionPriority(opts.priority) // so does this
      const torrent = this._newTorrent(opts, ontorrent)
      // An id that names its info-hash: known at once, so that client.get/remove find the
      // torrent right after add(), as WebTorrent's (its parse takes a few microtasks; ours
      // waits for the module, and a magnet's xs= for its .torrent).
      torrent.infoHash = infoHashOf(torrentId)
      torrent._addedFrom = torrentId // client.get/remove of the same object before 'infoHash'
      for (const url of [].concat(opts.urlList ?? [])) torrent.addWebSeed(url) // next to url-list and ws=
      this._start(torrent, async alive => {
        await this._ready
        if (!alive()) return null
        let id = await this._resolveId(torrentId)
        if (!alive()) return null
        torrent._applyParsed(id.parsed)
        if (id.keepFile) torrent._torrentFile = id.bytes // torrentFile from 'infoHash' on, as WebTorrent's
        if (!this._onInfoHash(torrent, ontorrent)) return null
        if (id.exactSources) { // after 'infoHash', where the app adds its peers, as WebTorrent's
          id = await this._fromExactSources(id)
          if (!alive()) return null
          if (id.bytes) torrent._applyParsed(id.parsed)
          if (id.keepFile) torrent._torrentFile = id.bytes
        }
        // Node: the files on disk under opts.path (default: a folder per torrent in the
        // system's temporary folder, as WebTorrent's).
        // opts.preloadedStore (WebTorrent's): a store that holds the content already; the
        // engine hashes what it holds before downloading, as on resume.
        const preloaded = opts.preloadedStore ? preloadedStoreClass(opts.preloadedStore) : null
        const byDefault = opts.store === undefined || opts.store === null
        let Store = preloaded ?? (byDefault && host.Store ? host.Store : byDefault ? await usableDefaultStore() : storeFor(opts.store))
        if (!alive()) return null
        if (Store === host.Store) torrent.path = host.storeRoot(opts.path, torrent.infoHash)
        // The store is named by the info-hash (not opts.path: WebTorrent's browser store
        // ignores it). One that outlives the page may hold pieces of an earlier visit: the
        // engine reads them back and hashes them before downloading (resume). One torrent at
        // a time owns it (see storeLock): another keeps its pieces in memory.
        let name = torrent.infoHash
        const lock = storeLock(Store, name, Store === host.Store ? torrent.path : null)
        if (lock && !(await torrent._claimStore(lock))) {
          // A browser's store another tab owns: a copy of our own (a big torrent is not held
          // in memory), deleted when the torrent is removed. Node's files: memory.
          const copy = Store !== host.Store && alive() ? copyName(name) : null
          if (copy && await torrent._claimStore(copy)) {
            name = copy
            torrent._storeIsCopy = true
          } else {
            Store = MemoryStore
          }
          if (alive()) torrent.emit('warning', storeInUse(torrent._storeIsCopy))
        }
        if (!alive()) return null
        Store.prewarm?.()
        torrent._makeStore = info => torrent._newStore(Store, name, info, Store === host.Store)
        if (Store === host.Store && !torrent.skipVerify && await torrent._modtimesUnchanged(id.parsed)) torrent.skipVerify = true
        if (!alive()) return null
        const check = Store !== MemoryStore
        const announce = [...new Set([...id.announce, ...[].concat(opts.announce ?? [])])]
        this._warnWithoutWebRTC(torrent, [...announce, ...this._announce])
        for (const url of id.urlList) torrent.addWebSeed(url)
        if (this._tcp) for (const peer of id.peers ?? []) torrent.addPeer(peer) // x.pe= of a magnet read as .torrent (xs=)
        // opts.private (a boolean) overrides the torrent's own flag, as WebTorrent's.
        const isPrivate = typeof opts.private === 'boolean' ? opts.private : undefined
        return this._adding(torrent, () => id.magnet
          ? this._call(() => this._engine.addMagnet(id.magnet, announce, check, isPrivate, sequential, torrent._engineExtra(), now()))
          : this._addBytes(id.bytes, { check, announce, isPrivate, sequential, extra: torrent._engineExtra() }))
      })
      this.emit('add', torrent)
      return torrent
    }

    // A WebSocket tracker only brings WebRTC peers: where there is no WebRTC (a browser with
    // it turned off, Node without node-datachannel) each is said to be of no use, as
    // WebTorrent's tracker client says, rather than staying silent with no peers.
    _warnWithoutWebRTC (torrent, urls) {
      if (!this._noWebRTC || this._opts.tracker === false) return
      for (const url of new Set(urls)) {
        if (typeof url === 'string' && /^wss?:/i.test(url)) {
          torrent.emit('warning', new WasmTorrentError(`Unsupported tracker protocol: ${url} (WebRTC is not available here)`, { code: 'webrtc_unavailable' }))
        }
      }
    }

    // A torrent id -> { parsed, and either magnet (a link for the engine) or bytes (a
    // .torrent for the engine), announce and urlList to add besides the engine's own }.
    async _resolveId (torrentId) {
      let input = torrentId
      if (input instanceof URL || (typeof input === 'string' && /^https?:\/\//i.test(input.trim()))) {
        let res
        try { res = await fetch(input, { headers: this._httpHeaders() }) } catch (err) {
          throw new WasmTorrentError(`Invalid torrent identifier: ${input}: ${err?.message ?? err}`, { code: 'fetch_failed' })
        }
        if (!res.ok) throw new WasmTorrentError(`Invalid torrent identifier: ${input}: HTTP ${res.status}`, { code: 'fetch_failed' })
        input = new Uint8Array(await res.arrayBuffer())
      } else if (typeof Blob !== 'undefined' && input instanceof Blob) {
        input = new Uint8Array(await input.arrayBuffer())
      } else if (input instanceof ArrayBuffer) {
        input = new Uint8Array(input)
      } else if (ArrayBuffer.isView(input) && !(input instanceof Uint8Array)) {
        input = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
      }
      if (typeof input === 'string') input = input.trim()
      // Node, as WebTorrent's: the path of a .torrent file (a string that is no magnet link,
      // info-hash or URL, naming a file that exists).
      if (typeof input === 'string' && host.readTorrentFile && !/^magnet:/i.test(input) &&
          !/^([0-9a-f]{40}|[a-z2-7]{32})$/i.test(input)) {
        input = (await host.readTorrentFile(input)) ?? input
      }
      let parsed
      try {
        parsed = await internals.parseTorrent(input)
      } catch (err) {
        const detail = err instanceof WasmTorrentError && !/^Invalid torrent identifier/.test(err.message) ? `: ${err.message}` : ''
        throw new WasmTorrentError(`Invalid torrent identifier${detail}`,
          { code: err?.code ?? 'invalid_argument', position: err?.position, context: err?.context })
      }
      if (!parsed?.infoHash || !/^[0-9a-f]{40}$/i.test(parsed.infoHash)) {
        throw new WasmTorrentError('Invalid torrent identifier: no v1 info-hash (xt=urn:btih:); BitTorrent v2-only magnets (xt=urn:btmh: alone) are not supported', { code: 'invalid_argument' })
      }
      // .torrent bytes: as they are.
      if (input instanceof Uint8Array && input.length !== 20) {
        return { parsed, bytes: input, keepFile: true, announce: [], urlList: [] }
      }
      // A parsed torrent with its info dict: a .torrent of that dict; its trackers and
      // web seeds besides.
      const info = parsed.infoBuffer instanceof Uint8Array
        ? parsed.infoBuffer
        : parsed.info && typeof parsed.info === 'object' ? this._bencode(parsed.info) : null
      if (typeof input === 'object' && !(input instanceof Uint8Array) && info) {
        const head = new TextEncoder().encode('d4:info')
        const bytes = new Uint8Array(head.length + info.length + 1)
        bytes.set(head)
        bytes.set(info, head.length)
        bytes[bytes.length - 1] = 0x65 // 'e'
        const full = await internals.parseTorrent(bytes)
        if (full.infoHash !== parsed.infoHash.toLowerCase()) {
          throw new WasmTorrentError('Invalid torrent identifier: its info dict does not match its infoHash', { code: 'invalid_argument' })
        }
        return { parsed: { ...full, ...parsed, infoHash: full.infoHash }, bytes, keepFile: false, announce: parsed.announce ?? [], urlList: parsed.urlList ?? [] }
      }
      // A magnet, or an info-hash alone.
      const magnet = typeof input === 'string' && /^(stream-)?magnet:/i.test(input)
        ? input.replace(/^stream-/i, '')
        : toMagnetURI(parsed)
      const sources = [].concat(parsed.xs ?? []).filter(u => /^https?:\/\//i.test(u))
      return { parsed, magnet, announce: [], urlList: [], exactSources: magnet && sources.length > 0 ? sources : null }
    }

    // A magnet's exact sources (xs=): the .torrent over HTTP saves asking peers for the
    // metadata, as WebTorrent's; if none answers with it, the magnet as it is.
    async _fromExactSources (id) {
      const { parsed } = id
      const bytes = await Promise.any(id.exactSources.map(url => this._fetchTorrent(url, parsed.infoHash))).catch(() => null)
      if (!bytes) return { ...id, exactSources: null }
      const full = await internals.parseTorrent(bytes)
      const announce = [...new Set([...full.announce, ...(parsed.announce ?? [])])]
      return { parsed: { ...full, announce }, bytes, keepFile: true, announce: parsed.announce ?? [], urlList: parsed.urlList ?? [], peers: parsed.peerAddresses }
    }

    // The .torrent at `url` when its info-hash is `infoHash` (rejects otherwise, or after 10 s).
    async _fetchTorrent (url, infoHash) {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: this._httpHeaders() })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      const parsed = await internals.parseTorrent(bytes)
      if (parsed.infoHash !== infoHash.toLowerCase()) throw new Error('another torrent')
      return bytes
    }

    // The duplicate check, then 'infoHash'. False: the torrent is gone. Of two adds of one
    // torrent, the first to get here stays (both may have known the info-hash from add()).
    _onInfoHash (torrent, ontorrent) {
      const existing = this.torrents.find(t => t !== torrent && t.infoHash === torrent.infoHash && !t.destroyed && t._hashChecked)
      if (existing) {
        this._fail(torrent, new WasmTorrentError(`Cannot add duplicate torrent ${torrent.infoHash}`, { code: 'duplicate_torrent' }))
        ontorrent?.(existing)
        return false
      }
      torrent._hashChecked = true
      torrent.emit('infoHash', torrent.infoHash)
      return !torrent.destroyed && !this.destroyed
    }

    _newTorrent (opts, ontorrent) {
      const torrent = new Torrent(this, opts)
      this.torrents.push(torrent)
      torrent.once('ready', () => {
        if (this.destroyed || torrent.destroyed) return
        ontorrent?.(torrent)
        this.emit('torrent', torrent)
      })
      return torrent
    }

    // client.seed(File | Blob | Uint8Array | {path, data} | arrays | FileList, opts?, onseed?)
    // As WebTorrent: 'ready', the client's 'torrent', 'done'; then onseed, the torrent's
    // 'seed' and the client's 'seed'. Input already seeded: this torrent is destroyed
    // (quietly) and onseed gets the existing one.
    seed (input, opts = {}, onseed) {
      if (this.destroyed) throw new Error('client is destroyed')
      if (typeof opts === 'function') [opts, onseed] = [{}, opts]
      opts = { ...(opts ?? {}) }
      // As WebTorrent's seed: skipVerify, so each piece is 'verified' between 'metadata' and
      // 'ready' (the engine takes a seed's pieces as had and ignores trust for it: nothing
      // is re-hashed).
      connectionPriority(opts.priority) // throws before anything starts
      const torrent = this._newTorrent({ ...opts, skipVerify: true })
      const originalInput = input
      this._start(torrent, async alive => {
        const live = () => !torrent.destroyed && !this.destroyed // alive() before the engine exists
        // Hashing needs only the module, not the client's sockets: the info-hash of content
        // in memory is known about when WebTorrent's is (WebTorrent's own tests read it on
        // 'listening').
        if (host.inputs) input = await host.inputs(input, opts) // Node: file and folder paths, streams
        if (!live()) return null
        if (input?.root) torrent.path = input.root // Node: the folder holding what is seeded
        // As WebTorrent's: with neither announce nor announceList, the .torrent lists
        // create-torrent's default trackers (createTorrent's); the client's own trackers are
        // announced to besides, as for every torrent.
        const createOpts = { ...opts }
        // An unnamed Buffer/Blob gets create-torrent's "Unnamed Torrent <ms>": seeding the
        // same object again must give the same torrent (a duplicate), whatever the clock.
        const lone = originalInput instanceof Uint8Array || (typeof Blob !== 'undefined' && originalInput instanceof Blob)
        if (!createOpts.name && lone && !originalInput.name) {
          if (!this._unnamed.has(originalInput)) this._unnamed.set(originalInput, `Unnamed Torrent ${Date.now()}`)
          createOpts.name = this._unnamed.get(originalInput)
        }
        // 'hashing' (bytes hashed, of total) while the pieces are hashed: minutes for a
        // multi-GiB file.
        const torrentFile = await createTorrent(input, createOpts, (hashed, total) => torrent.emit('hashing', hashed, total))
        if (!live()) return null
        const info = await internals.parseTorrent(torrentFile)
        if (!live()) return null
        const existing = this.torrents.find(t => t !== torrent && t.infoHash === info.infoHash && !t.destroyed && t._hashChecked)
        if (existing) {
          this._remove(torrent)
          onseed?.(existing)
          return null
        }
        torrent._applyParsed(info)
        torrent._torrentFile = torrentFile
        torrent._hashChecked = true
        torrent.emit('infoHash', torrent.infoHash)
        if (!live()) return null
        // The content in the torrent's file order, matched to the inputs by path, is read
        // from the inputs themselves when peers ask (File.slice): never copied whole.
        const items = collectInputs(input, { ...opts })
        // Inputs under one common folder lose it in the torrent (which may be renamed by
        // opts.name): compare the paths below the torrent's name.
        const below = p => p.slice(p.indexOf('/') + 1)
        const first = p => p.split('/')[0]
        const common = items.every(it => it.path.includes('/') && first(it.path) === first(items[0].path))
        // By a map: a folder of 20,000 files would otherwise compare every pair.
        const byPath = new Map()
        for (const it of items) {
          const key = common ? below(it.path) : it.path
          if (!byPath.has(key)) byPath.set(key, it)
        }
        const pick = path => items.length === 1
          ? items[0]
          : byPath.get(below(path)) ??
            items.find(it => path === it.path || path.endsWith('/' + it.path) || it.path.endsWith('/' + path))
        const contents = info.files.map(f => {
          const item = pick(f.path)
          if (!item) throw new WasmTorrentError(`seed: no input for ${f.path}`, { code: 'invalid_argument' })
          return item.data
        })
        // Bytes become Blobs (a copy: the app may reuse its buffer), except where they are
        // written to files at once (Node), which copies them anyway.
        let blobs = null
        const seedBlobs = () => (blobs ??= contents.map(data => data instanceof Uint8Array ? new Blob([data]) : data))
        let written = false
        torrent._makeStore = () => new BlobStore({ name: info.infoHash, pieceLength: info.pieceLength, length: info.length, blobs: seedBlobs() })
        if (opts.preloadedStore) {
          // WebTorrent's preloadedStore: a store that holds the content already is seeded
          // from (the input only made the torrent), nothing written; as WebTorrent's, not
          // verified (a piece it lacks fails its read when a peer asks).
          const Preloaded = preloadedStoreClass(opts.preloadedStore)
          torrent._makeStore = i => new Preloaded({ name: info.infoHash, pieceLength: info.pieceLength, length: info.length, files: info.files, ...torrent._storeOptions(i, false) })
        } else if (opts.store !== undefined && opts.store !== null && opts.store !== 'memory' && !input?.root) {
          // The app's own store (an abstract-chunk-store constructor, 'opfs', 'idb'): the
          // content is put into it, piece by piece, and served from it, as WebTorrent's seed
          // loads it into its store.
          torrent._seedWriting = this._storeSeed(torrent, info, info.infoHash, joinBlobs(seedBlobs()), live, storeFor(opts.store))
          const store = await torrent._seedWriting
          if (!live()) return null
          if (store) torrent._makeStore = () => store
        } else if (host.Store && !input?.root && (opts.store === undefined || opts.store === null)) {
          // Node: content given in memory (not paths) is written to files under torrent.path,
          // where WebTorrent's store keeps a seed; `destroyStore` deletes them.
          torrent.path = host.storeRoot(opts.path, info.infoHash)
          // addUID, as for add(): under "<name> - <first 8 of the info-hash>" in torrent.path.
          torrent._root = opts.addUID ? host.joinPath(torrent.path, `${info.name} - ${info.infoHash.slice(0, 8)}`) : torrent.path
          const store = new host.Store({ name: info.infoHash, pieceLength: info.pieceLength, length: info.length, files: info.files, root: torrent._root })
          await store.writeFiles(contents)
          if (!live()) return null
          torrent._makeStore = () => store
          torrent._builtStore = store // destroyStore deletes it even if no peer opened it
          written = true
        } else if (!host.Store && (opts.store === undefined || opts.store === null) && items.every(it => it.data instanceof Uint8Array)) {
          // Browsers: content given in memory (bytes, not a File or Blob, which are read
          // where they are) goes into the default store, as WebTorrent's seed puts it in its
          // store: adding the torrent later, after a reload too, finds it there.
          const Store = await usableDefaultStore()
          if (!live()) return null
          torrent._seedWriting = this._storeSeed(torrent, info, info.infoHash, joinBlobs(seedBlobs()), live, Store)
          const store = await torrent._seedWriting
          if (!live()) return null
          if (store) torrent._makeStore = () => store
        }
        if (!written) seedBlobs()
        await this._ready
        if (!alive()) return null
        torrent.once('ready', () => queueMicrotask(() => {
          if (torrent.destroyed || this.destroyed) return
          onseed?.(torrent)
          torrent.emit('seed')
          this.emit('seed', torrent)
        }))
        return this._adding(torrent, () => this._addBytes(torrentFile, { seed: true, extra: torrent._engineExtra() }))
      })
      this.emit('add', torrent)
      return torrent
    }

    // A seed's content written piece by piece into a new store named `name` (of class
    // Store: the default one, or the app's); null where no store outlives the page or
    // another tab owns this one (the seed is then served from memory). The store is the
    // torrent's _builtStore from the start: a remove meanwhile stops the writing, and
    // closes it once the writing has stopped.
    async _storeSeed (torrent, info, name, content, live, Store) {
      if (Store === MemoryStore) return null
      const lock = storeLock(Store, name)
      if (lock && !(await torrent._claimStore(lock))) {
        if (live()) torrent.emit('warning', storeInUse())
        return null
      }
      if (!live()) return null
      const store = torrent._newStore(Store, name, info, false)
      torrent._builtStore = store
      try {
        await store.open()
        // A few pieces in flight (WebTorrent puts them all at once): a store that answers
        // slowly is not waited on once per piece, and memory stays bounded.
        const pieces = Math.ceil(info.length / info.pieceLength)
        let next = 0
        let failure = null
        const writer = async () => {
          while (next < pieces && live() && !failure) {
            const i = next++
            const piece = content.slice(i * info.pieceLength, Math.min((i + 1) * info.pieceLength, info.length))
            await store.put(i, new Uint8Array(await piece.arrayBuffer())).catch(err => { failure ??= err })
          }
        }
        await Promise.all(Array.from({ length: Math.min(4, pieces) }, writer))
        if (failure) throw failure
        return store
      } catch (err) {
        // Over quota, say: served from memory, and the torrent is told. What was written to
        // a store of ours is deleted; an app's chunk store is only closed (what it holds is
        // the app's, as WebTorrent leaves it).
        torrent.emit('warning', new WasmTorrentError(`seed: not kept in the store (${err.message}); served from memory`, { code: err.code ?? 'storage_failed' }))
        torrent._builtStore = null
        const appStore = store instanceof ChunkStoreAdapter
        await (appStore ? store.close() : store.destroy()).catch(() => {})
        return null
      }
    }

    // Service-worker streaming: opts.controller is the ServiceWorkerRegistration of
    // dist/wasmtorrent-sw.js. Then file.streamURL and file.streamTo(video) work. Under
    // Node: an HTTP server (call listen()), as WebTorrent's (web/stream/node-server.js).
    createServer (opts) {
      if (this.destroyed) throw new Error('client is destroyed')
      if (this._server) throw new Error('server already created')
      this._server = host.Server ? new host.Server(this, opts) : new StreamServer(this, opts)
      return this._server
    }

    // Resolve with the torrent once ready (a duplicate: with the torrent already there).
    addAsync (torrentId, opts) {
      return new Promise((resolve, reject) => {
        const t = this.add(torrentId, opts, resolve)
        t.once('error', err => queueMicrotask(() => reject(err))) // a duplicate resolves first
      })
    }

    seedAsync (input, opts) {
      return new Promise((resolve, reject) => {
        const t = this.seed(input, opts, resolve)
        t.once('error', err => queueMicrotask(() => reject(err)))
      })
    }

    // opts.destroyStore: delete what the torrent's store holds (default: its
    // destroyStoreOnDestroy add option, false).
    // Not found: a rejected Promise, as WebTorrent's; with cb, cb(err) and the Promise
    // resolves (WebTorrent's never calls cb, and its rejection goes unhandled).
    remove (torrentId, opts, cb) {
      if (typeof opts === 'function') [opts, cb] = [undefined, opts]
      // A torrent known at once (a Torrent, an info-hash, a magnet) leaves client.torrents
      // before remove() returns, as WebTorrent 1's did (tests check the length right after).
      const known = this._get(torrentId)
      const closed = known
        ? this._remove(known, opts, { closeFirst: true })
        : this.get(torrentId).catch(() => null).then(t => {
          if (!t) throw new Error(`No torrent with id ${torrentId}`)
          return this._remove(t, opts, { closeFirst: true })
        })
      if (!cb) return closed
      closed.then(() => cb(null), cb)
      return closed.catch(() => {})
    }

    // Resolves (and calls cb) once every torrent's store is closed. A second call does
    // nothing (WebTorrent's throws).
    destroy (cb) {
      if (this.destroyed) {
        cb?.(null)
        return Promise.resolve()
      }
      this.destroyed = true
      this._server?.close()
      const closed = [...this.torrents].map(t => this._remove(t))
      this._rtc.closeAll()
      this._streams.closeAll()
      this._tcp?.closeAll()
      if (this._utp) closed.push(this._utp.close()) // the port free once destroy() resolves
      this._utp = null
      this._udp?.closeAll()
      this._lsd?.close()
      this._lsd = null
      clearTimeout(this._natPmpSilence)
      if (this._natPmp) closed.push(this._natPmp.close())
      if (this._upnp) closed.push(this._upnp.close({ keep: this._upnp.permanent }))
      this._natPmp = null
      this._upnp = null
      if (this._dht) {
        this._nodeId = this.nodeId // the last id stays readable
        const dht = this._dht
        this._dht = null
        const state = this._engine?.dhtNodes() > 0 ? this._engine.dhtState(now()) : null
        closed.push(dht.close())
        this._dhtView?._close()
        if (state) closed.push(dht.saveState(state))
      }
      this._http.closeAll()
      this._sockets.closeAll()
      this._driver.stop()
      const done = Promise.all(closed).then(() => undefined)
      if (cb) done.then(() => cb(null), cb)
      return done
    }

    // --- internals --------------------------------------------------------------------

    // Runs an add: fn(alive) returns the engine's torrent id, or null when the torrent
    // went away meanwhile (alive() turned false: removed, or the client destroyed), in
    // which case it stops quietly. A failure destroys the torrent with the error.
    _start (torrent, fn) {
      const alive = () => !torrent.destroyed && !this.destroyed && Boolean(this._engine)
      fn(alive).then(id => {
        if (id === null || !alive()) return
        torrent._attach(id)
        this._drain()
      }).catch(err => {
        if (torrent.destroyed || this.destroyed) return // (a seed hashes before the engine exists)
        this._fail(torrent, err)
      })
    }

    // A torrent's fatal error: it is removed, and the error goes to its 'error' listeners,
    // or else to the client's (as WebTorrent), or else is thrown outside the run loop.
    _fail (torrent, err) {
      if (torrent.destroyed) return this._emitError(torrent, err)
      this._remove(torrent, undefined, { error: err })
    }

    _emitError (torrent, err) {
      if (torrent?.listenerCount('error') > 0) torrent.emit('error', err)
      else if (this.listenerCount('error') > 0) this.emit('error', err)
      else queueMicrotask(() => { throw err })
    }

    // Engine calls return their value or {error}.
    _call (fn) {
      const v = fn()
      if (v && typeof v === 'object' && v.error) {
        const { code, message, position, context } = v.error
        throw new WasmTorrentError(message, { code, position, context })
      }
      return v
    }

    // The engine's add of `torrent` (fn): its first announces are made inside the call,
    // before the torrent has its engine id here (_announceParams asks for this one then).
    _adding (torrent, fn) {
      this._addingTorrent = torrent
      try {
        return fn()
      } finally {
        this._addingTorrent = null
      }
    }

    // seed: the store holds every piece; check: it may hold some (resume).
    _addBytes (torrentFile, { seed = false, check = false, announce, isPrivate, sequential = false, extra = {} } = {}) {
      const E = this._engine
      const ptr = E.reserve(torrentFile.length)
      this._M.HEAPU8.set(torrentFile, ptr)
      return this._call(() => E.addTorrent(ptr, torrentFile.length, seed, check, [].concat(announce ?? []), isPrivate, sequential, extra, now()))
    }

    // Resolves once the torrent's store is closed (or destroyed). The events come in
    // WebTorrent's order: the client's 'remove', the torrent's 'error' (error: why it failed),
    // its 'close'; but 'close' first for client.remove() (closeFirst), where WebTorrent's
    // client destroys the torrent before it says 'remove'.
    _remove (torrent, opts, { error = null, closeFirst = false } = {}) {
      if (torrent.destroyed) return Promise.resolve()
      torrent._final = torrent._snapshot()
      torrent.destroyed = true
      torrent._revokeBlobURL()
      // In place, as WebTorrent's: an app may hold on to client.torrents.
      const at = this.torrents.indexOf(torrent)
      if (at !== -1) this.torrents.splice(at, 1)
      if (torrent._id !== null && this._engine) {
        this._byId.delete(torrent._id)
        this._removedIds.add(torrent._id)
        this._engine.removeTorrent(torrent._id, now())
        this._drain()
      }
      const destroy = torrent._storeIsCopy || (opts?.destroyStore ?? Boolean(torrent._opts.destroyStoreOnDestroy))
      const closeBuilt = async () => {
        await torrent._seedWriting // a seed's content still going into the store: stops first
        const store = torrent._builtStore
        if (store) await (destroy ? store.destroy() : store.close())
      }
      const closing = torrent._storage ? torrent._storage.close({ destroy }) : closeBuilt()
      const closed = closing
        .finally(async () => {
          torrent._releaseStore?.()
          // A torrent added next claims the lock at once (ifAvailable): it must be gone by then.
          await torrent._storeReleased
          if (storeHolders.get(torrent._storeName) === torrent) storeHolders.delete(torrent._storeName)
        })
      torrent._storeClosed = closed
      if (closeFirst) torrent.emit('close')
      this.emit('remove', torrent)
      if (error) this._emitError(torrent, error)
      if (!closeFirst) torrent.emit('close')
      // After 'close', as WebTorrent's: no client, no files (the File objects an app holds
      // keep their totals).
      torrent._closed = true
      torrent.files = []
      return closed.catch(err => this.emit('warning', err))
    }

    // The storage of the torrent an engine storage request is for (null: it is gone).
    _storageOf (id) {
      const torrent = this._byId.get(id)
      if (!torrent?._makeStore) return null
      if (!torrent._storage) {
        const info = this._engine.info(id)
        const complete = (request, ok, bytes) => this._input((E, t) => {
          let n = 0
          if (bytes) {
            n = bytes.length
            this._M.HEAPU8.set(bytes, E.reserve(n))
          }
          E.storageCompleted(request, ok, n, t)
        })
        let store
        try {
          store = torrent._makeStore({ ...info, infoHash: torrent.infoHash ?? info.infoHash })
        } catch (err) {
          // A store that cannot be made for this torrent: the torrent's error, never a throw
          // out of the engine's run loop (after it, as removing a torrent is not done there).
          torrent._makeStore = null
          setTimeout(() => this._fail(torrent, err instanceof WasmTorrentError ? err : storageError('storage', err)))
          return null
        }
        torrent._storage = new TorrentStorage({
          store,
          pieceLength: info.pieceLength,
          length: info.length,
          complete,
          sha1: this._sha1,
          completeDigest: (request, digest, ok, bytes) => this._input((E, t) => {
            const n = bytes?.length ?? 0
            const at = E.reserve(digest.length + n)
            this._M.HEAPU8.set(digest, at)
            if (bytes) this._M.HEAPU8.set(bytes, at + digest.length)
            E.storageDigest(request, ok, n, t)
          }),
          deliver: (read, bytes) => torrent._deliverRead(read, bytes),
          cacheSlots: torrent._opts.storeCacheSlots,
          onWarning: err => torrent.emit('warning', new WasmTorrentError(err.message, { code: 'storage_slow' })),
          // The store cannot write (out of space): the torrent stops with the error; what
          // is stored stays intact for a later add to resume from.
          onError: err => {
            if (torrent.destroyed) return
            if (!(err instanceof WasmTorrentError)) err = storageError('storage', err)
            this._fail(torrent, err)
          }
        })
      }
      return torrent._storage
    }

    _httpHeaders () { return host.userAgent ? { 'user-agent': String(this.userAgent) } : {} }

    get _engine () { return this._driver.engine }
    _input (fn) { this._driver.input(fn) }
    _drain () { this._driver.drain() }

    // 'download' and 'upload' (bytes since the last report), at the engine's timer ticks.
    _reportTraffic () {
      for (const t of [...this.torrents]) {
        t._reportTraffic()
        t._syncWebSeeds()
      }
    }

    _dispatch (events) {
      const verified = new Set() // torrents with pieces verified: 'done' after all their 'verified'
      // Pieces verified in this batch that their torrent has not told yet: the engine's state
      // already has them, but a file they complete is 'done' only after their 'verified',
      // as WebTorrent's, which checks its files after each piece.
      for (const e of events) {
        if (e.type === 'piece') { const t = this._byId.get(e.torrent); if (t) (t._unreported ??= new Set()).add(e.piece) }
      }
      try {
        this._dispatchEach(events, verified)
      } finally {
        for (const e of events) if (e.type === 'piece') { const t = this._byId.get(e.torrent); if (t) t._unreported = null }
      }
      // A piece that completes the torrent outside the selection (a stream read it): the
      // engine's 'done' (the selection's) does not come then.
      for (const t of verified) {
        try { t._onDone() } catch (err) { queueMicrotask(() => { throw err }) }
      }
    }

    _dispatchEach (events, verified) {
      for (const e of events) {
        const t = this._byId.get(e.torrent)
        try {
          switch (e.type) {
            case 'metadata': t?._onMetadata(); break
            case 'done':
              t?._syncWebSeeds() // the web seeds' last 'download' before 'done'
              t?._onDone()
              t?._idleCheck()
              break
            case 'piece':
              if (!t) break
              t._unreported?.delete(e.piece)
              t._reportTraffic()
              // The web seeds' wires count their bytes with the torrent's (not at the next tick).
              if (t._webSeedWires.size > 0) t._syncWebSeeds()
              t.emit('verified', e.piece)
              if (!t.ready) break // the store's check: files are done once it is ready
              t._checkFilesDone(e.piece)
              t._notifySelections()
              verified.add(t)
              break
            case 'read': t?._onRead(e); break
            case 'checked':
              if (e.recheck) t?._rescans.shift()?.resolve()
              else if (t?._hasMetadata) t._onReady()
              break
            case 'hashFailed':
              if (t) t._done = false // a trusted piece that failed: 'done' again once fetched
              t?.emit('warning', new WasmTorrentError(`piece ${e.piece} failed its hash check and is downloaded again`, { code: 'hash_failed' }))
              break
            case 'peerBlocked': t?.emit('blockedPeer', e.address); break
            // As WebTorrent's: each address its trackers, the DHT, ut_pex or a magnet's x.pe
            // give, 'peer' when it will be dialled, 'invalidPeer' when the torrent holds it
            // already or cannot use it (one engine event per run of addresses).
            case 'peersFound':
              if (!t) break
              for (const address of e.added) if (!t.destroyed) t.emit('peer', address)
              for (const address of e.invalid) if (!t.destroyed) t.emit('invalidPeer', address)
              break
            case 'peerBanned':
              t?.emit('warning', new WasmTorrentError('a peer sent data that failed hash checks and was banned', { code: 'peer_banned' }))
              break
            case 'channel':
              this._peerOfConnection.set(e.connection, e.peer)
              // (a connection's uTP dial replaced by a TCP one keeps its id)
              if (e.utp) this._utpConnections.add(e.connection)
              else this._utpConnections.delete(e.connection)
              // (the engine's word, not the socket's: one closed in this batch is gone already)
              if (e.tcp) this._tcpConnections.add(e.connection)
              else this._tcpConnections.delete(e.connection)
              break
            case 'peerConnected': {
              if (!t) { this._input((E, now) => E.wireReady(e.connection, 0, now)); break }
              const wire = new Wire(t, e)
              useEngineExtensions(wire)
              // MSE (TCP): as the fields WebTorrent's wire keeps (its tests read them).
              wire._cryptoHandshakeDone = e.encryption > 0
              wire._encryptionMethod = e.encryption > 0 ? e.encryption : null
              const utp = this._utpConnections.has(e.connection)
              const stream = this._streams.peers.get(this._peerOfConnection.get(e.connection))
              if (stream) {
                // A connection the app brought: 'webrtc' (addPeer) or 'webSeed' (addWebSeed).
                wire.type = stream.type
                if (typeof stream.conn.remoteAddress === 'string') wire.remoteAddress = stream.conn.remoteAddress
                if (typeof stream.conn.remotePort === 'number') wire.remotePort = stream.conn.remotePort
              } else if (utp || this._tcpConnections.has(e.connection)) {
                // As WebTorrent's wires of TCP and uTP peers: their type, address and port apart.
                const m = /^\[?(.*?)\]?:(\d+)$/.exec(e.address)
                wire.type = utp ? (e.outgoing ? 'utpOutgoing' : 'utpIncoming') : (e.outgoing ? 'tcpOutgoing' : 'tcpIncoming')
                if (m) [wire.remoteAddress, wire.remotePort] = [m[1], Number(m[2])]
              }
              t._wires.set(e.connection, wire)
              // As WebTorrent's: 'wire' comes before any extended message, so that a
              // wire.use() here is in our first extension handshake; then the engine sends it.
              try {
                t.emit('wire', wire, e.address)
              } finally {
                const mask = wire._reportsReady() // (starts the extensions used there: inputs of their own)
                this._input((E, now) => E.wireReady(e.connection, mask, now))
              }
              break
            }
            case 'peerDisconnected': {
              this._peerOfConnection.delete(e.connection)
              this._utpConnections.delete(e.connection)
              this._tcpConnections.delete(e.connection)
              const wire = t?._wires.get(e.connection)
              t?._wires.delete(e.connection)
              wire?._onClose()
              break
            }
            case 'extensionHandshake': t?._wires.get(e.connection)?._onExtensionHandshake(e); break
            case 'extensionMessage': t?._wires.get(e.connection)?._onExtensionMessage(e); break
            case 'peerMessage': t?._wires.get(e.connection)?._onPeerMessage(e); break
            case 'announce':
              t?.emit('trackerAnnounce') // as WebTorrent's torrent, after each tracker answer
              break
            case 'scrape': t?.emit('scrape', { announce: e.url, complete: e.complete, incomplete: e.incomplete, downloaded: e.downloaded }); break
            // As WebTorrent's, after each DHT announce; one that reached no node (the DHT was
            // still bootstrapping) is retried within seconds, and only that retry counts.
            case 'dhtAnnounce': if (e.announcedTo > 0) t?.emit('dhtAnnounce'); break
            case 'dhtItem': case 'dhtPut': case 'dhtPeers': case 'dhtLookup': this._dhtView?._settle(e); break
            case 'dhtBootstrapped': this._dhtView?._bootstrapped(); break
            case 'warning':
              // One of a torrent removed within this batch (a failed store's other writes):
              // not the client's.
              if (!t && this._removedIds.has(e.torrent)) break
              (t ?? this).emit('warning', new WasmTorrentError(e.message, { code: e.code }))
              break
            case 'error': if (t) this._fail(t, new WasmTorrentError(e.message, { code: 'torrent_error' })); break
          }
        } catch (err) {
          queueMicrotask(() => { throw err }) // a listener threw: report it, keep dispatching
        }
      }
    }

    _output (o) {
      switch (o.type) {
        case 'openSocket': return this._sockets.open(o.url)
        case 'sendText': return this._sockets.send(o.url, o.text)
        case 'closeSocket': return this._sockets.close(o.url)
        case 'createOffer': return this._rtc.createOffer(o.peer)
        case 'createAnswer': return this._rtc.createAnswer(o.peer, o.sdp)
        case 'setAnswer': return this._rtc.setAnswer(o.peer, o.sdp)
        case 'closePeer': return this._transportOf(o.peer).close(o.peer)
        case 'connect': return this._tcp.connect(o.peer, o.host, o.port)
        case 'send': return this._transportOf(o.peer).send(o.peer, o.data)
        case 'http': return o.op === 'get' ? this._http.get(o) : this._http.cancel(o.id)
        case 'trackerGet': return this._http.trackerGet(o)
        case 'udpSend': return this._udp ? this._udp.send(o.url, o.data) : this._input((E, t) => E.udpFailed(o.url, 'no UDP here', t))
        case 'udpClose': return this._udp?.close(o.url)
        case 'dhtSend': return this._dht?.send(o.host, o.port, o.data)
        case 'utpSend': return this._utp?.send(o.host, o.port, o.data)
        case 'utpProbe': return this._utp?.probe(o.host, o.port)
        case 'lsdSend': return this._lsd?.send(o.v6, o.data)
        case 'storage': {
          const storage = this._storageOf(o.torrent)
          if (storage) return storage.handle(o)
          return this._input((E, t) => E.storageCompleted(o.id, false, 0, t))
        }
      }
    }

    // --- extensions (see wire.js) ------------------------------------------------------

    // The engine id of a BEP 10 extension, registered once per name (spoken per connection).
    _extensionId (name) {
      let id = this._extensions.get(name)
      if (id === undefined) {
        this._isBuiltinExtension(name) // learns the engine's own names while none is registered
        this._input((E, t) => { id = E.registerExtension(name, t) })
        this._extensions.set(name, id)
        this._extensionNamesKnown = null
      }
      return id
    }

    // True for a name the engine speaks itself (ut_metadata, ut_pex, lt_donthave): an app's
    // use() of one gets the peer's handshake and messages, while the engine goes on.
    _isBuiltinExtension (name) {
      this._builtinExtensions ??= new Set(this._extensionNames())
      return this._builtinExtensions.has(name)
    }

    // Extension `id` spoken on `connection`, with `fields` in our extension handshake to it.
    _enableExtension (connection, id, fields) {
      this._input((E, t) => E.enableExtension(connection, id, fields ?? {}, t))
    }

    // The engine's extension names, id order from 1 (wire.extendedMapping).
    _extensionNames () {
      if (!this._engine) return []
      this._extensionNamesKnown ??= this._engine.extensionNames()
      return this._extensionNamesKnown
    }

    // Copies bytes into the engine's input buffer (no allocation); gives its address.
    _inHeap (bytes) {
      const ptr = this._engine.reserve(bytes.length)
      this._M.HEAPU8.set(bytes, ptr)
      return ptr
    }

    _bdecode (bytes) {
      return this._M.bencode_decode(this._inHeap(bytes), bytes.length)
    }

    // A .torrent's info dict with these trackers and web seeds (torrent.torrentFile).
    _torrentFileWith (bytes, announce, urlList, isPrivate) {
      const out = this._M.torrent_file_with(this._inHeap(bytes), bytes.length, announce ?? [], urlList ?? [], isPrivate)
      return out instanceof Uint8Array ? out : bytes
    }

    _bencode (value) {
      const bytes = this._M.bencode(value)
      if (!bytes) throw new WasmTorrentError('wire.extended: cannot bencode this value', { code: 'invalid_argument' })
      return bytes
    }

    // `bytes` as a message of extension `id` on `connection`: the engine's id of a registered
    // extension, or with peersId the peer's own id for it (wire.extended of a name not
    // use()d, or of a number).
    _sendExtension (connection, id, bytes, { peersId = false } = {}) {
      let sent = false
      this._input((E, t) => {
        const ptr = E.reserve(bytes.length)
        this._M.HEAPU8.set(bytes, ptr)
        sent = peersId ? E.sendExtendedToPeer(connection, id, bytes.length, t) : E.sendExtensionMessage(connection, id, bytes.length, t)
      })
      return sent
    }

    _closeConnection (connection) {
      const peer = this._peerOfConnection.get(connection)
      // A uTP connection lives in the engine (no socket of its own here): the engine ends it.
      if (this._utpConnections.has(connection)) this._input((E, t) => E.disconnect(peer, t))
      else this._transportOf(peer).fail(peer)
    }

    // WebTorrent's natUpnp and natPmp (both on by default, as WebTorrent's): the router is
    // asked to forward torrentPort (TCP, and UDP for uTP) and dhtPort (UDP) to this machine,
    // by NAT-PMP (RFC 6886, to the gateway of the default route) or UPnP IGD (found by an
    // SSDP search), both the engine's (src/portmap); renewed while the client runs and
    // deleted by destroy() (natUpnp: 'permanent' asks for permanent UPnP mappings and keeps
    // them). As WebTorrent's nat-api, each port by NAT-PMP first, by UPnP where NAT-PMP did
    // not map it (the router refused it, or has no NAT-PMP: nothing answered within 2 s), so
    // a router that speaks both holds one mapping per port, not two. Ours: natPmp: { gateway:
    // 'a.b.c.d' } names the gateway. client.portMappings lists what the router granted, by
    // which protocol; a refusal is a 'warning' (code port_mapping_failed); a router that
    // answers neither is quiet, as WebTorrent's.
    async _startPortMapping (opts) {
      if (this.destroyed) return
      const ports = [['tcp', this.torrentPort]]
      if (this.utp) ports.push(['udp', this.torrentPort])
      if (this._dht && this.dhtPort) ports.push(['udp', this.dhtPort])
      const upnp = opts.natUpnp !== false && opts.natUpnp !== null
      this._upnpOptions = upnp ? { permanent: opts.natUpnp === 'permanent' } : null
      const pmp = opts.natPmp !== false && opts.natPmp !== null
      const gateway = !pmp ? null : typeof opts.natPmp?.gateway === 'string' ? opts.natPmp.gateway : await host.defaultGateway()
      if (this.destroyed || this._natPmp || this._upnp) return
      this._mappedPorts = ports
      if (!gateway) {
        for (const [protocol, port] of ports) this._mapByUpnp(protocol, port)
        return
      }
      this._natPmp = new host.NatPmp({ M: this._M, gateway, on: (type, e) => this._onPortMapping('natpmp', type, e) })
      for (const [protocol, port] of ports) this._natPmp.map(protocol, port)
      if (upnp) {
        this._natPmpSilence = setTimeout(() => {
          if (this._natPmpAnswered || this.destroyed || !this._natPmp) return
          this._natPmp.close({ keep: true }) // nothing was mapped by it
          this._natPmp = null
          for (const [protocol, port] of ports) this._mapByUpnp(protocol, port)
        }, 2000)
      }
    }

    _mapByUpnp (protocol, port) {
      if (!this._upnpOptions || this.destroyed) return
      this._upnp ??= new host.Upnp({ M: this._M, on: (type, e) => this._onPortMapping('upnp', type, e), ...this._upnpOptions })
      this._upnp.map(protocol, port)
    }

    _onPortMapping (via, type, e) {
      if (via === 'natpmp' && (type === 'address' || type === 'mapped')) this._natPmpAnswered = true
      if (type === 'address') this.publicAddress = e.address
      if (type === 'mapped' || type === 'unmapped' || type === 'failed') {
        this.portMappings = this.portMappings.filter(m => m.protocol !== e.protocol || m.internalPort !== e.internalPort || m.via !== via)
      }
      if (type === 'mapped') {
        this.portMappings.push({ protocol: e.protocol, internalPort: e.internalPort, externalPort: e.externalPort, lifetime: e.lifetime, publicAddress: this.publicAddress, via })
      }
      if (type === 'failed' && via === 'natpmp' && this._upnpOptions) {
        // UPnP's turn: for that port, or for every port when the public address was refused.
        const ports = e.internalPort ? [[e.protocol, e.internalPort]] : this._mappedPorts
        for (const [protocol, port] of ports) this._mapByUpnp(protocol, port)
        return
      }
      if (type === 'failed' && e.result !== null && !this.destroyed) {
        const name = via === 'upnp' ? 'natUpnp' : 'natPmp'
        this.emit('warning', new WasmTorrentError(`${name}: the router refused to map ${e.protocol} port ${e.internalPort}: ${e.reason}`, { code: 'port_mapping_failed' }))
      }
    }

    // Restores the node table of an earlier run, then bootstraps from the routers
    // (opts.bootstrap: "host:port" entries; default the usual public routers).
    async _startDht (opts = {}) {
      const dht = this._dht
      const state = await dht.loadState()
      if (state && this._dht === dht) {
        this._input((E, t) => { this._M.HEAPU8.set(state, E.reserve(state.length)); E.dhtLoadState(state.length, t) })
        this._nodeId = this._engine.dhtNodeId() ?? this._nodeId // the saved id, unless nodeId was given
      }
      const routers = await dht.resolve([].concat(opts.bootstrap ?? host.dhtBootstrap))
      if (this._dht === dht) this._input((E, t) => E.dhtBootstrap(routers, t))
    }

    // A port free for both TCP and UDP: uTP's UDP socket bound first (any free port), then
    // TCP on its number, again with another port when that one is taken for TCP. Returns
    // [port, the Utp transport], or null after a few tries (the caller then goes as before).
    async _listenTcpAndUdp (input) {
      for (let attempt = 0; attempt < 5 && !this.destroyed; attempt++) {
        const utp = new host.Utp({ input, heap: () => this._M.HEAPU8 })
        const port = await utp.listen(0).catch(() => null)
        if (!port) return null
        try {
          return [await this._tcp.listen(port), utp]
        } catch {
          utp.close()
        }
      }
      return null
    }

    get maxConns () { return this._maxConns }
    set maxConns (n) {
      this._maxConns = n
      if (this._driver?.engine) this._input((E, t) => E.setMaxConns(connectionCount(n), t))
    }

    // WebTorrent's peerIdBuffer and nodeIdBuffer: the ids as bytes (null while unknown).
    get peerIdBuffer () { return this.peerId ? hexToBytes(this.peerId) : null }
    get nodeIdBuffer () { return this.nodeId ? hexToBytes(this.nodeId) : null }

    // The DHT's id, read where it lives: the engine replaces a random one by one valid for
    // the address the DHT's nodes report (BEP 42).
    get nodeId () {
      if (this._dht && this._engine) this._nodeId = this._engine.dhtNodeId() ?? this._nodeId
      return this._nodeId
    }

    // WebTorrent's getAnnounceOpts, the client's (tracker.getAnnounceOpts) then the
    // torrent's (add option), merged into each announce of torrent `id` to every tracker,
    // as WebTorrent's; called by the engine as it builds the announce (so once per
    // announce, per tracker). Calls the functions make into the client wait until the
    // engine's call is over (the driver defers them). A function that throws adds nothing
    // (its error is thrown outside the engine's call).
    _announceParams (id) {
      const torrent = this._byId.get(id) ?? this._addingTorrent
      if (!torrent || torrent.destroyed) return []
      const merged = {}
      this._driver.callback(() => {
        for (const fn of [this._opts.tracker?.getAnnounceOpts, torrent._opts.getAnnounceOpts]) {
          if (typeof fn !== 'function') continue
          try {
            Object.assign(merged, fn())
          } catch (err) {
            queueMicrotask(() => { throw err })
          }
        }
      })
      return Object.entries(merged).map(([key, value]) => announceParam(key, value)).filter(Boolean)
    }

    // Nodes in the DHT's routing table (0 without a DHT), e.g. to show that it works.
    get dhtNodes () { return this._dht && this._engine ? this._engine.dhtNodes() : 0 }

    // The transport holding engine peer `peer`: a TCP socket, a data channel, or a
    // connection object the app brought.
    _transportOf (peer) {
      if (this._streams.has(peer)) return this._streams
      return this._tcp?.has(peer) ? this._tcp : this._rtc
    }

    // A connection object the app brought (torrent.addPeer, addWebSeed).
    _attachStream (torrent, entry) {
      let id = -1
      this._input((E, t) => { id = E.attachChannel(torrent._id, t) })
      if (id >= 0) this._streams.bind(entry, id)
      else this._streams.drop(entry)
    }

    // A data channel the page signalled itself (torrent.addPeer).
    _attachChannel (torrent, dc, early = []) {
      let id = -1
      this._input((E, t) => { id = E.attachChannel(torrent._id, t) })
      if (id >= 0) this._rtc.attach(id, dc, early)
    }
  }


  // As WebTorrent's: the package's version (apps print it; webtorrent-cli's `version`).
  WasmTorrent.VERSION = version
  // As WebTorrent's: can this environment make WebRTC connections?
  WasmTorrent.WEBRTC_SUPPORT = typeof globalThis.RTCPeerConnection === 'function'
  WasmTorrent.UTP_SUPPORT = Boolean(host.Utp) // as WebTorrent's: uTP under Node, none in browsers

  return WasmTorrent
}
