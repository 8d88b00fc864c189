#!/usr/bin/env bash
# Installs dtt's .deb on a fresh Debian 12 (bookworm, minbase) with `apt install ./dtt_*.deb`
# and runs the installed programs (issue 13: "installs on a fresh Debian 12, dependencies
# declared"). Not part of ctest: it needs root and Debian's package registry (debootstrap
# downloads ~40 MB, apt the declared dependencies).
#
#   scripts/check-deb-fresh.sh [build-dir] [chroot-dir]
#
# build-dir (default build) is where `cpack -G DEB` runs; chroot-dir (default
# /tmp/dtt-deb12) is created with debootstrap unless it already holds a Debian system, and is
# left in place (delete it yourself). The chroot gets /proc only while the check runs.
set -euo pipefail
build=$(realpath "${1:-build}")
root=${2:-/tmp/dtt-deb12}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y debootstrap

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "== debootstrap bookworm (minbase) into $root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
fi

echo "== cpack -G DEB in $build"
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/dtt_*.deb | head -1)
echo "   $deb"
dpkg-deb -f "$deb" Depends

cp "$deb" "$root/root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc"' EXIT

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
              DEBIAN_FRONTEND=noninteractive "$@"; }
echo "== apt-get install ./$(basename "$deb") in the fresh system"
in_root apt-get update -q >/dev/null
in_root apt-get install -y -q "./root/$(basename "$deb")" | tail -3
echo "== the installed programs run"
in_root dttd --version
in_root dtt --version
in_root dttd --help > /dev/null
listing=$(in_root dpkg -L dtt)
for f in /usr/lib/systemd/system/dttd.service /usr/include/dtt/all.hpp /usr/lib/pkgconfig/dtt.pc \
         /usr/bin/dttd /usr/bin/dtt; do
  grep -qx "$f" <<<"$listing" || { echo "not in the package: $f" >&2; exit 1; }
  echo "   $f"
done
echo "== ok: $(basename "$deb") installs on a fresh Debian 12 and its programs run"
