// Types for wasmtorrent (hand-written). The same API is exported by the browser ES module,
// the Node.js entry, and the drop-in script's global `WasmTorrent`.

/** Where to find the WebAssembly module. Pass to init() before any other call. */
export interface InitOptions {
  /** URL of the module: wasmtorrent.wasm in browsers, wasmtorrent-node.wasm under Node (default: next to the JS file). */
  wasmURL?: string | URL
  /** The .wasm bytes themselves; nothing is fetched or read. */
  wasmBinary?: ArrayBuffer | Uint8Array
  /** Browser only: Emscripten's hook, called with "wasmtorrent.wasm"; returns its URL. */
  locateFile?: (path: string, prefix: string) => string
}

/** A file of a torrent, as npm parse-torrent reports it. */
export interface TorrentFile {
  /** "name/dir/file" for a multi-file torrent, "name" for a single-file one ('/'-separated). */
  path: string
  name: string
  length: number
  /** Where the file starts in the torrent's byte stream. */
  offset: number
}

/** A parsed .torrent file: the fields of npm parse-torrent's result (without `info`). */
export interface ParsedTorrent {
  infoHash: string
  infoHashBuffer: Uint8Array
  /** The info dict exactly as it appears in the .torrent. */
  infoBuffer: Uint8Array
  name: string
  /** Tracker URLs: announce-list flattened (or announce), each once. */
  announce: string[]
  /** Web seeds (BEP 19 url-list). */
  urlList: string[]
  /** BEP 27's flag; undefined when the info dictionary has none (as parse-torrent). */
  private?: boolean
  created?: Date
  createdBy?: string
  comment?: string
  files: TorrentFile[]
  length: number
  pieceLength: number
  lastPieceLength: number
  /** SHA-1 of each piece, lower-case hex. */
  pieces: string[]
}

/** A parsed magnet URI: the fields of npm magnet-uri's result. */
export interface ParsedMagnet {
  /** Raw parameters: a string when present once, an array when repeated. */
  xt?: string | string[]
  dn?: string
  tr?: string | string[]
  ws?: string | string[]
  xs?: string | string[]
  as?: string | string[]
  'x.pe'?: string | string[]
  kt?: string[]
  /** BEP 53 select-only file indices, ranges expanded. */
  so?: number[]

  infoHash?: string
  infoHashBuffer?: Uint8Array
  infoHashV2?: string
  infoHashV2Buffer?: Uint8Array
  publicKey?: string
  publicKeyBuffer?: Uint8Array
  name?: string
  keywords?: string[]
  announce: string[]
  /** as + ws */
  urlList: string[]
  peerAddresses: string[]
}

/** What toMagnetURI reads: any parseTorrent() result, or these fields by hand. */
export interface MagnetInput {
  infoHash?: string
  infoHashBuffer?: Uint8Array
  infoHashV2?: string
  infoHashV2Buffer?: Uint8Array
  xt?: string | string[]
  name?: string
  dn?: string
  announce?: string | string[]
  tr?: string | string[]
  /** Written as ws; replaces both ws and as when given. */
  urlList?: string | string[]
  ws?: string | string[]
  xs?: string | string[]
  as?: string | string[]
  publicKey?: string
  peerAddresses?: string | string[]
  'x.pe'?: string | string[]
  keywords?: string | string[]
  kt?: string | string[]
  so?: number[]
}

/** A file to put in a torrent: our plain object, or a File/Blob, or bytes with a name. */
export type CreateInputItem =
  | { path?: string; name?: string; fullPath?: string; data: Uint8Array | ArrayBuffer | ArrayBufferView | Blob }
  | Blob
  | File
  | (Uint8Array & { name?: string; fullPath?: string })

export type CreateInput = CreateInputItem | CreateInputItem[] | FileList

/** The options of npm create-torrent that wasmtorrent supports. */
export interface CreateOptions {
  /** Torrent name; default: the files' common folder, else the first file's name. */
  name?: string
  /** Seconds are taken from it as create-torrent does (Date or milliseconds); default: now. */
  creationDate?: Date | number
  comment?: string
  /** Default: "wasmtorrent". */
  createdBy?: string
  private?: boolean | number
  /** Default: from the total size, as create-torrent (npm piece-length, at most 4 MiB). */
  pieceLength?: number
  maxPieceLength?: number
  /** Tracker tiers. When neither announce nor announceList is given, create-torrent's defaults. */
  announceList?: string[][]
  announce?: string | string[]
  urlList?: string | string[]
  /** More keys of the info dictionary (e.g. `source`), as create-torrent's: bencodable values (strings, integers, bytes, lists, objects). They change the info-hash. */
  info?: Record<string, unknown>
  /** An SSL torrent's certificate (libtorrent's), as info['ssl-cert']. */
  sslCert?: string | Uint8Array
  /** false: keep hidden junk files (.DS_Store, ._*...) given as files, as create-torrent's (default true). */
  filterJunkFiles?: boolean
}

/** Thrown for bad input. */
/** A BEP 44 item as put into the DHT (bittorrent-dht's put options). */
export interface DhtPutOptions {
  /** The value: bytes or a string (under 1000 bytes), or any bencodable value. */
  v: Uint8Array | string | number | unknown[] | Record<string, unknown>
  /** Mutable items: the Ed25519 public key (32 bytes). */
  k?: Uint8Array
  /** Mutable items: the sequence number, higher than the stored one's. */
  seq?: number
  /** Mutable items: store only where the current seq is this one (compare and swap). */
  cas?: number
  /** Mutable items: up to 64 bytes, part of the item's hash. */
  salt?: Uint8Array | string
  /** Mutable items: signs the bytes given (returns the 64-byte Ed25519 signature); or give sig. */
  sign?: (data: Uint8Array) => Uint8Array
  sig?: Uint8Array
}

/** A BEP 44 item found by dht.get(). */
export interface DhtItem {
  /** The value as bencode decodes it (a string is bytes: a Buffer under Node). */
  v: any
  /** The id of the DHT node that gave it. */
  id: Uint8Array
  k?: Uint8Array
  sig?: Uint8Array
  seq?: number
  salt?: Uint8Array
}

/** client.dht under Node: bittorrent-dht's surface that apps use. */
export interface DhtApi extends Emitter {
  readonly listening: boolean
  /** True once the first bootstrap lookup is over (its 'ready' event, as bittorrent-dht's). */
  readonly ready: boolean
  address (): { address: string; family: string; port: number } | null
  /** Stores an item on the nodes closest to its hash; cb(err, hash, n) with the n nodes that took it. Returns the hash (null before the module is loaded). */
  put (opts: DhtPutOptions | Uint8Array | string, cb?: (err: Error | null, hash: Uint8Array | null, n: number) => void): Uint8Array | null
  /** Looks an item up by its hash (40 hex digits or 20 bytes); cb(null, null) when none is found. salt: a mutable item's. cache (default true): an immutable item this client holds answers at once. */
  get (hash: string | Uint8Array, opts: { salt?: Uint8Array | string, cache?: boolean }, cb: (err: Error | null, item: DhtItem | null) => void): void
  get (hash: string | Uint8Array, cb: (err: Error | null, item: DhtItem | null) => void): void
  /** A get_peers lookup apart from the torrents' own: each peer is a 'peer' event ({ host, port }, infoHash, from: the node that gave it, { host, port } or null); cb(err, n): n answers carried peers. Returns abort(). */
  lookup (infoHash: string | Uint8Array, cb?: (err: Error | null, n: number) => void): () => void
  /** One announce (not repeated): port omitted or 0, the nodes take our datagrams' port; cb(err): an error when no node was told. */
  announce (infoHash: string | Uint8Array, port?: number | ((err: Error | null) => void), cb?: (err: Error | null) => void): void
  /** A DHT node's address: pinged, kept in the table if it answers. */
  addNode (node: { host: string, port: number }): void
  /** bittorrent-dht's toJSON(): every node of the routing tables; values is always {} here. */
  toJSON (): { nodes: Array<{ host: string, port: number }>, values: Record<string, never> }
}

