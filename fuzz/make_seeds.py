#!/usr/bin/env python3
"""Writes the seed corpora of the record, encrypted_record, bep44, bencode, routing_table,
endpoint_record, config, admission, peer_cache, cluster_record, http_request, gossip_wire and pcp fuzz targets into fuzz/corpus/<target>/, from the known-answer vectors
(../shared/spec/vectors.json, ../shared/vectors/*.json, read here and not copied) plus
hand-made edge cases. Run from the repository root:

    python3 fuzz/make_seeds.py [--shared DIR]

DIR (the folder with spec/ and vectors/) defaults to $DTT_SHARED_DIR, else ../shared next to
the repository, as the DTT_SHARED_DIR CMake option does.

The files are small inputs in each target's own format (see the comment at the top of
fuzz/<target>.cpp). Re-running rewrites the seed_* files; corpus files of other names (kept by
libFuzzer -merge=1 runs) are left alone."""

import argparse
import json
import os
import struct

ap = argparse.ArgumentParser()
ap.add_argument("--shared", default=os.environ.get(
    "DTT_SHARED_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")))
args = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
spec = json.load(open(os.path.join(args.shared, "spec", "vectors.json")))
recs = json.load(open(os.path.join(args.shared, "vectors", "dtt_records.json")))
bep44 = json.load(open(os.path.join(args.shared, "vectors", "bep44.json")))
H = bytes.fromhex


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def le32(n):
    return struct.pack("<I", n)


def le64(n):
    return struct.pack("<Q", n & 0xFFFFFFFFFFFFFFFF)


def benc_str(b):
    return str(len(b)).encode() + b":" + b


# --- record: a serialised record (PROTOCOL.md §2.1) ---
records = [H(r["record_hex"]) for r in recs["records"]] + [H(spec["record_bytes"])]
for i, r in enumerate(records):
    write("record", "vector%d" % i, r)
write("record", "content_postcard", H(spec["content_postcard"]))
base = records[0]
hdr, sig = base[:72], base[-64:]
for n in (0, 1, 319, 320, 321, 716):  # content sizes around the 320-byte postcard form
    write("record", "content%d" % n, hdr + bytes([0xA5]) * n + sig)
write("record", "short135", base[:135])
write("record", "zero136", bytes(136))
write("record", "sparse_slots", hdr + bytes(32) + H(spec["content_postcard"])[32:320] + sig)

# --- encrypted_record: mode byte, then data (see fuzz/encrypted_record.cpp) ---
for i, r in enumerate(recs["records"]):
    v = H(r["encrypted_example"]["encrypted_record_hex"])
    write("encrypted_record", "value%d" % i, b"\x00" + v)
    write("encrypted_record", "keyblob%d" % i, b"\x01" + v[-88:])
    write("encrypted_record", "recordblob%d" % i, b"\x01" + v[4:-88])
    write("encrypted_record", "plain%d" % i, b"\x02" + H(r["record_hex"]))
write("encrypted_record", "spec_value", b"\x00" + H(spec["dht_value"]))
write("encrypted_record", "spec_keyblob", b"\x01" + H(spec["encrypted_decryption_key_88"]))
write("encrypted_record", "empty_record_layer", b"\x00" + le32(0) + bytes(88))
write("encrypted_record", "len_2048_over_total", b"\x00" + le32(2048) + bytes(2048 + 88))
write("encrypted_record", "len_2049", b"\x00" + le32(2049) + bytes(2049 + 88))
write("encrypted_record", "len_max", b"\x00" + le32(0xFFFFFFFF) + bytes(88))
write("encrypted_record", "hpke_klen_128", b"\x01" + le64(128) + bytes(129))
write("encrypted_record", "hpke_klen_huge", b"\x01" + le64(1 << 63) + bytes(48))
write("encrypted_record", "plain_short", b"\x02" + H(recs["records"][0]["record_hex"])[:135])

