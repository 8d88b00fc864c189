// gossip::id_map against std::map as a reference model, including ids that share a prefix.
#include "gossip/id_map.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

using namespace dtt;
using namespace dtt::gossip;

namespace {

message_id id_of(std::mt19937_64& r, bool shared_prefix) {
  message_id id{};
  for (auto& b : id)
    b = static_cast<uint8_t>(r());
  if (shared_prefix) // all equal but the last byte: a fixed partial hash would collide them all
    for (size_t i = 0; i < 31; ++i)
      id[i] = 0xab;
  return id;
}

} // namespace

TEST_CASE("id_map: random inserts, finds and erases agree with std::map") {
  for (uint64_t key : {uint64_t{0}, uint64_t{42}}) {
    for (bool prefix : {false, true}) {
      CAPTURE(key);
      CAPTURE(prefix);
      std::mt19937_64 r(key + (prefix ? 7 : 0));
      id_map<uint64_t> m(key);
      std::map<message_id, uint64_t> ref;
      std::vector<message_id> ids;
      size_t distinct = prefix ? 256 : 5000;
      for (size_t i = 0; i < distinct; ++i)
        ids.push_back(id_of(r, prefix));
      for (size_t step = 0; step < 40000; ++step) {
        const auto& id = ids[r() % ids.size()];
        switch (r() % 3) {
          case 0: {
            bool fresh = ref.emplace(id, step).second;
            CHECK(m.insert(id, step) == fresh);
            break;
          }
          case 1:
            CHECK(m.erase(id) == (ref.erase(id) == 1));
            break;
          default: {
            auto* v = m.find(id);
            auto it = ref.find(id);
            REQUIRE((v != nullptr) == (it != ref.end()));
            if (v)
              CHECK(*v == it->second);
          }
        }
        REQUIRE(m.size() == ref.size());
      }
      for (auto& [id, v] : ref) {
        auto* found = m.find(id);
        REQUIRE(found);
        CHECK(*found == v);
      }
    }
  }
}

TEST_CASE("id_map: erasing everything leaves an empty, reusable table") {
  std::mt19937_64 r(1);
  id_map<int> m(9);
  std::vector<message_id> ids;
  for (int i = 0; i < 10000; ++i) {
    ids.push_back(id_of(r, false));
    REQUIRE(m.insert(ids.back(), i));
  }
  CHECK_FALSE(m.insert(ids[5], 99)); // present: not replaced
  CHECK(*m.find(ids[5]) == 5);
  for (auto& id : ids)
    REQUIRE(m.erase(id));
  CHECK(m.empty());
  CHECK_FALSE(m.erase(ids[0]));
  CHECK(m.find(ids[0]) == nullptr);
  REQUIRE(m.insert(ids[0], 1));
  CHECK(*m.find(ids[0]) == 1);
}

TEST_CASE("id_hasher: the key changes the hash, and every byte of the id counts") {
  message_id a{}, b{};
  b[31] = 1;
  id_hasher h0(0), h1(1);
  CHECK(h0(a) != h1(a));
  CHECK(h0(a) != h0(b));
  CHECK(h0(a) == id_hasher(0)(a)); // a function of (key, id) only
}
