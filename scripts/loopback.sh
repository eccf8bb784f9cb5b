#!/usr/bin/env bash
# Runs a command inside a fresh network namespace that has only loopback (`lo`), so that
# nothing it starts (a browser, a tracker, a static server) can reach beyond this machine.
#   bash scripts/loopback.sh node --test tests/browser/
# Used by tests/browser/run.sh and the browser benchmark. Needs root, or unprivileged user
# namespaces (unshare -rn).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 2; }
# WT_NETNS_VETH=1: also a veth pair (10.77.0.1 <-> 10.77.0.2) inside the namespace, for
# libdatachannel (WebRTC under Node), which gathers no candidate on loopback. Its traffic
# stays in the namespace like loopback's.
inner='ip link set lo up'
if [ "${WT_NETNS_VETH:-}" = 1 ]; then
  inner+=' && ip link add wt0 type veth peer name wt1 && ip addr add 10.77.0.1/24 dev wt0'
  inner+=' && ip addr add 10.77.0.2/24 dev wt1 && ip link set wt0 up && ip link set wt1 up'
fi
# WT_NETNS_MULTICAST=1: multicast on lo, so that discovery (mDNS for Chromecast and AirPlay,
# SSDP for DLNA) finds devices that a test runs in the namespace.
if [ "${WT_NETNS_MULTICAST:-}" = 1 ]; then
  inner+=' && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo'
fi
inner+=' && exec "$@"'

if [ "$(id -u)" = 0 ]; then
  exec unshare -n bash -c "$inner" bash "$@"
elif unshare -rn true 2>/dev/null; then
  exec unshare -rn bash -c "$inner" bash "$@"
else
  echo "error: cannot create a network namespace: run as root, or enable unprivileged" \
       "user namespaces (sysctl kernel.unprivileged_userns_clone=1) for unshare -rn" >&2
  exit 1
fi
