#!/usr/bin/env bash
# Packaging (issue 13): `cmake --install` of the build tree into a temporary prefix, then an
# application built out of tree against it twice, with find_package(dtt CONFIG) (target
# dtt::dtt) and with pkg-config (dtt.pc), and run; `cpack -G DEB` makes a .deb whose control
# data and contents are checked with dpkg-deb. Usage: install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d /tmp/dtt_install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/dtt bin/dttd include/dtt/all.hpp lib/libdtt_actors.a lib/cmake/dtt/dtt-config.cmake \
         lib/pkgconfig/dtt.pc lib/systemd/system/dttd.service share/doc/dtt/dttd.ini; do
  [[ -e $prefix/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
# Nothing internal leaks into the installed headers: only include/dtt/.
[[ $(ls "$prefix/include") == dtt ]] || { echo "FAIL: headers outside include/dtt"; exit 1; }

# An application: the public API only.
mkdir -p "$work/app"
cat >"$work/app/main.cpp" <<'CPP'
#include "dtt/all.hpp"
#include <cstdio>
int main() {
  auto routers = dtt::mainline_routers();          // actors/ (links the whole stack)
  auto addrs = dtt::parse_addresses("192.0.2.1:4433");
  std::printf("%s %zu %zu\n", dtt::to_string(dtt::errc::busy), routers.size(),
              addrs ? addrs->size() : 0);
  return routers.empty() || !addrs ? 1 : 0;
}
CPP
cat >"$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(dtt_user CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(dtt 0.1 CONFIG REQUIRED)
add_executable(user main.cpp)
target_link_libraries(user PRIVATE dtt::dtt)
CMAKE
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$prefix" -G Ninja >/dev/null
cmake --build "$work/app/build" >/dev/null
out=$("$work/app/build/user")
[[ $out == "busy "* ]] || { echo "FAIL: cmake-built program printed: $out"; exit 1; }
echo "ok: find_package(dtt CONFIG) + dtt::dtt: $out"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
g++ -std=c++17 "$work/app/main.cpp" -o "$work/app/user_pc" $(pkg-config --cflags --libs dtt)
out=$("$work/app/user_pc")
[[ $out == "busy "* ]] || { echo "FAIL: pkg-config-built program printed: $out"; exit 1; }
echo "ok: pkg-config dtt: $out"

# The Debian package.
if ! command -v dpkg-deb >/dev/null; then echo "SKIP: no dpkg-deb"; exit 77; fi
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" >/dev/null)
deb=$(ls "$work"/dtt_*.deb)
info=$(dpkg-deb -I "$deb")
for dep in libcaf-core0.17 libsodium23 libssl3; do
  grep -q "Depends:.*$dep" <<<"$info" || { echo "FAIL: .deb does not depend on $dep"; echo "$info"; exit 1; }
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/dttd ./usr/bin/dtt ./usr/include/dtt/runtime.hpp ./usr/lib/systemd/system/dttd.service \
         ./usr/lib/cmake/dtt/dtt-config.cmake ./usr/lib/pkgconfig/dtt.pc; do
  grep -q " $f\$" <<<"$contents" || { echo "FAIL: $f not in the .deb"; exit 1; }
done
echo "ok: $(basename "$deb"): $(grep Depends: <<<"$info" | head -1)"
