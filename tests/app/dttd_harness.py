"""Process plumbing shared by the dttd scripts (tests/app/http_api.py, tests/app/live_page.py,
bench/http_bench.py; the bench adds this folder to sys.path): a loopback DHT testnet, dttd
processes with their output in files, waiting with a deadline, and stopping every process
started, by its PID.

Loopback only: the testnet binds 127.0.0.1, and every dttd started here gets it as bootstrap.
"""
import json
import os
import random
import signal
import subprocess
import time


class Processes:
    """The processes a script started; stop_all() ends each of them (SIGTERM, then SIGKILL
    after a grace period)."""

    def __init__(self):
        self.procs = []

    def add(self, p):
        self.procs.append(p)
        return p

    def stop_all(self, grace=10):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + grace
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_for(what, pred, seconds, poll=0.2):
    """Returns pred()'s first true value; TimeoutError(what) after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise TimeoutError(what)


def start_testnet(procs, dtt, work, nodes=8, address="127.0.0.1"):
    """Starts `dtt testnet` on a random loopback port (address 127.0.0.1 or ::1); returns the
    port once it is up."""
    port = 20000 + random.randrange(20000)
    out = os.path.join(work, "testnet.out")
    procs.add(subprocess.Popen([dtt, "testnet", "--nodes", str(nodes), "--port", str(port),
                                "--address", address],
                               stdout=open(out, "w"), stderr=subprocess.STDOUT))
    first = "\n127." if ":" not in address else "\n[" + address + "]:"
    wait_for("testnet", lambda: open(out).read().count(first) >= nodes - 1, 20)
    return port


def start_dttd(procs, dttd, work, name, args, stdin=subprocess.DEVNULL, bind="127.0.0.1"):
    """Starts dttd `name` bound to loopback (`bind`: 127.0.0.1 or ::1) with `args` (which must
    give its bootstrap); stdout goes to <work>/<name>.out, stderr to <work>/<name>.err."""
    return procs.add(subprocess.Popen(
        [dttd, '--dttd.dht.bind="%s"' % bind, '--dttd.gossip.bind="%s"' % bind] + list(args),
        stdin=stdin, stdout=open(os.path.join(work, name + ".out"), "w"),
        stderr=open(os.path.join(work, name + ".err"), "w")))


def started(work, name):
    """dttd `name`'s "started" event (a dict), or None while it has not printed it."""
    try:
        for line in open(os.path.join(work, name + ".out")):
            if '"started"' in line:
                return json.loads(line)
    except FileNotFoundError:
        pass
    return None


def http_base(work, name, seconds=20):
    """Waits for dttd `name` to start; returns its HTTP base URL."""
    s = wait_for("dttd %s started" % name, lambda: started(work, name), seconds)
    return "http://" + s["http"]


def checker(failures):
    """A check(cond, what) function for a script: prints "ok" or "FAIL" and the claim, and
    appends a failed claim to `failures` (which run_script counts)."""
    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)
    return check


def run_script(main, prefix, procs, failures):
    """Runs main(work) in a fresh temporary folder, records an exception as a failure (with
    the tail of every <name>.err), stops every process, removes the folder, prints the count
    and exits 1 on any failure."""
    import shutil
    import sys
    import tempfile
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        main(work)
    except Exception as e:  # a deadline passed or a request failed
        failures.append(repr(e))
        print("FAIL", repr(e))
        for f in sorted(os.listdir(work)):
            if f.endswith(".err"):
                print("---", f)
                print(open(os.path.join(work, f)).read()[-3000:])
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)
