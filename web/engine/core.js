// The public API, shared by every entry point (browser ES module, Node, drop-in script).
// It only adapts inputs and outputs: parsing, validation, hashing and encoding happen in
// the C++ engine. Each entry point supplies `load(options)`, which returns the Emscripten
// module (a promise), and the default options for its environment; the Node entry also
// supplies `host` (see makeClientClass: TCP, files on disk, paths as inputs).

import { makeClientClass, forcedTrackers } from '../api/client.js'
import { WasmTorrentError } from '../api/errors.js'
import { bytesToHex, hexToBytes } from '../api/hex.js'

export { WasmTorrentError }

// create-torrent's default trackers, used when neither `announce` nor `announceList` is given.
export const announceList = [
  ['udp://tracker.leechers-paradise.org:6969'],
  ['udp://tracker.coppersurfer.tk:6969'],
  ['udp://tracker.opentrackr.org:1337'],
  ['udp://explodie.org:6969'],
  ['udp://tracker.empire-js.us:1337'],
  ['wss://tracker.btorrent.xyz'],
  ['wss://tracker.openwebtorrent.com'],
  ['wss://tracker.webtorrent.dev']
]

function invalid (message, context = '') {
  return new WasmTorrentError(message, { code: 'invalid_argument', context })
}

// Engine calls return their value or {error}; turn the latter into a thrown Error.
function check (value) {
  if (value && typeof value === 'object' && value.error) {
    const { code, message, position, context } = value.error
    throw new WasmTorrentError(message, { code, position, context })
  }
  return value
}

const unique = list => Array.from(new Set(list))
const toList = v => v === undefined || v === null ? [] : [].concat(v)
const isBlob = v => typeof Blob !== 'undefined' && v instanceof Blob
// Bytes hashed per step when creating a torrent.
const HASH_CHUNK = 4 << 20
// The hashing buffers of torrents created at once share this much of the (bounded)
// WebAssembly heap; beyond it a creation waits for another to end (300 seeds made at once
// asked for 1.2 GB of 4 MiB buffers, and failed with out_of_memory).
const HASH_BUDGET = 32 << 20
// Reads of small files' chunks in flight at once while creating a torrent.
const MAX_READS_AHEAD = 64

// Bytes taken from a shared budget, waiting while it is spent: take(n) resolves with the
// function that gives them back.
function budget (total) {
  let left = total
  let waiting = []
  return async function take (bytes) {
    bytes = Math.min(bytes, total)
    while (left < bytes) await new Promise(resolve => waiting.push(resolve))
    left -= bytes
    return () => {
      left += bytes
      const wake = waiting
      waiting = []
      for (const resolve of wake) resolve()
    }
  }
}

// Bytes [at, end) of one input, checked against the size it had when collected.
async function readRange ({ item, at, end }) {
  const bytes = isBlob(item.data) ? new Uint8Array(await item.data.slice(at, end).arrayBuffer()) : item.data.subarray(at, end)
  if (bytes.length !== end - at) throw invalid(`${item.path} changed size while reading`)
  return bytes
}

function asBytes (input) {
  if (input instanceof Uint8Array) return input
  if (input instanceof ArrayBuffer) return new Uint8Array(input)
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  return null
}

