# Sourced by the scripts: shared paths and the Emscripten quirks of Debian's package.
: "${WASMTORRENT_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/wasmtorrent}"
export WASMTORRENT_CACHE
export OPENSSL_WASM_DIR="$WASMTORRENT_CACHE/openssl-wasm"
# Debian's emcc runs its JS optimizer with the system Node, which must find acorn
# and friends in /usr/share/nodejs.
if [ -d /usr/share/nodejs ]; then
  export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
fi
