#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the demo: installs packages, builds, then runs
# `dtt demo` (a loopback DHT testnet and 5 nodes that find each other and exchange messages).
# Arguments go to `dtt demo` (e.g. --nodes 8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)" --target dtt
exec build/app/dtt demo "$@"