export class WasmTorrentError extends Error {
  /**
   * The engine's error kind, e.g. "bencode_leading_zero", "magnet_bad_info_hash"; or
   * "invalid_argument" (wrong input type), "not_initialized" (toMagnetURI before init()) or
   * "out_of_memory" (the inputs do not fit in WebAssembly memory). Streaming into media
   * elements: "no_server" (streamURL before client.createServer), "not_supported" (no
   * service worker or MediaSource in this context), "not_activated" (createServer with a
   * registration whose worker is not activated yet), "unsupported_media" (a file that
   * MediaSource playback cannot play: not WebM/Matroska or fragmented MP4, a codec the
   * browser lacks, or a malformed file), "media_error" (the browser rejected the media data).
   */
  code: string
  /** Byte offset in the input where the problem was found. */
  position: number
  /** The field or parameter, e.g. "info.piece length"; may be empty. */
  context: string
}

/** create-torrent's default tracker tiers. */
export const announceList: string[][]

export function init (options?: InitOptions): Promise<void>

/**
 * Parses a .torrent (bytes or Blob), a magnet URI, a 40-hex or 32-base32 info-hash, a 20-byte
 * info-hash, or an already parsed object (normalized as parse-torrent does).
 */
export function parseTorrent (input: Uint8Array | ArrayBuffer | ArrayBufferView | Blob): Promise<ParsedTorrent | ParsedMagnet>
export function parseTorrent (input: string): Promise<ParsedMagnet>
export function parseTorrent<T extends { infoHash: string }> (input: T): Promise<T & { announce: string[]; urlList: string[] }>

export function parseMagnet (uri: string): Promise<ParsedMagnet>

/**
 * Synchronous, like parse-torrent's. The module must be loaded: await init() (or any other
 * call) first, otherwise it throws a WasmTorrentError with code "not_initialized".
 */
export function toMagnetURI (parsed: MagnetInput): string

/** Makes a .torrent; the same files and options give the same info-hash as npm create-torrent. */
export function createTorrent (input: CreateInput, opts?: CreateOptions): Promise<Uint8Array>

// --- the client (WebTorrent-compatible subset) ------------------------------------------

/**
 * An EventEmitter with the semantics of Node's `events` (which WebTorrent's objects
 * extend); an 'error' emitted with no listener is thrown.
 */
export class Emitter {
  on (event: string | symbol, listener: (...args: any[]) => void): this
  addListener (event: string | symbol, listener: (...args: any[]) => void): this
  prependListener (event: string | symbol, listener: (...args: any[]) => void): this
  once (event: string | symbol, listener: (...args: any[]) => void): this
  prependOnceListener (event: string | symbol, listener: (...args: any[]) => void): this
  off (event: string | symbol, listener: (...args: any[]) => void): this
  removeListener (event: string | symbol, listener: (...args: any[]) => void): this
  removeAllListeners (event?: string | symbol): this
  listeners (event: string | symbol): Array<(...args: any[]) => void>
  rawListeners (event: string | symbol): Array<(...args: any[]) => void>
  listenerCount (event: string | symbol): number
  eventNames (): Array<string | symbol>
  /** Accepted for Node compatibility; this emitter never warns about many listeners. */
  setMaxListeners (n: number): this
  getMaxListeners (): number
  emit (event: string | symbol, ...args: any[]): boolean
}

/**
 * What file.createReadStream() returns: a Node-style readable (the consumer side of
 * stream.Readable) in browsers and Node alike. Events: 'data' (Uint8Array, a string after
 * setEncoding()), 'readable' (paused mode: call read()), 'end',
 * 'error', 'close', 'pause'.
 */
export class FileStream extends Emitter implements AsyncIterable<Uint8Array> {
  readonly destroyed: boolean
  readonly readable: boolean
  readonly readableEnded: boolean
  readonly readableFlowing: boolean | null
  /** Bytes (characters, with an encoding) read ahead and not consumed yet. */
  readonly readableLength: number
  readonly readableEncoding: string | null
  /** Paused mode, as stream.Readable's: what is buffered (or `size` of it), or null until 'readable'. */
  read (size?: number): Uint8Array | string | null
  /** Chunks become strings from here on (Node's encodings: utf8, hex, base64, latin1...). */
  setEncoding (encoding: string): this
  pause (): this
  resume (): this
  isPaused (): boolean
  /** Writes every chunk to `dest` (anything with write() and end(), e.g. a Node Writable), honouring 'drain'. */
  pipe<T extends { write (chunk: Uint8Array): unknown, end (): unknown }> (dest: T, opts?: { end?: boolean }): T
  unpipe (dest?: object): this
  /** Stops reading; the engine stops prioritising the range. */
  destroy (err?: Error): this
  /** The web ReadableStream underneath. */
  toWeb (): ReadableStream<Uint8Array>
  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array>
}

