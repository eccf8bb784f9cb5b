#!/usr/bin/env bash
# Runs WebTorrent's own tape tests against our Node package, with only the import of
# WebTorrent swapped, and prints a tally per file (tests passed / failed). Fetches nothing
# and holds no copy of those tests: give it a directory laid out as WebTorrent's repository
# (DIR/test/*.js, DIR/test/node/*.js) with tape, webtorrent-fixtures and the tests' other
# imports installed in DIR/node_modules.
#   bash scripts/webtorrent-suite.sh DIR [file.js ...]   (files relative to DIR/test)
# Run it inside the loopback namespace (WT_NETNS_VETH=1 bash scripts/loopback.sh bash
# scripts/webtorrent-suite.sh DIR). Files that import WebTorrent's internals (../lib/...)
# are reported and not run. WT_SUITE_TIMEOUT: seconds per file (default 120).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [file.js ...]" >&2; exit 2; }
dir=$(cd "$1" && pwd); shift
root=$(cd "$(dirname "$0")/.." && pwd)
# WT_SUITE_PACKAGE: run against another package's entry file instead (e.g. WebTorrent's own
# index.js, to see which tests the reference itself passes in this harness).
pkg="${WT_SUITE_PACKAGE:-$root/dist/wasmtorrent.node.js}"
[ -f "$pkg" ] || { echo "error: $pkg missing: run scripts/build.sh" >&2; exit 1; }
limit=${WT_SUITE_TIMEOUT:-120}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(cd "$dir/test" && ls *.js node/*.js 2>/dev/null | grep -v 'common\.js$')
fi

# The swapped copies live beside the originals so that their imports resolve from DIR.
run="$dir/.wasmtorrent-run"
rm -rf "$run"; mkdir -p "$run/test/node" "$run/logs"
[ -d "$dir/test/fixtures" ] && ln -s "$dir/test/fixtures" "$run/test/fixtures"
# WebTorrent's tests run from its repository's root: some read ./package.json.
[ -f "$dir/package.json" ] && ln -s "$dir/package.json" "$run/package.json"
[ -f "$dir/test/node/common.js" ] && cp "$dir/test/node/common.js" "$run/test/node/common.js"
[ -f "$dir/test/common.js" ] && cp "$dir/test/common.js" "$run/test/common.js"

total_pass=0; total_fail=0
printf '%-44s %5s %5s  %s\n' file pass fail note
for f in "${files[@]}"; do
  src="$dir/test/$f"; dst="$run/test/$f"
  if grep -qE "from '\.\./(\.\./)?lib/" "$src"; then
    printf '%-44s %5s %5s  %s\n' "$f" - - "not run: imports WebTorrent's internals"
    continue
  fi
  sed -E "s#from '(\.\./)+index\.js'#from '$pkg'#" "$src" > "$dst"
  log="$run/logs/${f//\//_}.tap"
  status=0
  (cd "$run" && timeout -k 5 "$limit" node "$dst" > "$log" 2>&1) || status=$?
  stopped=0; case $status in 124|137) stopped=1 ;; esac
  read -r pass fail < <(awk -v stopped=$stopped -f "$root/scripts/tap-tally.awk" "$log")
  note=""
  if [ $stopped = 1 ]; then note="stopped after ${limit}s"
  elif [ "$status" != 0 ] && [ "$fail" = 0 ]; then note="exit $status"; fail=$((fail + 1))
  fi
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
  printf '%-44s %5s %5s  %s\n' "$f" "$pass" "$fail" "$note"
done
printf '%-44s %5s %5s\n' total "$total_pass" "$total_fail"
echo "TAP logs: $run/logs"
