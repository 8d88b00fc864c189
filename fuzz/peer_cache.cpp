// Fuzz target: the peer-cache file parser (actors/peer_cache.hpp), which a node reads from its
// state directory when it (re)joins a topic.
//
// Checked besides "no crash, no sanitizer report":
// - what decodes obeys the documented bounds: at most 64 entries, ids valid Ed25519 points and
//   distinct, 0 <= last_seen <= 2^53, at most 8 addresses each, every address a valid literal
//   with a port;
// - decode(encode(decode(x))) == decode(x) and encode() is stable over decode, and the input
//   decodes byte for byte when it is already in encode()'s form;
// - a max_size below the input size gives errc::too_large;
// - merge() of the decoded entries keeps at most `bound` distinct ids, most recent first.
#include "actors/peer_cache.hpp"
#include "check.hpp"
#include "crypto/ed25519.hpp"

#include <algorithm>
#include <cstdint>
#include <set>

using namespace dtt;
using dtt::fuzz::is_ip_literal;
using dtt::fuzz::require;

namespace {

constexpr const char* target = "fuzz_peer_cache";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view in(data, size);
  auto entries = peer_cache::decode(in);
  if (size > 0) {
    auto small = peer_cache::decode(in, size - 1);
    require(!small && small.err().code == errc::too_large, target,
            "max_size below the input size is not errc::too_large");
  }
  if (!entries)
    return 0;
  require(entries->size() <= peer_cache::max_entries, target, "more than 64 entries decoded");
  std::set<gossip::endpoint_id> ids;
  for (auto& e : *entries) {
    require(ids.insert(e.id).second, target, "an id decoded twice");
    require(crypto::is_valid_public_key(e.id), target, "an id that is not a valid key decoded");
    require(e.last_seen >= 0 && e.last_seen <= (int64_t{1} << 53), target,
            "a time outside [0, 2^53] decoded");
    require(e.addresses.size() <= peer_cache::max_addresses, target, "too many addresses");
    for (auto& a : e.addresses)
      require(a.port != 0 && is_ip_literal(a.ip), target, "a bad address decoded");
  }
  auto enc = peer_cache::encode(*entries);
  auto again = peer_cache::decode(enc);
  require(again.ok(), target, "encode(decode(x)) does not decode");
  require(*again == *entries, target, "decode(encode(decode(x))) != decode(x)");
  require(peer_cache::encode(*again) == enc, target, "encode is not stable over decode");

  auto merged = peer_cache::merge(*entries, {}, 0, 1 + size % peer_cache::max_entries);
  require(merged.size() <= 1 + size % peer_cache::max_entries, target, "merge exceeds bound");
  std::set<gossip::endpoint_id> mids;
  for (size_t i = 0; i < merged.size(); ++i) {
    require(mids.insert(merged[i].id).second, target, "merge repeats an id");
    require(ids.count(merged[i].id) == 1, target, "merge invents an id");
    if (i > 0)
      require(merged[i - 1].last_seen >= merged[i].last_seen, target,
              "merge is not most recent first");
  }
  return 0;
}
