#!/usr/bin/python3
"""dttd's HTTP figures (issue 13), loopback only; prints figures, asserts nothing.

1. /metrics scrape time with 10 topics (joined through the API): median and max of 50 scrapes.
2. WebSocket event throughput: dttd b broadcasts 1 KiB lines read from its stdin (as fast as
   its back-pressure allows) for SECONDS; dttd a receives them, printing each on stdout (its
   gossip delivery) and sending each over a WebSocket to this script. Prints both rates.

Usage: bench/http_bench.py DTT DTTD [SECONDS]
Every process it starts is stopped by its PID.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import websockets

DTT, DTTD = sys.argv[1], sys.argv[2]
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 10
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "app"))
from dttd_harness import Processes, http_base, start_dttd, start_testnet, wait_for  # noqa: E402

procs = Processes()


def get(base, path, data=None, method=None):
    req = urllib.request.Request(base + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def get_code(base, path):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main(work):
    port = start_testnet(procs, DTT, work)
    nodes = {}
    for name in ("a", "b"):
        nodes[name] = start_dttd(procs, DTTD, work, name,
                                 ['--dttd.topic="bench"', '--dttd.secret="bench-secret"',
                                  '--dttd.dht.bootstrap=["127.0.0.1:%d"]' % port,
                                  "--dttd.http.enable"], stdin=subprocess.PIPE)
    a = http_base(work, "a")
    http_base(work, "b")
    wait_for("a joined", lambda: get_code(a, "/healthz") == 200, 60, poll=0.1)

    for i in range(9):
        get(a, "/v1/topics", json.dumps({"name": "t%d" % i, "secret": "s"}).encode())
    times = []
    size = 0
    for _ in range(50):
        t0 = time.perf_counter()
        size = len(get(a, "/metrics"))
        times.append(time.perf_counter() - t0)
    times.sort()
    print("/metrics with 10 topics: %d bytes, median %.2f ms, max %.2f ms (50 scrapes)"
          % (size, 1000 * times[len(times) // 2], 1000 * times[-1]))

    topic_id = json.loads(get(a, "/status"))["topics"]
    topic_id = [t["id"] for t in topic_id if t["name"] == "bench"][0]
    stop = threading.Event()

    def feed():
        # Distinct lines: gossip drops a message whose content (its id) it has seen.
        seq = 0
        try:
            while not stop.is_set():
                chunk = b"".join(b"%016d" % (seq + i) + b"x" * 1007 + b"\n" for i in range(64))
                seq += 64
                nodes["b"].stdin.write(chunk)
                nodes["b"].stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def stdout_count():
        with open(os.path.join(work, "a.out"), "rb") as f:
            return f.read().count(b'"received"')

    async def consume():
        uri = a.replace("http://", "ws://") + "/v1/topics/%s/events" % topic_id
        async with websockets.connect(uri, max_size=1 << 20, max_queue=4096) as ws:
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            await asyncio.sleep(1)  # warm-up
            n0, s0, t0 = 0, stdout_count(), time.time()
            lagged = 0
            end = t0 + SECONDS
            while time.time() < end:
                try:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 1))
                except asyncio.TimeoutError:
                    continue
                if ev["event"] == "received":
                    n0 += 1
                elif ev["event"] == "lagged":
                    lagged += ev["dropped"]
            wall = time.time() - t0
            s1 = stdout_count()
            stop.set()
            print("1 KiB broadcasts b -> a over %.1f s: a's stdout (gossip delivery) %.0f msg/s, "
                  "a's WebSocket %.0f msg/s (%d dropped as lagged)"
                  % (wall, (s1 - s0) / wall, n0 / wall, lagged))

    asyncio.run(consume())
    cpu = {}
    for name, p in nodes.items():
        with open("/proc/%d/stat" % p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    print("CPU seconds so far: a %.2f, b %.2f" % (cpu["a"], cpu["b"]))


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="dtt_http_bench.")
    try:
        main(work)
    finally:
        procs.stop_all()
        if os.environ.get("KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
