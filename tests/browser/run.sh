#!/usr/bin/env bash
# Runs the browser tests inside a fresh network namespace that has only loopback, so that
# nothing the browser (or a test server) does can leave the machine.
#   tests/browser/run.sh                     every tests/browser/*.test.mjs in Chromium, then
#                                            the Firefox ones (firefox_tests below) in Firefox
#   tests/browser/run.sh tests/browser/x.test.mjs            x in Chromium
#   WT_BROWSER=firefox tests/browser/run.sh tests/browser/x.test.mjs    x in Firefox
#   WT_BROWSER=firefox tests/browser/run.sh  only the Firefox ones (WT_BROWSER=chromium: only Chromium)
# Needs dist/ (npm run build) and root, or unprivileged user namespaces (unshare -rn):
# see scripts/loopback.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"

# What runs in Firefox too: the API, interop with WebTorrent's page, streaming (service
# worker, MediaSource, the video example) and storage (reload and restart resume, IndexedDB,
# two tabs, seeds kept, quota; not its memory bounds: see the file): 7 minutes more on 2
# shared, busy cores. The rest runs in Chromium only, to keep the time down (webseed and
# robustness pass in Firefox when asked for).
firefox_tests=(tests/browser/smoke.test.mjs tests/browser/api.test.mjs tests/browser/client.test.mjs
               tests/browser/interop.test.mjs tests/browser/stream.test.mjs
               tests/browser/mediasource.test.mjs tests/browser/video.test.mjs
               tests/browser/storage.test.mjs)

[ -f dist/wasmtorrent.min.js ] || { echo "error: dist/ is missing; run npm run build" >&2; exit 1; }

# browser, test files or folders...
run_in() {
  local browser=$1; shift
  case $browser in
    chromium) [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] ||
      { echo "error: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}; run scripts/setup.sh" >&2; return 1; } ;;
    firefox) [ -x "${FIREFOX_PATH:-/usr/bin/firefox-esr}" ] ||
      { echo "error: no Firefox at ${FIREFOX_PATH:-/usr/bin/firefox-esr}; run scripts/setup.sh" >&2; return 1; } ;;
    *) echo "error: WT_BROWSER=$browser: chromium or firefox" >&2; return 1 ;;
  esac
  printf '\n# browser tests in %s\n' "$browser"
  # A hung test fails after 5 minutes; a file whose tests are done exits (scripts/test.sh).
  WT_BROWSER=$browser bash scripts/loopback.sh ${NODE_TEST:-node --test --test-timeout=300000 --test-force-exit} "$@"
}

if [ $# -gt 0 ]; then
  run_in "${WT_BROWSER:-chromium}" "$@"
elif [ -n "${WT_BROWSER:-}" ]; then
  if [ "$WT_BROWSER" = firefox ]; then run_in firefox "${firefox_tests[@]}"; else run_in "$WT_BROWSER" tests/browser/; fi
else
  # Both, even when the first fails, so that one run reports every failure.
  status=0
  run_in chromium tests/browser/ || status=1
  run_in firefox "${firefox_tests[@]}" || status=1
  exit $status
fi
