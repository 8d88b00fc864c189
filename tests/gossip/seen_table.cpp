// gossip::seen_table: ids and cached payloads expire by age and by the count and byte bounds.
#include "gossip/seen_table.hpp"

#include "gossip/plumtree.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <vector>

using namespace dtt;
using namespace dtt::gossip;
using namespace std::chrono_literals;

namespace {

msg::gossip gossip_payload(uint8_t n, size_t size = 10) {
  bytes content(size, n);
  return msg::gossip{message_id_of(content), content, {delivery_scope::kind::swarm, n}};
}

} // namespace

TEST_CASE("seen_table: payloads leave after the cache retention, ids after the id retention") {
  time_point t0{};
  seen_table t(90s, 30s, 1000, 1u << 20, 5);
  auto a = gossip_payload(1), b = gossip_payload(2);
  t.insert(a, t0);
  t.insert(b, t0 + 10s);
  t.insert(a, t0 + 20s); // known: nothing changes
  CHECK(t.size() == 2);
  CHECK(t.cache_size() == 2);
  CHECK(t.cache_bytes() == 20);
  REQUIRE(t.cached(a.id));
  CHECK(*t.cached(a.id) == a);

  t.expire(t0 + 30s); // a's payload is 30 s old
  CHECK_FALSE(t.cached(a.id));
  REQUIRE(t.cached(b.id));
  CHECK(t.cached(b.id)->scope.round == 2);
  CHECK(t.cache_size() == 1);
  CHECK(t.cache_bytes() == 10);
  CHECK(t.contains(a.id));

  t.expire(t0 + 89s);
  CHECK(t.size() == 2);
  t.expire(t0 + 90s); // a's id is 90 s old
  CHECK_FALSE(t.contains(a.id));
  CHECK(t.contains(b.id));
  t.expire(t0 + 100s);
  CHECK(t.size() == 0);
  CHECK(t.cache_size() == 0);
  CHECK(t.cache_bytes() == 0);
}

TEST_CASE("seen_table: the byte bound drops the oldest payloads, the count bound the oldest ids") {
  time_point t0{};
  seen_table t(90s, 30s, 3, 25, 0);
  auto a = gossip_payload(1), b = gossip_payload(2), c = gossip_payload(3), d = gossip_payload(4);
  t.insert(a, t0);
  t.insert(b, t0);
  CHECK(t.cache_bytes() == 20);
  t.insert(c, t0); // 30 bytes > 25: a's payload goes, its id stays
  CHECK(t.cache_bytes() == 20);
  CHECK_FALSE(t.cached(a.id));
  CHECK(t.cached(b.id));
  CHECK(t.contains(a.id));
  t.insert(d, t0); // 4 ids > 3: a's id goes too; b's payload for the bytes
  CHECK_FALSE(t.contains(a.id));
  CHECK(t.size() == 3);
  CHECK_FALSE(t.cached(b.id));
  CHECK(t.cached(c.id));
  CHECK(t.cached(d.id));
  CHECK(t.cache_bytes() == 20);
}

TEST_CASE("seen_table: a cache retention longer than the id retention ends with the id") {
  time_point t0{};
  seen_table t(10s, 60s, 100, 1000, 0);
  auto a = gossip_payload(1);
  t.insert(a, t0);
  t.expire(t0 + 10s);
  CHECK_FALSE(t.contains(a.id));
  CHECK_FALSE(t.cached(a.id));
  CHECK(t.cache_bytes() == 0);
}

namespace {

message_id random_id(std::mt19937_64& rng) {
  message_id id{};
  for (size_t i = 0; i < id.size(); i += 8) {
    uint64_t w = rng();
    std::memcpy(id.data() + i, &w, 8);
  }
  return id;
}

} // namespace

// The index keeps no ids, only tags and the low 32 bits of sequence numbers: checked against a
// reference map through inserts and oldest-first erases, across the 2^32 wrap of the low bits.
TEST_CASE("seen_index: finds what was indexed, across the 2^32 wrap, after shifts and shrinks") {
  std::mt19937_64 rng(42);
  const uint64_t start = (uint64_t{1} << 32) - 3000; // the low 32 bits wrap after 3000 entries
  std::deque<message_id> ids;                        // ids[seq - first]
  uint64_t first = start;
  auto id_of = [&](uint64_t seq) -> const message_id& { return ids.at(seq - first); };
  seen_index index(7);
  std::map<message_id, uint64_t> ref;
  std::vector<message_id> gone;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 2000; ++i) { // insert 2000
      auto id = random_id(rng);
      uint64_t seq = first + ids.size();
      REQUIRE(index.insert(id, seq, first, id_of));
      ids.push_back(id);
      CHECK_FALSE(index.insert(id, seq + 1, first, id_of)); // present: not twice
      ref[id] = seq;
    }
    for (int i = 0; i < 1500; ++i) { // drop the 1500 oldest
      REQUIRE(index.erase(ids.front(), first, id_of));
      ref.erase(ids.front());
      gone.push_back(ids.front());
      ids.pop_front();
      ++first;
    }
    REQUIRE(index.size() == ref.size());
    for (auto& [id, seq] : ref) {
      auto found = index.find(id, first, id_of);
      REQUIRE(found);
      CHECK(*found == seq);
    }
    for (auto& id : gone)
      CHECK_FALSE(index.find(id, first, id_of));
    gone.clear();
  }
  CHECK(first > (uint64_t{1} << 32)); // the wrap was crossed
  for (int i = 0; i < 100; ++i)
    CHECK_FALSE(index.find(random_id(rng), first, id_of));
  // Emptied oldest first, the table gives its memory back (load never below 1/8 past 16).
  while (!ids.empty()) {
    REQUIRE(index.erase(ids.front(), first, id_of));
    ids.pop_front();
    ++first;
  }
  CHECK(index.size() == 0);
  CHECK(index.capacity() <= 16);
}

TEST_CASE("seen_table: the id index costs 8 bytes a slot, at most 4 slots an id") {
  seen_table t(90s, 30s, 1u << 20, 1u << 20, 3);
  time_point t0{};
  for (uint32_t i = 0; i < 5000; ++i) {
    bytes content(8);
    std::memcpy(content.data(), &i, 4);
    t.insert(msg::gossip{message_id_of(content), content, {delivery_scope::kind::swarm, 0}}, t0);
  }
  CHECK(t.size() == 5000);
  CHECK(t.index_capacity() >= 2 * 5000); // load at most 1/2
  CHECK(t.index_capacity() <= 4 * 5000); // and at least 1/4 after growth
}

TEST_CASE("fetch_ahead: each later item once, never the current one") {
  for (size_t n : {0, 1, 2, 5, 20})
    for (size_t ahead : {1, 4, 8}) {
      std::vector<int> fetched(n, 0);
      for (size_t i = 0; i < n; ++i) {
        gossip::fetch_ahead(i, n, ahead, [&](size_t j) {
          CHECK(j > i);
          CHECK(j <= i + ahead);
          ++fetched[j];
        });
      }
      for (size_t j = 0; j < n; ++j)
        CHECK(fetched[j] == (j == 0 ? 0 : 1));
    }
}
