#!/usr/bin/env bash
# End-to-end test on network namespaces this script creates and removes itself (the original's
# Docker e2e, without Docker): host 0 serves a DHT testnet, hosts 1..N each run one `dttd` that
# joins the topic knowing only its name, the secret and the DHT bootstrap address. Every node
# must get a neighbour, broadcast one line, and receive every other node's line before the
# deadline. Exit 0 on success, 1 on failure, 77 when namespaces cannot be made (not root, no
# `ip netns`): ctest reports that as skipped.
#
# The hosts sit on one bridge inside a namespace of their own, on 10.231.0.0/24; no interface of
# the caller's namespace is touched and no packet leaves the namespaces.
#
# usage: netns.sh <dtt binary> <dttd binary> [nodes (default 5)] [deadline seconds (default 90)]
set -u

dtt_bin=${1:?dtt binary}
dttd_bin=${2:?dttd binary}
nodes=${3:-5}
deadline_s=${4:-90}
tag="dtt$$"
subnet="10.231.0"
dht_port=16881
dht_nodes=16

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2 for network namespaces"
  exit 77
fi
if ! ip netns add "${tag}sw" 2>/dev/null; then
  echo "SKIP: cannot create a network namespace here"
  exit 77
fi
# `ip netns exec` also needs to remount / and /sys (it cannot inside a plain chroot).
if ! ip netns exec "${tag}sw" true 2>/dev/null; then
  ip netns del "${tag}sw" 2>/dev/null
  echo "SKIP: cannot enter a network namespace here (ip netns exec failed)"
  exit 77
fi

work=$(mktemp -d /tmp/dtt-e2e.XXXXXX)
namespaces=("${tag}sw")
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  local until=$((SECONDS + 5))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < until)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*"
  for i in $(seq 1 "$nodes"); do
    echo "--- node $i: last events"
    tail -n 5 "$work/out$i" 2>/dev/null
    echo "--- node $i: last log lines"
    tail -n 15 "$work/err$i" 2>/dev/null
  done
  echo "--- DHT testnet"
  tail -n 5 "$work/testnet.err" 2>/dev/null
  exit 1
}

# Topology: one bridge in the switch namespace, one veth pair per host.
ip -n "${tag}sw" link add br0 type bridge || fail "bridge"
ip -n "${tag}sw" link set br0 up
ip -n "${tag}sw" link set lo up
for i in $(seq 0 "$nodes"); do
  ns="${tag}h$i"
  ip netns add "$ns" || fail "namespace $ns"
  namespaces+=("$ns")
  ip link add "v${tag}$i" netns "${tag}sw" type veth peer name eth0 netns "$ns" || fail "veth $i"
  ip -n "${tag}sw" link set "v${tag}$i" master br0 up
  ip -n "$ns" addr add "$subnet.$((10 + i))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

start=$SECONDS
deadline=$((SECONDS + deadline_s))

# Host 0: the DHT testnet.
ip netns exec "${tag}h0" "$dtt_bin" testnet --nodes "$dht_nodes" --port "$dht_port" \
  --address "$subnet.10" >"$work/testnet.out" 2>"$work/testnet.err" &
pids+=($!)
lines() { cat "$1" 2>/dev/null | wc -l; }
while (($(lines "$work/testnet.out") < dht_nodes)); do
  ((SECONDS < deadline)) || fail "DHT testnet not ready"
  kill -0 "${pids[0]}" 2>/dev/null || fail "DHT testnet exited"
  sleep 0.2
done
bootstrap=$(head -n 4 "$work/testnet.out" | sed 's/.*/"&"/' | paste -sd, -)
# Never let a node fall back to the public DHT routers: no bootstrap list, no test.
[[ $bootstrap == *"$subnet.10:"* ]] || fail "no bootstrap addresses from the testnet"
echo "DHT testnet of $dht_nodes nodes ready on $subnet.10 after $((SECONDS - start)) s"

# Hosts 1..N: one dttd each, configured only with the topic, the secret and the bootstrap.
for i in $(seq 1 "$nodes"); do
  cat >"$work/node$i.ini" <<EOF
[dttd]
topic="e2e-topic"
secret="e2e-secret-$tag"
[dttd.dht]
bootstrap=[$bootstrap]
[dtt.publisher]
initial-delay=2s
[dtt.bubble-merge]
initial-interval=3s
base-interval=3s
max-jitter=2s
EOF
  mkfifo "$work/in$i"
  DTT_LOG=info ip netns exec "${tag}h$i" "$dttd_bin" --config-file="$work/node$i.ini" \
    <"$work/in$i" >"$work/out$i" 2>"$work/err$i" &
  pids+=($!)
  # Hold the write end open so that dttd's stdin stays open until we exit.
  eval "exec {fd$i}>\"$work/in$i\""
done

# Gossip delivers to the members connected when a message is sent; nodes that joined in separate
# clusters see each other only after bubble merge joins them. So, like an application that
# needs every member to hear it, each node repeats its hello (with a new try number, so that
# it is a new message) every 3 s until every other node has it.
declare -A joined_at last_sent tries
heard() { # heard <receiver> <sender>: did the receiver get any hello from the sender?
  grep '"event":"received"' "$work/out$1" | grep -q "hello from node $2 "
}
while :; do
  done_nodes=0
  for i in $(seq 1 "$nodes"); do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "dttd on host $i exited"
    if [[ -z ${joined_at[$i]:-} ]] && grep -q '"event":"neighbor_up"' "$work/out$i"; then
      joined_at[$i]=$((SECONDS - start))
      echo "node $i: first neighbour after ${joined_at[$i]} s"
    fi
    [[ -n ${joined_at[$i]:-} ]] || continue
    complete=1
    for j in $(seq 1 "$nodes"); do
      ((j == i)) || heard "$j" "$i" || complete=0
    done
    if ((!complete && SECONDS - ${last_sent[$i]:--100} >= 3)); then
      tries[$i]=$((${tries[$i]:-0} + 1))
      fdvar="fd$i"
      echo "hello from node $i (try ${tries[$i]})" >&"${!fdvar}"
      last_sent[$i]=$SECONDS
    fi
    ((complete)) && done_nodes=$((done_nodes + 1))
  done
  ((done_nodes == nodes)) && break
  ((SECONDS < deadline)) || fail "deadline of $deadline_s s passed with $done_nodes/$nodes nodes complete"
  sleep 0.25
done

total_tries=0
for i in $(seq 1 "$nodes"); do total_tries=$((total_tries + ${tries[$i]:-0})); done
echo "PASS: $nodes nodes in separate namespaces joined and exchanged every message in" \
  "$((SECONDS - start)) s ($total_tries hello(s) sent for $nodes needed)"
exit 0
