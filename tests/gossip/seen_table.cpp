// gossip::seen_table: ids and cached payloads expire by age and by the count and byte bounds.
#include "gossip/seen_table.hpp"

#include "gossip/plumtree.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::gossip;
using namespace std::chrono_literals;

namespace {

msg::gossip payload(uint8_t n, size_t size = 10) {
  bytes content(size, n);
  return msg::gossip{message_id_of(content), content, {delivery_scope::kind::swarm, n}};
}

} // namespace

TEST_CASE("seen_table: payloads leave after the cache retention, ids after the id retention") {
  time_point t0{};
  seen_table t(90s, 30s, 1000, 1u << 20, 5);
  auto a = payload(1), b = payload(2);
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
  auto a = payload(1), b = payload(2), c = payload(3), d = payload(4);
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
  auto a = payload(1);
  t.insert(a, t0);
  t.expire(t0 + 10s);
  CHECK_FALSE(t.contains(a.id));
  CHECK_FALSE(t.cached(a.id));
  CHECK(t.cache_bytes() == 0);
}
