#!/usr/bin/env bash
# Idle CPU of a dttd joined to a topic with one peer (issue 12, "Idle ≈ 0").
# Starts a loopback DHT testnet (`dtt testnet`) and two dttd on 127.0.0.1 bootstrapped from it
# only, waits until both have a neighbour, lets them settle, then samples the first dttd's
# utime+stime (/proc/<pid>/stat, every thread) over a window and prints it as % of one core.
# Every process it starts is stopped by its PID (SIGTERM, then SIGKILL after a deadline).
#
# Usage: scripts/idle_cpu.sh [--build DIR] [--seconds N] [--settle N] [--strace] [-- dttd options]
#   e.g. scripts/idle_cpu.sh -- --scheduler.policy=stealing
# --page:   enable dttd's HTTP server and, while sampling, act like its live page is open: a
#           WebSocket on the topic's event stream and GET /status every 10 s (python3-websockets).
# --strace: also run `strace -c -f` on the sampled dttd over the window (syscall counts show what
#           wakes up; strace itself adds CPU, so the % printed is then not the idle figure).
set -euo pipefail

build=build
seconds=60
settle=5
use_strace=0
page=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --strace) use_strace=1; shift ;;
    --page) page=1; shift ;;
    --) shift; break ;;
    *) echo "idle_cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
extra=("$@")
if ((page)); then extra+=(--dttd.http.enable); fi

dtt=$build/app/dtt
dttd=$build/app/dttd
[[ -x $dtt && -x $dttd ]] || { echo "idle_cpu.sh: build dtt and dttd in $build first" >&2; exit 2; }

work=$(mktemp -d /tmp/dtt_idle.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  local deadline=$((SECONDS + 10))
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_all EXIT

# A free UDP port base for the testnet (the OS picks one; the testnet uses port, port+1, ...).
port=$(( 20000 + (RANDOM % 20000) ))
"$dtt" testnet --nodes 8 --port "$port" >"$work/testnet.out" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 15))
until [[ $(grep -c "^127\." "$work/testnet.out" 2>/dev/null) -ge 8 ]]; do
  ((SECONDS < deadline)) || { echo "idle_cpu.sh: testnet did not start" >&2; cat "$work/testnet.out" >&2; exit 1; }
  kill -0 "${pids[0]}" 2>/dev/null || { echo "idle_cpu.sh: testnet exited" >&2; cat "$work/testnet.out" >&2; exit 1; }
  sleep 0.1
done

start_dttd() { # $1 = name
  mkdir -p "$work/$1.state"
  "$dttd" --dttd.topic='"idle-topic"' --dttd.secret='"idle-secret"' \
    --dttd.dht.bind='"127.0.0.1"' --dttd.gossip.bind='"127.0.0.1"' \
    --dttd.dht.bootstrap="[\"127.0.0.1:$port\"]" --dttd.state-dir="\"$work/$1.state\"" \
    "${extra[@]}" \
    </dev/null >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
}
start_dttd a
pid_a=${pids[-1]}
start_dttd b

deadline=$((SECONDS + 60))
for n in a b; do
  until grep -q '"neighbor_up"' "$work/$n.out" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "idle_cpu.sh: dttd $n did not join within 60 s" >&2; cat "$work/$n.err" >&2; exit 1; }
    sleep 0.2
  done
done
echo "both dttd joined; settling ${settle} s, then sampling ${seconds} s of dttd a (pid $pid_a)"
sleep "$settle"

if ((page)); then
  http=$(grep -o '"http":"[^"]*"' "$work/a.out" | head -1 | cut -d'"' -f4)
  topic=$(/usr/bin/python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen("http://'"$http"'/status"))["topics"][0]["id"])')
  /usr/bin/python3 - "$http" "$topic" "$((seconds + settle + 30))" <<'PY' &
import asyncio, sys, time, urllib.request, websockets
http, topic, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
async def main():
    async with websockets.connect("ws://%s/v1/topics/%s/events" % (http, topic)) as ws:
        end = time.time() + limit
        while time.time() < end:
            urllib.request.urlopen("http://%s/status" % http).read()
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except asyncio.TimeoutError:
                pass
asyncio.run(main())
PY
  pids+=($!)
  echo "page: WebSocket on topic ${topic:0:8}… and GET /status every 10 s against $http"
  sleep 1
fi

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
if ((use_strace)); then
  strace -c -f -p "$pid_a" -o "$work/strace.txt" &
  strace_pid=$!
fi
t0=$(date +%s.%N); c0=$(ticks "$pid_a")
sleep "$seconds"
t1=$(date +%s.%N); c1=$(ticks "$pid_a")
if ((use_strace)); then
  kill -INT "$strace_pid" 2>/dev/null || true
  wait "$strace_pid" 2>/dev/null || true
  cat "$work/strace.txt"
fi
kill -0 "$pid_a" 2>/dev/null || { echo "idle_cpu.sh: dttd a exited during the window" >&2; exit 1; }
awk -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v opts="${extra[*]:-}" -v pg="$page" 'BEGIN {
  wall = t1 - t0; cpu = c / hz;
  printf "idle dttd (%s%s): %.2f s CPU in %.1f s = %.3f%% of one core\n", opts == "" ? "defaults" : opts, pg == 1 ? ", page open" : "", cpu, wall, 100 * cpu / wall }'
