#!/usr/bin/env bash
# `npm start`: installs and builds what is missing, then serves the demo on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build.sh
exec node scripts/serve.mjs "$@"
