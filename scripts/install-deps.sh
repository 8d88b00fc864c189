#!/usr/bin/env bash
# Installs the Debian 12 packages dtt needs to build, test and run its interop tests.
# Runs apt-get only when something is missing, so repeated runs are fast.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcaf-dev libsodium-dev libssl-dev openssl libboost-dev libboost-system-dev
  doctest-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  python3 python3-libtorrent python3-nacl iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
