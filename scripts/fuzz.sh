#!/usr/bin/env bash
# Runs every libFuzzer target for a while, starting from its seed corpus, and the JS fuzzer
# of web/stream/container.js (tests/fuzz/js/container_fuzz.mjs) for as long.
#   scripts/fuzz.sh [seconds-per-target]    (default 60; the test command uses 5)
# The targets are built in build/fuzz (clang, RelWithDebInfo, ASan+UBSan), or, when
# WT_FUZZ_BUILD names a build dir already configured with -DWT_FUZZ=ON, there: the test
# command passes its sanitize build, which has the same instrumentation, so that the engine
# is not compiled once more for the fuzz stage.
# New inputs go to build/fuzz/corpus/<name>, crashes to build/fuzz/artifacts/.
# Not `set -e`: a target that fails (or a C++ build that does) must not stop the others;
# the exit status is 1 if anything failed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here" || exit 1
seconds=${1:-60}

mkdir -p build/fuzz/artifacts
status=0
build_targets() {
  if [ -n "${WT_FUZZ_BUILD:-}" ]; then
    cmake --build "$WT_FUZZ_BUILD" --target fuzz_targets -j"$(nproc)"
  else
    CXX=clang++ cmake -S . -B build/fuzz -DWT_WERROR=ON -DWT_FUZZ=ON -DWT_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
      cmake --build build/fuzz -j"$(nproc)"
  fi
}

# One target (a libFuzzer binary, or "container" for the JS fuzzer) for $seconds. Its log
# goes to build/fuzz/<name>.log; it prints its summary, or the log's tail when it failed.
fuzz_one() {
  local target=$1 name=${1##*/fuzz_} run
  if [ "$target" = container ]; then
    # Needs only node. Seeds: its own, its corpus, and the test media the js stage made, if any.
    run=(node tests/fuzz/js/container_fuzz.mjs --seconds "$seconds" --artifacts build/fuzz/artifacts
         build/fuzz/corpus/"$name" build/media)
  else
    # Generated inputs go to the build corpus; the committed seeds are read only.
    run=("$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
         -artifact_prefix=build/fuzz/artifacts/"$name"- -print_final_stats=1
         build/fuzz/corpus/"$name" tests/fuzz/corpus/"$name")
  fi
  mkdir -p build/fuzz/corpus/"$name"
  if ! "${run[@]}" >build/fuzz/"$name".log 2>&1; then
    { echo "[fuzz] $name FAILED: see build/fuzz/$name.log and build/fuzz/artifacts/"; tail -n 40 build/fuzz/"$name".log; } >&2
    return 1
  fi
  grep -E 'stat::number_of_executed_units' build/fuzz/"$name".log | sed -E "s/^(\[$name\] )?/[fuzz] $name /"
}

targets=()
if build_targets; then
  for target in "${WT_FUZZ_BUILD:-build/fuzz}"/tests/fuzz/fuzz_*; do
    [ -x "$target" ] && targets+=("$target")
  done
else
  echo "[fuzz] building the libFuzzer targets FAILED" >&2
  status=1
fi
targets+=(container) # whatever happened above

# A target keeps one core busy: as many at once as there are cores.
echo "[fuzz] ${#targets[@]} targets, ${seconds}s each, $(nproc) at once"
running=0
for target in "${targets[@]}"; do
  if [ $running -ge "$(nproc)" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
while [ $running -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
