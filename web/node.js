// Node.js entry: dist/wasmtorrent.node.js. Reads wasmtorrent-node.wasm next to itself with
// fs and hands the bytes to the module (the 3.1.6 glue would fetch() a path, which Node 20
// cannot do). init({wasmURL | wasmBinary}) overrides. Node's module is not the browser's
// wasmtorrent.wasm: only it has the HTTP/UDP trackers and the DHT (bindings/CMakeLists.txt).
//
// The Node host adds to the browser's: TCP peers (dialled and accepted on torrentPort),
// HTTP and UDP trackers, the DHT, createServer() as an HTTP server, WebRTC (node-datachannel) and WebSocket (ws) when installed,
// the torrent's files on disk (add(id, { path })), and file system paths as inputs to
// seed() and createTorrent().
import { createHash } from 'node:crypto'
import { createReadStream, readFileSync } from 'node:fs'
import { Readable, pipeline } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { lookup } from 'node:dns/promises'
import { readFile, readdir, stat } from 'node:fs/promises'
import { tmpdir, homedir } from 'node:os'
import path from 'node:path'
import createWasmTorrentModule from '../build/wasm/wasmtorrent_node_module.mjs'
import { createApi } from './engine/core.js'
import { TcpTransport } from './transports/tcp.js'
import { UdpTrackerTransport } from './transports/udp.js'
import { DhtTransport, DEFAULT_BOOTSTRAP } from './transports/dht.js'
import { DhtView } from './api/dht.js'
import { UtpTransport } from './transports/utp.js'
import { LsdTransport } from './transports/lsd.js'
import { NatPmpTransport, UpnpTransport, defaultGateway } from './transports/portmap.js'
import { DiskFile, FsStore, diskPath } from './storage/fs.js'
import { WasmTorrentError } from './api/errors.js'
import { NodeServer } from './stream/node-server.js'

async function load ({ wasmBinary, wasmURL } = {}) {
  const url = wasmURL ?? new URL('./wasmtorrent-node.wasm', import.meta.url)
  return createWasmTorrentModule({
    wasmBinary: wasmBinary ?? await readFile(url),
    locateFile: () => String(url)
  })
}

// Names that create-torrent leaves out of a folder it reads (npm junk 4's list): editors'
// swap and backup files, the Finder's, Windows' and Synology's metadata.
const JUNK_NAME = /^npm-debug\.log$|^\..*\.swp$|^\.DS_Store$|^\.AppleDouble$|^\.LSOverride$|^Icon\r$|^\._.*|^\.Spotlight-V100(?:$|\/)|\.Trashes|^__MACOSX$|~$|^Thumbs\.db$|^ehthumbs\.db$|^[Dd]esktop\.ini$|@eaDir$/

// A folder's files, depth first in name order, as paths relative to `base`, as
// create-torrent (so WebTorrent's seed) lists them: hidden entries (a name starting with
// '.') and junk left out, symbolic links followed (one that leads nowhere is an error, as
// there), anything but files and folders skipped. A link back into its own folder is an
// error (create-torrent's would go round until the path is too long).
async function walk (dir, base, out = [], above = new Set(), here = null) {
  here ??= await stat(dir)
  const id = `${here.dev}:${here.ino}`
  if (above.has(id)) throw new WasmTorrentError(`seed: ${dir} leads back into a folder it is in`, { code: 'invalid_argument' })
  const names = (await readdir(dir)).filter(name => name[0] !== '.' && !JUNK_NAME.test(name))
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  // A folder's entries are looked at together (one at a time, a folder of 20,000 files
  // waited for each in turn), then taken in order.
  const infos = await Promise.all(names.map(name => stat(path.join(dir, name))))
  for (const [k, name] of names.entries()) {
    const full = path.join(dir, name)
    if (infos[k].isDirectory()) await walk(full, base, out, new Set([...above, id]), infos[k])
    else if (infos[k].isFile()) out.push(path.relative(base, full))
  }
  return out
}

const isReadable = item => item !== null && typeof item === 'object' && typeof item.pipe === 'function' &&
  typeof item[Symbol.asyncIterator] === 'function'

