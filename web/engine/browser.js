// Loads the WebAssembly module in a browser (window or worker). The .wasm is fetched from
// defaultURL() unless the caller passes wasmURL, locateFile or wasmBinary to init().
import createWasmTorrentModule from '../../build/wasm/wasmtorrent_module.mjs'

export function browserLoader (defaultURL) {
  return ({ wasmBinary, wasmURL, locateFile } = {}) => createWasmTorrentModule({
    wasmBinary,
    // Always given: the 3.1.6 glue would otherwise resolve its own file name against
    // import.meta.url, which does not exist in the drop-in script.
    locateFile: locateFile ?? (() => String(wasmURL ?? defaultURL()))
  })
}