# --- bep44: salt length, LE64 seq, key(32), sig(64), salt, raw value ---
def item(salt, seq, key, sig, value):
    return bytes([len(salt)]) + le64(seq) + key + sig + salt + value

for i, v in enumerate(x for x in bep44["vectors"] if x["type"] == "mutable"):
    write("bep44", "vector%d" % i, item(H(v["salt_hex"]), int(v["seq"]), H(v["public_key"]),
                                        H(v["signature"]), H(v["value_raw_hex"])))
write("bep44", "dtt_put", item(H(spec["salt"]), int(spec["bep44_seq"]),
                               H(spec["dht_signing_pubkey"]), H(spec["bep44_signature"]),
                               H(spec["dht_value"])))
k = H(spec["dht_signing_pubkey"])
write("bep44", "negative_seq", item(b"s", -1, k, bytes(64), b"v"))
write("bep44", "min_seq", item(b"", -(1 << 63), k, bytes(64), b""))
write("bep44", "salt64_value995", item(bytes(64), 7, k, bytes(64), bytes(995)))  # at both limits
write("bep44", "salt65_value996", item(bytes(65), 7, k, bytes(64), bytes(996)))  # one over

# --- bencode: a limits byte, then bencoded text ---
b = [
    b"d" + H(v["buffer_being_signed_hex"]) + b"e" for v in bep44["vectors"]
    if "buffer_being_signed_hex" in v
] + [
    b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    b"li0ei-1ei9223372036854775807ei-9223372036854775808ee",
    b"llllllllee" b"eeeeee",
    b"d0:0:1:a1:ae", b"le", b"de", b"0:", b"i0e",
    b"i-0e", b"i03e", b"03:abc", b"d1:b0:1:a0:e", b"d1:a0:1:a0:e", b"i9223372036854775808e",
    b"l" + b"i1e" * 8 + b"e", b"4:abcd5:abcde",
]
for i, x in enumerate(b):
    for ctl in (0xFF, 0x00, 0x5B):  # generous, tightest, in between
        write("bencode", "%02d_%02x" % (i, ctl), bytes([ctl]) + x)

# --- routing_table: the cache file, a bencoded dict {nodes, nodes6} ---
def rt(nodes4, nodes6, extra=b""):
    out = b"d"
    if nodes4 is not None:
        out += b"5:nodes" + benc_str(nodes4)
    if nodes6 is not None:
        out += b"6:nodes6" + benc_str(nodes6)
    return out + extra + b"e"

ids = [H(spec["bep44_target_sha1"]), H(recs["derivations"][0]["dht_target"]),
       H(bep44["vectors"][0]["target_id"]), H(bep44["vectors"][1]["target_id"])]
v4 = [i + bytes([127, 0, 0, 1]) + struct.pack(">H", 6881 + n) for n, i in enumerate(ids)]
v6 = [i + bytes(15) + b"\x01" + struct.pack(">H", 7000 + n) for n, i in enumerate(ids)]
write("routing_table", "empty_dict", b"de")
write("routing_table", "empty_lists", rt(b"", b""))
write("routing_table", "v4", rt(b"".join(v4), None))
write("routing_table", "v6", rt(None, b"".join(v6)))
write("routing_table", "both", rt(b"".join(v4), b"".join(v6)))
write("routing_table", "same_id_two_ports", rt(v4[0] + v4[0][:24] + b"\x00\x01", b""))
write("routing_table", "port0", rt(ids[0] + bytes(6), b""))
write("routing_table", "ragged", rt(b"".join(v4)[:-1], b""))
write("routing_table", "nodes_int", b"d5:nodesi1ee")

