#!/usr/bin/env bash
# Runs WebTorrent's own tape tests in Chromium against our browser package
# (dist/wasmtorrent.js), with only the import of WebTorrent swapped, and prints a tally per
# file as scripts/webtorrent-suite.sh does for Node. Fetches nothing and holds no copy of
# those tests: give it a directory laid out as WebTorrent's repository (DIR/test/*.js, the
# ones WebTorrent runs in browsers too, and DIR/test/browser/*.js) with tape,
# webtorrent-fixtures, the tests' other imports and browserify's stand-ins for Node's
# built-ins (buffer events https-browserify path-browserify process querystring-es3
# stream-browserify stream-http url util) in DIR/node_modules.
#   bash scripts/webtorrent-suite-browser.sh DIR [file.js ...]   (files relative to DIR/test)
# Each file is bundled with esbuild and run in its own Chromium page, inside a network
# namespace that has only loopback (scripts/loopback.sh): see
# scripts/webtorrent-suite-browser.mjs. Files that import WebTorrent's internals
# (../lib/...) are reported and not run. WT_SUITE_TIMEOUT: seconds per file (default 120).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [file.js ...]" >&2; exit 2; }
dir=$(cd "$1" && pwd); shift
root=$(cd "$(dirname "$0")/.." && pwd)
# WT_SUITE_PACKAGE, WT_SUITE_SW: run against another package (scripts/webtorrent-suite-browser.mjs)
if [ -z "${WT_SUITE_PACKAGE:-}" ]; then
  for f in wasmtorrent.js wasmtorrent.wasm wasmtorrent-sw.js; do
    [ -f "$root/dist/$f" ] || { echo "error: dist/$f missing: run scripts/build.sh" >&2; exit 1; }
  done
fi
limit=${WT_SUITE_TIMEOUT:-120}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(cd "$dir/test" && ls *.js browser/*.js 2>/dev/null | grep -v 'common\.js$')
fi

run="$dir/.wasmtorrent-run-browser"
rm -rf "$run"; mkdir -p "$run/logs"

total_pass=0; total_fail=0
printf '%-44s %5s %5s  %s\n' file pass fail note
for f in "${files[@]}"; do
  src="$dir/test/$f"
  if grep -qE "(from |require\()'\.\./(\.\./)?lib/" "$src"; then
    printf '%-44s %5s %5s  %s\n' "$f" - - "not run: imports WebTorrent's internals"
    continue
  fi
  log="$run/logs/${f//\//_}.tap"
  status=0
  # The runner stops the page itself at $limit; timeout is the backstop for a hung browser.
  timeout -k 5 $((limit + 60)) bash "$root/scripts/loopback.sh" \
    node "$root/scripts/webtorrent-suite-browser.mjs" "$dir" "$f" "$run/work" "$limit" > "$log" 2>&1 || status=$?
  if [ "$status" = 3 ]; then
    printf '%-44s %5s %5s  %s\n' "$f" - - "not run: bundle failed (see its log)"
    continue
  fi
  stopped=0; case $status in 124|137) stopped=1 ;; esac
  read -r pass fail < <(awk -v stopped=$stopped -f "$root/scripts/tap-tally.awk" "$log")
  note=""
  if [ $stopped = 1 ]; then note="stopped after ${limit}s"
  elif [ "$status" != 0 ] && [ "$fail" = 0 ]; then note="exit $status"; fail=$((fail + 1))
  elif [ "$fail" = 0 ] && grep -q '^## uncaught: ' "$log"; then
    # Node would have exited on it
    note="uncaught error"; fail=$((fail + 1))
  fi
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
  printf '%-44s %5s %5s  %s\n' "$f" "$pass" "$fail" "$note"
done
printf '%-44s %5s %5s\n' total "$total_pass" "$total_fail"
echo "TAP logs: $run/logs"
