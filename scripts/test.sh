#!/usr/bin/env bash
# The test command (`npm test`): installs what is missing, then runs every stage.
#   scripts/test.sh              all stages
#   scripts/test.sh native wasm  only these stages (setup always runs first)
# Stages: sans_io, native, sanitize, wasm, js, node, cli, fuzz, browser.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

jobs=$(nproc)
all_stages=(sans_io native sanitize wasm js node cli fuzz browser)
stages=("${@:-${all_stages[@]}}")
[ $# -gt 0 ] || stages=("${all_stages[@]}")

bash scripts/setup.sh || { echo "setup failed" >&2; exit 1; }
# After setup, so that nothing below can rest on a view of the machine taken before it
# installed anything (env.sh holds only paths; tests/js/setup-order.test.mjs checks that).
source scripts/env.sh

# Every Node test file: a test that hangs fails after 5 minutes with its name, and a file
# whose tests are done exits even if a handle (a socket, a timer) is still open.
export NODE_TEST="node --test --test-timeout=300000 --test-force-exit" # word-split where used
# The js and node stages wait on sockets and timers more than they compute (a serial js stage
# used a third of one core): their files run a core's worth more at once. Measured on 2 cores:
# js 91 s -> 51 s, node 366 s -> 122 s. The browser stage stays serial: it is CPU-bound (two
# files at once took as long as one after the other), and so is cli's (players, receivers).
parallel="--test-concurrency=$((jobs + 1))"

cmake_build() {  # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DWT_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$jobs"
}

# Each ctest entry is killed after 10 minutes (the slowest takes under a minute under the
# sanitizers): a test that loops for ever fails its stage instead of the whole CI's time.
stage_sans_io() {
  bash scripts/check-engine.sh
}
stage_native() {  # -g1: line tables and function names (backtraces); full -g cost a quarter of the compile
  cmake_build build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" &&
    (cd build/native && ctest --output-on-failure --timeout 600 -j"$jobs")
}
# One build serves the sanitize and fuzz stages (they were two, g++ Debug and clang
# RelWithDebInfo, each compiling the engine): clang with ASan+UBSan and libFuzzer's coverage
# instrumentation, at -O1 with line tables (OSS-Fuzz's flags; -O0 ran the sim tests and the
# fuzz targets several times slower). Asserts stay on (Debug: no NDEBUG).
sanitize_configure() {
  # CMake keeps the compiler a build dir was first configured with: one made with g++ starts over.
  if [ -f build/sanitize/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build/sanitize/CMakeCache.txt; then
    rm -rf build/sanitize
  fi
  CXX=clang++ cmake -S . -B build/sanitize -DWT_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only" -DWT_SANITIZE=ON -DWT_FUZZ=ON >/dev/null
}
stage_sanitize() {  # the unit and sim tests, and the fuzz targets built (the fuzz stage runs them)
  sanitize_configure && cmake --build build/sanitize -j"$jobs" &&
    (cd build/sanitize && ctest --output-on-failure --timeout 600 -j"$jobs")
}
stage_wasm() {
  cmake_build build/wasm -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=emsdk-toolchain.cmake &&
    (cd build/wasm && ctest --output-on-failure --timeout 600 -j"$jobs")
}
stage_js() {  # in a loopback-only namespace: a Node client's DHT would look up its routers
  bash scripts/build.sh && bash scripts/loopback.sh $NODE_TEST $parallel tests/js/
}
stage_node() {  # the Node host against real BitTorrent clients, in a loopback-only namespace
  # Then LSD's test again where multicast works (lo only): elsewhere it skips itself, and the
  # other files run where no multicast route exists (their clients' LSD stays off).
  bash scripts/build.sh && WT_NETNS_VETH=1 bash scripts/loopback.sh $NODE_TEST $parallel tests/node/ &&
    WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh $NODE_TEST tests/node/lsd.test.mjs
}
stage_cli() {  # the command-line client, its players and cast receivers, in a loopback-only namespace
  bash scripts/build.sh && WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh $NODE_TEST --test-concurrency=1 tests/cli/
}
stage_fuzz() {  # in the sanitize build (up to date after the sanitize stage); fuzz.sh reports a failed build
  sanitize_configure
  WT_FUZZ_BUILD=build/sanitize bash scripts/fuzz.sh "${WT_FUZZ_SECONDS:-5}"
}
stage_browser() {
  bash scripts/build.sh && bash tests/browser/run.sh
}

# A stage that runs past its limit is stopped and fails, so that one hang cannot use up the
# time of the whole run. Minutes: about 2.5 times what each takes on 2 busy cores, and never
# past 85 minutes from the start (CI stops the run at 90, and then prints nothing of ours).
declare -A limit=([sans_io]=5 [native]=15 [sanitize]=15 [wasm]=15 [js]=10 [node]=12 [cli]=8 [fuzz]=10 [browser]=35)
budget=$((85 * 60))
export jobs parallel
export -f cmake_build sanitize_configure "${all_stages[@]/#/stage_}"

passed=(); failed=()
for s in "${stages[@]}"; do
  printf '\n\033[1m=== %s ===\033[0m\n' "$s"
  start=$SECONDS
  declare -F "stage_$s" >/dev/null || { echo "error: no stage $s (stages: ${all_stages[*]})" >&2; exit 2; }
  seconds=$((limit[$s] * 60)); left=$((budget - SECONDS)); [ $left -lt $seconds ] && seconds=$((left > 0 ? left : 1))
  timeout -k 30 "$seconds" bash -c "stage_$s"
  code=$?
  [ $code -eq 124 ] && echo "error: stage $s did not finish within $((seconds / 60)) minutes: stopped" >&2
  if [ $code -eq 0 ]; then passed+=("$s"); result=passed; else failed+=("$s"); result=FAILED; fi
  printf '\033[1m=== %s: %s in %ds ===\033[0m\n' "$s" "$result" $((SECONDS - start))
done

echo
[ ${#failed[@]} -eq 0 ] || echo "failed stages: ${failed[*]}"
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
