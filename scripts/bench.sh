#!/usr/bin/env bash
# Benchmarks (not part of the test command). Text on stdout, JSON in build/bench/.
#   npm run bench                        all parts: engine, browser, streaming, streaming-slow, storage, webseed, size, node, scale
#   npm run bench -- 256                 the same, with the engine moving 256 MiB
#   npm run bench -- engine [MiB]        the engine part only
#   npm run bench -- browser [options]   the browser part only; options go to
#                                        tests/bench/browser_bench.mjs: --reps N, --mib M,
#                                        --only a,a',b,b',c, --timeout S, --json FILE,
#                                        --profile DIR, --trace DIR, --threads
#   npm run bench -- streaming [options] the streaming part only; options go to
#                                        tests/bench/streaming_bench.mjs: --reps N,
#                                        --only wasmtorrent,webtorrent, --timeout S, --json FILE
#   npm run bench -- streaming-slow [options]  the same with a lone slow seeder (below)
#   npm run bench -- storage [options]   the storage part only; options go to
#                                        tests/bench/storage_bench.mjs: --only download,seed,resume,
#                                        --mib M, --seed-mib M, --range-mib M, --no-webtorrent, --json FILE
#   npm run bench -- webseed [options]   the web seed part only; options go to
#                                        tests/bench/webseed_bench.mjs: --reps N, --only, --parts
#                                        hybrid,first-frame, --leechers N, --stagger S, --mib M,
#                                        --rate B, --stream-rate B, --timeout S, --json FILE
#   npm run bench -- size [options]      the size part only; options go to
#                                        tests/bench/size_bench.mjs: --baseline DIR, --save-baseline DIR,
#                                        --reps N, --mib M, --json FILE
#   npm run bench -- node [options]      the Node host part only; options go to
#                                        tests/bench/node_bench.mjs: --size MiB, --reps N,
#                                        --piece KiB, --only wasmtorrent,webtorrent, --timeout S,
#                                        --profile DIR, --dist DIR, --json FILE
#   npm run bench -- scale [options]     many files, many torrents, small pieces under Node;
#                                        options go to tests/bench/scale_bench.mjs: --files N,
#                                        --torrents N, --pieces-mib M, --reps N, --only, --json FILE
# Engine: moves a torrent (default 1024 MiB) between two in-memory sessions and hashes
# SHA-1, natively and as WebAssembly under Node, and reports the WebAssembly/native
# ratios (build/bench/engine.json).
# Browser: one Chromium page to another over WebRTC through a local WebSocket tracker,
# 64 MiB, 5 reps, medians: wasmtorrent and WebTorrent, each in memory and with its default
# store (a', b': a persistent profile, so the origin private file system is on disk), and a raw
# RTCDataChannel as the ceiling; MiB/s, ratios, CPU seconds per GiB of the browser
# processes (build/bench/browser.json). It runs inside a loopback-only network namespace
# (scripts/loopback.sh). WT_BENCH_REPS and WT_BENCH_BROWSER_MIB set reps and size too.
# Streaming: a page seeds the 60 s test WebM (scripts/media.mjs), another adds the magnet
# and streams it into a <video> through the library's service worker; ms from add() to the
# first frame and from a seek to 75% to resumed playback, wasmtorrent and WebTorrent, 5
# interleaved reps, medians (build/bench/streaming.json). Same namespace; WT_BENCH_REPS too.
# Streaming with a slow seeder: the same measurements with one WebTorrent seeder for both
# libraries, its upload limited to 50,000 B/s, below the bitrate of the 60 s VP8 WebM
# (7.8 MB, about 1 Mbit/s) it seeds (build/bench/streaming-slow.json, with per-rep traces:
# when each piece was verified, and the player's Range requests).
# Storage: the default persistent stores against WebTorrent 2.8.5's, one rep each, in
# persistent profiles: peak WebAssembly memory (and JS heap) while downloading 1 GiB; seeding
# a 4 GiB File (hashing time and rate, peak memory, a leecher fetching 64 MiB near its end;
# WebTorrent seeding the same File); resuming 1 GiB after a reload (add the .torrent → 'done',
# every stored piece hashed again), from the disk and cached (build/bench/storage.json). Test
# files and profiles in a temporary folder, deleted afterwards; about 10 minutes. Same namespace.
# Web seeds: one HTTP web seed (scripts/webseed.mjs, each response paced) per run; 4 leecher
# pages joining 3 s apart with an 8 MiB torrent (url-list + a local tracker): bytes the server
# sent per byte the leechers downloaded (the CDN's load) and each leecher's add() → 'done';
# and add() → first video frame streaming a WebM from the web seed alone; wasmtorrent (its
# default policy and webSeeds: 'always') against WebTorrent, 3 interleaved reps, medians
# (build/bench/webseed.json). Same namespace; WT_BENCH_REPS too.
# Size: raw, gzip -9 and brotli (max) sizes of what a page downloads (dist/wasmtorrent.wasm and
# the page's script; the service worker apart) beside WebTorrent's webtorrent.min.js (and
# sw.min.js); and the engine's SHA-1 and SHA-256 as WebAssembly under Node against native
# OpenSSL, and SHA-1 through the shipped module (createTorrent), best of 3 interleaved reps
# (build/bench/size.json). --save-baseline DIR keeps this build aside; a later run with
# --baseline DIR measures it beside the new one, in the same run.
# Node: a libtorrent seeder (python3-libtorrent) on 127.0.0.1 and two downloaders, each in a
# child Node process: wasmtorrent (dist/wasmtorrent.node.js) and WebTorrent 2.8.5, 256 MiB over
# TCP to a temporary folder, 3 reps, order alternating; MiB/s (add() to 'done'), the child's
# CPU seconds per GiB, medians and ratios, every file checked by SHA-256 (build/bench/node.json).
# Same namespace.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

