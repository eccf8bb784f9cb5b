#!/usr/bin/python3
# A libtorrent (Debian's python3-libtorrent) peer for the Node host's interop tests.
#   libtorrent_peer.py seed FILE.torrent DIR [--peer IP:PORT]...
#   libtorrent_peer.py download FILE.torrent DIR [--peer IP:PORT]...
#   libtorrent_peer.py create FILE.torrent PATH [--piece-length BYTES]: writes a .torrent of
#     PATH as libtorrent 2 makes them by default (hybrid v1/v2, every file padded to a piece
#     boundary with BEP 47 pad files), prints {"infoHash": v1, "magnet": ...} and exits;
#     --v2-only: a BitTorrent v2 torrent alone (no v1 info-hash)
#   --upload-limit BYTES: a slow seeder (bytes per second)
#   --transport utp|tcp: that transport only (default both)
#   --lsd: Local Service Discovery on (BEP 14), to find peers on the local network
#   --encryption required|disabled: MSE forced both ways with RC4 only, or never spoken
#     (default: libtorrent's, MSE accepted and tried)
#   --ipv6: listens on [::1] instead of 127.0.0.1
# Listens on 127.0.0.1 (a free port), prints one JSON line per second to stdout:
#   {"port": P, "progress": 0..1, "state": "...", "peers": N, "done": bool}
# and runs until killed. Settings from TOOLCHAIN.md: libtorrent ignores loopback peers
# unless told otherwise.
import argparse, json, sys, time
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument('mode', choices=['seed', 'download', 'create'])
ap.add_argument('torrent')
ap.add_argument('dir')
ap.add_argument('--peer', action='append', default=[])
ap.add_argument('--upload-limit', type=int, default=0, help='bytes/s (0: none), a slow seeder')
ap.add_argument('--transport', choices=['both', 'utp', 'tcp'], default='both')
ap.add_argument('--lsd', action='store_true', help='Local Service Discovery on')
ap.add_argument('--encryption', choices=['default', 'required', 'disabled'], default='default')
ap.add_argument('--ipv6', action='store_true', help='listen on [::1]')
ap.add_argument('--piece-length', type=int, default=32768)
ap.add_argument('--v2-only', action='store_true')
args = ap.parse_args()

if args.mode == 'create':
    import os
    fs = lt.file_storage()
    lt.add_files(fs, args.dir)
    ct = lt.create_torrent(fs, args.piece_length, lt.create_torrent.v2_only if args.v2_only else 0)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.dir)))
    with open(args.torrent, 'wb') as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(args.torrent)
    v1 = ti.info_hashes().has_v1()
    print(json.dumps({'infoHash': str(ti.info_hashes().v1) if v1 else None, 'magnet': lt.make_magnet_uri(ti)}), flush=True)
    sys.exit(0)

settings = {
    'listen_interfaces': '[::1]:0' if args.ipv6 else '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': args.lsd, 'enable_upnp': False, 'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'ssrf_mitigation': False,
    'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    'upload_rate_limit': args.upload_limit,
    'enable_outgoing_tcp': args.transport != 'utp', 'enable_incoming_tcp': args.transport != 'utp',
    'enable_outgoing_utp': args.transport != 'tcp', 'enable_incoming_utp': args.transport != 'tcp',
}
if args.encryption != 'default':
    policy = lt.enc_policy.forced if args.encryption == 'required' else lt.enc_policy.disabled
    settings.update({'out_enc_policy': int(policy), 'in_enc_policy': int(policy),
                     'allowed_enc_level': int(lt.enc_level.rc4), 'prefer_rc4': True})
ses = lt.session(settings)
if args.upload_limit:
    # libtorrent exempts local peers (loopback among them) from rate limits: put every
    # address in the global class only, so that the limit holds on 127.0.0.1 too.
    every = lt.ip_filter()
    every.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(every)
info = lt.torrent_info(args.torrent)
params = lt.add_torrent_params()
params.ti = info
params.save_path = args.dir
if args.mode == 'seed':
    params.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(params)
for p in args.peer:
    ip, port = p.rsplit(':', 1)
    h.connect_peer((ip.strip('[]'), int(port)))

while True:
    s = h.status()
    for a in ses.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            print(json.dumps({'error': a.message()}), flush=True)
    print(json.dumps({'port': ses.listen_port(), 'progress': s.progress, 'state': str(s.state),
                      'peers': s.num_peers, 'done': s.is_seeding}), flush=True)
    time.sleep(0.5)
