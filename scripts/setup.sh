#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian bookworm machine.
# Idempotent: each step checks first and skips what is already there.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"

step() { printf '\n\033[1m[setup] %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------
packages=(cmake make g++ clang libclang-rt-14-dev libssl-dev catch2 nlohmann-json3-dev
          chromium firefox-esr iproute2 util-linux ca-certificates xz-utils ffmpeg
          python3-libtorrent transmission-daemon aria2   # real BitTorrent clients for the Node host's tests (tests/node)
          miniupnpd-nftables nftables                    # a real NAT-PMP gateway for the port mapping test (tests/node)
          mpv                                            # the player of webtorrent-mpv-hook, an app the Node tests run (tests/apps)
          vlc-bin vlc-plugin-base gmediarender gstreamer1.0-plugins-good)  # a real player and DLNA renderer for the CLI's tests (tests/cli)
# Emscripten: an emcc already on PATH (e.g. from emsdk) wins; Debian's package otherwise.
command -v emcc >/dev/null 2>&1 || packages+=(emscripten)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  step "Debian packages: all present"
fi

# --- OpenSSL's libcrypto for WebAssembly -----------------------------------
"$here/scripts/build-openssl-wasm.sh"

# --- npm dependencies -------------------------------------------------------
cd "$here"
stamp=node_modules/.wasmtorrent-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  step "npm ci"
  # --ignore-scripts: some reference packages run install scripts that download
  # binaries or insist on pnpm; none is needed for what the tests use.
  npm ci --ignore-scripts --no-audit --no-fund
  cp package-lock.json "$stamp"
else
  step "npm dependencies: up to date"
fi
# WebTorrent apps that the tests run unchanged on wasmtorrent, each with its `webtorrent`
# dependency swapped for ours (tests/apps/webtorrent-stub, through its package.json's
# overrides). Their optional players and casting modules are not needed.
for lock in tests/apps/*/package-lock.json; do
  app=$(dirname "$lock")
  stamp="$app/node_modules/.wasmtorrent-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    step "npm ci in $app"
    (cd "$app" && npm ci --ignore-scripts --no-audit --no-fund --omit=optional)
    cp "$lock" "$stamp"
  fi
done
