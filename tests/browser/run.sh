#!/usr/bin/env bash
# Runs the browser tests inside a fresh network namespace that has only loopback, so that
# nothing the browser (or a test server) does can leave the machine.
#   tests/browser/run.sh                     every tests/browser/*.test.mjs
#   tests/browser/run.sh tests/browser/x.test.mjs
# Needs dist/ (npm run build) and root, or unprivileged user namespaces (unshare -rn).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"

[ -f dist/wasmtorrent.min.js ] || { echo "error: dist/ is missing; run npm run build" >&2; exit 1; }
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { echo "error: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}; run scripts/setup.sh" >&2; exit 1; }

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/browser/)
inner='ip link set lo up && exec node --test "$@"'

if [ "$(id -u)" = 0 ]; then
  exec unshare -n bash -c "$inner" bash "${tests[@]}"
elif unshare -rn true 2>/dev/null; then
  exec unshare -rn bash -c "$inner" bash "${tests[@]}"
else
  echo "error: cannot create a network namespace: run as root, or enable unprivileged" \
       "user namespaces (sysctl kernel.unprivileged_userns_clone=1) for unshare -rn" >&2
  exit 1
fi