export interface ClientOptions {
  /** Our peer id: 40 hex digits, or 20 bytes. Default: random. */
  peerId?: string | Uint8Array
  /** Most connections per torrent, half-open ones included: 55 (WebTorrent's) unless a number other than 0. */
  maxConns?: number
  /** Connections of the whole client, over all its torrents (default: no limit beyond maxConns per torrent). */
  maxConnsTotal?: number
  /** WebTorrent's newer name for maxConnsTotal (used when maxConnsTotal is not given). */
  connectionBudget?: number
  /** Bytes/s over all torrents; -1 (default) = unlimited, 0 = stopped. */
  downloadLimit?: number
  uploadLimit?: number
  /** Bytes/s for each torrent, under downloadLimit/uploadLimit; -1 (default) = unlimited. */
  torrentDownloadLimit?: number
  torrentUploadLimit?: number
  /**
   * Node: addresses never connected to nor accepted. An array of entries ('1.2.3.4',
   * '1.2.3.0-1.2.3.255', '1.2.3.0/24', '2001:db8::/32', P2P lines 'name:first-last', or
   * { start, end }: a malformed one is an error), or the path or http(s) URL of a list in
   * those forms, gzip or not (malformed lines skipped with a 'warning'). Torrents wait for it
   * to load; a list that cannot be loaded is the client's 'error' (code blocklist_failed,
   * or blocklist_bad_line / blocklist_too_large). Browsers: ignored (WebRTC peers have no address).
   */
  blocklist?: string | Array<string | { start: string, end?: string }>
  /**
   * Node: Local Service Discovery (BEP 14, default on): public torrents are announced by UDP
   * multicast on the local network (239.192.152.143:6771 and [ff15::efc0:988f]:6771) and the
   * peers heard there are connected to. Off with false, or where the group cannot be joined
   * (client.lsd tells). Browsers: ignored.
   */
  lsd?: boolean
  /**
   * Protocol encryption (MSE/PE) on TCP and uTP peers, as WebTorrent's `secure`. false / 0
   * (default): dial plain BitTorrent; true (WebTorrent 2's) and 1 (WebTorrent 3's level 1):
   * dial with MSE offering RC4 and plaintext (as responder, true takes RC4 and 1 plaintext),
   * and dial again in plain BitTorrent when the MSE handshake fails; 2 (WebTorrent 3's level
   * 2): MSE with RC4 only, no plain redial. 'required' (ours): as 2, and plain peers refused
   * both ways. Peers that dial us are answered in MSE or plain as they speak (unless
   * 'required'). Browsers: ignored (no TCP).
   */
  secure?: boolean | 0 | 1 | 2 | 'required'
  /**
   * WebTorrent 3's: the User-Agent of the client's HTTP requests (web seeds, HTTP trackers,
   * .torrent URLs). Node only sends it (a page's fetch cannot set it). Default (Node):
   * "wasmtorrent/<version> (like WebTorrent)".
   */
  userAgent?: string
  /**
   * Node: the DHT's node id, 40 hex digits or 20 bytes (dht.nodeId wins, as bittorrent-dht's
   * own option); it also wins over the id kept in the DHT's stateFile, and is kept as given.
   * Default: random (or the saved one), replaced by one valid for our external address once the
   * DHT's nodes agree on it (BEP 42). Anything else throws (code invalid_argument).
   */
  nodeId?: string | ArrayBufferView
  utPex?: boolean
  /**
   * false: a torrent that is done dials none of the peers that trackers, the DHT, LSD or
   * ut_pex name (incoming peers and addPeer still connect), as WebTorrent's. Default true.
   */
  seedOutgoingConnections?: boolean
  /**
   * Node: port mapping by UPnP IGD (default on): the same ports as natPmp, deleted by
   * destroy(); 'permanent' asks for permanent mappings and leaves them.
   */
  natUpnp?: boolean | 'permanent'
  /**
   * Node: port mapping by NAT-PMP on the default gateway (default on): torrentPort (TCP, UDP
   * for uTP) and dhtPort, renewed, deleted by destroy(). Ours: { gateway } names the gateway.
   */
  natPmp?: boolean | { gateway?: string }
  tracker?: boolean | {
    /** WebSocket tracker URLs (ws:// or wss://) used for every torrent, besides the torrent's own. */
    announce?: string[]
    /** RTCPeerConnection configuration, e.g. { iceServers: [] }; default: public STUN servers. */
    rtcConfig?: RTCConfiguration
    /**
     * Called for each announce of every torrent, to every tracker; its fields join the
     * announce (AddOptions.getAnnounceOpts, which wins, says how).
     */
    getAnnounceOpts?: () => AnnounceOpts | void
    /** Other bittorrent-tracker options: accepted, ignored. */
    [option: string]: unknown
  }
  /** Seed of the engine's random choices (peer id, piece picking); default: random. */
  seed?: number
  /**
   * Web seeds (BEP 19). 'fallback' (default, also `true`): a web seed fetches what no
   * connected peer can give (pieces no peer has, a stream's deadline at risk, the end of
   * the download, no peers at all). 'always': it is one more peer, as in WebTorrent.
   * false: never used.
   */
  webSeeds?: boolean | 'fallback' | 'always'
  /** HTTP requests in flight per web seed (default 4). */
  maxWebConns?: number
  /** Bytes each torrent may fetch from its web seeds (default 0: no limit). */
  webSeedBudget?: number
  /**
   * Pieces longer than this (bytes, default 1 MiB; 4 MiB under Node) are written to the
   * store block by block as they arrive, instead of held whole in the
   * WebAssembly heap until verified. 0: every piece is held whole.
   */
  streamPieceBytes?: number
  /** Node: the TCP port peers connect to (default 0: any free port; client.torrentPort once ready). */
  torrentPort?: number
  /** Node: the DHT's UDP port (default 0: any free port). */
  dhtPort?: number
  /**
   * Node: uTP (BEP 29) on torrentPort's UDP port, on by default as WebTorrent's: IPv4
   * addresses are dialled over uTP first, then TCP; incoming uTP connections are accepted.
   */
  utp?: boolean
  /**
   * Node: the DHT (BEP 5), on by default. bootstrap: "host:port" routers (default the usual
   * public ones); stateFile: where the node table is kept between runs (null: nowhere;
   * default ~/.cache/wasmtorrent/dht-state); port: as dhtPort; enforceNodeId (ours, default
   * false, as libtorrent's): nodes whose id is not valid for their address (BEP 42) are
   * neither kept nor asked.
   */
  dht?: boolean | { bootstrap?: string[], stateFile?: string | null, port?: number, nodeId?: string | ArrayBufferView, enforceNodeId?: boolean, [option: string]: unknown }
}

/**
 * Fields for a tracker announce (getAnnounceOpts): strings, numbers and booleans (other
 * values are left out). HTTP trackers get each in the query string (UTF-8, percent-encoded),
 * WebSocket trackers in the JSON message, UDP trackers only integers for downloaded, left,
 * uploaded and numwant. One named as one of ours replaces it (uploaded, downloaded, left,
 * numwant, key...), except info_hash, peer_id, port, compact, trackerid, event, action and
 * offers.
 */
export type AnnounceOpts = Record<string, string | number | boolean | bigint | null | undefined>

export interface WebSeedInfo {
  url: string
  state: 'active' | 'waiting' | 'dropped'
  /** Body bytes received from it. */
  downloaded: number
  /** Requests in flight. */
  requests: number
  failures: number
  /** Why it was dropped or last failed (an error code such as web_seed_http_error), '' if never. */
  error: string
  message: string
}

/** A byte range of a file; `end` is inclusive (as in WebTorrent and fs.createReadStream). */
export interface FileRange {
  start?: number
  end?: number
}

/**
 * A file of a torrent in the client. Readers (stream, createReadStream, async iteration,
 * arrayBuffer, blob) deliver bytes as soon as their pieces are verified, in order, and
 * make the engine download the pieces under and ahead of them first. Events: 'done';
 * under Node, 'stream' ({ stream, req, file }, pipeTo) when client.createServer() is about
 * to send the file's bytes (a Readable): pipeTo(target) sends them through target instead.
 */
