#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a tested build:
#   scripts/test.sh              install packages, build (RelWithDebInfo), run every test
#   scripts/test.sh --sanitize   the same with AddressSanitizer + UBSan, in build-asan/
# Extra arguments after "--" go to ctest (e.g. -- -L crypto).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build_dir=build-asan; cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DDTT_SANITIZE=ON) ;;
    --) shift; break ;;
    *) echo "usage: $0 [--sanitize] [-- ctest-args...]" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/install-deps.sh

if [ ! -d ../shared/vectors ]; then
  echo "test.sh: ../shared (spec and vectors) not found beside the repository" >&2
  exit 1
fi

cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}"
cmake --build "$build_dir" -j "$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 300 "$@"
