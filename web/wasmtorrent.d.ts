// Types for wasmtorrent (hand-written). The same API is exported by the browser ES module,
// the Node.js entry, and the drop-in script's global `WasmTorrent`.

/** Where to find the WebAssembly module. Pass to init() before any other call. */
export interface InitOptions {
  /** URL of wasmtorrent.wasm (default: next to the JS file). */
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
  private: boolean
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
  /** Extra info-dict keys: only `source` is supported. */
  info?: { source?: string }
}

/** Thrown for bad input. */
export class WasmTorrentError extends Error {
  /**
   * The engine's error kind, e.g. "bencode_leading_zero", "magnet_bad_info_hash"; or
   * "invalid_argument" (wrong input type), "not_initialized" (toMagnetURI before init()) or
   * "out_of_memory" (the inputs do not fit in WebAssembly memory).
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

declare const WasmTorrent: {
  init: typeof init
  parseTorrent: typeof parseTorrent
  parseMagnet: typeof parseMagnet
  toMagnetURI: typeof toMagnetURI
  createTorrent: typeof createTorrent
  announceList: typeof announceList
  WasmTorrentError: typeof WasmTorrentError
}
export default WasmTorrent