export interface ClientFile extends Emitter, AsyncIterable<Uint8Array> {
  readonly path: string
  readonly name: string
  readonly length: number
  readonly size: number
  /** Where the file starts in the torrent's bytes. */
  readonly offset: number
  /** A MIME type from the file name's extension. */
  readonly type: string
  /** Bytes of the file in verified pieces. */
  readonly downloaded: number
  readonly progress: number
  readonly done: boolean
  /** Download this file (priority 1..7, default 4; true = 7). */
  select (priority?: number | boolean): void
  /** Do not download this file (pieces shared with selected files still come). */
  deselect (): void
  /** Does piece `index` hold bytes of this file? */
  includes (index: number): boolean
  /** A web ReadableStream of the range; cancelling it stops prioritising its pieces. */
  stream (range?: FileRange): ReadableStream<Uint8Array>
  /** A Node-style readable of the range (pipe, 'data', async iteration), as WebTorrent's; destroy() stops it. */
  createReadStream (range?: FileRange): FileStream
  /** The range (default: the whole file) once downloaded and verified. */
  arrayBuffer (range?: FileRange): Promise<ArrayBuffer>
  blob (opts?: FileRange & BlobPropertyBag): Promise<Blob>
  /** WebTorrent 1's callback forms: the whole file (a Buffer under Node, else a Uint8Array), a Blob, a Blob URL. */
  getBuffer (cb: (err: Error | null, buffer?: NodeBufferOr<Uint8Array>) => void): void
  /** @deprecated @types/webtorrent's callback type. */
  getBuffer (cb: (err: string | Error | undefined, buffer?: NodeBufferOr<Uint8Array>) => void): void
  getBlob (cb: (err: Error | null, blob?: Blob) => void): void
  getBlobURL (cb: (err: Error | null, url?: string) => void): void
  /** The same as streamURL. */
  getStreamURL (): string
  /** The URL the service worker serves this file at; throws (code "no_server") before client.createServer(). */
  readonly streamURL: string
  /**
   * Plays the file in a <video> or <audio> element and returns the element. With a server
   * (client.createServer), the element loads streamURL: any format the browser plays.
   * Otherwise, or with `mediaSource: true`, through Media Source Extensions: WebM/Matroska
   * and fragmented MP4 only, seeking through the file's index (WebM Cues, MP4 sidx or mfra;
   * without one, by probing the file). `cb` is called once playback is set up, or with a
   * WasmTorrentError (code "unsupported_media") for a file that cannot be played that way;
   * without `cb`, that error is the torrent's 'warning'. Throws (code "not_supported") when
   * the context has neither a server nor MediaSource.
   */
  streamTo<E extends HTMLMediaElement> (elem: E, opts?: StreamToOptions, cb?: (err: WasmTorrentError | null, elem: E) => void): E
  streamTo<E extends HTMLMediaElement> (elem: E, cb: (err: WasmTorrentError | null, elem: E) => void): E
}

/** Node's Buffer where @types/node is loaded (what getBuffer gives there), else T. */
type NodeBufferOr<T> = typeof globalThis extends { Buffer: { prototype: infer B } } ? B : T

export interface StreamToOptions {
  /** Play through MediaSource even when the client has a server. */
  mediaSource?: boolean
  /** MediaSource playback: seconds to buffer ahead of the playhead (default 30). */
  bufferAhead?: number
}

export interface NodeServerOptions {
  /** The CORS origin allowed ('*' by default, as WebTorrent's; false: none). */
  origin?: string | false
  /** Requests whose Host is not hostname:port are refused (DNS rebinding). */
  hostname?: string
  /** The layout's root (default /webtorrent). */
  pathname?: string
}
/** Node: client.createServer(), as WebTorrent's Node server. */
export interface NodeServer {
  /** The http.Server. */
  readonly server: unknown
  /** The options given, origin defaulted. */
  readonly opts: NodeServerOptions
  readonly pathname: string
  readonly closed: boolean
  urlOf (file: ClientFile): string
  /** As http.Server's listen(port, host, cb). */
  listen (...args: unknown[]): unknown
  address (): { address: string, family: string, port: number } | string | null
  /** cb(err) with ERR_SERVER_NOT_RUNNING when it was not listening, as http.Server's. */
  close (cb?: (err?: Error) => void): void
  /** close(), and every connection cut. */
  destroy (cb?: (err?: Error) => void): void
}

/** Service-worker streaming (client.createServer): the page's side of dist/wasmtorrent-sw.js. */
export interface StreamServer {
  readonly controller: ServiceWorkerRegistration
  /** The URL prefix the worker answers: <scope>webtorrent/. */
  readonly base: string
  /** The path of `base` (origin-relative). */
  readonly pathname: string
  readonly closed: boolean
  /** The origin-relative URL <scope path>webtorrent/<infoHash>/<path>. */
  urlOf (file: ClientFile): string
  /** As WebTorrent's browser server: nothing to bind; cb runs once it is ready. */
  listen (port?: number | (() => void), cb?: () => void): void
  address (): { address: string, family: 'IPv4', port: number }
  close (cb?: () => void): void
  destroy (cb?: () => void): void
}

/**
 * A BEP 10 extension, as WebTorrent's: a constructor called with the wire; its BEP 10
 * name is `prototype.name` (WebTorrent's convention) or the instance's `name`. Fields the
 * constructor puts in wire.extendedHandshake go into our extension handshake (registered
 * once per client, at the first use of the name). As WebTorrent's, a use() in the torrent's
 * 'wire' listener is in the first extension handshake the peer gets: ours waits until the
 * 'wire' listeners ran.
 */
export interface ExtensionConstructor {
  new (wire: Wire): Extension
}
export interface Extension {
  name?: string
  onHandshake? (infoHash: string, peerId: string, extensions: { dht: boolean, extended: boolean }): void
  /** The peer's extension handshake, decoded (byte strings as Uint8Array); only when the peer supports this extension, as in WebTorrent. */
  onExtendedHandshake? (handshake: Record<string, unknown>): void
  onMessage? (payload: Uint8Array): void
}

/** A connected peer. Events: 'close'. */
/** npm bitfield's BitField (WebTorrent's torrent.bitfield and wire.peerPieces): bits MSB first. */
export interface BitField {
  buffer: Uint8Array
  /** Bits, a multiple of 8. */
  readonly length: number
  get (index: number): boolean
  set (index: number, value?: boolean): void
  setAll (values: ArrayLike<boolean | number>, offset?: number): void
  forEach (fn: (bit: boolean, index: number) => void, start?: number, end?: number): void
  isEmpty (): boolean
}

/**
 * A connected peer: bittorrent-protocol's Wire, read-only. Events as that package's, as the
 * peer's messages arrive: 'choke', 'unchoke', 'interested', 'uninterested', 'have' (index),
 * 'bitfield' (BitField), 'have-all', 'have-none', 'request' (index, offset, length), 'download'
 * (bytes of a block), 'piece' (index, offset, bytes), 'cancel' (index, offset, length), 'port'
 * (port), 'suggest' (index), 'reject' (index, offset, length), 'allowed-fast' (index),
 * 'extended' ('handshake', dict; or the extension's name, payload), 'keep-alive'; 'upload'
 * (bytes of a block we sent); 'close'. The engine reports a kind only while it has a listener.
 * A web seed is a wire too, as WebTorrent's: type 'webSeed', peerId the SHA-1 of its URL, no
 * remoteAddress, 'download' as its bytes arrive and 'close'; its destroy() removes the seed.
 */
