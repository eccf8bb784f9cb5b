# Sourced by the scripts: paths shared by setup, build, tests and benchmarks.
# Only paths: nothing here may depend on what is installed, because the test command
# sources this before setup installs anything (a fresh machine has no Emscripten yet).
# What a tool needs from the installed system is computed where the tool runs: the
# WebAssembly toolchain file finds Debian's acorn for emcc (emsdk-toolchain.cmake).
: "${WASMTORRENT_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/wasmtorrent}"
export WASMTORRENT_CACHE
export OPENSSL_WASM_DIR="${OPENSSL_WASM_DIR:-$WASMTORRENT_CACHE/openssl-wasm}"
