#!/usr/bin/python3
"""dttd on IPv6 only (issue 15): a `dtt testnet` on ::1 and two dttd whose DHT and gossip bind
only ::1 find each other through the DHT (BEP 32 nodes6 and IPv6 records), join the topic over
an IPv6 TLS link, and a line written to one's stdin arrives at the other. /status lists IPv6
addresses only.

Usage: tests/app/dttd_ipv6.py DTT DTTD (exit 0 pass, 1 fail, 77 skipped: no ::1 here). Every
process it starts is stopped by its PID; every wait has a deadline.
"""
import json
import os
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dttd_harness import checker, http_base, Processes, run_script, start_dttd, start_testnet, wait_for  # noqa: E402

DTT, DTTD = sys.argv[1], sys.argv[2]
procs = Processes()
failures = []
check = checker(failures)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def status(base):
    return json.load(urllib.request.urlopen(base + "/status", timeout=10))


def main(work):
    port = start_testnet(procs, DTT, work, address="::1")
    nodes = {}
    for name in ("a", "b"):
        nodes[name] = start_dttd(procs, DTTD, work, name,
                                 ['--dttd.topic="v6-topic"', '--dttd.secret="v6-secret"',
                                  '--dttd.dht.bootstrap=["[::1]:%d"]' % port,
                                  '--dttd.state-dir="%s"' % os.path.join(work, name),
                                  "--dttd.http.enable"],
                                 stdin=subprocess.PIPE, bind="::1")
    bases = {n: http_base(work, n) for n in nodes}

    def joined(name):
        st = status(bases[name])
        t = st["topics"][0]
        return t["neighbors"] and st
    for name in ("a", "b"):
        st = wait_for("%s has a neighbour over IPv6" % name, lambda: joined(name), 60)
        listening = st["listening"]
        check(listening and all(x.startswith("[::1]:") for x in listening),
              "%s listens on [::1] only: %s" % (name, listening))
        addrs = [n["address"] for n in st["topics"][0]["neighbors"]]
        check(addrs and all(str(x).startswith("[::1]:") for x in addrs),
              "%s's neighbour link is IPv6: %s" % (name, addrs))

    line = "hello over ipv6"
    nodes["a"].stdin.write((line + "\n").encode())
    nodes["a"].stdin.flush()

    def got():
        for raw in open(os.path.join(work, "b.out")):
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if ev.get("event") == "received" and ev.get("content") == line:
                return True
        return False
    check(bool(wait_for("b receives a's line", got, 20)), "a line broadcast by a reaches b over IPv6")
    for name, p in nodes.items():
        check(p.poll() is None, "dttd %s still runs" % name)


if __name__ == "__main__":
    if not have_ipv6_loopback():
        print("SKIP: no IPv6 loopback (::1) here")
        sys.exit(77)
    run_script(main, "dttd-ipv6-", procs, failures)
