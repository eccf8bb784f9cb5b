// The classic <script> (dist/wasmtorrent.global.js): defines the global WasmTorrent and
// finds wasmtorrent.wasm next to itself. WasmTorrent.init({wasmURL | locateFile | wasmBinary})
// overrides, before first use. The ES module forms are dist/wasmtorrent.js and, in one
// minified file, dist/wasmtorrent.min.js (web/index.js).
import { createApi } from './engine/core.js'
import { browserLoader } from './engine/browser.js'

// Captured now: document.currentScript is only set while this script first runs.
const base = (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) ||
  globalThis.location?.href

// The client class, with init/parseTorrent/createTorrent/... as statics.
globalThis.WasmTorrent = createApi(browserLoader(() => new URL('wasmtorrent.wasm', base))).WasmTorrent
