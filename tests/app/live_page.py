#!/usr/bin/python3
"""dttd's live page (GET /) in headless Chromium: three dttd on a loopback testnet join one
topic; once node a has two neighbours its page, rendered by Chromium, must show a's topic with
two neighbour circles and its event stream live. Node a requires an HTTP token: the page is
served without it, /status is refused without it, and the page opened as /#token=... passes it
on (a bearer header to /status, a WebSocket subprotocol item to the event stream). The
screenshot is kept as a test artifact (ARTIFACT_DIR/live_page.png).
Every process it starts is stopped by its PID; every wait has a deadline.

Usage: live_page.py DTT DTTD ARTIFACT_DIR   (exit 0 pass, 1 fail, 77 skipped: no chromium)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

DTT, DTTD, ARTIFACTS = sys.argv[1], sys.argv[2], sys.argv[3]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    print("SKIP: chromium is not installed")
    sys.exit(77)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dttd_harness import Processes, http_base, start_dttd, start_testnet, wait_for  # noqa: E402

procs = Processes()


def chromium(url, *args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=8000", "--window-size=1200,800", *args, url],
                          capture_output=True, timeout=90)


def main(work):
    port = start_testnet(procs, DTT, work)
    token = "page t0ken/+"  # bytes a URL and a subprotocol token could not carry as they are
    for name in ("a", "b", "c"):
        start_dttd(procs, DTTD, work, name,
                   ['--dttd.topic="page-test"', '--dttd.secret="page-secret"',
                    '--dttd.dht.bootstrap=["127.0.0.1:%d"]' % port, "--dttd.http.enable"]
                   + (['--dttd.http.token="%s"' % token] if name == "a" else []))
    a = http_base(work, "a")

    def get(path, with_token):
        req = urllib.request.Request(a + path)
        if with_token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, b""

    checks = {"the page is served without the token": get("/", False)[0] == 200,
              "/status without the token: 401": get("/status", False)[0] == 401}

    def neighbours():
        st = json.loads(get("/status", True)[1])
        return len(st["topics"][0]["neighbors"]) == 2 and st
    st = wait_for("node a has two neighbours", neighbours, 90)
    ids = sorted(n["id"] for n in st["topics"][0]["neighbors"])

    page = a + "/#" + urllib.parse.urlencode({"token": token})
    r = chromium(page, "--dump-dom")
    dom = r.stdout.decode(errors="replace")
    circles = sorted(re.findall(r'class="neighbor" data-id="([0-9a-f]{64})"', dom))
    checks["the page shows the topic and a's two neighbours"] = "page-test" in dom and circles == ids
    checks["the page's event stream is live (token as subprotocol)"] = "events: live" in dom
    for what, good in checks.items():
        print(("ok   " if good else "FAIL ") + what)
    ok = all(checks.values())
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "live_page.png")
    chromium(page, "--screenshot=" + shot)
    print("neighbours of a:", [i[:8] for i in ids], "circles on the page:", [c[:8] for c in circles])
    print("screenshot:", shot, "(%d bytes)" % (os.path.getsize(shot) if os.path.exists(shot) else 0))
    if not ok:
        print(dom[-2000:] or r.stderr.decode(errors="replace")[-2000:])
    return ok


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="dtt_live_page.")
    ok = False
    try:
        ok = main(work)
    except Exception as e:
        print("FAIL", repr(e))
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print("ok" if ok else "FAIL")
    sys.exit(0 if ok else 1)