export function createApi (load, defaults = {}, host = undefined) {
  let options = { ...defaults }
  let modulePromise = null
  const takeHashBuffer = budget(HASH_BUDGET)
  let loaded = null // the module, once modulePromise has resolved (for synchronous calls)

  function getModule () {
    modulePromise ??= load(options).then(
      M => { loaded = M; return M },
      err => { modulePromise = null; throw err })
    return modulePromise
  }

  function forget () {
    modulePromise = null
    loaded = null
  }

  // Runs fn(module); if the module aborted (a RuntimeError from wasm, not an engine error),
  // drop it so that the next call starts a fresh instance.
  async function withModule (fn) {
    const M = await getModule()
    try {
      return await fn(M)
    } catch (err) {
      if (!(err instanceof WasmTorrentError)) forget()
      throw err
    }
  }

  // wasm memory for `length` bytes; _malloc returns 0 when memory cannot grow (2 GiB).
  function allocate (M, length) {
    const ptr = M._malloc(Math.max(length, 1))
    if (!ptr) throw new WasmTorrentError(`out of WebAssembly memory for ${length} bytes`, { code: 'out_of_memory' })
    return ptr
  }

  // Copies bytes into wasm memory for the duration of fn(pointer, length).
  function withHeapBytes (M, bytes, fn) {
    const ptr = allocate(M, bytes.length)
    try {
      M.HEAPU8.set(bytes, ptr) // read HEAPU8 after _malloc: memory may have grown
      return fn(ptr, bytes.length)
    } finally {
      M._free(ptr)
    }
  }

  // --- options ----------------------------------------------------------------------

  // Optional, before first use: { locateFile(path, prefix), wasmBinary, wasmURL }.
  function init (newOptions = {}) {
    if (!modulePromise) options = { ...defaults, ...newOptions }
    return getModule().then(() => undefined)
  }

  // --- parse ------------------------------------------------------------------------

  async function parseTorrent (input) {
    if (typeof input === 'string') {
      const id = input.trim()
      if (/^(stream-)?magnet:/.test(id)) return parseMagnet(id)
      if (/^[a-f0-9]{40}$/i.test(id) || /^[a-z2-7]{32}$/i.test(id)) {
        return parseMagnet(`magnet:?xt=urn:btih:${id}`)
      }
      throw invalid('Invalid torrent identifier: not a magnet URI or an info-hash')
    }
    if (isBlob(input)) input = await input.arrayBuffer()
    const bytes = asBytes(input)
    if (bytes) {
      if (bytes.length === 20) return parseMagnet(`magnet:?xt=urn:btih:${bytesToHex(bytes)}`)
      return withModule(M => torrentObject(check(withHeapBytes(M, bytes, M.parse_torrent))))
    }
    if (input && typeof input.infoHash === 'string') return normalizeParsed(input)
    throw invalid('Invalid torrent identifier: expected bytes, a magnet URI or an info-hash')
  }

  async function parseMagnet (uri) {
    if (typeof uri !== 'string') throw invalid('a magnet URI must be a string')
    // magnet-uri accepts "stream-magnet:"; the engine reads from "magnet:".
    const text = uri.startsWith('stream-magnet:') ? uri.slice('stream-'.length) : uri
    return withModule(M => magnetObject(check(M.parse_magnet(text))))
  }

  // --- magnet -----------------------------------------------------------------------

  // Synchronous, like parse-torrent's toMagnetURI (WebTorrent's torrent.magnetURI is a
  // getter): the module must be loaded, by init() or any earlier async call.
  function toMagnetURI (obj) {
    if (!obj || typeof obj !== 'object') throw invalid('toMagnetURI expects an object')
    if (!loaded) {
      throw new WasmTorrentError('toMagnetURI: the WebAssembly module is not loaded yet; await init() first',
        { code: 'not_initialized' })
    }
    const link = magnetLink(obj)
    try {
      return check(loaded.make_magnet(link))
    } catch (err) {
      if (!(err instanceof WasmTorrentError)) forget()
      throw err
    }
  }

  // --- create -----------------------------------------------------------------------

  // Hashes the input in chunks (a multi-GiB File is never held whole, in the heap or out
  // of it). onProgress(hashed, total) after each chunk.
  async function createTorrent (input, opts = {}, onProgress) {
    opts = { ...opts }
    if (host?.inputs) input = await host.inputs(input, opts)
    const items = collectInputs(input, opts) // may set opts.name, as create-torrent does
    const engineOpts = createOptions(opts)
    if (input?.multiFile) engineOpts.multiFile = true // Node: a folder given by its path
    const total = items.reduce((a, item) => a + item.size, 0)
    // A buffer no larger than the biggest input's chunk, within the shared budget.
    const bufferBytes = Math.max(1, Math.min(HASH_CHUNK, items.reduce((a, item) => Math.max(a, item.size), 0)))
    const giveBack = await takeHashBuffer(bufferBytes)
    try {
      return await withModule(async M => {
        if (!engineOpts.pieceLength && opts.maxPieceLength) {
          engineOpts.pieceLength = Math.min(M.default_piece_length(total), opts.maxPieceLength)
        }
        const creator = new M.TorrentCreator(items.map(item => ({ path: item.path, length: item.size })), engineOpts)
        let buffer = 0
        try {
          check(creator.error())
          const order = creator.inputs()
          const chunks = []
          for (const i of order) {
            for (let at = 0; at < items[i].size; at += HASH_CHUNK) chunks.push({ item: items[i], at, end: Math.min(items[i].size, at + HASH_CHUNK) })
          }
          const hashTotal = chunks.reduce((a, c) => a + c.end - c.at, 0)
          buffer = allocate(M, bufferBytes)
          let hashed = 0
          // Reads ahead while hashing: the next chunks, up to HASH_CHUNK bytes of them (one
          // big chunk, or many small files' at once: a folder of 20,000 files was read one
          // file at a time). A read that fails is reported when its turn comes.
          const reads = []
          let queued = 0
          let ahead = 0
          const readAhead = () => {
            while (queued < chunks.length && reads.length < MAX_READS_AHEAD &&
                   (reads.length === 0 || ahead + chunks[queued].end - chunks[queued].at <= HASH_CHUNK)) {
              const c = chunks[queued++]
              const read = readRange(c)
              read.catch(() => {}) // awaited in order below; not unhandled meanwhile
              reads.push(read)
              ahead += c.end - c.at
            }
          }
          readAhead()
          for (let k = 0; k < chunks.length; k++) {
            const bytes = await reads.shift()
            ahead -= chunks[k].end - chunks[k].at
            readAhead()
            M.HEAPU8.set(bytes, buffer) // HEAPU8 after each await: memory may have grown
            creator.update(buffer, bytes.length)
            hashed += bytes.length
            onProgress?.(hashed, hashTotal)
          }
          return check(creator.finish())
        } finally {
          if (buffer) M._free(buffer)
          creator.delete()
        }
      })
    } finally {
      giveBack()
    }
  }

  const api = { init, parseTorrent, parseMagnet, toMagnetURI, createTorrent, announceList, WasmTorrentError }
  // The client class; the functions above are also its statics (WasmTorrent.parseTorrent).
  const WasmTorrent = makeClientClass({ getModule, createTorrent, parseTorrent, toMagnetURI, collectInputs, isPadFile, WasmTorrentError, host })
  Object.assign(WasmTorrent, api)
  return { ...api, WasmTorrent }
}

