#!/usr/bin/env bash
# A NAT in network namespaces of its own, for the port mapping test (tests/node/portmap.test.mjs).
# Run it in a fresh namespace (unshare -n), as root:
#   portmap_lab.sh DIR natpmp|upnp
# This namespace is the gateway: Debian's miniupnpd (NAT-PMP, and UPnP IGD) with nftables,
# LAN 192.168.77.1/24 on lan0, "public" address 1.2.3.4/24 on wan0 (miniupnpd refuses private
# and documentation ranges; no packet leaves these namespaces: they have no other link).
# Two more namespaces hang off it: the LAN host (192.168.77.2, default route through the
# gateway) and a WAN host (1.2.3.5). Then:
#   1. in the LAN host: a wasmtorrent client seeds DIR/content (portmap_lab.mjs seed); it maps
#      its ports with both protocols on, as WebTorrent's default: by NAT-PMP where the router
#      speaks both (mode natpmp), by UPnP where the router's NAT-PMP is off (mode upnp); it
#      writes DIR/mapped.json;
#   2. the gateway's nft rules are saved to DIR/rules-mapped.txt;
#   3. in the WAN host: a wasmtorrent client downloads the torrent from 1.2.3.4:<mapped port>
#      (portmap_lab.mjs leech), that is through the mapping;
#   4. the seeder is stopped (destroy(): the mappings are deleted): DIR/rules-after.txt;
#   5. in the LAN host: a client destroyed while its first mapping request is in flight
#      (portmap_lab.mjs early): DIR/early.log, then, 2 s later, DIR/rules-early.txt.
# Exit status 0 when every step ran; the test reads the files.
set -euo pipefail
dir=$1 mode=$2
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[portmap-lab] $*" >&2; }

ip link set lo up
# Namespaces of the two hosts, held by sleeping processes.
unshare -n sleep 600 & lan_ns=$!
unshare -n sleep 600 & wan_ns=$!
trap 'kill $lan_ns $wan_ns 2>/dev/null; [ -n "${mupnp:-}" ] && kill $mupnp 2>/dev/null; true' EXIT
# Each holder has its namespace once unshare has run (its net namespace is no longer ours).
for pid in $lan_ns $wan_ns; do
  for _ in $(seq 1 100); do
    [ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/$$/ns/net)" ] && break
    sleep 0.05
  done
done

ip link add lan0 type veth peer name host0
ip link set host0 netns $lan_ns
ip addr add 192.168.77.1/24 dev lan0 && ip link set lan0 up
nsenter -t $lan_ns -n sh -c 'ip link set lo up; ip addr add 192.168.77.2/24 dev host0; ip link set host0 up; ip route add default via 192.168.77.1'

ip link add wan0 type veth peer name wanpeer
ip link set wanpeer netns $wan_ns
ip addr add 1.2.3.4/24 dev wan0 && ip link set wan0 up
nsenter -t $wan_ns -n sh -c 'ip link set lo up; ip addr add 1.2.3.5/24 dev wanpeer; ip link set wanpeer up'
sysctl -qw net.ipv4.ip_forward=1

# The chains miniupnpd adds its rules to (Debian's nft_init.sh needs a file the package
# does not ship).
nft -f - <<'EOF'
table inet miniupnpd {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
EOF
cat > "$dir/miniupnpd.conf" <<EOF
ext_ifname=wan0
listening_ip=lan0
enable_natpmp=$([ "$mode" = natpmp ] && echo yes || echo no)
enable_upnp=yes
secure_mode=yes
system_uptime=yes
lease_file=$dir/miniupnpd.leases
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
/usr/sbin/miniupnpd -d -f "$dir/miniupnpd.conf" 2> "$dir/miniupnpd.log" & mupnp=$!
sleep 0.5

log "seeder in the LAN host"
nsenter -t $lan_ns -n node "$here/portmap_lab.mjs" seed "$dir" "$mode" > "$dir/seed.log" 2>&1 & seeder=$!
for _ in $(seq 1 300); do [ -f "$dir/mapped.json" ] && break; sleep 0.1; done
[ -f "$dir/mapped.json" ] || { log "no mapping"; cat "$dir/seed.log" >&2; exit 1; }
nft list ruleset > "$dir/rules-mapped.txt"

log "leecher in the WAN host"
nsenter -t $wan_ns -n node "$here/portmap_lab.mjs" leech "$dir" > "$dir/leech.log" 2>&1 || { log "leech failed"; cat "$dir/leech.log" >&2; exit 1; }

kill -TERM $seeder
wait $seeder || { log "seeder failed"; cat "$dir/seed.log" >&2; exit 1; }
nft list ruleset > "$dir/rules-after.txt"

log "a client destroyed while asking"
nsenter -t $lan_ns -n node "$here/portmap_lab.mjs" early "$dir" "$mode" > "$dir/early.log" 2>&1 || { log "early failed"; cat "$dir/early.log" >&2; exit 1; }
sleep 2  # a mapping granted late would be in the rules by now
nft list ruleset > "$dir/rules-early.txt"
log "done"
