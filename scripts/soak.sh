#!/usr/bin/env bash
# Soak run of the fault-injection harness (issue 17; not part of ctest): 8 dttd hosts in network
# namespaces, a broadcast every 100 ms from two senders, a random fault (loss, partition,
# kill -9, SIGSTOP, clock skew) every minute, per-phase delivery, heal times, RSS and a JSON
# report at the end. Needs root (namespaces, nftables).
#
#   scripts/soak.sh            3 minutes (the short variant)
#   scripts/soak.sh 3600       1 hour
#   scripts/soak.sh 3600 30    1 hour on 30 hosts
# The seed is printed; DTT_FAULT_SEED=N repeats a schedule. The report goes to
# soak-<seed>.json in the current directory.
set -euo pipefail
report_dir=$PWD
cd "$(dirname "$0")/.."
duration=${1:-180}
nodes=${2:-8}
build=${BUILD_DIR:-build}
seed=${DTT_FAULT_SEED:-$RANDOM$RANDOM}
exec nice -n 19 /usr/bin/python3 tests/e2e/faults.py --dtt "$build/app/dtt" --dttd "$build/app/dttd" \
  --nodes "$nodes" --seed "$seed" --profile soak --duration "$duration" --fault-every 60 \
  --interval 100 --report "$report_dir/soak-$seed.json"
