#!/usr/bin/python3
"""examples/cluster_workers (issue 14), as a user would run it: a loopback DHT testnet, three
worker processes and a coordinator, started with the cluster name and secret only.

Asserts: the coordinator finds the three workers through the registry; after a worker is
killed (SIGKILL, mid-run) the coordinator reports it gone and its jobs go to the others; a
worker started again afterwards (a new process) is found and given jobs; every job is done
exactly once by the coordinator's count (the per-worker counts add up to the total), and the
coordinator exits 0.

Usage: tests/cluster/workers_example.py DTT CLUSTER_WORKERS. Every process it starts is
stopped by its PID; every wait has a deadline.
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "app"))
from dttd_harness import checker, Processes, run_script, start_testnet, wait_for  # noqa: E402

DTT, EXAMPLE = sys.argv[1], sys.argv[2]
JOBS = 4000          # 20 ms each, 2 in flight per worker: ~13 s with three workers
procs = Processes()
failures = []
check = checker(failures)


def main(work):
    port = start_testnet(procs, DTT, work, nodes=8)
    common = ["--cluster", "example", "--secret", "s3cret", "--bootstrap", "127.0.0.1:%d" % port]

    def start(name, role, extra=()):
        out = os.path.join(work, name + ".out")
        p = procs.add(subprocess.Popen([EXAMPLE, role] + common + list(extra),
                                       stdin=subprocess.PIPE, stdout=open(out, "w"),
                                       stderr=open(os.path.join(work, name + ".err"), "w")))
        return p, out

    def text(path):
        return open(path).read()

    workers = [start("worker%d" % i, "worker") for i in range(3)]
    for i, (_, out) in enumerate(workers):
        wait_for("worker%d ready" % i, lambda: "ready" in text(out), 30)
    coord, cout = start("coordinator", "coordinator", ["--jobs", str(JOBS), "--work-ms", "20"])
    wait_for("three workers up", lambda: text(cout).count(" is up") >= 3, 30)
    check(True, "the coordinator found three workers through the registry")
    # Kill one worker while jobs run.
    wait_for("some jobs done", lambda: re.search(r"coordinator: \d+/%d done" % JOBS, text(cout)), 30)
    victim = workers[0][0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    wait_for("the killed worker is gone", lambda: " is gone" in text(cout), 20)
    check(True, "the coordinator saw the killed worker go")
    # A worker started again: a new process with its own key, found through the registry.
    start("worker3", "worker")
    wait_for("the new worker is up", lambda: text(cout).count(" is up") >= 4, 30)
    check(True, "the coordinator found the restarted worker")
    rc = coord.wait(timeout=90)
    out = text(cout)
    check(rc == 0, "the coordinator exited 0 (rc %s)" % rc)
    check("coordinator: %d/%d done" % (JOBS, JOBS) in out, "all %d jobs done" % JOBS)
    counts = {w: int(n) for w, n in re.findall(r"coordinator: worker (\w+) did (\d+) jobs", out)}
    print("jobs per worker:", counts, flush=True)
    check(sum(counts.values()) == JOBS, "the per-worker counts add up to the total")
    ids = [re.search(r"worker (\w+) ready", text(os.path.join(work, "worker%d.out" % i))).group(1)
           for i in range(4)]
    check(counts.get(ids[3], 0) > 0, "the restarted worker %s did jobs" % ids[3])
    check(all(counts.get(i, 0) > 0 for i in ids[1:3]), "the surviving workers did jobs")
    requeued = len(re.findall(r"failed on .* queued again", out))
    print("jobs queued again after the kill:", requeued, flush=True)
    for p, _ in workers[1:]:
        p.stdin.close()  # end of stdin stops a worker


if __name__ == "__main__":
    run_script(main, "dtt-workers-", procs, failures)
