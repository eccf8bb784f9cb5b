#!/usr/bin/python3
# A small DHT of libtorrent (python3-libtorrent) nodes on 127.0.0.1 for the Node host's DHT
# test, one of which seeds a torrent and announces it on the DHT only (no tracker).
#   libtorrent_dht.py NODES FILE.torrent DIR [ipv6 | ADDRESS,ADDRESS,...]
# ipv6: the nodes listen on [::1] instead, so their DHT is libtorrent's IPv6 one (BEP 32).
# ADDRESS,...: node i listens on the i-th IPv4 address (the BEP 42 test's namespace).
# Prints one JSON line per half second: {"ports": [...], "dht_nodes": [...], "seeding": bool,
# "announced": bool (another node has stored the seeder's announce), "ids": [[address, node
# id in hex], ...] (each node's, from its saved DHT state)} and runs until killed. Settings
# from TOOLCHAIN.md: libtorrent drops loopback DHT nodes and peers unless told otherwise.
import json, sys, time
import libtorrent as lt

count, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
where = sys.argv[4] if len(sys.argv) > 4 else ''
hosts = ['::1'] * count if where == 'ipv6' else where.split(',') if where else ['127.0.0.1'] * count
base = {
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': '',
    'allow_multiple_connections_per_ip': True,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_prefer_verified_node_ids': False, 'ssrf_mitigation': False,
    'dht_announce_interval': 5, 'min_announce_interval': 5,
}
sessions = [lt.session(dict(base, listen_interfaces=f'[{h}]:0' if ':' in h else f'{h}:0')) for h in hosts[:count]]
ports = [s.listen_port() for s in sessions]
for i, s in enumerate(sessions):
    for j, port in enumerate(ports):
        if j != i:
            s.add_dht_node((hosts[j], port))


def node_ids(s):
    entries = s.save_state().get(b'dht state', {}).get(b'node-id', [])
    return [[lt_address(e[20:]), e[:20].hex()] for e in entries if len(e) in (24, 36)]


def lt_address(raw):
    return '.'.join(str(b) for b in raw) if len(raw) == 4 else ':'.join(raw[i:i + 2].hex() for i in range(0, 16, 2))


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
    ids = [pair for s in sessions for pair in node_ids(s)]
    print(json.dumps({'ports': ports, 'dht_nodes': nodes, 'seeding': h.is_seeding, 'announced': announced, 'ids': ids}), flush=True)
    time.sleep(0.5)
