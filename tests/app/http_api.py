#!/usr/bin/python3
"""dttd's HTTP surface driven as an application in another language would drive it.

Starts a loopback DHT testnet (`dtt testnet`) and two dttd with [dttd.http] enabled on
127.0.0.1, then checks: /healthz (503 before the configured topic joined, 200 after), /status,
/metrics (with `promtool check metrics`), joining a topic through the API on both nodes, a
broadcast posted to one node arriving over the other's WebSocket event stream (base64 payload),
the 4xx answers (bad JSON, unknown topic, over-size message, wrong method), 429 with
Retry-After while a neighbour stops reading (back-pressure), and leaving.
Every process it starts is stopped by its PID; every wait has a deadline.

Usage: http_api.py DTT DTTD    (exit 0 pass, 1 fail, 77 skipped: python3-websockets missing)
"""
import asyncio
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

try:
    import websockets
except ImportError:
    print("SKIP: python3-websockets is not installed")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dttd_harness import checker, Processes, run_script, start_dttd, start_testnet, started, wait_for  # noqa: E402

DTT, DTTD = sys.argv[1], sys.argv[2]
procs = Processes()
failures = []
check = checker(failures)


def request(base, method, path, body=None, headers=None, timeout=5):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def refusals():
    """Configurations dttd refuses before opening any socket (exit 2, one line)."""
    base = [DTTD, '--dttd.secret="s"', '--dttd.dht.bootstrap=["127.0.0.1:9"]']
    r = subprocess.run(base + ["--dttd.http.enable", '--dttd.http.bind="0.0.0.0"'],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 2 and b"is not a loopback address: set dttd.http.token" in r.stderr,
          "HTTP off loopback without a token: refused, exit 2")
    r = subprocess.run(base + ['--dttd.topic3.name="n"'], capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 2 and b"dttd.topic3.secret is required with a name" in r.stderr,
          "[dttd.topic3] name without a secret: refused, exit 2")
    for bad in ("1", "33"):
        r = subprocess.run(base + ["--dttd.gossip.active-view=" + bad], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 2 and b"dttd.gossip.active-view: " + bad.encode() + b" is not 2 to 32"
              in r.stderr, "[dttd.gossip] active-view=%s: refused, exit 2" % bad)
    r = subprocess.run([DTTD, "--version"], capture_output=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith(b"dttd "), "dttd --version")
    r = subprocess.run([DTTD, "--help"], capture_output=True, timeout=30)
    first = r.stdout.decode().find("--dttd.")
    check(r.returncode == 0 and 0 <= first < r.stdout.decode().find("[dttd.http]")
          and "--dttd.http.enable=false" in r.stdout.decode() and "scheduler" not in r.stdout.decode().split("\n[dttd]")[0],
          "dttd --help lists dttd's own options first, with defaults")


def back_pressure(a, b, tid, proc_a):
    """Back-pressure reaches the HTTP client: node a stops reading (SIGSTOP), b's link to it
    fills (the kernel's socket buffers, then half of b's send queue for a) and b answers a
    broadcast with 429 and Retry-After instead of dropping it; once a reads again, b accepts
    broadcasts again. The daemons run with a 120 s gossip idle timeout, so that b keeps the link
    to the paused a while the posts fill it (one keep-alive connection; here 1,534 posts)."""
    host, port = b.replace("http://", "").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    path = "/v1/topics/%s/messages" % tid
    payload = bytes(range(256)) * 15  # 3,840 bytes, under the max message size

    def post():
        conn.request("POST", path, payload)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Retry-After")

    def post_again():
        try:
            return post()[0] == 202
        except (OSError, http.client.HTTPException):
            conn.close()  # reconnects at the next request
            return False
    proc_a.send_signal(signal.SIGSTOP)
    start = time.time()
    try:
        posts, code, retry = 0, None, None
        while time.time() < start + 60:
            code, retry = post()
            posts += 1
            if code != 202:
                break
        check(code == 429 and retry == "1",
              "a neighbour that stops reading: POST answers 429 with Retry-After: 1 "
              "(got %s after %d posts of 3,840 bytes in %.1f s)"
              % (code, posts, time.time() - start))
    finally:
        proc_a.send_signal(signal.SIGCONT)
    ok = wait_for("b accepts broadcasts again", post_again, 30, poll=0.5)
    check(ok, "once a reads again, POST answers 202 again")
    conn.close()


