#!/usr/bin/env bash
# Builds the package (`npm run build`): the WebAssembly module (CMake, Release, in
# build/wasm) and dist/:
#   dist/wasmtorrent.js       ES module for browsers and bundlers (web/index.js)
#   dist/wasmtorrent.node.js  ES module for Node.js, reads the .wasm with fs (web/node.js)
#   dist/wasmtorrent.min.js   the same ES module minified into one file, for a CDN path as
#                             WebTorrent's webtorrent.min.js (web/index.js)
#   dist/wasmtorrent.global.js classic <script>, defines the global WasmTorrent (web/script.js)
#   dist/wasmtorrent-sw.js    service worker for streaming into <video> (web/stream/sw.js)
#   dist/wasmtorrent-cli.js   the command-line client, the package's `bin` (web/cli/main.js)
#   dist/wasmtorrent.wasm     the browser's engine: without the HTTP/UDP trackers and the DHT
#   dist/wasmtorrent-node.wasm Node's engine (dist/wasmtorrent.node.js, the CLI): all of it
#   dist/wasmtorrent.d.ts     types (web/wasmtorrent.d.ts)
# CMake rebuilds only what changed; esbuild takes well under a second.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

say() { printf '[build] %s\n' "$*"; }
build=build/wasm

command -v emcc >/dev/null || { echo "error: emcc not found; run scripts/setup.sh" >&2; exit 1; }
[ -x node_modules/.bin/esbuild ] || { echo "error: esbuild not found; run scripts/setup.sh" >&2; exit 1; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configure $build (Release)"
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$here/emsdk-toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
say "wasm: cmake --build $build --target wasmtorrent_wasm, then wasmtorrent_node_wasm"
# One target per call: a call that reconfigures (a CMakeLists.txt changed) only knows the
# targets its Makefile had when it started.
for target in wasmtorrent_wasm wasmtorrent_node_wasm; do
  cmake --build "$build" --target "$target" -j"$(nproc)"
done

mkdir -p dist
esbuild() {  # entry, output, esbuild flags...
  local entry=$1 out=$2; shift 2
  node_modules/.bin/esbuild "$entry" --bundle --outfile="$out" --log-level=warning \
    --log-override:empty-import-meta=silent "$@"
  # The Emscripten glue names its own file wasmtorrent_module.wasm (the Node one
  # wasmtorrent_node_module.wasm) in a new URL(..., import.meta.url) that bundlers follow:
  # point it at the shipped file.
  sed -i -e 's/wasmtorrent_module\.wasm/wasmtorrent.wasm/g' \
    -e 's/wasmtorrent_node_module\.wasm/wasmtorrent-node.wasm/g' "$out"
}
say "js: dist/wasmtorrent.js, dist/wasmtorrent.node.js, dist/wasmtorrent.min.js, dist/wasmtorrent.global.js, dist/wasmtorrent-sw.js, dist/wasmtorrent-cli.js"
esbuild web/index.js dist/wasmtorrent.js --format=esm --platform=browser
# node-datachannel and ws stay imports (optional dependencies, loaded when present).
esbuild web/node.js dist/wasmtorrent.node.js --format=esm --platform=node --external:node-datachannel --external:ws
esbuild web/index.js dist/wasmtorrent.min.js --format=esm --platform=browser --minify
esbuild web/script.js dist/wasmtorrent.global.js --format=iife --platform=browser --minify
esbuild web/stream/sw.js dist/wasmtorrent-sw.js --format=iife --platform=browser --minify
# The players' and cast devices' libraries stay imports, loaded when a command asks for them.
esbuild web/cli/main.js dist/wasmtorrent-cli.js --format=esm --platform=node --external:node-datachannel \
  --external:ws --external:log-update --external:castv2 --external:castv2-client --external:multicast-dns \
  --external:bonjour-service
chmod +x dist/wasmtorrent-cli.js

cp -p "$build/wasmtorrent_module.wasm" dist/wasmtorrent.wasm
cp -p "$build/wasmtorrent_node_module.wasm" dist/wasmtorrent-node.wasm
cp -p web/wasmtorrent.d.ts dist/wasmtorrent.d.ts
say "done: $(cd dist && ls -s --block-size=K wasmtorrent.* wasmtorrent-node.wasm | tr '\n' ' ')"