// --- outputs: engine values -> the shapes of npm parse-torrent and magnet-uri --------


// BEP 47 pad files among parseTorrent's files (listed there, as parse-torrent lists them;
// a torrent's `files` leaves them out).
const padFiles = new WeakSet()
const isPadFile = file => padFiles.has(file)

function torrentObject (t) {
  const out = {
    infoHash: t.infoHash,
    infoHashBuffer: t.infoHashBuffer,
    infoBuffer: t.infoBuffer,
    name: t.name,
    // As parse-torrent: the announce-list flattened when present, else announce; once each.
    announce: unique(t.announceList.length > 0 ? t.announceList.flat() : toList(t.announce || undefined)),
    urlList: unique(t.urlList),
    private: t.private
  }
  if (t.creationDate) out.created = new Date(t.creationDate * 1000)
  if (t.createdBy) out.createdBy = t.createdBy
  if (t.comment) out.comment = t.comment
  out.files = t.files.map(({ path, name, length, offset, pad }) => {
    const file = { path, name, length, offset }
    if (pad) padFiles.add(file)
    return file
  })
  out.length = t.length
  out.pieceLength = t.pieceLength
  out.lastPieceLength = t.lastPieceLength
  out.pieces = t.pieces.match(/.{40}/g) ?? []
  return out
}

// magnet-uri returns each raw parameter as a string when it occurs once, an array otherwise.
function oneOrMany (list) {
  return list.length === 1 ? list[0] : list
}

function expandRanges (ranges) {
  const out = []
  for (const [first, last] of ranges) for (let i = first; i <= last; i++) out.push(i)
  return out
}

