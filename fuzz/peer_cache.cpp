// Fuzz target for the peer cache file decoder (actors/peer_cache.hpp).
// Built by fuzz/CMakeLists.txt: a libFuzzer binary with -DDTT_FUZZ=ON (clang), else the replay
// driver (fuzz/driver.cpp) over fuzz/corpus/peer_cache/.
// Properties checked (abort on violation):
//  - decode never throws and never accepts more than max_entries entries;
//  - what decodes re-encodes to bytes that decode to the same entries.

#include "actors/peer_cache.hpp"

#include <cstdio>
#include <cstdlib>

using namespace dtt;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_peer_cache: property violated: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto got = peer_cache::decode(byte_view{data, size});
  if (!got)
    return 0;
  if (got->size() > peer_cache::max_entries)
    violated("more than max_entries entries");
  auto again = peer_cache::decode(peer_cache::encode(*got));
  if (!again)
    violated("re-encoded cache does not decode");
  if (!(*again == *got))
    violated("re-encoded cache decodes differently");
  return 0;
}
