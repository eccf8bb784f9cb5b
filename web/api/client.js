// The browser client: WebTorrent-compatible Client / Torrent over the engine's client
// facade (bindings: M.Client), driven by engine/driver.js: the engine's commands go to the
// transports (transports/) and each torrent's store (engine/storage.js over storage/), its
// events become the API's. Trackers, offers/answers routing and the BitTorrent protocol
// are in C++.

import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'
import { File, enginePriority } from './file.js'
import { Wire } from './wire.js'
import { StreamServer } from '../stream/server.js'
import { WebSocketTransport } from '../transports/websocket.js'
import { RtcTransport, BUFFER_HIGH, DEFAULT_ICE_SERVERS } from '../transports/rtc.js'
import { HttpTransport } from '../transports/http.js'
import { Driver, now } from '../engine/driver.js'
import { TorrentStorage } from '../engine/storage.js'
import { storeFor } from '../storage/index.js'
import { MemoryStore } from '../storage/memory.js'
import { BlobStore } from '../storage/blob.js'

// A rate in WebTorrent's terms (bytes/s, -1 or absent = unlimited) for the engine (0 =
// unlimited, so a requested 0 becomes 1 byte/s).
function engineRate (rate) {
  if (rate === undefined || rate === null || rate < 0) return 0
  return Math.max(1, Math.floor(rate))
}

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
  const state = navigator.permissions?.query({ name: 'persistent-storage' }).then(s => s.state, () => 'prompt') ?? Promise.resolve('prompt')
  state.then(s => { if (s !== 'prompt') return navigator.storage.persist() }).catch(() => {})
}

// opts.peerId: 40 hex digits, or 20 bytes (a Uint8Array, or a 20-character string).
// WebTorrent's webSeeds option is a boolean (default true); here also the policy:
// 'fallback' (default: web seeds fetch what the peers cannot give, see README) or 'always'
// (a web seed is one more peer, as in WebTorrent). false: web seeds are never used.
function webSeedPolicy (value) {
  if (value === undefined || value === true) return undefined
  if (value === false) return 'off'
  if (value === 'fallback' || value === 'always') return value
  throw new WasmTorrentError(`webSeeds: expected true, false, 'fallback' or 'always', not ${value}`, { code: 'invalid_argument', context: 'webSeeds' })
}

function peerIdHex (id) {
  if (id === undefined || id === null) return undefined
  if (typeof id === 'string' && /^[0-9a-fA-F]{40}$/.test(id)) return id.toLowerCase()
  const bytes = typeof id === 'string' ? Uint8Array.from(id, c => c.charCodeAt(0)) : id
  if (bytes instanceof Uint8Array && bytes.length === 20 && bytes.every(b => b < 256)) {
    return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
  }
  throw new WasmTorrentError('peerId: give 20 bytes (a Uint8Array or 40 hex digits)', { code: 'invalid_argument' })
}

