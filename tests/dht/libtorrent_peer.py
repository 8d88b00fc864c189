#!/usr/bin/python3
"""libtorrent DHT peers driven over stdin/stdout, for the dtt interop test and bench.

Starts N libtorrent 2.0 sessions on 127.0.0.1 (or --address ::1: libtorrent then runs its IPv6
DHT node, BEP 32), DHT only, adds the given bootstrap nodes to each, then answers one JSON line
on stdout per command line read from stdin:

  put IDX SEED_HEX SALT_HEX VALUE_HEX  BEP 44 mutable put (libtorrent picks seq; v is stored as
                                       the bencoded string VALUE)
  get IDX PUBKEY_HEX SALT_HEX          BEP 44 mutable get (waits for the traversal to end, or
                                       --settle s after the first item; "complete" tells which)
  bench IDX PUBKEY_HEX SALT_HEX N      N sequential gets; latencies in milliseconds
  nodes                                DHT routing-table sizes of the sessions
  quit

It exits on "quit", on end of input, or after --deadline seconds, whichever comes first, so a
test that dies never leaves it behind. Only 127.0.0.1 or ::1 is used.
"""

import argparse
import hashlib
import json
import sys
import threading
import time


def fail(msg):
    print(json.dumps({"error": msg}), flush=True)
    sys.exit(1)


try:
    import libtorrent as lt
except ImportError as e:  # reported to the caller, which decides whether that fails a test
    fail("python3-libtorrent not importable: %s" % e)


def expanded_secret(seed):
    """libtorrent's 64-byte ed25519 secret key (orlp/ed25519 layout) for an RFC 8032 seed."""
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 63
    h[31] |= 64
    return bytes(h)


def public_key(seed):
    from nacl.signing import SigningKey  # python3-nacl (scripts/install-deps.sh)
    return bytes(SigningKey(seed).verify_key)


def make_session(read_only, address):
    s = lt.session({
        # An explicit address: 0.0.0.0 gets no DHT node. An IPv6 one gets an IPv6 DHT node.
        "listen_interfaces": ("[%s]:0" if ":" in address else "%s:0") % address,
        "enable_dht": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        # Explicitly empty: no public routers. Nodes listed here become "routers", which
        # libtorrent never admits to its routing table; the testnet's nodes are added with
        # add_dht_node() instead.
        "dht_bootstrap_nodes": "",
        "dht_restrict_routing_ips": False,  # every node shares 127.0.0.1 (or ::1)
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_block_ratelimit": 1000000,     # default 5/s bans the shared IP
        "dht_upload_rate_limit": 10000000,
        "dht_read_only": read_only,
        "alert_mask": (lt.alert.category_t.dht_notification | lt.alert.category_t.error_notification
                       | lt.alert.category_t.stats_notification),
    })
    return s