// seed()/createTorrent() inputs: a path (file or folder), a Node Readable, or a list mixing
// them and the browser's kinds. A folder becomes its files under the folder's name (the
// torrent's name, as create-torrent does); files are read on demand (storage/fs.js's DiskFile),
// never whole. A stream is read to its end first (its length must be known before hashing), as
// WebTorrent does, and named by its `name`, else opts.name, else as create-torrent names
// unnamed input.
async function inputs (input, opts = {}) {
  const list = Array.isArray(input) ? input : [input]
  if (!list.some(item => typeof item === 'string' || isReadable(item))) return input
  // An empty path is no file (path.resolve would make it the working folder, which would
  // then be seeded whole): ENOENT, as WebTorrent's stat('') fails.
  if (list.includes('')) await stat('')
  // Several paths: named after their deepest common folder, as WebTorrent 3's (files
  // under it keep their folders); none but the root: each under its own name.
  const paths = list.filter(item => typeof item === 'string').map(item => path.resolve(item))
  let base = null
  if (paths.length > 1) {
    base = paths.map(p => path.dirname(p)).reduce((a, b) => {
      while (a !== path.dirname(a) && !(b + path.sep).startsWith(a + path.sep)) a = path.dirname(a)
      return a
    })
    if (base === path.dirname(base)) base = null
  }
  const out = []
  // The folder the torrent's content lies in (torrent.path of a seed), when all are paths.
  if (paths.length === list.length) out.root = base ? path.dirname(base) : path.dirname(paths[0])
  for (const [i, item] of list.entries()) {
    if (isReadable(item)) {
      const chunks = []
      for await (const chunk of item) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      const name = item.name ?? (list.length === 1 ? opts.name : undefined)
      // Unnamed: create-torrent's "Unknown File <n>" (and "Unnamed Torrent <ms>"), as WebTorrent's.
      out.push(name === undefined ? { data: new Blob(chunks) } : new File(chunks, path.basename(String(name))))
      continue
    }
    if (typeof item !== 'string') {
      out.push(item)
      continue
    }
    const full = path.resolve(item)
    const info = await stat(full)
    // create-torrent makes a single-file torrent only of one path that is a file: a folder
    // holding one file stays a folder (its name, info.files), and so do several paths.
    if (info.isDirectory() || list.length > 1) out.multiFile = true
    const from = base ? path.dirname(base) : path.dirname(full)
    const files = info.isDirectory() ? await walk(full, from) : [path.relative(from, full)]
    for (const rel of files) {
      const data = await DiskFile.open(path.join(from, rel))
      out.push({ path: rel.split(path.sep).join('/'), data })
    }
  }
  return out
}

// WebRTC (node-datachannel's RTCPeerConnection) and WebSocket (Node 22 has one; else ws),
// both optional dependencies: without them the client still has TCP peers.
let webrtc = null
function loadWebRTC () {
  webrtc ??= (async () => {
    const out = { PeerConnection: globalThis.RTCPeerConnection, WebSocket: globalThis.WebSocket, missing: null }
    const lacking = []
    if (!out.PeerConnection) {
      try { out.PeerConnection = (await import('node-datachannel/polyfill')).RTCPeerConnection } catch { lacking.push('node-datachannel') }
    }
    if (!out.WebSocket) {
      try { out.WebSocket = (await import('ws')).WebSocket } catch { lacking.push('ws') }
    }
    if (lacking.length) out.missing = `WebRTC peers and WebSocket trackers need the optional package(s) ${lacking.join(', ')} (npm install ${lacking.join(' ')})`
    return out
  })()
  return webrtc
}

// Our name and version: the default client.userAgent (WebTorrent 3's option), sent in every
// HTTP request (web seeds, .torrent URLs, HTTP trackers), with WebTorrent's name as the
// compatible client: servers that admit WebTorrent by its User-Agent admit us (browsers send
// their own User-Agent). dist/ and web/ both sit one level below package.json.
function userAgent () {
  let version = 'unknown'
  try { version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version } catch {}
  return `wasmtorrent/${version} (like WebTorrent)`
}
const httpHeaders = { 'user-agent': userAgent() }