def main(work):
    refusals()
    port = start_testnet(procs, DTT, work)

    nodes = []
    # a and b share a topic; c bootstraps from a closed port and never joins (its /healthz
    # stays 503).
    for name in ("a", "b", "c"):
        boot = '["127.0.0.1:%d"]' % (port if name != "c" else 9)
        p = start_dttd(procs, DTTD, work, name,
                       ['--dttd.topic="http-test"', '--dttd.secret="http-secret"',
                        '--dttd.dht.bootstrap=' + boot, "--dttd.dht.bootstrap-timeout=0s",
                        '--dttd.topic2.name="second"', '--dttd.topic2.secret="second-secret"',
                        "--dttd.http.enable", "--dttd.gossip.idle-timeout=120s"],
                       stdin=subprocess.PIPE)
        nodes.append((name, p))

    bases = {}
    for name, _ in nodes:
        s = wait_for("dttd %s started" % name, lambda: started(work, name), 20)
        check("http" in s and s["http"].startswith("127.0.0.1:"), "%s prints its HTTP address" % name)
        bases[name] = "http://" + s["http"]
    a, b, c = bases["a"], bases["b"], bases["c"]

    # Health: 503 until the configured topic had a neighbour, then 200.
    wait_for("healthz 200", lambda: request(a, "GET", "/healthz")[0] == 200, 60)
    check(True, "/healthz turns 200 once the configured topic joined")
    check(request(c, "GET", "/healthz")[0] == 503, "/healthz is 503 on a node that never joined")
    st = json.loads(request(c, "GET", "/status")[1])
    check(st["topics"][0]["state"] == "bootstrapping", "/status says bootstrapping there")

    code, body, hdr = request(a, "GET", "/status")
    st = json.loads(body)
    check(code == 200 and hdr.get("Content-Type") == "application/json", "/status is JSON")
    check(st["version"] and len(st["id"]) == 64, "/status has version and node id")
    check(st["listening"] and st["listening"][0].startswith("127.0.0.1:"), "/status lists addresses")
    check("table_size" in st["dht"], "/status has a DHT summary")
    for name in ("http-test", "second"):
        t = [x for x in st["topics"] if x["name"] == name]
        check(len(t) == 1 and t[0]["state"] == "joined" and len(t[0]["neighbors"]) >= 1
              and "passive_view_size" in t[0],
              "/status shows topic %s joined with a neighbour" % name)
    # Each neighbour: id, its link's address, since when (RFC 3339 and seconds), bytes.
    # The link may still be settling right after /healthz turned 200: ask again for a while.
    def neighbour_ok():
        t = json.loads(request(a, "GET", "/status")[1])["topics"][0]
        n = t["neighbors"][0] if t["neighbors"] else {}
        return (len(n.get("id", "")) == 64 and str(n.get("address")).startswith("127.0.0.1:")
                and str(n.get("since")).endswith("Z") and isinstance(n.get("since_seconds"), int)
                and n.get("bytes_in", 0) > 0 and n.get("bytes_out", 0) > 0
                and n.get("method") == "direct" and t)
    t = wait_for("a neighbour with address, since and bytes", neighbour_ok, 20)
    check(bool(t), "/status lists each neighbour with id, address, link method (direct), since "
          "and bytes in/out")
    lb = t["last_bootstrap"]
    check(lb is None or (lb["time"].endswith("Z") and lb["rounds"] >= 1
                         and {"records", "candidates", "reads_ok"} <= set(lb)),
          "/status shows the last bootstrap round (time, records, candidates) %s" % lb)
    st_b = json.loads(request(b, "GET", "/status")[1])
    lbs = [x["last_bootstrap"] for x in st["topics"] + st_b["topics"] if x["last_bootstrap"]]
    check(any(x["records"] >= 1 and x["candidates"] >= 1 for x in lbs),
          "a bootstrap round found the other node's record (a or b)")

    code, metrics, hdr = request(a, "GET", "/metrics")
    check(code == 200 and hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "/metrics in the text exposition format")
    for name in ("dtt_dht_packets_total", "dtt_gossip_active_view_peers", "process_cpu_seconds_total",
                 "process_resident_memory_bytes", "process_open_fds",
                 "dtt_topic_first_neighbour_seconds_bucket", "dtt_transport_connections",
                 # issue 13: what the cores count
                 'dtt_dht_queries_total{direction="in",kind="ping"}',
                 'dtt_dht_queries_total{direction="out",kind="get"}',
                 'dtt_dht_queries_total{direction="in",kind="other"}',
                 'dtt_dht_krpc_errors_total{direction="in",code="302"}',
                 'dtt_dht_krpc_errors_total{direction="out",code="other"}',
                 "dtt_tracker_records_published_total", "dtt_tracker_records_fetched_total",
                 "dtt_tracker_record_publish_failures_total",
                 "dtt_tracker_bootstrap_rounds_total", "dtt_tracker_merges_total",
                 "dtt_tracker_records_rejected_total",
                 'dtt_gossip_messages_total{topic="http-test"',
                 'dtt_gossip_bytes_total{direction="in"}', 'dtt_gossip_bytes_total{direction="out"}',
                 "dtt_gossip_duplicates_total", "dtt_gossip_flood_refusals_total",
                 'dtt_transport_handshake_failures_total{reason="tls"}',
                 'dtt_transport_reversal_requests_total{result="sent"}',
                 'dtt_transport_reversal_requests_total{result="relayed"}',
                 "dtt_transport_reversed_dials_total", "dtt_transport_links_reversed_total",
                 "dtt_transport_dials_total", "dtt_transport_dials_held_back_total",
                 'dtt_transport_punch_total{step="hint_sent"}',
                 'dtt_transport_punch_total{step="primed"}',
                 'dtt_transport_punch_total{step="linked"}',
                 'dtt_transport_relay_requests_total{result="sent"}',
                 'dtt_transport_relay_requests_total{result="carried"}',
                 'dtt_transport_relay_requests_total{result="refused"}',
                 "dtt_transport_links_relayed_total", "dtt_transport_relay_bytes_total",
                 'dtt_transport_connections{state="relaying"}',
                 'dtt_buffer_pool_blocks_total{source="fresh"}',
                 'dtt_buffer_pool_blocks_total{source="reused"}',
                 "dtt_buffer_pool_returned_total"):
        check(("\n" + name) in metrics, "/metrics has " + name)
    def sample(prefix):
        return sum(float(l.rsplit(" ", 1)[1]) for l in metrics.splitlines()
                   if l.startswith(prefix))
    check(sample('dtt_gossip_messages_total{topic="http-test"') > 0
          and sample('dtt_gossip_bytes_total{direction="in"}') > 0
          and sample('dtt_dht_queries_total{direction="out"') > 0
          and sample("dtt_tracker_bootstrap_rounds_total") >= 1,
          "messages, bytes, DHT queries and bootstrap rounds are counted")
    check('kind="Join"' in metrics and 'kind="Graft"' in metrics and 'kind="Prune"' in metrics,
          "gossip messages by kind include Join, Graft and Prune")
    # Labels stay bounded: no peer address or id in any label (the topic id is the one id).
    import re
    bad = [l for l in metrics.splitlines() if not l.startswith("#")
           and (re.search(r'(?<!topic_id=)"[0-9a-f]{64}"', l) or re.search(r'"[0-9.]+:\d+"', l))]
    check(not bad, "no peer id or address in metric labels %s" % bad[:2])
    series = [l.rsplit(" ", 1)[0] for l in metrics.splitlines() if l and not l.startswith("#")]
    dups = sorted({x for x in series if series.count(x) > 1})
    check(not dups, "/metrics has no duplicate series %s" % dups[:3])
    promtool = shutil.which("promtool")
    if promtool is None:
        check(False, "promtool is installed (Debian package prometheus)")
    else:
        r = subprocess.run([promtool, "check", "metrics"], input=metrics.encode(),
                           capture_output=True, timeout=30)
        check(r.returncode == 0, "promtool check metrics passes: " + (r.stdout + r.stderr).decode().strip())

    # Join a second topic through the API on both nodes.
    join = json.dumps({"name": "api-topic", "secret": "api-secret"}).encode()
    ca, ba, _ = request(a, "POST", "/v1/topics", join, {"Content-Type": "application/json"})
    cb, bb, _ = request(b, "POST", "/v1/topics", join, {"Content-Type": "application/json"})
    check(ca == 201 and cb == 201, "POST /v1/topics joins (201 on both)")
    tid = json.loads(ba)["id"]
    check(tid == json.loads(bb)["id"] and len(tid) == 64, "both nodes derive the same topic id")
    code, body, _ = request(a, "GET", "/v1/topics")
    listed = {x["name"]: x["configured"] for x in json.loads(body)}
    check(code == 200 and listed == {"http-test": True, "second": True, "api-topic": False},
          "GET /v1/topics lists the configured topics ([dttd] and [dttd.topic2]) and the API's")

    # Refusals.
    check(request(a, "POST", "/v1/topics", b"{not json")[0] == 400, "bad JSON: 400")
    check(request(a, "POST", "/v1/topics", b'{"name": 5}')[0] == 400, "wrong field types: 400")
    check(request(a, "POST", "/v1/topics/" + "0" * 64 + "/messages", b"x")[0] == 404,
          "unknown topic: 404")
    check(request(a, "GET", "/v1/topics/xyz/messages")[0] == 404, "malformed topic id: 404")
    check(request(a, "PUT", "/metrics")[0] == 405, "wrong method: 405")
    code, page, hdr = request(a, "GET", "/")
    check(code == 200 and hdr.get("Content-Type", "").startswith("text/html")
          and "/v1/topics/" in page and "http://" not in page and "https://" not in page,
          "GET / serves the live page, with no external fetch")
    check(request(a, "GET", "/nothing")[0] == 404, "unknown path: 404")
    check(request(a, "POST", "/v1/topics/%s/messages" % tid, b"x" * 5000)[0] == 413,
          "message over the max message size: 413")
    # An operator's join by endpoint id: checked strictly; a well-formed one is handed over.
    peers = "/v1/topics/%s/peers" % tid
    for bad in (b"{not json", b'{"peers": "ab"}', b'{"peers": []}', b'{"peers": ["xyz"]}',
                b'{"peers": ["' + b"0" * 63 + b'"]}', b'{"peers": [5]}',
                b'{"peers": [' + b",".join([b'"' + b"1" * 64 + b'"'] * 17) + b']}'):
        check(request(a, "POST", peers, bad)[0] == 400, "POST peers %r: 400" % bad[:40])
    check(request(a, "GET", peers)[0] == 405, "GET peers: 405")
    code, body, _ = request(a, "POST", peers, b'{"peers": ["' + b"ab" * 32 + b'"]}')
    check(code == 422 and "no peer could be joined" in body,
          "POST peers with an id the DHT knows no address of: 422 (got %s %s)" % (code, body))
    b_id = started(work, "b")["id"].encode()
    code, body, _ = request(a, "POST", peers, b'{"peers": ["' + b_id + b'"]}')
    check(code == 202 and json.loads(body) == {"ok": True, "peers": 1},
          "POST peers with node b's id: 202 (got %s %s)" % (code, body))

    async def stream():
        uri = a.replace("http://", "ws://") + "/v1/topics/%s/events" % tid
        async with websockets.connect(uri, max_size=1 << 20) as ws:
            # Wait until node a has a neighbour in the API topic (the event stream says so).
            deadline = time.time() + 60
            up = False
            while not up and time.time() < deadline:
                try:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    up = ev["event"] == "neighbor_up"
                except asyncio.TimeoutError:
                    # The neighbour may have come before the socket opened: ask /status.
                    st = json.loads(request(a, "GET", "/status")[1])
                    up = any(x["id"] == tid and x["neighbors"] for x in st["topics"])
            check(up, "the API topic joined on node a")
            payload = bytes([0, 255, 1, 2]) + b"hello over http"
            deadline = time.time() + 30
            got = None
            while got is None and time.time() < deadline:
                code = request(b, "POST", "/v1/topics/%s/messages" % tid, payload)[0]
                if code not in (202, 429):
                    check(False, "POST message: 202 (got %d)" % code)
                    return
                end = time.time() + 2
                while time.time() < end:
                    try:
                        ev = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except asyncio.TimeoutError:
                        continue
                    if ev["event"] == "received":
                        got = ev
                        break
            check(got is not None and base64.b64decode(got["content_b64"]) == payload
                  and got["topic"] == tid and len(got["peer"]) == 64,
                  "a broadcast posted to b arrives on a's WebSocket, base64, exact bytes")

    asyncio.run(asyncio.wait_for(stream(), 120))

    back_pressure(a, b, tid, dict(nodes)["a"])
    check(request(a, "GET", "/v1/topics/%s/events" % tid)[0] == 426,
          "events without a WebSocket upgrade: 426")
    check(request(a, "DELETE", "/v1/topics/%s" % tid)[0] == 204, "DELETE leaves the topic: 204")
    check(request(a, "POST", "/v1/topics/%s/messages" % tid, b"x")[0] == 404,
          "a left topic is gone: 404")
    code, metrics, _ = request(a, "GET", "/metrics")
    check(code == 200 and "dtt_http_requests_total" in metrics, "/metrics still answers")
    for name, p in nodes:
        check(p.poll() is None, "dttd %s still runs" % name)


if __name__ == "__main__":
    run_script(main, "dtt_http_api.", procs, failures)