class peer:
    def __init__(self, ses):
        self.ses = ses
        self.pending = []  # alerts popped but not yet examined

    def drain(self):
        self.pending = []
        self.ses.pop_alerts()

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        while True:
            while self.pending:
                a = self.pending.pop(0)
                if pred(a):
                    return a
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.ses.wait_for_alert(int(min(left, 0.1) * 1000) + 1)
            self.pending = list(self.ses.pop_alerts())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--bootstrap", default="",
                    help="comma-separated 127.0.0.1:port or [::1]:port list")
    ap.add_argument("--address", default="127.0.0.1", choices=["127.0.0.1", "::1"],
                    help="the sessions' listen address (::1: libtorrent's IPv6 DHT)")
    ap.add_argument("--read-only", type=int, default=0)
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--op-timeout", type=float, default=20.0)
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds to wait for a get's end once an item arrived")
    ap.add_argument("--peers", type=int, default=1,
                    help="also add each session's neighbours as DHT nodes (0: only bootstrap)")
    args = ap.parse_args()

    # Watchdog: never outlive the deadline.
    t = threading.Timer(args.deadline, lambda: (sys.stderr.write("libtorrent_peer: deadline\n"),
                                                 sys.stderr.flush(), __import__("os")._exit(3)))
    t.daemon = True
    t.start()

    boot = [b for b in args.bootstrap.split(",") if b]
    peers = [peer(make_session(bool(args.read_only), args.address)) for _ in range(args.sessions)]
    ports = [p.ses.listen_port() for p in peers]
    for p in peers:
        for b in boot:
            host, port = b.rsplit(":", 1)
            p.ses.add_dht_node((host.strip("[]"), int(port)))
        if args.peers and not args.read_only:
            for q in ports:
                if q != p.ses.listen_port():
                    p.ses.add_dht_node((args.address, q))
    print(json.dumps({"ready": True, "ports": ports, "version": lt.__version__}), flush=True)

    def get(p, key, salt):
        # libtorrent posts a non-authoritative alert per newer item found and one authoritative
        # alert when the traversal ends. Wait for the authoritative one, but no longer than
        # --settle seconds after the first item: libtorrent 2.0 admits read-only nodes that
        # put to it into its routing table (node_seen() in its put handler ignores BEP 43's
        # "ro"), and its lookups then wait its full 15 s timeout for them.
        p.drain()  # drop what earlier commands left behind
        t0 = time.monotonic()
        p.ses.dht_get_mutable_item(key, salt)
        first_ms, best, complete = None, None, False
        end = t0 + args.op_timeout
        while True:
            limit = end if first_ms is None else min(end, t0 + first_ms / 1000.0 + args.settle)
            a = p.wait_for(lambda a: isinstance(a, lt.dht_mutable_item_alert)
                           and bytes(a.key) == key, limit - time.monotonic())
            ms = (time.monotonic() - t0) * 1000.0
            if a is None:
                break
            item = a.item  # a dict {"value": bytes, ...} in the 2.0 binding
            value = item.get("value", b"") if isinstance(item, dict) else b""
            if isinstance(value, str):
                value = value.encode("latin-1")
            if value:
                best = (value, a.seq, bytes(a.signature).hex())
                if first_ms is None:
                    first_ms = ms
            if a.authoritative:
                complete = True
                break
        if best is None:
            return {"ok": False, "error": "no item", "ms": ms, "complete": complete}
        return {"ok": True, "value_hex": best[0].hex(), "seq": best[1], "sig_hex": best[2],
                "ms": ms, "first_item_ms": first_ms, "complete": complete}

    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        try:
            if w[0] == "quit":
                break
            elif w[0] == "put":
                p = peers[int(w[1])]
                seed, salt, value = bytes.fromhex(w[2]), bytes.fromhex(w[3]), bytes.fromhex(w[4])
                pub = public_key(seed)
                t0 = time.monotonic()
                p.ses.dht_put_mutable_item(expanded_secret(seed), pub, value, salt)
                # (alert.salt is not read: the binding decodes it as UTF-8 and fails on binary
                # salts; one command runs at a time, so the key identifies the alert)
                a = p.wait_for(lambda a: isinstance(a, lt.dht_put_alert)
                               and bytes(a.public_key) == pub,
                               args.op_timeout)
                ms = (time.monotonic() - t0) * 1000.0
                if a is None:
                    out = {"ok": False, "error": "put timed out", "ms": ms}
                else:
                    out = {"ok": a.num_success > 0, "num_success": a.num_success, "seq": a.seq,
                           "sig_hex": bytes(a.signature).hex(), "pubkey_hex": pub.hex(),
                           "ms": ms}
            elif w[0] == "get":
                out = get(peers[int(w[1])], bytes.fromhex(w[2]), bytes.fromhex(w[3]))
            elif w[0] == "bench":
                p, key, salt, n = peers[int(w[1])], bytes.fromhex(w[2]), bytes.fromhex(w[3]), int(w[4])
                lat, found = [], 0
                t0 = time.monotonic()
                for _ in range(n):
                    r = get(p, key, salt)
                    lat.append(r["ms"])
                    found += 1 if r["ok"] else 0
                out = {"ok": found == n, "found": found, "ms": lat,
                       "total_ms": (time.monotonic() - t0) * 1000.0}
            elif w[0] == "nodes":
                sizes = []
                for p in peers:
                    p.ses.post_dht_stats()
                    a = p.wait_for(lambda a: isinstance(a, lt.dht_stats_alert), 5)
                    sizes.append(sum(b["num_nodes"] for b in a.routing_table) if a else -1)
                out = {"ok": True, "nodes": sizes}
            else:
                out = {"ok": False, "error": "unknown command " + w[0]}
        except Exception as e:  # a bad command must not kill the helper silently
            out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
