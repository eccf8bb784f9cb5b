// The drop-in <script> (dist/wasmtorrent.min.js): defines the global WasmTorrent and finds
// wasmtorrent.wasm next to itself. WasmTorrent.init({wasmURL | locateFile | wasmBinary})
// overrides, before first use.
import { createApi } from './engine/core.js'
import { browserLoader } from './engine/browser.js'

// Captured now: document.currentScript is only set while this script first runs.
const base = (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) ||
  globalThis.location?.href

// The client class, with init/parseTorrent/createTorrent/... as statics.
globalThis.WasmTorrent = createApi(browserLoader(() => new URL('wasmtorrent.wasm', base))).WasmTorrent