parts=(engine browser streaming streaming-slow storage webseed size node scale)
case "${1:-}" in
  engine|browser|streaming|streaming-slow|storage|webseed|size|node|scale) parts=("$1"); shift ;;
esac
mib=1024
browser_args=()
if [ "${parts[*]}" = browser ] || [ "${parts[*]}" = streaming ] || [ "${parts[*]}" = streaming-slow ] || [ "${parts[*]}" = storage ] || [ "${parts[*]}" = webseed ] || [ "${parts[*]}" = size ] || [ "${parts[*]}" = node ] || [ "${parts[*]}" = scale ]; then
  browser_args=("$@")
elif [ $# -gt 1 ] || ! [[ "${1:-1024}" =~ ^[0-9]+$ ]]; then
  echo "usage: npm run bench [-- [engine] MiB | browser [options] | streaming [options] | streaming-slow [options] | storage [options] | webseed [options] | size [options] | node [options] | scale [options]]" >&2
  exit 2
else
  mib=${1:-1024}
fi
jobs=$(nproc)

bash scripts/setup.sh >/dev/null

bench_engine() {
  echo "[bench] building (native and WebAssembly, Release)"
  cmake -S . -B build/bench-native -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/bench-native -j"$jobs" --target engine_bench >/dev/null
  cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=emsdk-toolchain.cmake >/dev/null
  cmake --build build/wasm -j"$jobs" --target engine_bench >/dev/null

  mkdir -p build/bench
  build/bench-native/tests/bench/engine_bench --mib "$mib" --json build/bench/engine-native.json
  node --no-experimental-fetch build/wasm/tests/bench/engine_bench.js --mib "$mib" --json build/bench/engine-wasm.json

  node - <<'JS'
const fs = require('fs')
const native = JSON.parse(fs.readFileSync('build/bench/engine-native.json'))
const wasm = JSON.parse(fs.readFileSync('build/bench/engine-wasm.json'))
const ratio = (a, b) => Math.round((a / b) * 100) / 100
const result = {
  date: new Date().toISOString(),
  native,
  wasm,
  wasm_over_native: {
    sha1: ratio(wasm.sha1_mib_per_s, native.sha1_mib_per_s),
    transfer: ratio(wasm.transfer_mib_per_s, native.transfer_mib_per_s),
    cpu_seconds_per_gib: ratio(wasm.cpu_seconds_per_gib, native.cpu_seconds_per_gib)
  }
}
fs.writeFileSync('build/bench/engine.json', JSON.stringify(result, null, 2) + '\n')
const r = result.wasm_over_native
console.log(`[bench] WebAssembly / native: sha1 ${r.sha1}x, transfer ${r.transfer}x, CPU per GiB ${r.cpu_seconds_per_gib}x`)
console.log('[bench] wrote build/bench/engine.json')
JS
}

bench_browser() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/browser_bench.mjs "${browser_args[@]}"
}

bench_streaming() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/streaming_bench.mjs "${browser_args[@]}"
}

bench_streaming-slow() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/streaming_bench.mjs --throttle 50000 --seeder webtorrent \
    --media webm-vp8 --json build/bench/streaming-slow.json "${browser_args[@]}"
}

bench_storage() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/storage_bench.mjs "${browser_args[@]}"
}

bench_webseed() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/webseed_bench.mjs "${browser_args[@]}"
}

bench_size() {
  echo "[bench] building (native and WebAssembly engine_bench, Release) and the package (dist/)"
  cmake -S . -B build/bench-native -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/bench-native -j"$jobs" --target engine_bench >/dev/null
  bash scripts/build.sh >/dev/null
  cmake --build build/wasm -j"$jobs" --target engine_bench >/dev/null
  node tests/bench/size_bench.mjs "${browser_args[@]}"
}

bench_node() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/node_bench.mjs "${browser_args[@]}"
}

bench_scale() {
  echo "[bench] building the package (dist/)"
  bash scripts/build.sh >/dev/null
  bash scripts/loopback.sh node tests/bench/scale_bench.mjs "${browser_args[@]}"
}

for part in "${parts[@]}"; do "bench_$part"; done