export class Wire extends Emitter {
  readonly peerId: string
  readonly type: 'webrtc' | 'tcpIncoming' | 'tcpOutgoing' | 'utpIncoming' | 'utpOutgoing' | 'webSeed'
  /** A TCP peer's address; for a data channel the engine's name for it (it has no IP address to show); undefined for a web seed. */
  readonly remoteAddress: string
  /** A web seed's wire: its URL (also connId), as WebTorrent's WebConn. */
  readonly url?: string
  readonly remotePort?: number
  readonly outgoing: boolean
  readonly destroyed: boolean
  readonly downloaded: number
  readonly uploaded: number
  readonly amChoking: boolean
  readonly amInterested: boolean
  readonly peerChoking: boolean
  readonly peerInterested: boolean
  /** Our extension handshake's extra fields, for extensions to fill in their constructor. */
  extendedHandshake: Record<string, unknown>
  readonly peerExtendedHandshake: Record<string, unknown>
  /** The peer's extension names and the ids it gave them (from its extension handshake). */
  readonly peerExtendedMapping: Record<string, number>
  /** Ours: the id our extension handshake gives each extension, and its name. */
  readonly extendedMapping: Record<number, string>
  readonly peerIdBuffer: Uint8Array | null
  /** The pieces the peer has, kept up to date from its first use. */
  readonly peerPieces: BitField
  /** What the peer's handshake offered, and ours. */
  readonly peerExtensions: { dht?: boolean, fast?: boolean, extended?: boolean }
  readonly extensions: { dht: boolean, fast: boolean, extended: boolean }
  readonly hasFast: boolean
  /** The peer has every piece (WebTorrent's field; false until the metadata is known; true for a web seed). */
  readonly isSeeder: boolean
  /** Our requests in flight, and the peer's not served yet. */
  readonly requests: Array<{ piece: number, offset: number, length: number }>
  readonly peerRequests: Array<{ piece: number, offset: number, length: number }>
  downloadSpeed (): number
  uploadSpeed (): number
  /** Chokes the peer now; it stays choked (the engine's choker leaves it out) until unchoke(). */
  choke (): void
  /** Unchokes the peer now (the choker may choke it again at its next round). */
  unchoke (): void
  /** Keep-alives to the peer when idle (on from the start, as WebTorrent turns them on). */
  setKeepAlive (enable: boolean): void
  /** A request unanswered for `ms` (no block from the peer meanwhile) is given up on and the wire emits 'timeout'; 0: none. */
  setTimeout (ms: number, unref?: boolean): void
  use (extension: ExtensionConstructor): void
  /**
   * ut_pex (BEP 11) with this peer, as npm ut_pex's object on WebTorrent's wires: on every
   * wire of a public torrent unless the client's utPex is false (an app's own use() of a
   * ut_pex extension replaces it, as with WebTorrent).
   */
  ut_pex?: WirePex
  /** ut_metadata (BEP 9) with this peer, as npm ut_metadata's object on WebTorrent's wires. */
  ut_metadata?: WireMetadata
  /** lt_donthave with this peer, as npm lt_donthave's object on WebTorrent's wires. */
  lt_donthave?: WireDontHave
  /** Sends a message of an extension in use: bytes as they are, anything else (strings too) bencoded, as WebTorrent does. Throws when the peer lacks it. */
  extended (name: string | number, data: Uint8Array | ArrayBuffer | string | object): void
  destroy (): void
  /** Closes the connection, as destroy() (bittorrent-protocol's Duplex end()). */
  end (): this
}

/** A torrent's pieces as abstract-chunk-store's get() reads them: only verified ones ('Chunk not found' otherwise). */
export interface TorrentStore {
  readonly chunkLength: number
  get (index: number, cb: (err: Error | null, chunk?: Uint8Array) => void): void
  get (index: number, opts: { offset?: number, length?: number }, cb: (err: Error | null, chunk?: Uint8Array) => void): void
}

/** Flags of an address in a ut_pex message, as npm ut_pex gives and takes them. */
export interface PexFlags {
  prefersEncryption?: boolean
  isSender?: boolean
  supportsUtp?: boolean
  supportsUtHolepunch?: boolean
  isReachable?: boolean
}

/**
 * Events: 'peer' ('ip:port' or '[ip6]:port', flags) and 'dropped' (address), for what the
 * peer's ut_pex messages name, each address once until it changes list.
 */
export interface WirePex extends Emitter {
  readonly name: 'ut_pex'
  /** Our messages to this peer on (as from the start) or off. */
  start (): void
  stop (): void
  /** Off, and what the peer was told and the addresses waiting for it forgotten. */
  reset (): void
  /** An address for the next message to this peer (besides the torrent's own peers). */
  addPeer (peer: string, flags?: PexFlags): void
  addPeer6 (peer: string, flags?: PexFlags): void
  dropPeer (peer: string): void
  dropPeer6 (peer: string): void
}

/**
 * Events: 'metadata' (the torrent { info } as bencoded bytes), on each wire the torrent has
 * when a magnet's metadata arrives. The engine asks every peer that offers the metadata while
 * the torrent lacks it, so fetch() and cancel() change nothing.
 */
export interface WireMetadata extends Emitter {
  readonly name: 'ut_metadata'
  /** The info dictionary's bytes, once known. */
  readonly metadata: Uint8Array | undefined
  fetch (): void
  cancel (): void
  /** True once the torrent's metadata is known. */
  setMetadata (metadata?: Uint8Array): Promise<boolean>
}

/** Events: 'donthave' (piece index): the peer no longer has a piece it had. */
export interface WireDontHave extends Emitter {
  readonly name: 'lt_donthave'
  /** Tells the peer we no longer have the piece (nothing to a peer without lt_donthave). */
  donthave (index: number): void
}

/**
 * A connection to a peer that the app made itself (torrent.addPeer, addWebSeed): a
 * simple-peer instance, or any duplex stream that carries the BitTorrent wire protocol.
 * write() returning false means wait for 'drain'; 'data' brings the remote's bytes;
 * 'close', 'end', 'finish' or 'error' end it. One still connecting has `connected` false
 * (or `connecting` true) and emits 'connect'.
 */
export interface PeerConnectionObject {
  write (chunk: Uint8Array): boolean | void
  on (event: string, listener: (...args: any[]) => void): unknown
  destroy (err?: Error): unknown
  id?: string
  connected?: boolean
  connecting?: boolean
  remoteAddress?: string
  remotePort?: number
}

/**
 * A torrent in the client. Events, as WebTorrent's: 'infoHash' (hash), 'metadata', 'ready',
 * 'download' (bytes that arrived), 'upload' (bytes), 'verified' (piece index), 'wire' (wire,
 * address), 'noPeers' ('tracker', 'dht', 'lsd' or 'ut_pex': every noPeersIntervalTime seconds, for
 * each enabled source the torrent holds no peer from), 'peer' (an address
 * the torrent will dial: 'ip:port' from addPeer(), its trackers, the DHT, LSD, ut_pex or a magnet's
 * x.pe; or a web seed's URL, from addWebSeed() or the torrent's url-list),
 * 'blockedPeer' ('ip:port': refused by the blocklist: from addPeer(), at once, which then returns
 * false; from a tracker, the DHT, LSD, ut_pex or an incoming connection), 'invalidPeer' (an address or
 * web seed URL not taken: one the torrent has already, port 0, our own, not an http(s) URL), 'done'
 * (every piece verified, whatever is selected), 'idle' (WebTorrent 2's: nothing selected is
 * left to download), 'seed' (seed() only, once seeding), 'warning'
 * (Error), 'error' (Error: fatal, the torrent is destroyed; code 'storage_full' when the
 * store is out of quota; with no listener it goes to the client's 'error'), 'close'; and,
 * while seed() hashes its input, 'hashing' (bytes hashed, total bytes).
 */