// The blocklist option's text (a file path or an http(s) URL) as chunks of bytes, gunzipped
// when it is gzip (by its first bytes: a .gz file, or one served without Content-Encoding;
// fetch itself undoes a Content-Encoding). The engine parses it (blocklistFeed). Sent with
// our User-Agent, which names WebTorrent as WebTorrent's own request does.
const BLOCKLIST_MAX_BYTES = 256 << 20 // of text: a published list is some tens of MiB
async function * blocklistChunks (input) {
  let source
  if (/^https?:\/\//i.test(input)) {
    const res = await fetch(input, { headers: httpHeaders })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    if (!res.body) return
    source = Readable.fromWeb(res.body)
  } else {
    source = createReadStream(input)
  }
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  if (first.done) return
  const all = (async function * () {
    yield first.value
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value
  })()
  const gzip = first.value[0] === 0x1f && first.value[1] === 0x8b
  let total = 0
  // pipeline, not pipe: a read error mid-way must end the gunzip's iteration too.
  for await (const chunk of gzip ? pipeline(Readable.from(all), createGunzip(), () => {}) : all) {
    total += chunk.length
    if (total > BLOCKLIST_MAX_BYTES) {
      source.destroy()
      throw new Error(`longer than ${BLOCKLIST_MAX_BYTES} bytes`)
    }
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)
  }
}

const host = {
  userAgent: httpHeaders['user-agent'], // sent (browsers: fetch cannot set it)
  webrtc: loadWebRTC,
  blocklistChunks,
  Tcp: TcpTransport,
  Udp: UdpTrackerTransport,
  Dht: DhtTransport,
  DhtView,
  Utp: UtpTransport,
  Lsd: LsdTransport,
  NatPmp: NatPmpTransport,
  Upnp: UpnpTransport,
  defaultGateway,
  Server: NodeServer,
  dhtBootstrap: DEFAULT_BOOTSTRAP,
  // The node table between runs: dht.stateFile, null for none; by default in the user's cache.
  dhtStateFile: dht => dht.stateFile !== undefined ? dht.stateFile : path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'wasmtorrent', 'dht-state'),
  // add(path): a .torrent file's bytes, or null when no such file exists.
  readTorrentFile: file => readFile(file).then(bytes => new Uint8Array(bytes), err => {
    if (err.code === 'ENOENT' || err.code === 'ENAMETOOLONG' || err.code === 'EISDIR') return null
    throw new WasmTorrentError(`Invalid torrent identifier: ${file}: ${err.message}`, { code: 'invalid_argument' })
  }),
  // addPeer('host:port'): the host's first address.
  lookup: name => lookup(name).then(r => r.address),
  Store: FsStore,
  // getFileModtimes(): each file's mtime in ms (undefined for one not on disk), as
  // WebTorrent's; files are '/'-separated paths under root.
  fileModtimes: (root, files) => Promise.all(files.map(f => stat(diskPath(root, f)).then(
    st => st.mtime.getTime(), err => { if (err.code === 'ENOENT') return undefined; throw err }))),
  joinPath: (...parts) => path.join(...parts),
  // WebTorrent's default path, which a chunk store of the app's (fs-chunk-store) is given.
  chunkStorePath: () => path.join(tmpdir(), 'webtorrent'),
  storeRoot: (folder, infoHash) => path.resolve(folder ?? path.join(tmpdir(), 'wasmtorrent', infoHash)),
  inputs,
  // Node's SHA-1 (native): pieces are hashed on their way to the disk, not by the engine.
  sha1: bytes => createHash('sha1').update(bytes).digest(),
  // Pieces up to 4 MiB are held whole until verified (the browser's limit is 1 MiB): each is
  // then one hashed write, where a streamed piece costs a file write per 16 KiB block and a
  // read back to hash it (a 256 MiB download with 4 MiB pieces: 6.5 CPU-s/GiB instead of 11).
  // Memory stays bounded by the engine's max_partial_bytes.
  streamPieceBytes: 4 << 20,
  // Bytes waiting to be sent to a peer before the engine reads no more blocks for it: TCP's
  // (and node-datachannel's) measured with 1 MiB; the browser's channels want less (rtc.js).
  sendBufferLimit: 1 << 20
}

const api = createApi(load, {}, host)

export const { init, parseTorrent, parseMagnet, toMagnetURI, createTorrent, announceList, WasmTorrent } = api

// WebTorrent's Node build has WebRTC through node-datachannel (webrtc-polyfill), so its
// WEBRTC_SUPPORT is true there; ours is true when that optional package is installed
// (resolved, not loaded: loadWebRTC() imports it on first use).
WasmTorrent.WEBRTC_SUPPORT ||= (() => {
  try { return Boolean(import.meta.resolve('node-datachannel/polyfill')) } catch { return false }
})()
export { WasmTorrentError }
export default WasmTorrent
