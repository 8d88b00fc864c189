#!/bin/bash
# Cluster figures (docs/CLUSTER.md, issue 14), on a loopback DHT testnet:
#   bench/cluster.sh BUILD_DIR formation N RUNS   time from start to a complete cluster of N
#                                                 processes: every process's time until it saw
#                                                 all N members (p50, max over processes), and
#                                                 each run's slowest process
#   bench/cluster.sh BUILD_DIR latency CALLS      request/response latency between two members
#                                                 found through dtt, and the same call over a
#                                                 middleman TLS link configured by hand
# Every process is started here and stopped by its PID; every wait has a deadline.
set -u
B=$1; what=$2
tool=$B/tests/dtt_cluster_member
port=$((20000 + RANDOM % 20000))
d=$(mktemp -d /tmp/dtt-cluster-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $d" || rm -rf "$d"; }
trap cleanup EXIT

start_testnet() {
  $B/app/dtt testnet --nodes 16 --port $port > $d/testnet.log 2>&1 & pids+=($!)
  sleep 2
}

if [ "$what" = formation ]; then
  n=$3; runs=$4; all=(); worst=()
  start_testnet
  for r in $(seq 1 $runs); do
    run=(); fifo_fds=()
    for i in $(seq 1 $n); do
      mkfifo $d/in$r.$i
      $tool --secret "bench-$r" --cluster "bench-$r" --bootstrap 127.0.0.1:$port --dir $d/m$r.$i \
            --expect $n < $d/in$r.$i > $d/out$r.$i 2>$d/err$r.$i & run+=($!); pids+=($!)
      exec {fd}>$d/in$r.$i; fifo_fds+=($fd)
    done
    for t in $(seq 1 1200); do
      done_n=$(cat $d/out$r.* 2>/dev/null | grep -c '^complete ')
      [ "$done_n" -ge "$n" ] && break
      sleep 0.1
    done
    times=$(cat $d/out$r.* | awk '/^complete /{print $2}' | sort -n)
    got=$(echo "$times" | grep -c .)
    max=$(echo "$times" | tail -1)
    echo "run $r: $got/$n complete, slowest $max ms"
    worst+=($max); all+=($times)
    for fd in "${fifo_fds[@]}"; do echo quit >&$fd; exec {fd}>&-; done
    for p in "${run[@]}"; do
      for t in $(seq 1 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
      kill $p 2>/dev/null
    done
  done
  sorted=$(printf '%s\n' "${all[@]}" | sort -n)
  cnt=$(echo "$sorted" | grep -c .)
  p50=$(echo "$sorted" | sed -n "$(( (cnt + 1) / 2 ))p")
  echo "N=$n runs=$runs: per process p50 $p50 ms, max $(echo "$sorted" | tail -1) ms;" \
       "per run (slowest process): ${worst[*]} ms"
elif [ "$what" = latency ]; then
  calls=$3
  start_testnet
  mkfifo $d/a $d/b
  $tool --secret lat --bootstrap 127.0.0.1:$port --dir $d/ma --expect 2 < $d/a > $d/oa 2>&1 & pids+=($!)
  exec {fa}>$d/a
  $tool --secret lat --bootstrap 127.0.0.1:$port --dir $d/mb --expect 2 < $d/b > $d/ob 2>&1 & pids+=($!)
  exec {fb}>$d/b
  for t in $(seq 1 300); do grep -q '^complete' $d/oa && grep -q '^actor_up\|echo' $d/oa && break; sleep 0.1; done
  sleep 1
  echo "bench $calls" >&$fa
  for t in $(seq 1 600); do grep -q '^lat ' $d/oa && break; sleep 0.1; done
  echo "found through dtt: $(grep '^lat ' $d/oa)   (n p50_us max_us)"
  echo quit >&$fa; echo quit >&$fb
  mkfifo $d/s
  $tool --secret lat --dir $d/hs --hand-server 0 < $d/s > $d/os 2>&1 & pids+=($!)
  exec {fs}>$d/s
  for t in $(seq 1 100); do grep -q '^hand-ready' $d/os && break; sleep 0.1; done
  hp=$(awk '/^hand-ready/{print $2}' $d/os)
  timeout 120 $tool --secret lat --dir $d/hc --hand-client 127.0.0.1:$hp --calls $calls > $d/oc 2>&1
  echo "configured by hand:  $(grep '^lat ' $d/oc)   (n p50_us max_us)"
  echo quit >&$fs
fi
