#!/usr/bin/env bash
# Public addresses in network namespaces of its own, for the BEP 42 test (tests/node/bep42.test.mjs).
# Run it in a fresh namespace (unshare -n), as root:
#   bep42_lab.sh DIR FILE.torrent SEEDDIR
# This namespace holds four libtorrent DHT nodes (libtorrent_dht.py) at 1.2.3.5 to 1.2.3.8, the
# last seeding FILE.torrent from SEEDDIR; a second one, linked to it by a veth pair and nothing
# else, holds our client at 1.2.3.4 (bep42_client.mjs). BEP 42 exempts local networks, so the
# addresses must look public; no packet leaves these two namespaces.
# Writes DIR/lt.log (libtorrent's JSON lines) and DIR/client.json (the client's result).
set -euo pipefail
dir=$1 torrent=$2 seed=$3
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[bep42-lab] $*" >&2; }

ip link set lo up
unshare -n sleep 600 & us_ns=$!
trap 'kill $us_ns 2>/dev/null; [ -n "${lt_pid:-}" ] && kill $lt_pid 2>/dev/null; true' EXIT
for _ in $(seq 1 100); do
  [ "$(readlink /proc/$us_ns/ns/net)" != "$(readlink /proc/$$/ns/net)" ] && break
  sleep 0.05
done
ip link add lt0 type veth peer name us0
ip link set us0 netns $us_ns
for a in 5 6 7 8; do ip addr add 1.2.3.$a/24 dev lt0; done
ip link set lt0 up
nsenter -t $us_ns -n sh -c 'ip link set lo up; ip addr add 1.2.3.4/24 dev us0; ip link set us0 up'
# Addresses are usable once duplicate address detection is done (IPv4 has none; the link
# needs a moment to come up).
sleep 0.5

log "libtorrent's DHT at 1.2.3.5-8"
/usr/bin/python3 "$here/libtorrent_dht.py" 4 "$torrent" "$seed" 1.2.3.5,1.2.3.6,1.2.3.7,1.2.3.8 > "$dir/lt.log" 2>&1 & lt_pid=$!
log "our client at 1.2.3.4"
nsenter -t $us_ns -n node "$here/bep42_client.mjs" "$dir" "$torrent" > "$dir/client.log" 2>&1 ||
  { log "client failed"; cat "$dir/client.log" >&2; tail -3 "$dir/lt.log" >&2; exit 1; }
log "done"
