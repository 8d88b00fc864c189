#include "dht/routing_table.hpp"

#include "sim.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::dht;

namespace {
time_point t0 = time_point{} + std::chrono::hours(1);

node_entry entry_for(const node_id& id, uint16_t port) {
  return {id, endpoint::v4(10, 1, static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port),
                           port)};
}
} // namespace

TEST_CASE("XOR distance helpers") {
  node_id a{}, b{};
  b[0] = 0x80;
  CHECK(common_prefix_bits(a, b) == 0);
  b[0] = 0x01;
  CHECK(common_prefix_bits(a, b) == 7);
  CHECK(common_prefix_bits(a, a) == 160);
  node_id c{};
  c[19] = 1;
  CHECK(closer(a, c, b));
  CHECK_FALSE(closer(a, b, c));
  test::seeded_random rng(1);
  for (int bits : {0, 5, 17, 159}) {
    auto r = random_id_with_prefix(a, bits, rng);
    CHECK(common_prefix_bits(a, r) == bits);
  }
}

TEST_CASE("the bucket holding our own id splits; far buckets stay at k") {
  test::seeded_random rng(7);
  node_id own = random_id(rng);
  routing_table t(own);
  for (uint16_t i = 0; i < 500; ++i)
    t.heard_from(entry_for(random_id(rng), static_cast<uint16_t>(1000 + i)), t0, true);
  CHECK(t.bucket_count() > 4);
  // Every bucket holds at most k nodes; the table holds far more than one bucket's worth.
  CHECK(t.size() <= t.bucket_count() * 8);
  CHECK(t.size() > 8 * 3);
  CHECK(t.replacement_count() > 0);
  // Nodes near our own id are all kept (the near buckets split to hold them).
  node_id near = own;
  near[19] ^= 1;
  CHECK(t.heard_from(entry_for(near, 9), t0, true));
  CHECK(t.find(near) != nullptr);
  CHECK_FALSE(t.heard_from(entry_for(own, 10), t0, true)); // never ourselves
}

TEST_CASE("closest() returns nodes ordered by XOR distance") {
  test::seeded_random rng(3);
  routing_table t(random_id(rng));
  std::vector<node_entry> all;
  for (uint16_t i = 0; i < 100; ++i) {
    auto e = entry_for(random_id(rng), static_cast<uint16_t>(2000 + i));
    if (t.heard_from(e, t0, true))
      all.push_back(e);
  }
  auto target = random_id(rng);
  auto got = t.closest(target, 8);
  REQUIRE(got.size() == 8);
  std::sort(all.begin(), all.end(),
            [&](const node_entry& a, const node_entry& b) { return closer(target, a.id, b.id); });
  for (size_t i = 0; i < 8; ++i)
    CHECK(got[i].id == all[i].id);
}

TEST_CASE("failing nodes are replaced from the replacement cache, then dropped") {
  node_id own{};
  routing_table t(own);
  // Fill the far bucket (first bit set) beyond k: 8 in the bucket, the rest replacements.
  std::vector<node_id> ids;
  for (uint8_t i = 0; i < 12; ++i) {
    node_id id{};
    id[0] = 0x80;
    id[19] = i;
    ids.push_back(id);
    t.heard_from(entry_for(id, static_cast<uint16_t>(100 + i)), t0, true);
  }
  // The own-id bucket split once; the far bucket has k entries and 4 replacements.
  CHECK(t.size() == 8);
  CHECK(t.replacement_count() == 4);
  t.failed(ids[0]);
  CHECK(t.find(ids[0]) != nullptr); // one failure: still there
  t.failed(ids[0]);
  CHECK(t.find(ids[0]) == nullptr); // stale: swapped for a replacement
  CHECK(t.size() == 8);
  CHECK(t.replacement_count() == 3);
  // Without replacements a node survives until max_failures.
  routing_table u(own);
  u.heard_from(entry_for(ids[1], 1), t0, true);
  for (int i = 0; i < 4; ++i)
    u.failed(ids[1]);
  CHECK(u.find(ids[1]) != nullptr);
  u.failed(ids[1]);
  CHECK(u.find(ids[1]) == nullptr);
}

TEST_CASE("a confirmed node takes the slot of a failing one in a full bucket") {
  node_id own{};
  routing_table t(own);
  std::vector<node_id> ids;
  for (uint8_t i = 0; i < 8; ++i) {
    node_id id{};
    id[0] = 0x80;
    id[19] = i;
    ids.push_back(id);
    t.heard_from(entry_for(id, static_cast<uint16_t>(100 + i)), t0, true);
  }
  t.failed(ids[3]);
  node_id fresh{};
  fresh[0] = 0x80;
  fresh[19] = 99;
  CHECK(t.heard_from(entry_for(fresh, 500), t0, true));
  CHECK(t.find(ids[3]) == nullptr);
  CHECK(t.find(fresh) != nullptr);
}

TEST_CASE("an id keeps its first address") {
  routing_table t(node_id{});
  node_id id{};
  id[0] = 0x40;
  t.heard_from(entry_for(id, 1), t0, true);
  t.heard_from(entry_for(id, 2), t0, true);
  REQUIRE(t.find(id));
  CHECK(t.find(id)->node.ep.port == 1);
}

TEST_CASE("stale buckets produce refresh targets inside the bucket") {
  test::seeded_random rng(9);
  node_id own = random_id(rng);
  routing_table t(own);
  for (uint16_t i = 0; i < 50; ++i)
    t.heard_from(entry_for(random_id(rng), static_cast<uint16_t>(i + 1)), t0, true);
  CHECK(t.refresh_targets(t0, rng).empty());
  CHECK(t.refresh_targets(t0 + std::chrono::minutes(14), rng).empty());
  auto targets = t.refresh_targets(t0 + std::chrono::minutes(16), rng);
  CHECK(targets.size() == t.bucket_count());
  for (size_t i = 0; i + 1 < targets.size(); ++i)
    CHECK(common_prefix_bits(own, targets[i]) == static_cast<int>(i));
  CHECK(t.refresh_targets(t0 + std::chrono::minutes(17), rng).empty());
}

TEST_CASE("the routing table saves and loads as id + address list") {
  test::seeded_random rng(5);
  routing_table t(random_id(rng));
  for (uint16_t i = 0; i < 40; ++i)
    t.heard_from(entry_for(random_id(rng), static_cast<uint16_t>(i + 1)), t0, true);
  auto v6 = endpoint::parse("[::1]:7000");
  t.heard_from({random_id(rng), *v6}, t0, true);
  auto saved = t.save();
  auto loaded = routing_table::load(saved);
  REQUIRE(loaded);
  auto all = t.all();
  CHECK(loaded->size() == all.size());
  for (auto& n : all)
    CHECK(std::find(loaded->begin(), loaded->end(), n) != loaded->end());
  CHECK_FALSE(routing_table::load(byte_view::of("garbage")));
  CHECK_FALSE(routing_table::load(byte_view::of("d5:nodes3:abce")));
}
