#!/usr/bin/python3
# BEP 44 items on a small DHT of libtorrent (python3-libtorrent) nodes on 127.0.0.1, for the
# Node host's test of client.dht.put/get:
#   libtorrent_items.py NODES SALT OUR_IMMUTABLE_TARGET OUR_PUBLIC_KEY LT_PUBLIC_KEY LT_SECRET_KEY
# (keys in hex; LT_SECRET_KEY: libtorrent's 64-byte form, SHA-512 of the seed, clamped).
# Once the nodes know each other, the first puts an immutable string ("from libtorrent") and
# a mutable one ("libtorrent's", salt SALT, LT's key; libtorrent signs it, seq 1); the last
# keeps getting the test's items (the immutable one by its target, the mutable one by
# OUR_PUBLIC_KEY and SALT). One JSON line per half second: {"ports", "dht_nodes",
# "put_immutable": {"target", "stored"}, "put_mutable": {"stored", "seq"},
# "got_immutable": hex of the bencoded item, "got_mutable": {"v": hex, "seq"}}. Runs until
# killed. Settings as libtorrent_dht.py (TOOLCHAIN.md: loopback nodes allowed).
import json, sys, time, warnings
import libtorrent as lt

warnings.simplefilter('ignore', DeprecationWarning)  # session.status(): as libtorrent_dht.py

count, salt = int(sys.argv[1]), sys.argv[2].encode()
our_target, our_pk = bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
lt_pk, lt_sk = bytes.fromhex(sys.argv[5]), bytes.fromhex(sys.argv[6])
base = {
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': '', 'listen_interfaces': '127.0.0.1:0',
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_prefer_verified_node_ids': False, 'ssrf_mitigation': False,
    'alert_mask': lt.alert.category_t.dht_notification,
}
sessions = [lt.session(base) for _ in range(count)]
ports = [s.listen_port() for s in sessions]
for i, s in enumerate(sessions):
    for j, port in enumerate(ports):
        if j != i:
            s.add_dht_node(('127.0.0.1', port))



def item_value(alert):
    """The item's value bencoded, in hex, or None when the get found nothing. The bindings
    give an alert's item as a dict of the whole item (key, value, and for a mutable one seq,
    signature...), and cannot convert the empty entry of a get that found nothing."""
    try:
        item = alert.item
    except RuntimeError:
        return None
    value = item.get('value', item.get(b'value')) if isinstance(item, dict) else None
    return lt.bencode(value).hex() if value is not None else None


status = {'ports': ports}
putting, getter = sessions[0], sessions[-1]
put_sent = False
next_get = 0.0
while True:
    status['dht_nodes'] = [s.status().dht_nodes for s in sessions]
    if not put_sent and all(n >= count - 1 for n in status['dht_nodes']):
        put_sent = True
        putting.dht_put_immutable_item(b'from libtorrent')
        putting.dht_put_mutable_item(lt_sk, lt_pk, b"libtorrent's", salt)
    if put_sent and time.time() >= next_get:
        next_get = time.time() + 1
        getter.dht_get_immutable_item(lt.sha1_hash(our_target))
        getter.dht_get_mutable_item(our_pk, salt)
    for s in sessions:
        for a in s.pop_alerts():
            if isinstance(a, lt.dht_put_alert) and s is putting:
                if bytes(a.public_key) == lt_pk:
                    status['put_mutable'] = {'stored': a.num_success, 'seq': a.seq}  # (its target reads zeros)
                else:
                    status['put_immutable'] = {'target': str(a.target), 'stored': a.num_success}
            elif isinstance(a, lt.dht_immutable_item_alert) and s is getter and item_value(a):
                status['got_immutable'] = item_value(a)
            elif isinstance(a, lt.dht_mutable_item_alert) and s is getter and item_value(a):
                status['got_mutable'] = {'v': item_value(a), 'seq': a.seq}
    print(json.dumps(status), flush=True)
    time.sleep(0.5)