// internals: { getModule, createTorrent, parseTorrent, toMagnetURI, collectInputs }
export function makeClientClass (internals) {
  const { getModule, createTorrent, toMagnetURI, collectInputs } = internals

  class Torrent extends Emitter {
    constructor (client, opts = {}) {
      super()
      this._client = client
      this._id = null
      this._opts = opts
      this.infoHash = null
      this.name = opts.name ?? null
      this.files = []
      this.length = 0
      this.pieceLength = 0
      this.pieceCount = 0
      this.announce = [...client._announce] // the torrent's trackers, once known
      this.ready = false
      this.destroyed = false
      this.paused = Boolean(opts.paused) // add(id, { paused: true }) starts paused
      this._done = false
      this._torrentFile = null   // the .torrent bytes, when added from them or seeded
      this._reads = new Map()    // engine read id -> { resolve, reject }
      this._wires = new Map()    // engine connection id -> Wire
      this._pendingPeers = []    // addPeer() before the engine knew the torrent
      this._pendingWebSeeds = [] // addWebSeed() likewise
      this._makeStore = null     // (info) => store, once the torrent's store is decided
      this._storage = null       // its TorrentStorage, from the first storage request
      this._releaseStore = null  // lets another tab have the store, once this one is done
      this._storeReleased = null // settles when it has
      this.once('close', () => {
        const err = new WasmTorrentError('torrent destroyed', { code: 'destroyed' })
        for (const { reject } of this._reads.values()) reject(err)
        this._reads.clear()
        for (const w of this._wires.values()) w._onClose()
        this._wires.clear()
      })
    }

    get wires () { return [...this._wires.values()] }

    // The .torrent file (Uint8Array): as added or seeded, or built from the metadata
    // received from peers and the trackers; null before the metadata.
    get torrentFile () {
      if (this._torrentFile) return this._torrentFile
      if (this._id === null || !this.ready || this.destroyed) return null
      return this._client._engine.torrentFile(this._id)
    }

    get magnetURI () {
      if (!this.infoHash) return null
      return toMagnetURI({ infoHash: this.infoHash, name: this.name ?? undefined, announce: this.announce })
    }

    _stats () { return this._id === null || this.destroyed ? null : this._client._engine.stats(this._id) }
    // Of the selected pieces (all, unless some were deselected), as WebTorrent's.
    get progress () { return this._stats()?.progress ?? (this._done ? 1 : 0) }
    get downloaded () { return this._stats()?.downloaded ?? 0 }
    get received () { return this.downloaded }
    get uploaded () { return this._stats()?.uploaded ?? 0 }
    get downloadSpeed () { return this._stats()?.downloadSpeed ?? 0 }
    get uploadSpeed () { return this._stats()?.uploadSpeed ?? 0 }
    get numPeers () { return this._stats()?.peers ?? 0 }
    // Bytes that came from web seeds (part of `downloaded`): a site's offload is
    // 1 - webSeedDownloaded / downloaded.
    get webSeedDownloaded () { return this._stats()?.webSeedDownloaded ?? 0 }
    // Each web seed: { url, state: 'active' | 'waiting' | 'dropped', downloaded, requests,
    // failures, error, message }.
    get webSeeds () { return this._id === null || this.destroyed ? [] : this._client._engine.webSeeds(this._id) }
    get ratio () { return this.downloaded ? this.uploaded / this.downloaded : 0 }
    get done () { return this._stats()?.finished ?? this._done }
    get timeRemaining () {
      const s = this._stats()
      if (!s || s.finished) return 0
      return s.downloadSpeed > 0 ? ((s.total - s.have) / s.downloadSpeed) * 1000 : Infinity
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
      for (const url of this._pendingWebSeeds.splice(0)) this.addWebSeed(url)
      if (this.paused) this._client._input((E, t) => E.pause(id, t))
    }

    // A peer connected by the page itself: an RTCDataChannel (open or still connecting)
    // that reaches another BitTorrent peer of this torrent. Hand it over before it can
    // receive anything (in ondatachannel, or right after createDataChannel): a message
    // that arrives before is lost. The browser has no TCP, so "ip:port" addresses are
    // refused with a clear error.
    addPeer (peer) {
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
      throw new WasmTorrentError('addPeer: give an RTCDataChannel (addresses need TCP, which browsers lack)',
        { code: 'not_supported' })
    }

    // A BEP 19 web seed: an HTTP(S) URL holding the torrent's files (for a multi-file
    // torrent, the folder above the torrent's name). WebTorrent's addWebSeed also takes a
    // custom connection object; that has no equivalent here and gets a clear error.
    addWebSeed (url) {
      if (url instanceof URL) url = url.href
      if (typeof url !== 'string') {
        throw new WasmTorrentError('addWebSeed: give the URL of a web seed (custom connection objects are not supported)', { code: 'not_supported' })
      }
      if (!/^https?:\/\//i.test(url)) {
        this.emit('warning', new WasmTorrentError(`addWebSeed: ${url} is not an http(s) URL`, { code: 'invalid_argument' }))
        return
      }
      if (this.destroyed) return
      if (this._id === null) {
        this._pendingWebSeeds.push(url)
        return
      }
      this._client._input((E, t) => E.addWebSeed(this._id, url, t)) // false: known already, or too many
    }

    // Pieces [start, end] (inclusive) at a relative priority (WebTorrent's: 0 normal,
    // higher sooner); deselect() stops downloading them; critical() fetches them first.
    select (start, end, priority = 0) { this._pieces('setPiecePriority', start, end, enginePriority(priority)) }
    deselect (start, end) { this._pieces('setPiecePriority', start, end, 0) }
    critical (start, end) { this._pieces('addCriticalPieces', start, end) }

    // Pause: every connection of the torrent closed, no new ones, trackers told
    // "stopped"; pieces, readers and reads of verified bytes stay. (WebTorrent only stops
    // connecting to new peers.) Resume connects again.
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
      if (!this.ready) throw new WasmTorrentError(`${call}: the torrent has no metadata yet`, { code: 'not_ready' })
      const first = Math.max(0, Math.floor(start))
      const last = Math.min(this.pieceCount - 1, Math.floor(end ?? start))
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
      const bits = this._id === null || this.destroyed ? null : this._client._engine.havePieces(this._id)
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

    _openReader (offset, readahead) {
      let id = 0
      this._client._input((E, t) => { id = this._engine().openReader(this._id, offset, readahead, t) })
      return id
    }

    _seekReader (reader, offset, readahead = -1) {
      this._client._input((E, t) => this._engine().seekReader(this._id, reader, offset, readahead, t))
    }

    _closeReader (reader) {
      if (this.destroyed || !this._client._engine) return
      this._client._input((E, t) => E.closeReader(this._id, reader, t))
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
    // this torrent's until it is removed. A torrent of this page that is closing the store
    // is waited for (remove, then add again). Without Web Locks (Node) there are no tabs.
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
          released = navigator.locks.request(`wasmtorrent-store:${name}`, { ifAvailable: true }, lock => {
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
      return true
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
      else pending.reject(new WasmTorrentError(`read failed: ${bytes?.message ?? 'storage failed'}`, { code: 'read_failed' }))
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
      if (!info || this.ready) return
      this.infoHash = info.infoHash
      this.name = info.name
      this.length = info.length
      this.pieceLength = info.pieceLength
      this.pieceCount = info.pieces
      this.files = info.files.map(f => new File(this, f))
      this.ready = true
      this.emit('metadata')
      this.emit('ready')
    }

    // The selected pieces are all verified (again, after a later select()).
    _onDone () {
      // Events are dispatched after the calls of the same tick: a deselect-all followed
      // at once by a select is not "done".
      if (this._stats()?.finished === false) return
      this._done = true
      this.emit('done')
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
      const peerId = peerIdHex(opts.peerId)
      this.torrents = []
      this.destroyed = false
      this._opts = opts
      const tracker = opts.tracker === false ? {} : (opts.tracker ?? {})
      this._announce = [].concat(tracker.announce ?? [])
      this._byId = new Map()        // engine torrent id -> Torrent
      const input = fn => this._input(fn)
      this._sockets = new WebSocketTransport(input)
      this._rtc = new RtcTransport({ input, heap: () => this._M.HEAPU8, rtcConfig: tracker.rtcConfig ?? { iceServers: DEFAULT_ICE_SERVERS } })
      this._http = new HttpTransport({ input, heap: () => this._M.HEAPU8 })
      this._peerOfConnection = new Map() // engine connection id -> engine peer id
      this._extensions = new Map()  // BEP 10 name -> engine extension id
      this._limits = { download: opts.downloadLimit ?? -1, upload: opts.uploadLimit ?? -1 }
      this._driver = new Driver({
        output: o => this._output(o),
        events: batch => this._dispatch(batch),
        tick: () => this._reportUploads()
      })
      this.ready = getModule().then(M => {
        if (this.destroyed) return
        this._M = M
        this._driver.start(new M.Client({
          trackers: this._announce,
          seed: opts.seed ?? Math.floor(Math.random() * 2 ** 52),
          sendBufferLimit: BUFFER_HIGH,
          peerId,
          maxConns: opts.maxConns,
          maxWebConns: opts.maxWebConns,
          webSeeds: webSeedPolicy(opts.webSeeds),
          webSeedBudget: opts.webSeedBudget,
          streamPieceBytes: opts.streamPieceBytes,
          downloadLimit: engineRate(opts.downloadLimit),
          uploadLimit: engineRate(opts.uploadLimit)
        }))
        this.peerId = this._engine.peerId()
      })
      this.ready.catch(err => this.emit('error', err))
    }

    // WebTorrent's throttles: bytes/s, -1 = unlimited (0 = as good as stopped: 1 byte/s).
    throttleDownload (rate) { this._limits.download = rate; this._applyLimits() }
    throttleUpload (rate) { this._limits.upload = rate; this._applyLimits() }
    _applyLimits () {
      this.ready.then(() => this._input((E, t) => E.setRateLimits(engineRate(this._limits.download), engineRate(this._limits.upload), t)))
    }

    get downloadSpeed () { return this.torrents.reduce((a, t) => a + t.downloadSpeed, 0) }
    get uploadSpeed () { return this.torrents.reduce((a, t) => a + t.uploadSpeed, 0) }
    get progress () {
      const ts = this.torrents.filter(t => t.length > 0)
      const total = ts.reduce((a, t) => a + t.length, 0)
      return total ? ts.reduce((a, t) => a + t.progress * t.length, 0) / total : 0
    }

    get ratio () {
      const down = this.torrents.reduce((a, t) => a + t.downloaded, 0)
      return down ? this.torrents.reduce((a, t) => a + t.uploaded, 0) / down : 0
    }

    get (id) {
      const hash = typeof id === 'string' ? (/btih:([0-9a-f]{40})/i.exec(id)?.[1] ?? id).toLowerCase() : id?.infoHash
      return this.torrents.find(t => t === id || t.infoHash === hash) ?? null
    }

    // client.add(magnet | info-hash | .torrent bytes | Blob | URL, opts?, ontorrent?)
    add (torrentId, opts = {}, ontorrent) {
      if (typeof opts === 'function') [opts, ontorrent] = [{}, opts]
      const torrent = new Torrent(this, opts)
      this.torrents.push(torrent)
      if (ontorrent) torrent.once('ready', () => ontorrent(torrent))
      for (const url of [].concat(opts.urlList ?? [])) torrent.addWebSeed(url) // next to url-list and ws=
      this._start(torrent, async () => {
        await this.ready
        let Store = storeFor(opts.store)
        // The store is named by opts.path or the info-hash. One that outlives the page may
        // hold pieces of an earlier visit: the engine reads them back and hashes them before
        // downloading (resume). Another tab that has the same torrent open owns its store
        // (OPFS files are opened exclusively): this one keeps its pieces in memory.
        const claim = async infoHash => {
          const name = opts.path ?? infoHash
          if (Store !== MemoryStore && !(await torrent._claimStore(name))) Store = MemoryStore
          if (Store !== MemoryStore) persistStorage()
          torrent._makeStore = info => new Store({ name, pieceLength: info.pieceLength, length: info.length })
          return Store !== MemoryStore
        }
        if (typeof torrentId === 'string' && /^[0-9a-f]{40}$/i.test(torrentId)) torrentId = `magnet:?xt=urn:btih:${torrentId}`
        if (typeof torrentId === 'string' && /^magnet:/.test(torrentId)) {
          const hash = /xt=urn:btih:([0-9a-fA-F]{40})/.exec(torrentId)?.[1]
          if (hash) { torrent.infoHash = hash.toLowerCase(); torrent.emit('infoHash', torrent.infoHash) }
          const parsed = await internals.parseTorrent(torrentId)
          torrent._addTrackers(parsed.announce, opts.announce)
          const check = await claim(parsed.infoHash)
          if (torrent.destroyed) return null
          return this._call(() => this._engine.addMagnet(torrentId, [].concat(opts.announce ?? []), check, now()))
        }
        let bytes = torrentId
        if (typeof torrentId === 'string' || torrentId instanceof URL) {
          const res = await fetch(torrentId)
          if (!res.ok) throw new WasmTorrentError(`${torrentId}: HTTP ${res.status}`, { code: 'fetch_failed' })
          bytes = new Uint8Array(await res.arrayBuffer())
        } else if (typeof Blob !== 'undefined' && torrentId instanceof Blob) {
          bytes = new Uint8Array(await torrentId.arrayBuffer())
        }
        if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes.buffer ?? bytes)
        const parsed = await internals.parseTorrent(bytes)
        torrent._addTrackers(parsed.announce, opts.announce)
        torrent._torrentFile = bytes
        const check = await claim(parsed.infoHash)
        if (torrent.destroyed) return null
        return this._addBytes(bytes, { check, announce: opts.announce })
      })
      return torrent
    }

    // client.seed(File | Blob | Uint8Array | {path, data} | arrays | FileList, opts?, onseed?)
    seed (input, opts = {}, onseed) {
      if (typeof opts === 'function') [opts, onseed] = [{}, opts]
      const torrent = new Torrent(this, opts)
      this.torrents.push(torrent)
      if (onseed) torrent.once('ready', () => onseed(torrent))
      this._start(torrent, async () => {
        await this.ready
        const createOpts = { ...opts }
        if (!createOpts.announce && !createOpts.announceList) createOpts.announceList = this._announce.map(u => [u])
        // 'hashing' (bytes hashed, of total) while the pieces are hashed: minutes for a
        // multi-GiB file.
        const torrentFile = await createTorrent(input, createOpts, (hashed, total) => torrent.emit('hashing', hashed, total))
        const info = await internals.parseTorrent(torrentFile)
        torrent._addTrackers(info.announce)
        // The content in the torrent's file order, matched to the inputs by path, is read
        // from the inputs themselves when peers ask (File.slice): never copied whole.
        const items = collectInputs(input, { ...opts })
        const pick = path => items.length === 1
          ? items[0]
          : items.find(it => path === it.path || path.endsWith('/' + it.path) || it.path.endsWith('/' + path))
        const blobs = info.files.map(f => {
          const item = pick(f.path)
          if (!item) throw new WasmTorrentError(`seed: no input for ${f.path}`, { code: 'invalid_argument' })
          return item.data instanceof Uint8Array ? new Blob([item.data]) : item.data
        })
        torrent._makeStore = () => new BlobStore({ name: info.infoHash, pieceLength: info.pieceLength, length: info.length, blobs })
        torrent._torrentFile = torrentFile
        return this._addBytes(torrentFile, { seed: true })
      })
      torrent.once('ready', () => torrent._onDone())
      return torrent
    }

    // Service-worker streaming: opts.controller is the ServiceWorkerRegistration of
    // dist/wasmtorrent-sw.js. Then file.streamURL and file.streamTo(video) work.
    createServer (opts) {
      this._server?.close()
      this._server = new StreamServer(this, opts)
      return this._server
    }

    addAsync (torrentId, opts) {
      return new Promise((resolve, reject) => {
        const t = this.add(torrentId, opts, resolve)
        t.once('error', reject)
      })
    }

    seedAsync (input, opts) {
      return new Promise((resolve, reject) => {
        const t = this.seed(input, opts, resolve)
        t.once('error', reject)
      })
    }

    // opts.destroyStore: delete what the torrent's store holds (default: its
    // destroyStoreOnDestroy add option, false).
    remove (torrentId, opts, cb) {
      if (typeof opts === 'function') [opts, cb] = [undefined, opts]
      const t = this.get(torrentId)
      if (!t) {
        cb?.(new Error('No torrent with id ' + torrentId))
        return Promise.resolve()
      }
      const closed = this._remove(t, opts)
      if (cb) closed.then(() => cb(null), cb)
      return closed
    }

    destroy (cb) {
      if (this.destroyed) return cb?.(null)
      this.destroyed = true
      this._server?.close()
      for (const t of [...this.torrents]) this._remove(t)
      this._rtc.closeAll()
      this._http.closeAll()
      this._sockets.closeAll()
      this._driver.stop()
      cb?.(null)
    }

    // --- internals --------------------------------------------------------------------

    _start (torrent, fn) {
      fn().then(id => {
        if (torrent.destroyed || this.destroyed) return
        torrent._attach(id)
        this._drain()
        this.emit('torrent', torrent)
        this.emit('add', torrent)
      }).catch(err => {
        this.torrents = this.torrents.filter(t => t !== torrent)
        if (torrent.listenerCount('error') > 0) torrent.emit('error', err)
        else this.emit('error', err)
      })
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

    // seed: the store holds every piece; check: it may hold some (resume).
    _addBytes (torrentFile, { seed = false, check = false, announce } = {}) {
      const E = this._engine
      const ptr = E.reserve(torrentFile.length)
      this._M.HEAPU8.set(torrentFile, ptr)
      return this._call(() => E.addTorrent(ptr, torrentFile.length, seed, check, [].concat(announce ?? []), now()))
    }

    // Resolves once the torrent's store is closed (or destroyed).
    _remove (torrent, opts) {
      if (torrent.destroyed) return Promise.resolve()
      torrent.destroyed = true
      this.torrents = this.torrents.filter(t => t !== torrent)
      if (torrent._id !== null && this._engine) {
        this._byId.delete(torrent._id)
        this._engine.removeTorrent(torrent._id, now())
        this._drain()
      }
      const destroy = opts?.destroyStore ?? Boolean(torrent._opts.destroyStoreOnDestroy)
      const closed = (torrent._storage ? torrent._storage.close({ destroy }) : Promise.resolve())
        .finally(async () => {
          torrent._releaseStore?.()
          // A torrent added next claims the lock at once (ifAvailable): it must be gone by then.
          await torrent._storeReleased
          if (storeHolders.get(torrent._storeName) === torrent) storeHolders.delete(torrent._storeName)
        })
      torrent._storeClosed = closed
      torrent.emit('close')
      this.emit('remove', torrent)
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
        torrent._storage = new TorrentStorage({
          store: torrent._makeStore({ ...info, infoHash: torrent.infoHash ?? info.infoHash }),
          pieceLength: info.pieceLength,
          length: info.length,
          complete,
          completeDigest: (request, digest) => this._input((E, t) => {
            this._M.HEAPU8.set(digest, E.reserve(digest.length))
            E.storageDigest(request, t)
          }),
          deliver: (read, bytes) => torrent._deliverRead(read, bytes),
          onWarning: err => torrent.emit('warning', new WasmTorrentError(err.message, { code: 'storage_slow' })),
          // The store cannot write (out of space): the torrent stops with the error; what
          // is stored stays intact for a later add to resume from.
          onError: err => {
            if (torrent.destroyed) return
            if (!(err instanceof WasmTorrentError)) err = new WasmTorrentError(`storage: ${err?.message ?? err}`, { code: 'storage_failed' })
            this._remove(torrent)
            if (torrent.listenerCount('error') > 0) torrent.emit('error', err)
            else this.emit('error', err)
          }
        })
      }
      return torrent._storage
    }

    get _engine () { return this._driver.engine }
    _input (fn) { this._driver.input(fn) }
    _drain () { this._driver.drain() }

    // 'upload' (bytes since the last report), at the engine's timer ticks.
    _reportUploads () {
      for (const t of this.torrents) {
        const uploaded = t.uploaded
        if (uploaded > (t._reportedUpload ?? 0)) {
          const bytes = uploaded - (t._reportedUpload ?? 0)
          t._reportedUpload = uploaded
          t.emit('upload', bytes)
        }
      }
    }

    _dispatch (events) {
      for (const e of events) {
        const t = this._byId.get(e.torrent)
        try {
          switch (e.type) {
            case 'metadata': t?._onMetadata(); break
            case 'done': t?._onDone(); break
            case 'piece':
              t?.emit('download', t.pieceLength)
              t?.emit('verified', e.piece) // ours: which piece
              break
            case 'read': t?._onRead(e); break
            case 'hashFailed':
              t?.emit('warning', new WasmTorrentError(`piece ${e.piece} failed its hash check and is downloaded again`, { code: 'hash_failed' }))
              break
            case 'peerBanned':
              t?.emit('warning', new WasmTorrentError('a peer sent data that failed hash checks and was banned', { code: 'peer_banned' }))
              break
            case 'channel': this._peerOfConnection.set(e.connection, e.peer); break
            case 'peerConnected': {
              if (!t) break
              const wire = new Wire(t, e)
              t._wires.set(e.connection, wire)
              t.emit('wire', wire, e.address)
              break
            }
            case 'peerDisconnected': {
              this._peerOfConnection.delete(e.connection)
              const wire = t?._wires.get(e.connection)
              t?._wires.delete(e.connection)
              wire?._onClose()
              break
            }
            case 'extensionHandshake': t?._wires.get(e.connection)?._onExtensionHandshake(e); break
            case 'extensionMessage': t?._wires.get(e.connection)?._onExtensionMessage(e); break
            case 'announce':
              // The tracker knows nobody else: WebTorrent's 'noPeers'.
              if (t && t.numPeers === 0 && (e.complete ?? 0) + (e.incomplete ?? 0) <= 1) t.emit('noPeers', 'tracker')
              break
            case 'warning': (t ?? this).emit('warning', new WasmTorrentError(e.message, { code: e.code })); break
            case 'error': t?.emit('error', new WasmTorrentError(e.message, { code: 'torrent_error' })); break
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
        case 'closePeer': return this._rtc.close(o.peer)
        case 'send': return this._rtc.send(o.peer, o.data)
        case 'http': return o.op === 'get' ? this._http.get(o) : this._http.cancel(o.id)
        case 'storage': {
          const storage = this._storageOf(o.torrent)
          if (storage) return storage.handle(o)
          return this._input((E, t) => E.storageCompleted(o.id, false, 0, t))
        }
      }
    }

    // --- extensions (see wire.js) ------------------------------------------------------

    // The engine id of a BEP 10 extension; `fresh` when this call registered it.
    _registerExtension (name, fields) {
      const known = this._extensions.get(name)
      if (known !== undefined) return { id: known, fresh: false }
      let id = 0
      this._input((E, t) => { id = E.registerExtension(name, fields ?? {}, t) })
      this._extensions.set(name, id)
      return { id, fresh: true }
    }

    _bencode (value) {
      const bytes = this._M.bencode(value)
      if (!bytes) throw new WasmTorrentError('wire.extended: cannot bencode this value', { code: 'invalid_argument' })
      return bytes
    }

    _sendExtension (connection, id, bytes) {
      let sent = false
      this._input((E, t) => {
        const ptr = E.reserve(bytes.length)
        this._M.HEAPU8.set(bytes, ptr)
        sent = E.sendExtensionMessage(connection, id, bytes.length, t)
      })
      return sent
    }

    _closeConnection (connection) {
      this._rtc.fail(this._peerOfConnection.get(connection))
    }

    // A data channel the page signalled itself (torrent.addPeer).
    _attachChannel (torrent, dc, early = []) {
      let id = -1
      this._input((E, t) => { id = E.attachChannel(torrent._id, t) })
      if (id >= 0) this._rtc.attach(id, dc, early)
    }
  }

  return WasmTorrent
}