export class Torrent extends Emitter {
  /*
   * infoHash and name are undefined, and magnetURI, torrentFile and torrentFileBlobURL null,
   * until they are known (infoHash at 'infoHash', the rest at 'metadata' or 'ready'); they
   * are typed as WebTorrent's types (@types/webtorrent) type them, since apps read them in
   * those events' handlers.
   */
  readonly infoHash: string
  /** The info-hash's 20 bytes, once known (WebTorrent's). */
  readonly infoHashBuffer: Uint8Array | undefined
  readonly magnetURI: string
  /** Its tracker URLs (the torrent's or magnet's, add() opts.announce, the client's). */
  readonly announce: string[]
  readonly name: string
  readonly files: ClientFile[]
  readonly length: number
  readonly pieceLength: number
  readonly lastPieceLength: number
  readonly pieceCount: number
  /** One per piece: { length, missing } until verified, then null (as WebTorrent). */
  readonly pieces: Array<{ length: number, missing: number } | null>
  readonly created: Date | undefined
  readonly createdBy: string | undefined
  readonly comment: string | undefined
  /** The add option `private`, else the torrent's own flag; undefined without either. */
  readonly private: boolean | undefined
  /** Web seeds given with the torrent or the add options. */
  readonly urlList: string[]
  /** The add option `path` (the store's name), or null. */
  readonly path: string | null
  /** The add options of those names, as WebTorrent's torrent shows them. */
  readonly addUID: boolean
  readonly rootDir: string | null
  readonly storeOpts: Record<string, unknown> | undefined
  readonly alwaysChokeSeeders: boolean
  /** WebTorrent's torrent.store, to read verified pieces (abstract-chunk-store's get); null before the metadata and once destroyed. */
  readonly store: TorrentStore | null
  readonly maxWebConns: number
  /** The metadata is known and the store checked (as WebTorrent's); 'ready' then. */
  readonly ready: boolean
  /** The add option skipVerify. */
  readonly skipVerify: boolean
  /** Every file complete, as WebTorrent's (a finished partial selection is 'idle', not done). */
  readonly done: boolean
  readonly destroyed: boolean
  readonly paused: boolean
  /** The add option strategy in use: 'rarest' unless 'sequential' was asked for. */
  readonly strategy: 'rarest' | 'sequential'
  /** Its share of the client's connections (maxConnsTotal) as priority squared against the other torrents'; 1 by default. */
  readonly priority: number
  /** Verified bytes over the whole torrent's length, deselected files included. */
  readonly progress: number
  /** Bytes of verified pieces (a seed: its length). */
  readonly downloaded: number
  /** Every payload byte that arrived, wasted ones (duplicates, failed hashes) included. */
  readonly received: number
  readonly uploaded: number
  readonly downloadSpeed: number
  readonly uploadSpeed: number
  /** wires.length, as WebTorrent's: web seeds count. */
  readonly numPeers: number
  /** Bytes that came from web seeds (part of `received`, every byte received). */
  readonly webSeedDownloaded: number
  readonly webSeeds: WebSeedInfo[]
  /** uploaded / received, or / length when nothing was received (a seed). */
  readonly ratio: number
  /** Milliseconds at the current download rate. */
  readonly timeRemaining: number
  /** The .torrent file (as added or seeded, or built from the metadata and trackers); null before the metadata. */
  readonly torrentFile: Uint8Array
  readonly torrentFileBlob: Blob | null
  /** An object URL of torrentFileBlob (browsers; null under Node and before the metadata). */
  readonly torrentFileBlobURL: string
  readonly wires: Wire[]
  /** The client it belongs to; null once destroyed. */
  readonly client: WasmTorrent | null
  /** The .torrent once the metadata is known (WebTorrent's torrent.metadata), else null. */
  readonly metadata: Uint8Array | null
  /** The info dictionary decoded as npm parse-torrent's `info` (byte strings as Uint8Array). */
  readonly info: Record<string, unknown> | undefined
  /** The info dictionary's bencoded bytes, once the metadata is known. */
  readonly infoBuffer: Uint8Array | undefined
  /** WebTorrent's torrent.discovery, its `dht` (the client's when this torrent uses it) and `lsd` (true when this torrent is announced by LSD). */
  readonly discovery: { readonly dht: WasmTorrent['dht'] | false, readonly lsd: boolean }
  /** Verified pieces: get(index), and the bits (first piece in the high bit of byte 0). */
  /** The verified pieces, as they are when read. */
  readonly bitfield: BitField
  /** Pieces [start, end] (inclusive) at a relative priority (0 normal, higher sooner, true = highest); start defaults to the first piece, end to the last. Throws before the metadata. */
  select (start?: number, end?: number, priority?: number | boolean | (() => void), notify?: () => void): void
  /** Stop downloading pieces [start, end] (those of selected files still come). */
  deselect (start: number, end: number, priority?: number): void
  /** Pieces [start, end] first. */
  critical (start: number, end: number): void
  /** Closes the torrent's connections and makes no new ones (WebTorrent only stops new ones); verified bytes stay readable. */
  pause (): void
  resume (): void
  /**
   * Reads back the store and hashes every piece not had yet; those that match (bytes put
   * there from outside) are had ('verified' each, 'done' when complete). Also a Promise.
   */
  rescanFiles (cb?: (err: Error | null) => void): Promise<void>
  /** Node, files on disk: each file's mtime in ms (undefined when not on disk); else fails with code 'not_supported'. Also a Promise. */
  getFileModtimes (cb?: (err: Error | null, times?: Array<number | undefined>) => void): Promise<Array<number | undefined>>
  /** This torrent's own limit in bytes/s, under the client's; -1 = unlimited. */
  throttleDownloadSpeed (rate: number): false | undefined
  throttleUploadSpeed (rate: number): false | undefined
  /** Sets `priority` (a number of at least 1, else a WasmTorrentError with code 'invalid_argument'). */
  setPriority (priority: number): void
  /** One byte per piece: 0 missing, 1 downloading, 2 verifying, 3 have; empty before the metadata. */
  pieceStates (): Uint8Array
  /**
   * Closes the connection to a peer: its Wire, its peer id (hex), a connection object given to
   * addPeer or addWebSeed (or its id / connId), or (Node) its "ip:port".
   */
  removePeer (peer: Wire | PeerConnectionObject | string): void
  /**
   * A peer the app connected itself, as WebTorrent's: a simple-peer instance (or any duplex
   * stream to a peer of this torrent, connected or still connecting: it emits 'connect');
   * 'peer' names it. Ours also takes an RTCDataChannel the page signalled (open or
   * connecting; hand it over before it receives anything, in ondatachannel). Under Node, an
   * address "ip:port" / "[ip6]:port" / "host:port" (resolved first); browsers throw for one.
   */
  addPeer (peer: PeerConnectionObject | RTCDataChannel | string): boolean
  /**
   * Content the app has (a Node Readable, bytes, or a list of them, in the torrent's file
   * order) becomes the torrent's pieces, hashed against it; rejects (and cb gets) an error
   * when its length or a piece does not match. Waits for the metadata.
   */
  load (streams: AsyncIterable<Uint8Array | string> | Uint8Array | Array<AsyncIterable<Uint8Array | string> | Uint8Array>, cb?: (err: Error | null) => void): Promise<void>
  /**
   * Ours (Node): the swarm's counts from the HTTP or UDP tracker the torrent announces to
   * (scrape); also emitted as 'scrape'. Rejects without such a tracker, or when it cannot be reached.
   */
  scrape (): Promise<{ announce: string; complete: number; incomplete: number; downloaded: number }>
  /**
   * A BEP 19 web seed: the URL of the file (single-file torrent) or of the folder above the
   * torrent's name. Or, as WebTorrent's, a custom web seed: a connection object with a
   * `connId` that speaks the BitTorrent wire protocol as a seed (its wire's type 'webSeed').
   */
  addWebSeed (url: string | URL | (PeerConnectionObject & { connId: string })): void
  /** opts.destroyStore deletes what its store holds (default: the add option destroyStoreOnDestroy). */
  destroy (opts?: RemoveOptions, cb?: (err: Error | null) => void): Promise<void>
  destroy (cb?: (err: Error | null) => void): Promise<void>
  /** @deprecated @types/webtorrent's callback type; the error is Error | null. */
  destroy (opts?: RemoveOptions, cb?: (err: Error | string) => void): Promise<void>
}

