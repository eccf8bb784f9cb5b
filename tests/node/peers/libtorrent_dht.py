#!/usr/bin/python3
# A small DHT of libtorrent (python3-libtorrent) nodes on 127.0.0.1 for the Node host's DHT
# test, one of which seeds a torrent and announces it on the DHT only (no tracker).
#   libtorrent_dht.py NODES FILE.torrent DIR
# Prints one JSON line per half second: {"ports": [...], "dht_nodes": [...], "seeding": bool}
# and runs until killed. Settings from TOOLCHAIN.md: libtorrent drops loopback DHT nodes and
# peers unless told otherwise.
import json, sys, time
import libtorrent as lt

count, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
base = {
    'listen_interfaces': '127.0.0.1:0',
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
            s.add_dht_node(('127.0.0.1', port))

params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
params.flags |= lt.torrent_flags.seed_mode
handle = sessions[-1].add_torrent(params)

while True:
    nodes = [s.status().dht_nodes for s in sessions]
    for s in sessions:
        s.pop_alerts()  # nobody reads them: keep the queues empty
    h = handle.status()
    print(json.dumps({'ports': ports, 'dht_nodes': nodes, 'seeding': h.is_seeding}), flush=True)
    time.sleep(0.5)
