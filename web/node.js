// Node.js entry: dist/wasmtorrent.node.js. Reads wasmtorrent.wasm next to itself with fs
// and hands the bytes to the module (the 3.1.6 glue would fetch() a path, which Node 20
// cannot do). init({wasmURL | wasmBinary}) overrides.
import { readFile } from 'node:fs/promises'
import createWasmTorrentModule from '../build/wasm/wasmtorrent_module.mjs'
import { createApi } from './engine/core.js'

async function load ({ wasmBinary, wasmURL } = {}) {
  const url = wasmURL ?? new URL('./wasmtorrent.wasm', import.meta.url)
  return createWasmTorrentModule({
    wasmBinary: wasmBinary ?? await readFile(url),
    locateFile: () => String(url)
  })
}

const api = createApi(load)

export const { init, parseTorrent, parseMagnet, toMagnetURI, createTorrent, announceList, WasmTorrentError, WasmTorrent } = api
export default WasmTorrent