/**
 * A store of WebTorrent's kind (abstract-chunk-store): `new Store(pieceLength, { length,
 * files, name, torrent })` with callback put/get/close/destroy.
 */
/**
 * An abstract-chunk-store, as WebTorrent's store option takes it. It gets what WebTorrent
 * gives its store: AddOptions.storeOpts' fields, then the torrent, path, files, length,
 * name ("<name> - <first 8 of the info-hash>"), addUID, rootDir and max (storeCacheSlots).
 */
export interface ChunkStoreConstructor {
  new (chunkLength: number, opts: { length: number, files: object[], name: string, torrent: object, path?: string, addUID: boolean, rootDir: string | null, max: number, [storeOpt: string]: unknown }): ChunkStore
}

/** A function returning the store (WebTorrent calls store with `new`, so a plain function works). */
export type ChunkStoreFactory = (chunkLength: number, opts: ConstructorParameters<ChunkStoreConstructor>[1]) => ChunkStore
/** An abstract-chunk-store object (a preloadedStore). */
export interface ChunkStore {
    put (index: number, buf: Uint8Array, cb: (err: Error | null) => void): void
    get (index: number, opts: { offset?: number, length?: number } | null, cb: (err: Error | null, buf?: Uint8Array) => void): void
    close (cb?: (err: Error | null) => void): void
    destroy (cb?: (err: Error | null) => void): void
}

export interface AddOptions {
  /** More tracker URLs for this torrent. */
  announce?: string | string[]
  /** Start paused. */
  paused?: boolean
  /**
   * Overrides the torrent's private flag (BEP 27). A private torrent finds peers through
   * its own trackers only: no DHT, no ut_pex, not the client's trackers.
   */
  private?: boolean
  /**
   * Order of the pieces no streaming reader is waiting for, within a priority. Default
   * 'rarest' (rarest first; WebTorrent's default is 'sequential'). Any other value throws
   * a WasmTorrentError with code 'invalid_argument'.
   */
  strategy?: 'rarest' | 'sequential'
  /** The torrent's `priority` (see Torrent.setPriority); default 1. */
  priority?: number
  /** Start with every piece deselected: nothing is downloaded until select(). */
  deselect?: boolean
  /** Seconds between two 'noPeers' checks (default 30). */
  noPeersIntervalTime?: number
  /** Requests in flight per web seed of this torrent (default: the client's maxWebConns, 4). */
  maxWebConns?: number
  /**
   * Peers uploaded to at once (unchoke slots, the optimistic one included), as WebTorrent's;
   * false or 0: none, nothing is uploaded. Default: 4 by upload rate plus 1 optimistic.
   */
  uploads?: number | false
  /**
   * Where pieces are kept. Default: the origin private file system (persistent: a reload
   * or a new visit resumes, every stored piece re-hashed first), IndexedDB where OPFS is
   * missing, memory where neither is (Node). 'memory', 'opfs', 'idb', or an
   * abstract-chunk-store constructor.
   */
  store?: 'memory' | 'opfs' | 'idb' | ChunkStoreConstructor | ChunkStoreFactory
  /** Names the store (default: the info-hash). */
  path?: string
  /** Delete what the store holds when the torrent is removed or destroyed (default false). */
  destroyStoreOnDestroy?: boolean
  /** Web seeds (BEP 19) besides the torrent's url-list and the magnet's ws=. */
  urlList?: string | string[]
  /**
   * Called for each announce of this torrent, to every tracker, after the client's
   * tracker.getAnnounceOpts (its fields win); see AnnounceOpts. Called while the engine
   * builds the announce: what it does to the client takes effect once that is over.
   */
  getAnnounceOpts?: () => AnnounceOpts | void
  /** Fields given to a chunk store constructor (store), before WebTorrent's own. */
  storeOpts?: Record<string, unknown>
  /**
   * Pieces kept in memory after a peer read a block of them (default: 256 pieces, 8 MiB at
   * most); 0: no cache, each read goes to the store as asked. Also `max` for a chunk store.
   */
  storeCacheSlots?: number
  /**
   * A store that holds the content already (an abstract-chunk-store object): used instead
   * of making one. add(): what it holds is hashed, as on resume; seed(): served from as it
   * is (the input only makes the torrent; nothing is written).
   */
  preloadedStore?: ChunkStore
  /** Node: the files go under "<name> - <first 8 of the info-hash>" in path (torrent.path stays path). */
  addUID?: boolean
  /**
   * Take every piece in the store as had without hashing it first (as WebTorrent's). Each
   * piece is still hashed before a byte of it is read or sent: one that fails is fetched again.
   */
  skipVerify?: boolean
  /**
   * Node, files on disk: each file's mtime as getFileModtimes() gave it earlier; when all are
   * unchanged, the store is taken as with skipVerify (as WebTorrent's).
   */
  fileModtimes?: Array<number | undefined>
  /**
   * The pieces the store holds (MSB first, ceil(pieces / 8) bytes; a BitField by its buffer):
   * had at once, one piece of each file hashed before 'ready' (a file whose piece fails has
   * all its pieces hashed), each other piece hashed before a byte of it is read or sent. Of
   * another size: ignored (the store is checked as usual).
   */
  bitfield?: Uint8Array | ArrayBuffer | { buffer: Uint8Array }
}

export interface RemoveOptions {
  destroyStore?: boolean
}

/**
 * A magnet URI, an info-hash (40 hex or 32 base32 characters, or 20 bytes), .torrent bytes,
 * a parsed torrent (parse-torrent's object: infoHash plus info/infoBuffer, or infoHash
 * alone), a Blob of a .torrent, or the http(s) URL of one.
 */
export type TorrentId = string | URL | Uint8Array | ArrayBuffer | ArrayBufferView | Blob | { infoHash: string, infoBuffer?: Uint8Array, info?: object, announce?: string[], urlList?: string[] }
/** Node: file or folder paths and Node Readables too. */
export type NodeReadableLike = { pipe (...args: any[]): unknown, [Symbol.asyncIterator] (): AsyncIterator<unknown>, name?: string }
export type SeedInput = CreateInput | string | NodeReadableLike | Array<CreateInputItem | string | NodeReadableLike>
/** seed()'s options: the torrent's (CreateOptions), and of add()'s those that apply to a seed. */
export type SeedOptions = CreateOptions & Omit<AddOptions, 'announce' | 'private' | 'urlList'>

/**
 * The client. Events, as WebTorrent's: 'add' (torrent, at once), 'torrent' (torrent, when
 * ready), 'seed' (torrent), 'remove' (torrent), 'download' and 'upload' (bytes, of any
 * torrent), 'ready', 'warning', 'error' (also torrents' errors that have no listener of
 * their own). The package's functions are also its statics (WasmTorrent.parseTorrent, ...).
 */
