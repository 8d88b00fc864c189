#!/usr/bin/env bash
# config/systemd/dttd.service passes `systemd-analyze verify` with ExecStart pointing at the
# dttd under test, and keeps the hardening the issue asks for. Exit 77: no systemd-analyze.
set -euo pipefail
unit=$1 dttd=$2
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
work=$(mktemp -d /tmp/dtt_unit.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/dttd|$dttd|" "$unit" >"$work/dttd.service"
systemd-analyze verify "$work/dttd.service"
for key in DynamicUser=yes StateDirectory=dttd ProtectSystem=strict NoNewPrivileges=yes \
           ProtectHome=yes PrivateTmp=yes RestartPreventExitStatus=2; do
  grep -qx "$key" "$unit" || { echo "missing $key"; exit 1; }
done
echo "ok: $unit verifies"
