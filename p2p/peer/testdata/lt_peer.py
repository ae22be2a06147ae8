#!/usr/bin/python3
"""A libtorrent peer for the interop tests: seeds or downloads one torrent
on 127.0.0.1 and exits 0 once complete (a downloader) or when killed.

usage: lt_peer.py TORRENT|MAGNET DIR PORT [--seed] [--peer HOST:PORT] [--up BYTES_PER_S]
"""
import argparse
import sys
import time

import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument("torrent")
ap.add_argument("dir")
ap.add_argument("port", type=int)
ap.add_argument("--seed", action="store_true")
ap.add_argument("--peer", action="append", default=[])
ap.add_argument("--up", type=int, default=0)
ap.add_argument("--timeout", type=float, default=60)
a = ap.parse_args()

s = lt.session({
    "listen_interfaces": "127.0.0.1:%d" % a.port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "out_enc_policy": lt.enc_policy.disabled, "in_enc_policy": lt.enc_policy.enabled,
    "announce_to_all_trackers": True,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
})
if a.torrent.startswith("magnet:"):
    atp = lt.parse_magnet_uri(a.torrent)
else:
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(a.torrent)
atp.save_path = a.dir
if a.seed:
    atp.flags |= lt.torrent_flags.seed_mode
h = s.add_torrent(atp)
if a.up:
    h.set_upload_limit(a.up)
for p in a.peer:
    host, port = p.rsplit(":", 1)
    h.connect_peer((host, int(port)))
deadline = time.time() + a.timeout
# A torrent is added paused and auto-managed: until the session starts
# it, it refuses peers. "ready" says it is started.
while h.status().paused and time.time() < deadline:
    s.wait_for_alert(100)
    s.pop_alerts()
print("ready", flush=True)
while time.time() < deadline:
    st = h.status()
    if not a.seed and st.is_seeding:
        print("complete %d" % st.total_wanted, flush=True)
        sys.exit(0)
    for al in s.pop_alerts():
        if al.category() & lt.alert.category_t.error_notification:
            print("alert:", al.message(), file=sys.stderr, flush=True)
    s.wait_for_alert(100)
sys.exit(0 if a.seed else 1)
