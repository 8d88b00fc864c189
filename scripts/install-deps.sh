#!/usr/bin/env bash
# Installs the Debian 12 packages dtt needs to build, test and run its interop tests:
# `apt-get update` then `apt-get install -y` of the whole list, every time (apt skips what is
# already installed). Run as root or with sudo.
#
# Where the package index cannot be reached (an offline developer machine) and every package
# is already installed, it warns and goes on; anything missing is an error.
set -euo pipefail

# prometheus: only for `promtool check metrics` (tests/app/http_api.py); no smaller Debian 12
# package ships promtool (≈ 96 MB installed, the server itself is never started). systemd: for
# `systemd-analyze verify` of config/systemd/dttd.service. python3-websockets: the API test.
# chromium: the live page test (headless, tests/app/live_page.py). libminiupnpc-dev and
# libnatpmp-dev: port mapping (nat/); miniupnpd-nftables: the NAT router of tests/e2e/nat.py.
packages=(
  build-essential cmake ninja-build pkg-config git
  libcaf-dev libsodium-dev libssl-dev openssl libboost-dev libboost-system-dev
  doctest-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  python3 python3-libtorrent python3-nacl iproute2 procps nftables tmux
  python3-websockets prometheus systemd chromium
  libminiupnpc-dev libnatpmp-dev miniupnpd-nftables
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

all_installed() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

if $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; then
  echo "install-deps: ${#packages[@]} packages installed"
elif all_installed; then
  echo "install-deps: warning: apt-get failed, but every package is already installed" >&2
else
  echo "install-deps: apt-get failed and packages are missing" >&2
  exit 1
fi
