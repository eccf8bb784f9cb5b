#!/usr/bin/env bash
# Builds OpenSSL's libcrypto for WebAssembly from Debian's source tarball, once.
# The result (lib/libcrypto.a + include/) is cached in $OPENSSL_WASM_DIR, outside git.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"

if [ -f "$OPENSSL_WASM_DIR/lib/libcrypto.a" ] && [ -f "$OPENSSL_WASM_DIR/include/openssl/evp.h" ]; then
  echo "[setup] OpenSSL for WebAssembly: cached in $OPENSSL_WASM_DIR"
  exit 0
fi
echo "[setup] building OpenSSL's libcrypto for WebAssembly (a few minutes, once)"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt-get source needs deb-src entries: add a twin of the deb entries.
srclist=/etc/apt/sources.list.d/wasmtorrent-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  as_root sh -c "sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > $srclist"
  as_root apt-get update -qq
fi

work="$WASMTORRENT_CACHE/openssl-src"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# The .dsc of the newest security update may be missing; the orig tarball is all we need.
apt-get source --download-only openssl >/dev/null 2>&1 || true
tarball=$(ls openssl_*.orig.tar.gz 2>/dev/null | sort -V | tail -n 1)
[ -n "$tarball" ] || { echo "error: could not download OpenSSL's source with apt-get source" >&2; exit 1; }
tar xzf "$tarball"
cd openssl-*/
emconfigure ./Configure linux-generic32 no-asm no-threads no-shared no-dso no-engine \
  no-sock no-tests no-ui-console --prefix="$OPENSSL_WASM_DIR.tmp" >/dev/null
# emconfigure sets CROSS_COMPILE, which turns emcc into "ememcc" in the Makefile.
sed -i 's/^CROSS_COMPILE=.*/CROSS_COMPILE=/' Makefile
emmake make -j"$(nproc)" build_libs >/dev/null
emmake make install_dev >/dev/null
rm -rf "$OPENSSL_WASM_DIR" && mv "$OPENSSL_WASM_DIR.tmp" "$OPENSSL_WASM_DIR"
cd / && rm -rf "$work"
echo "[setup] OpenSSL for WebAssembly: built into $OPENSSL_WASM_DIR"
