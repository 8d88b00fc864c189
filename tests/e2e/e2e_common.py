"""What the network-namespace tests (faults.py, nat.py) share: timestamped logging, commands
with a timeout, and stopping a process they started by PID."""
import signal
import subprocess
import time


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*args, check=True, inp=None):
    """Runs a command (20 s deadline); raises with its stderr when it fails and check is set."""
    r = subprocess.run(list(args), input=inp, capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def stop_process(proc, grace=5):
    """SIGTERM, then SIGKILL after `grace` s; returns the stop time in seconds (None: killed)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
        return time.monotonic() - t0
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        return None