declare class WasmTorrent extends Emitter {
  /** Can this environment make WebRTC connections? */
  static readonly WEBRTC_SUPPORT: boolean
  /** uTP: true under Node, false in browsers (WebTorrent's code has it too). */
  static readonly UTP_SUPPORT: boolean
  /** The package's version, as WebTorrent's `VERSION`. */
  static readonly VERSION: string
  constructor (opts?: ClientOptions)
  readonly torrents: Torrent[]
  /** 40 hex digits, once the engine runs (after `ready`). */
  readonly peerId?: string
  /**
   * Node: the DHT's node id, 40 hex digits (the nodeId option's at once; else after `ready`);
   * null without a DHT. A random id changes once, to one valid for our address (BEP 42).
   */
  readonly nodeId: string | null
  readonly destroyed: boolean
  /** Node: the TCP port peers connect to, and the DHT's UDP port (0 before ready, or none). */
  readonly torrentPort: number
  readonly dhtPort: number
  /** The userAgent option, or the default (see ClientOptions.userAgent). */
  userAgent: string
  /** Node: whether uTP is on (WebTorrent's client.utp; false in browsers, or when its UDP port was taken). */
  readonly utp: boolean
  readonly seedOutgoingConnections: boolean
  /** WebTorrent's: connections per torrent (55 unless given); assigning it applies to every torrent. */
  maxConns: number
  /** WebTorrent's: peerId and nodeId as bytes (null while unknown). */
  readonly peerIdBuffer: Uint8Array | null
  readonly nodeIdBuffer: Uint8Array | null
  /** WebTorrent's: the options as given (tracker: false, or its object; {} when not given). */
  readonly tracker: NonNullable<ClientOptions['tracker']> | Record<string, never>
  readonly utPex: boolean
  readonly natUpnp: NonNullable<ClientOptions['natUpnp']>
  readonly natPmp: NonNullable<ClientOptions['natPmp']>
  readonly enableWebSeeds: boolean
  /**
   * Node: WebTorrent's client.dht as far as apps use it: 'listening', address(), and BEP 44's
   * put() and get() as bittorrent-dht's; false without a DHT, as WebTorrent's.
   */
  readonly dht: DhtApi | false
  /** Node: whether the TCP server accepts peers (the client emits 'listening' when it starts). */
  readonly listening: boolean
  /** Node: the TCP server's address, as net.Server's; null before it listens (and in browsers). */
  address (): { address: string; family: string; port: number } | null
  /** Node: nodes in the DHT's routing table. */
  readonly dhtNodes: number
  /** Node: Local Service Discovery is on (the lsd option, and the multicast group joined). */
  readonly lsd: boolean
  /** Node: the ports the router maps to this machine (natPmp, natUpnp), and the public address it reported. */
  readonly portMappings: Array<{ protocol: 'tcp' | 'udp', internalPort: number, externalPort: number, lifetime: number, publicAddress: string | null, via: 'natpmp' | 'upnp' }>
  readonly publicAddress: string | null
  /** As WebTorrent's: false until the client's 'ready' event (the module loaded, the engine running), then true. */
  readonly ready: boolean
  readonly downloadSpeed: number
  readonly uploadSpeed: number
  readonly progress: number
  readonly ratio: number
  /**
   * Adds a torrent (see TorrentId); ontorrent is called when it is ready. A torrent already
   * in the client: the new one is destroyed with an error "Cannot add duplicate torrent"
   * and ontorrent gets the existing one. A bad id: an error "Invalid torrent identifier".
   * Throws after destroy().
   */
  add (torrentId: TorrentId, ontorrent?: (torrent: Torrent) => void): Torrent
  add (torrentId: TorrentId, opts?: AddOptions, ontorrent?: (torrent: Torrent) => void): Torrent
  /**
   * Makes a torrent of the input (as createTorrent, hashing it in chunks: 'hashing' events)
   * and seeds it, reading the input itself when peers ask (a File is never copied whole).
   */
  seed (input: SeedInput, onseed?: (torrent: Torrent) => void): Torrent
  seed (input: SeedInput, opts?: SeedOptions, onseed?: (torrent: Torrent) => void): Torrent
  /** Promise forms: resolve when the torrent is ready (metadata known); a duplicate resolves with the existing torrent. */
  addAsync (torrentId: TorrentId, opts?: AddOptions): Promise<Torrent>
  /** Resolves at the client's 'ready' (ours: `ready` itself is WebTorrent's boolean); rejects with what stopped the client. */
  whenReady (): Promise<void>
  seedAsync (input: SeedInput, opts?: SeedOptions): Promise<Torrent>
  /** A Promise, as WebTorrent 2's: the torrent of that id, or null. */
  get (torrentId: TorrentId | Torrent): Promise<Torrent | null>
  /** Bytes/s over all torrents; -1 = unlimited, 0 = stopped. */
  throttleDownload (rate: number): false | undefined
  throttleUpload (rate: number): false | undefined
  /** Bytes/s for every torrent (now and added later), under the client's; -1 = unlimited. */
  throttleTorrentDownload (rate: number): false | undefined
  throttleTorrentUpload (rate: number): false | undefined
  /**
   * Streams files through a service worker running dist/wasmtorrent-sw.js (registered by
   * the page, its scope covering the page): file.streamURL and file.streamTo then use it.
   * Throws when one exists already, after destroy(), and (code "not_activated") while the
   * registration's worker is not 'activated' yet, as WebTorrent's. Under Node: an HTTP server with the
   * same layout (call listen()).
   */
  createServer (opts: { controller: ServiceWorkerRegistration }): StreamServer
  createServer (opts?: NodeServerOptions, force?: 'browser' | 'node'): NodeServer
  createServer (opts?: NodeServerOptions | { controller: ServiceWorkerRegistration }, force?: 'browser' | 'node'): NodeServer | StreamServer
  /**
   * Resolves once the torrent's store is closed (or, with opts.destroyStore, deleted). An
   * unknown id: cb(err), or without cb a rejected Promise.
   */
  remove (torrentId: TorrentId | Torrent, opts?: RemoveOptions, cb?: (err: Error | null) => void): Promise<void>
  remove (torrentId: TorrentId | Torrent, cb: (err: Error | null) => void): Promise<void>
  /** @deprecated @types/webtorrent's callback type. */
  remove (torrentId: TorrentId | Torrent, opts?: RemoveOptions, cb?: (err: Error | string) => void): Promise<void>
  /** Resolves (and calls cb) once every torrent's store is closed. */
  destroy (cb?: (err: Error | null) => void): Promise<void>
  /** @deprecated @types/webtorrent's callback type. */
  destroy (cb?: (err: Error | string) => void): Promise<void>

  static init: typeof init
  static parseTorrent: typeof parseTorrent
  static parseMagnet: typeof parseMagnet
  static toMagnetURI: typeof toMagnetURI
  static createTorrent: typeof createTorrent
  static announceList: typeof announceList
  static WasmTorrentError: typeof WasmTorrentError
}
/**
 * WebTorrent's type names, as apps know them from @types/webtorrent's namespace
 * (`WebTorrent.Instance`, `WebTorrent.Torrent`...), so that a TypeScript app switches by
 * changing its import.
 */
declare namespace WasmTorrent {
  type Instance = WasmTorrent
  type Options = ClientOptions
  type TorrentOptions = AddOptions & SeedOptions
  type TorrentDestroyOptions = RemoveOptions
  type Torrent = TorrentClass
  type TorrentFile = ClientFile
  type TorrentPiece = { readonly length: number, readonly missing: number }
  type BrowserServerOptions = { controller: ServiceWorkerRegistration }
  type BrowserServer = StreamServer
  type NodeServerOptions = NodeServerOptionsType
  type NodeServer = NodeServerType
  type WebTorrent = typeof WasmTorrent
  type ServerAddress = { port: number, family: string, address: string }
  type ServerBase = NodeServerType | StreamServer
}
type TorrentClass = Torrent
type NodeServerOptionsType = NodeServerOptions
type NodeServerType = NodeServer

export { WasmTorrent }
export default WasmTorrent