function magnetObject (m) {
  const out = {}
  // Other parameters first, as magnet-uri returns them (raw; repeated ones as an array; ix
  // a number); the fields below win over a parameter of their name.
  for (const [key, value] of m.other ?? []) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue
    const v = key === 'ix' ? Number(value) : value
    if (!Object.hasOwn(out, key)) out[key] = v
    else if (Array.isArray(out[key])) out[key].push(v)
    else out[key] = [out[key], v]
  }
  const xt = []
  if (m.infoHash) xt.push(`urn:btih:${m.infoHash}`)
  if (m.btmh) xt.push(`urn:btmh:${m.btmh}`)
  out.xt = oneOrMany(xt)
  if (m.name) out.dn = m.name
  if (m.trackers.length) out.tr = oneOrMany(m.trackers)
  if (m.webSeeds.length) out.ws = oneOrMany(m.webSeeds)
  if (m.exactSources.length) out.xs = oneOrMany(m.exactSources)
  if (m.acceptableSources.length) out.as = oneOrMany(m.acceptableSources)
  if (m.peers.length) out['x.pe'] = oneOrMany(m.peers)
  if (m.keywords.length) out.kt = m.keywords
  if (m.selectOnly.length) out.so = expandRanges(m.selectOnly)

  if (m.infoHash) {
    out.infoHash = m.infoHash
    out.infoHashBuffer = hexToBytes(m.infoHash)
  }
  if (m.btmh && /^1220[0-9a-f]{64}$/i.test(m.btmh)) {
    out.infoHashV2 = m.btmh.slice(4).toLowerCase()
    out.infoHashV2Buffer = hexToBytes(out.infoHashV2)
  }
  const publicKey = m.exactSources.map(xs => /^urn:btpk:(.{64})/.exec(xs)).find(Boolean)
  if (publicKey) {
    out.publicKey = publicKey[1].toLowerCase()
    out.publicKeyBuffer = hexToBytes(out.publicKey)
  }
  if (m.name) out.name = m.name
  if (m.keywords.length) out.keywords = m.keywords
  out.announce = unique(m.trackers)
  out.urlList = unique([...m.acceptableSources, ...m.webSeeds])
  out.peerAddresses = unique(m.peers)
  return out
}

// parse-torrent accepts an already parsed object and normalizes it.
function normalizeParsed (obj) {
  const out = { ...obj, infoHash: obj.infoHash.toLowerCase() }
  out.announce = toList(out.announce)
  out.urlList = toList(out.urlList)
  return out
}

// --- inputs: the public shapes -> engine values --------------------------------------

// A parse-torrent / magnet-uri style object -> the bindings' magnet link fields.
// As magnet-uri's encoder: convenience names win over raw parameter names, and
// urlList replaces both ws and as.
function magnetLink (obj) {
  let infoHash = obj.infoHash
  if (!infoHash && obj.infoHashBuffer) infoHash = bytesToHex(obj.infoHashBuffer)
  let btmh
  if (obj.infoHashV2) btmh = `1220${obj.infoHashV2}`
  else if (obj.infoHashV2Buffer) btmh = `1220${bytesToHex(obj.infoHashV2Buffer)}`
  for (const xt of toList(obj.xt)) {
    const v1 = /^urn:btih:(.+)$/.exec(xt)
    const v2 = /^urn:btmh:(.+)$/.exec(xt)
    if (v1 && !infoHash) infoHash = v1[1]
    if (v2 && !btmh) btmh = v2[1]
  }
  const exactSources = toList(obj.xs)
  if (obj.publicKey) exactSources.splice(0, exactSources.length, `urn:btpk:${obj.publicKey}`)
  return {
    infoHash,
    btmh,
    name: obj.name ?? obj.dn,
    trackers: toList(obj.announce ?? obj.tr),
    webSeeds: toList(obj.urlList ?? obj.ws),
    exactSources,
    acceptableSources: obj.urlList ? [] : toList(obj.as),
    peers: toList(obj.peerAddresses ?? obj['x.pe']),
    keywords: toList(obj.keywords ?? obj.kt),
    selectOnly: toRanges(toList(obj.so)),
    // Other two-letter keys (xl, ix, mt...), as magnet-uri writes them.
    other: Object.keys(obj).filter(key => key.length === 2 && !MAGNET_KEYS.has(key))
      .flatMap(key => toList(obj[key]).map(value => [key, String(value)]))
  }
}

const MAGNET_KEYS = new Set(['xt', 'dn', 'tr', 'ws', 'xs', 'as', 'kt', 'so'])