# --- endpoint_record: the text value ---
for name, text in [
    ("v4_v6", b"127.0.0.1:4001 [::1]:4001"),
    ("one", b"10.0.0.1:1"),
    ("max_port", b"[::ffff:1.2.3.4]:65535"),
    ("port0", b"1.2.3.4:0"),
    ("port_big", b"1.2.3.4:99999"),
    ("leading_zero_port", b"1.2.3.4:00080"),
    ("trailing_space", b"1.2.3.4:80 "),
    ("double_space", b"1.2.3.4:80  5.6.7.8:80"),
    ("v6_unbracketed", b"::1:80"),
    ("v4_bracketed", b"[1.2.3.4]:80"),
    ("zone", b"[fe80::1%eth0]:80"),
    ("nul", b"1.2.3.4\x00x:80"),
    ("empty", b""),
    ("long", b" ".join(b"10.0.%d.%d:6%04d" % (i // 250, i % 250, i) for i in range(60))),
]:
    write("endpoint_record", name, text)

# --- config: INI text (the example file of the repository, variants and the cases) ---
example = open(os.path.join(here, "..", "config", "examples", "dttd.ini"), "rb").read()
write("config", "example", example)
write("config", "example_uncommented",
      example.replace(b"; bootstrap=", b"bootstrap=").replace(b"; advertise=", b"advertise=")
             .replace(b"; log-level=", b"log-level=").replace(b"; bootstrap-timeout", b"bootstrap-timeout"))
for name, text in [
    ("unknown_key", b"[dttd]\ntopic=\"t\"\ncolour=\"red\"\n"),
    ("port_text", b"[dttd.dht]\nport=\"abc\"\n"),
    ("port_70000", b"[dttd.dht]\nport=70000\n"),
    ("port_negative", b"[dttd.gossip]\nport=-1\n"),
    ("duration_no_unit", b"[dtt]\njoin-timeout=5\n"),
    ("repeated_section", b"[dttd.dht]\nbind=\"127.0.0.1\"\n[dttd]\ntopic=\"t\"\n[dttd.dht]\nport=1\n"),
    ("secret_unquoted", b"[dttd]\nsecret=123456789\n"),
    ("secret_ok", b"[dttd]\nsecret=\"s;e\\\"cret\" ; comment\n"),
    ("bootstrap_list", b"[dttd.dht]\nbootstrap=[\"127.0.0.1:6881\",\n  \"[::1]:6881\", \"host.example:1\"]\n"),
    ("bootstrap_bad", b"[dttd.dht]\nbootstrap=[\"127.0.0.1:99999\", \"::1:80\"]\n"),
    ("list_unclosed", b"[dttd.gossip]\nadvertise=[\"10.0.0.1:1\",\n"),
    ("caf_section", b"[caf.scheduler]\npolicy='stealing'\nmax-threads=2\n[dttd]\nexit-on-eof=true\n"),
    ("crlf_and_bytes", b"[dttd]\r\ntopic=\"\xff\x00\"\r\n"),
    ("log_level_bad", b"[dttd]\nlog-level=\"loud\"\n"),
]:
    write("config", name, text)

# --- admission: a chunk byte, then a link's byte stream (admit / keepalive / goodbye / message) ---
def be32(n):
    return struct.pack(">I", n)

topic = H(recs["derivations"][0]["topic_hash"])
admit_body = topic + H(spec["record_signature"])[:32]
admit = be32(0x80000003) + admit_body
keepalive, goodbye = be32(0x80000001), be32(0x80000002)
msg = be32(5) + b"hello"
write("admission", "body", b"\x00" + admit_body)
write("admission", "admit", b"\x07" + admit)
write("admission", "stream", b"\x03" + keepalive + admit + msg + admit + goodbye)
write("admission", "split_admit", b"\x00" + admit[:40])
write("admission", "unknown_control", b"\x10" + be32(0x8000007F) + admit_body)
write("admission", "body_63", b"\x00" + admit_body[:63])

# --- gossip_wire: connection reversal frames (dtt-gossip/3; gossip/transport/reversal.hpp: request 35 bytes,
# notice 39) between a keep-alive and a message ---
rev_req = be32(0x80000004) + b"\x01" + topic + struct.pack(">H", 4433)
rev_notice = be32(0x80000005) + b"\x02" + topic + struct.pack(">H", 4433) + bytes([127, 0, 0, 1])
write("gossip_wire", "reversal", b"\x03" + keepalive + rev_req + rev_notice + msg)
# --- gossip_wire: relay frame bodies (gossip/transport/relay.hpp; the target also tries the whole
# stream as one body): open, incoming, data (reply bit set), close ---
write("gossip_wire", "relay_open", b"\x00\x01" + be32(7) + b"\x02" * 32)
write("gossip_wire", "relay_incoming", b"\x00\x02" + be32(9) + b"\x01" * 32)
write("gossip_wire", "relay_data", b"\x00\x03" + be32(0x80000003) + b"hello relay")
write("gossip_wire", "relay_close", b"\x00\x04" + be32(0x80000004) + b"\x04")
# ... and as control frames (code 9, the body length in header bits 8..30) between a keep-alive
# and a message
def relay_frame(body):
    return be32(0x80000000 | len(body) << 8 | 9) + body
relay_stream = (keepalive + relay_frame(b"\x01" + be32(7) + b"\x02" * 32)
                + relay_frame(b"\x03" + be32(0x80000003) + b"hello relay")
                + relay_frame(b"\x04" + be32(5) + b"\x00") + msg)
write("gossip_wire", "relay_frames", b"\x05" + relay_stream)

# --- pcp: answers to a MAP request (RFC 6887 §11.4): granted, refused, a NAT-PMP server's
# "unsupported version", an ANNOUNCE answer, and a granted one with an option after it ---
def pcp_map(result, lifetime, port, ip4):
    head = bytes([2, 0x81, 0, result]) + struct.pack(">II", lifetime, 7) + bytes(12)
    data = (bytes(range(0xa0, 0xac)) + bytes([6, 0, 0, 0]) + struct.pack(">HH", 4433, port)
            + bytes(10) + b"\xff\xff" + bytes(ip4))
    return head + data
write("pcp", "granted", pcp_map(0, 3600, 40555, [11, 0, 0, 2]))
write("pcp", "not_authorized", pcp_map(2, 30, 0, [0, 0, 0, 0]))
write("pcp", "natpmp", bytes([0, 0x81, 0, 1, 0, 0, 0, 9]))
write("pcp", "announce", bytes([2, 0x80, 0, 0]) + struct.pack(">II", 0, 7) + bytes(12))
write("pcp", "option", pcp_map(0, 3600, 40555, [11, 0, 0, 2]) + bytes([1, 0, 0, 0]))

# --- peer_cache: "DTTPEER1" | LE16 count | count x (id 32 | LE64 last_seen | LE16 n | record) ---
def peers(entries):
    out = b"DTTPEER1" + struct.pack("<H", len(entries))
    for pid, t, rec in entries:
        out += pid + struct.pack("<Q", t) + struct.pack("<H", len(rec)) + rec
    return out

keys = [H(r["node_pubkey"]) for r in recs["records"]] + [H(spec["node_pubkey"]),
        H(spec["dht_signing_pubkey"]), H(bep44["vectors"][0]["public_key"])]
write("peer_cache", "vectors", peers([(k, 1764460000 - i, b"127.0.0.1:%d [::1]:%d" % (4000 + i, 4000 + i))
                                      for i, k in enumerate(keys)]))
write("peer_cache", "no_address", peers([(keys[0], 0, b"")]))
write("peer_cache", "time_2p53", peers([(keys[0], 1 << 53, b"10.0.0.1:1")]))
write("peer_cache", "time_over", peers([(keys[0], (1 << 53) + 1, b"10.0.0.1:1")]))
write("peer_cache", "duplicate_id", peers([(keys[0], 5, b""), (keys[0], 6, b"")]))
write("peer_cache", "not_a_point", peers([(bytes([0xff]) * 32, 5, b"")]))
write("peer_cache", "noncanonical_record", peers([(keys[1], 7, b"10.0.0.1:080 ")]))
write("peer_cache", "nine_addresses",
      peers([(keys[2], 7, b" ".join(b"10.0.0.%d:1" % i for i in range(9)))]))
write("peer_cache", "trailing", peers([(keys[0], 5, b"")]) + b"x")

# --- cluster_record: "DTTC" | 1 | flags | id 32 | BE64 incarnation | BE64 seq | node | addrs |
#     names | signature 64 (cluster/record.cpp). The signature here is zeros: the target signs
#     a sample of its inputs with its own key, so the structure is what the seeds carry. ---
def cluster(flags=0, node=b"\x01" * 24, addrs=((4, bytes([127, 0, 0, 1]), 4100),),
            names=(b"calc", b"worker/1"), tail=b""):
    out = b"DTTC" + bytes([1, flags]) + keys[0] + struct.pack(">QQ", 1764460000000000, 3)
    out += bytes([len(node)]) + node + bytes([len(addrs)])
    for fam, raw, port in addrs:
        out += bytes([fam]) + raw + struct.pack(">H", port)
    out += bytes([len(names)]) + b"".join(bytes([len(n)]) + n for n in names)
    return out + tail + bytes(64)

write("cluster_record", "plain", cluster())
write("cluster_record", "leaving", cluster(flags=1, names=()))
write("cluster_record", "v6", cluster(addrs=((6, bytes(15) + b"\x01", 4100),
                                             (6, bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1]), 1))))
write("cluster_record", "eight_addresses", cluster(addrs=tuple((4, bytes([10, 0, 0, i]), 1) for i in range(8))))
write("cluster_record", "nine_addresses", cluster(addrs=tuple((4, bytes([10, 0, 0, i]), 1) for i in range(9))))
write("cluster_record", "port_zero", cluster(addrs=((4, bytes([127, 0, 0, 1]), 0),)))
write("cluster_record", "unsorted_names", cluster(names=(b"b", b"a")))
write("cluster_record", "bad_name", cluster(names=(b"a b",)))
write("cluster_record", "long_node", cluster(node=bytes(65)))
write("cluster_record", "trailing", cluster(tail=b"x"))
write("cluster_record", "unknown_flag", cluster(flags=2))

# --- http_request: a control byte (bit 0: token "t0k3n-xyz" set; bit 1: max_body 64 and 4
#     header fields; bit 2: 256 header bytes; bit 3: "/" public), then what a client sends ---
get = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
post = (b"POST /v1/topics/ab12/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 17\r\n\r\n{\"text\":\"hello\"}\n")
write("http_request", "get", b"\x00" + get)
write("http_request", "get_token", b"\x01" + get.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer t0k3n-xyz\r\n\r\n"))
write("http_request", "get_wrong_token", b"\x01" + get.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer nope\r\n\r\n"))
write("http_request", "post", b"\x00" + post)
write("http_request", "post_small_limits", b"\x06" + post)
write("http_request", "chunked", b"\x00" + b"POST /v1/topics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5\r\nhello\r\n0\r\n\r\n")
write("http_request", "upgrade", b"\x00" + b"GET /v1/topics/ab12/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
write("http_request", "upgrade_token_item", b"\x01" + b"GET /v1/topics/ab12/events HTTP/1.1\r\nHost: x\r\n"
      b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: dtt.events, dtt.bearer.74306b336e2d78797a\r\n\r\n")
write("http_request", "public_page", b"\x09GET / HTTP/1.1\r\nHost: x\r\n\r\n")
write("http_request", "pipelined", b"\x00" + get + get)
write("http_request", "many_headers", b"\x02" + b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(8)) + b"\r\n")
write("http_request", "incomplete", b"\x00" + post[:60])
write("http_request", "http10", b"\x00GET / HTTP/1.0\r\n\r\n")
