#!/usr/bin/env bash
# Runs the browser tests inside a fresh network namespace that has only loopback, so that
# nothing the browser (or a test server) does can leave the machine.
#   tests/browser/run.sh                     every tests/browser/*.test.mjs in Chromium, then
#                                            in Firefox (a few tests inside skip one of them)
#   tests/browser/run.sh tests/browser/x.test.mjs            x in Chromium
#   WT_BROWSER=firefox tests/browser/run.sh tests/browser/x.test.mjs    x in Firefox
#   WT_BROWSER=firefox tests/browser/run.sh  all in Firefox only (WT_BROWSER=chromium: Chromium)
# Needs dist/ (npm run build) and root, or unprivileged user namespaces (unshare -rn):
# see scripts/loopback.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"

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
  run_in "$WT_BROWSER" tests/browser/
else
  # Both, even when the first fails, so that one run reports every failure.
  status=0
  run_in chromium tests/browser/ || status=1
  run_in firefox tests/browser/ || status=1
  exit $status
fi
