#!/usr/bin/python3
"""[dttd.cluster] (issue 14): two dttd on a loopback DHT testnet join one CAF cluster as members
that publish nothing; each one's /status lists both members (itself marked self) and /metrics
says dtt_cluster_members 2. A third dttd with another cluster secret is not listed. Bad
[dttd.cluster] settings are refused with one line and exit 2.

Usage: tests/app/dttd_cluster.py DTT DTTD. Every process it starts is stopped by its PID.
"""
import json
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dttd_harness import checker, http_base, Processes, run_script, start_dttd, start_testnet, wait_for  # noqa: E402

DTT, DTTD = sys.argv[1], sys.argv[2]
procs = Processes()
failures = []
check = checker(failures)


def refusals(work):
    base = [DTTD, '--dttd.secret="s"', '--dttd.dht.bootstrap=["127.0.0.1:9"]']
    for args, line in [
        (['--dttd.cluster.name="c"', '--dttd.state-dir="%s"' % work],
         b"dttd.cluster.secret is required with a name"),
        (['--dttd.cluster.secret="x"'], b"dttd.cluster.name is required with a secret"),
        (['--dttd.cluster.name="c"', '--dttd.cluster.secret="x"'],
         b"dttd.cluster needs a directory for its TLS credentials"),
    ]:
        r = subprocess.run(base + args, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 2 and line in r.stderr, "refused: " + line.decode())


def status(base):
    return json.load(urllib.request.urlopen(base + "/status", timeout=10))


def main(work):
    refusals(work)
    port = start_testnet(procs, DTT, work)
    bases = {}
    for name, secret in (("a", "cluster-secret"), ("b", "cluster-secret"), ("x", "other")):
        start_dttd(procs, DTTD, work, name,
                   ['--dttd.topic="cluster-test-%s"' % name, '--dttd.secret="s"',
                    '--dttd.dht.bootstrap=["127.0.0.1:%d"]' % port, "--dttd.http.enable",
                    '--dttd.state-dir="%s"' % os.path.join(work, name),
                    '--dttd.cluster.name="ops"', '--dttd.cluster.secret="%s"' % secret,
                    '--dttd.cluster.bind="127.0.0.1"'])
    for name in ("a", "b", "x"):
        bases[name] = http_base(work, name)
    ids = {n: status(b)["cluster"]["id"] for n, b in bases.items()}

    def both_listed(name):
        st = status(bases[name])
        members = st["cluster"]["members"]
        return len(members) == 2 and st
    for name in ("a", "b"):
        st = wait_for("%s lists two cluster members" % name, lambda: both_listed(name), 60)
        members = st["cluster"]["members"]
        check({m["id"] for m in members} == {ids["a"], ids["b"]},
              "%s lists a and b, not x" % name)
        check([m["self"] for m in members] == [True, False], "%s lists itself first" % name)
        check(all(m["addresses"] and m["node"] for m in members),
              "%s: every member has an address and a CAF node id" % name)
        check(st["cluster"]["name"] == "ops" and st["cluster"]["port"] > 0,
              "%s: cluster name and middleman port in /status" % name)
        metrics = urllib.request.urlopen(bases[name] + "/metrics", timeout=10).read().decode()
        check(re.search(r'^dtt_cluster_members\{cluster="ops"\} 2$', metrics, re.M) is not None,
              "%s: dtt_cluster_members 2 in /metrics" % name)
    xs = status(bases["x"])["cluster"]["members"]
    check(len(xs) == 1 and xs[0]["self"], "x (other secret) sees only itself")
    # A cluster's record slots are derived from its secret (hardened, docs/HARDENED.md): x, of
    # the same cluster name, writes and reads other slots, so it can neither overwrite a's and
    # b's records nor see them. x has read its slots every 1.5 s since it started.
    for name in ("a", "b", "x"):
        err = open(os.path.join(work, name + ".err")).read()
        opened_not = [int(n) for n in re.findall(r"records dropped .*?: (\d+) undecryptable", err)]
        check(not any(opened_not),
              "%s read no records it could not open (no slot shared with x): %s"
              % (name, opened_not))
    started = [json.loads(line) for line in open(os.path.join(work, "a.out")) if '"started"' in line]
    check(started and started[0].get("cluster_port", 0) > 0, "the started line has cluster_port")
    dump = subprocess.run([DTTD, '--dttd.secret="s"', '--dttd.cluster.name="ops"',
                           '--dttd.cluster.secret="very-secret-value"', "--dump-config"],
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    check(b"very-secret-value" not in dump.stdout and b"<hidden>" in dump.stdout,
          "--dump-config masks the cluster secret")


if __name__ == "__main__":
    run_script(main, "dttd-cluster-", procs, failures)