// [0, 1, 2, 5] -> [[0, 2], [5, 5]]
function toRanges (indices) {
  const sorted = unique(indices.map(Number)).sort((a, b) => a - b)
  const ranges = []
  for (const i of sorted) {
    const last = ranges[ranges.length - 1]
    if (last && last[1] + 1 === i) last[1] = i
    else ranges.push([i, i])
  }
  return ranges
}

// Turns what createTorrent accepts into [{path, size, data}] (data: a Blob or a
// Uint8Array), deriving paths the way
// create-torrent does: item.path (our {path, data} objects), else fullPath, else
// webkitRelativePath (a folder picked with <input webkitdirectory>), else name.
// The engine then applies create-torrent's rules (common folder -> name, junk files).
export function collectInputs (input, opts) {
  if (typeof FileList !== 'undefined' && input instanceof FileList) input = Array.from(input)
  const list = Array.isArray(input) ? input : [input]
  if (list.length === 0) throw invalid('createTorrent: no input files')

  let unnamed = 0
  const items = list.map((item, i) => {
    if (item === null || item === undefined) throw invalid(`createTorrent: input ${i} is ${item}`)
    if (typeof item === 'string') {
      throw invalid('createTorrent: file system paths are not supported; pass {path, data} objects')
    }
    const data = isBlob(item) || asBytes(item) ? item : item.data
    let path = (!isBlob(item) && typeof item.path === 'string' && item.path) ||
      item.fullPath || item.webkitRelativePath || item.name ||
      (list.length === 1 && opts.name) || ''
    if (!path) {
      path = `Unknown File ${i + 1}`
      unnamed++
    }
    if (path.startsWith('/')) path = path.slice(1)
    if (isBlob(data)) return { path, size: data.size, data }
    const bytes = asBytes(data)
    if (!bytes) throw invalid(`createTorrent: input ${i} has no data (Uint8Array, ArrayBuffer or Blob)`, path)
    return { path, size: bytes.length, data: bytes }
  })
  // create-torrent names the torrent after the first file with a name of its own.
  if (unnamed > 0 && !opts.name) {
    const named = items.find(item => !/^Unknown File \d+$/.test(item.path))
    opts.name = named ? named.path.split('/').pop() : `Unnamed Torrent ${Date.now()}`
  }
  return items
}

// create-torrent's options -> the engine's create_options.
function createOptions (opts) {
  let tiers = opts.announceList
  if (!tiers) {
    if (typeof opts.announce === 'string') tiers = [[opts.announce]]
    else if (Array.isArray(opts.announce)) tiers = opts.announce.map(url => [url])
  }
  tiers = tiers ?? []
  // As create-torrent's: the forced trackers (WEBTORRENT_ANNOUNCE) are added to every torrent
  // created, each URL a tier of its own; the defaults come after, when neither announce nor
  // announceList is given.
  tiers = [...tiers, ...forcedTrackers().map(url => [url])]
  if (opts.announce === undefined && opts.announceList === undefined) tiers = [...tiers, ...announceList]
  // As create-torrent's: opts.info's keys go into the info dictionary (source, a
  // cross-seed tag...), then sslCert as ssl-cert (libtorrent's SSL torrents).
  if (opts.info !== undefined && (opts.info === null || typeof opts.info !== 'object' || Array.isArray(opts.info))) {
    throw invalid('createTorrent: opts.info must be an object', 'info')
  }
  const info = { ...opts.info }
  if (opts.sslCert !== undefined) info['ssl-cert'] = opts.sslCert
  return {
    name: opts.name,
    pieceLength: opts.pieceLength || undefined,
    announceList: tiers.map(tier => toList(tier)),
    urlList: toList(opts.urlList),
    comment: opts.comment,
    createdBy: opts.createdBy,
    // The engine has no clock: the date comes from here, as create-torrent computes it.
    creationDate: Math.ceil((Number(opts.creationDate) || Date.now()) / 1000),
    private: opts.private === undefined ? undefined : Boolean(Number(opts.private)),
    info,
    // create-torrent's: anything but undefined that is falsy keeps the junk.
    filterJunkFiles: opts.filterJunkFiles === undefined || Boolean(opts.filterJunkFiles)
  }
}
