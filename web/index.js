// Browser ES module entry (bundlers, <script type="module">): dist/wasmtorrent.js, and
// minified into one file dist/wasmtorrent.min.js (a drop-in for webtorrent.min.js).
// Finds wasmtorrent.wasm next to itself; init({wasmURL | locateFile | wasmBinary}) overrides.
import { createApi } from './engine/core.js'
import { browserLoader } from './engine/browser.js'

const api = createApi(browserLoader(() => new URL('./wasmtorrent.wasm', import.meta.url)))

export const { init, parseTorrent, parseMagnet, toMagnetURI, createTorrent, announceList, WasmTorrentError, WasmTorrent } = api
export default WasmTorrent
