#!/usr/bin/python3
# A small DHT of libtorrent (python3-libtorrent) nodes on 127.0.0.1 for the Node host's DHT
# test, one of which seeds a torrent and announces it on the DHT only (no tracker).
#   libtorrent_dht.py NODES FILE.torrent DIR [ipv6]
# ipv6: the nodes listen on [::1] instead, so their DHT is libtorrent's IPv6 one (BEP 32).
# Prints one JSON line per half second: {"ports": [...], "dht_nodes": [...], "seeding": bool,
# "announced": bool (another node has stored the seeder's announce)} and runs until killed. Settings from TOOLCHAIN.md: libtorrent drops loopback DHT nodes and
# peers unless told otherwise.
import json, sys, time
import libtorrent as lt

count, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host = '::1' if sys.argv[4:] == ['ipv6'] else '127.0.0.1'
base = {
    'listen_interfaces': '[::1]:0' if host == '::1' else '127.0.0.1:0',
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': '',
    'allow_multiple_connections_per_ip': True,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_prefer_verified_node_ids': False, 'ssrf_mitigation': False,
    'dht_announce_interval': 5, 'min_announce_interval': 5,
}
sessions = [lt.session(base) for _ in range(count)]
ports = [s.listen_port() for s in sessions]
for i, s in enumerate(sessions):
    for j, port in enumerate(ports):
        if j != i:
            s.add_dht_node((host, port))

params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
params.flags |= lt.torrent_flags.seed_mode
seeder = sessions[-1]
for s in sessions:
    s.apply_settings({'alert_mask': lt.alert.category_t.dht_notification})
handle = seeder.add_torrent(params)

announced = False
while True:
    nodes = [s.status().dht_nodes for s in sessions]
    for s in sessions:
        for a in s.pop_alerts():  # keep the queues empty
            announced = announced or (s is not seeder and isinstance(a, lt.dht_announce_alert))
    h = handle.status()
    print(json.dumps({'ports': ports, 'dht_nodes': nodes, 'seeding': h.is_seeding, 'announced': announced}), flush=True)
    time.sleep(0.5)
