#!/usr/bin/env bash
# Issue 12: applications use only the public API. dttd (app/dttd/) and the examples
# (examples/) may include dtt's public headers ("dtt/...") and dttd its own files
# ("app/dttd/..."), nothing else of the repository; the public headers themselves include
# only each other and system/third-party headers (<...>). One exception, named here: dttd's
# option schema, config/daemon_options.hpp, is dttd's own code; it is compiled into dtt_config
# because the config fuzzer and validation tests share it.
# Usage: public_headers_only.sh <repository root>. Exit 1 listing every offending line.
set -euo pipefail
root=${1:?usage: $0 <repository root>}
cd "$root"
bad=0
check() { # file, allowed-prefix regex
  local f=$1 allowed=$2 line inc
  while IFS= read -r line; do
    inc=${line#*\"}
    inc=${inc%%\"*}
    if ! [[ $inc =~ $allowed ]]; then
      echo "$f: includes \"$inc\" (not public)"
      bad=1
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
}
n=0
for f in app/dttd/*.cpp app/dttd/*.hpp examples/*.cpp; do
  check "$f" '^(dtt/|app/dttd/|config/daemon_options\.hpp$)'
  n=$((n + 1))
done
for f in include/dtt/*.hpp; do
  check "$f" '^dtt/'
  n=$((n + 1))
done
if [ "$n" -lt 10 ]; then
  echo "only $n files checked: wrong repository root?"
  exit 1
fi
[ "$bad" -eq 0 ] && echo "public_headers_only: $n files include only public headers"
exit "$bad"
