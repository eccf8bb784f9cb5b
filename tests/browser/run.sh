#!/usr/bin/env bash
# Runs the browser tests inside a fresh network namespace that has only loopback, so that
# nothing the browser (or a test server) does can leave the machine.
#   tests/browser/run.sh                     every tests/browser/*.test.mjs
#   tests/browser/run.sh tests/browser/x.test.mjs
# Needs dist/ (npm run build) and root, or unprivileged user namespaces (unshare -rn):
# see scripts/loopback.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"

[ -f dist/wasmtorrent.min.js ] || { echo "error: dist/ is missing; run npm run build" >&2; exit 1; }
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { echo "error: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}; run scripts/setup.sh" >&2; exit 1; }

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/browser/)
exec bash scripts/loopback.sh node --test "${tests[@]}"
