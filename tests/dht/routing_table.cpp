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

TEST_CASE("the bucket holding our own id splits, far buckets stay at k") {
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

namespace {
node_entry at(uint8_t first, uint8_t last, uint16_t port, uint8_t id_byte) {
  node_id id{};
  id[0] = first;
  id[19] = id_byte;
  return {id, endpoint::v4(10, 2, 0, last, port)};
}
} // namespace

TEST_CASE("one entry per IP by default, per IP:port when configured") {
  routing_table t(node_id{});
  CHECK(t.heard_from(at(0x80, 1, 100, 1), t0, true));
  // Another id at the same IP, another port: refused, in buckets and as a candidate.
  auto r = t.heard_from(at(0x80, 1, 101, 2), t0, true);
  CHECK(r.outcome == table_outcome::address_taken);
  CHECK(t.heard_from(at(0x40, 1, 102, 3), t0, false).outcome == table_outcome::address_taken);
  CHECK(t.size() == 1);
  CHECK(t.replacement_count() == 0);
  // The same id at the same address is refreshed.
  CHECK(t.heard_from(at(0x80, 1, 100, 1), t0, true));

  routing_table::config cfg;
  cfg.one_per_ip = false;
  routing_table u(node_id{}, cfg);
  CHECK(u.heard_from(at(0x80, 1, 100, 1), t0, true));
  CHECK(u.heard_from(at(0x80, 1, 101, 2), t0, true)); // another port: another node
  CHECK(u.heard_from(at(0x80, 1, 100, 3), t0, true).outcome == table_outcome::address_taken);
  CHECK(u.size() == 2);
}

TEST_CASE("a node that only queried us waits as a candidate until it answers") {
  routing_table t(node_id{});
  auto n = at(0x80, 1, 100, 1);
  auto a = t.heard_from(n, t0, false);
  CHECK(a.outcome == table_outcome::candidate);
  CHECK(a.wanted); // its bucket has room: ping it
  CHECK(t.size() == 0);
  CHECK(t.find(n.id) == nullptr);
  CHECK(t.closest(n.id, 8).empty()); // never handed out in find_node answers
  REQUIRE(t.wanted_candidates(8).size() == 1);
  CHECK(t.heard_from(n, t0, true)); // it answered our ping
  CHECK(t.find(n.id) != nullptr);
  CHECK(t.replacement_count() == 0);
  CHECK(t.wanted_candidates(8).empty());
  // A candidate whose verification failed is dropped.
  auto m = at(0x80, 2, 100, 2);
  t.heard_from(m, t0, false);
  CHECK(t.replacement_count() == 1);
  t.failed(m.id);
  CHECK(t.replacement_count() == 0);
}

TEST_CASE("a full bucket keeps its good nodes, newcomers wait, candidates never replace") {
  routing_table t(node_id{});
  std::vector<node_entry> good;
  for (uint8_t i = 0; i < 8; ++i) {
    good.push_back(at(0x80, i, 100, i));
    REQUIRE(t.heard_from(good.back(), t0, true));
  }
  // Split once (the own-id half is empty); the far bucket is full of good nodes.
  auto late = at(0x80, 50, 100, 50);
  CHECK(t.heard_from(late, t0, true).outcome == table_outcome::candidate);
  auto asker = at(0x80, 51, 100, 51);
  auto a = t.heard_from(asker, t0, false);
  CHECK(a.outcome == table_outcome::candidate);
  CHECK_FALSE(a.wanted); // nothing to replace: no ping
  for (auto& g : good)
    CHECK(t.find(g.id) != nullptr);
  // A failing node is swapped for the confirmed newcomer, never for the unverified asker.
  t.failed(good[0].id);
  t.failed(good[0].id);
  CHECK(t.find(good[0].id) == nullptr);
  CHECK(t.find(late.id) != nullptr);
  CHECK(t.find(asker.id) == nullptr);
  t.failed(good[1].id);
  t.failed(good[1].id);
  CHECK(t.find(good[1].id) != nullptr); // only the asker is left: it must answer first
  CHECK(t.wanted_candidates(8).size() == 1);
}

TEST_CASE("a confirmed node takes its address back from a candidate or a failing node only") {
  routing_table t(node_id{});
  auto old_id = at(0x80, 1, 100, 1);
  REQUIRE(t.heard_from(old_id, t0, true));
  auto restarted = at(0x40, 1, 100, 2); // same address, new id
  CHECK(t.heard_from(restarted, t0, true).outcome == table_outcome::address_taken);
  t.failed(old_id.id); // the old id stops answering
  CHECK(t.heard_from(restarted, t0, true));
  CHECK(t.find(old_id.id) == nullptr);
  CHECK(t.find(restarted.id) != nullptr);
  // A candidate's address goes to a node that answers.
  auto cand = at(0x80, 2, 100, 3);
  t.heard_from(cand, t0, false);
  auto answering = at(0x20, 2, 100, 4);
  CHECK(t.heard_from(answering, t0, true));
  CHECK(t.replacement_count() == 0);
}

TEST_CASE("replacement caches evict candidates first and hold one entry per IP") {
  routing_table::config cfg;
  cfg.replacements = 2;
  routing_table t(node_id{}, cfg);
  for (uint8_t i = 0; i < 8; ++i)
    REQUIRE(t.heard_from(at(0x80, i, 100, i), t0, true));
  t.heard_from(at(0x80, 20, 100, 20), t0, true);  // confirmed, waits
  t.heard_from(at(0x80, 21, 100, 21), t0, false); // candidate
  CHECK(t.replacement_count() == 2);
  t.heard_from(at(0x80, 22, 100, 22), t0, false); // evicts the older candidate
  auto reps = t.replacements();
  REQUIRE(reps.size() == 2);
  CHECK(reps[0].ep.ip[3] == 20);
  CHECK(reps[1].ep.ip[3] == 22);
  t.heard_from(at(0x80, 23, 100, 23), t0, true); // confirmed: evicts the candidate
  t.heard_from(at(0x80, 24, 100, 24), t0, false); // full of confirmed nodes: refused
  reps = t.replacements();
  CHECK(reps.size() == 2);
  CHECK(reps[1].ep.ip[3] == 23);
  // The evicted candidates' addresses are free again.
  CHECK(t.heard_from(at(0x80, 21, 100, 99), t0, false).outcome == table_outcome::full);
}

TEST_CASE("BEP 42 node ids: the BEP's examples, local addresses, generation") {
  struct vec {
    uint8_t ip[4];
    const char* prefix; // first 3 bytes of the example id
    uint8_t r;
  };
  // BEP 42, "Test vectors".
  vec vs[] = {{{124, 31, 75, 21}, "5fbfbf", 1},
              {{21, 75, 31, 124}, "5a3ce9", 86},
              {{65, 23, 51, 170}, "a5d432", 22},
              {{84, 124, 73, 14}, "1b0321", 65},
              {{43, 213, 53, 83}, "e56f6c", 90}};
  test::seeded_random rng(42);
  for (auto& v : vs) {
    auto ep = endpoint::v4(v.ip[0], v.ip[1], v.ip[2], v.ip[3], 6881);
    node_id id = random_id(rng);
    auto p = *from_hex(v.prefix);
    id[0] = p[0];
    id[1] = p[1];
    id[2] = static_cast<uint8_t>((p[2] & 0xf8) | (id[2] & 7));
    id[19] = v.r;
    CHECK(bep42_valid(id, ep));
    id[1] ^= 0x10;
    CHECK_FALSE(bep42_valid(id, ep));
    CHECK(bep42_valid(bep42_id(ep, rng), ep));
  }
  CHECK(crc32c(byte_view::of("123456789")) == 0xe3069283u); // the CRC-32C check value
  node_id any{};
  for (auto* local : {"127.0.0.5:1", "10.1.2.3:1", "172.20.0.1:1", "192.168.1.1:1",
                      "169.254.0.1:1", "[::1]:1", "[fe80::1]:1", "[fd00::1]:1"}) {
    CAPTURE(local);
    CHECK(is_local_address(*endpoint::parse(local)));
    CHECK(bep42_valid(any, *endpoint::parse(local)));
  }
  for (auto* global : {"8.8.8.8:1", "172.32.0.1:1", "[2001:db8::1]:1"})
    CHECK_FALSE(is_local_address(*endpoint::parse(global)));
}

TEST_CASE("BEP 42 checks apply while active: enforce refuses, prefer trades slots") {
  test::seeded_random rng(8);
  auto global = [](uint8_t i) { return endpoint::v4(203, 0, 113, i, 6881); };
  routing_table::config enf;
  enf.id_check = node_id_check::enforce;
  routing_table e(node_id{}, enf);
  node_entry bad{random_id(rng), global(1)};
  while (bep42_valid(bad.id, bad.ep))
    bad.id = random_id(rng);
  CHECK(e.heard_from(bad, t0, true)); // checks inactive: external address unknown
  e.set_node_id_checks(true);
  node_entry bad2{random_id(rng), global(2)};
  while (bep42_valid(bad2.id, bad2.ep))
    bad2.id = random_id(rng);
  CHECK(e.heard_from(bad2, t0, true).outcome == table_outcome::bad_node_id);
  CHECK(e.heard_from({bep42_id(global(3), rng), global(3)}, t0, true));
  CHECK(e.heard_from({random_id(rng), endpoint::v4(127, 0, 0, 9, 1)}, t0, true)); // local

  // prefer: a full bucket of non-matching ids gives a slot to a matching one.
  routing_table p(node_id{});
  p.set_node_id_checks(true);
  for (uint8_t i = 0; i < 40; ++i) {
    node_entry n{random_id(rng), global(static_cast<uint8_t>(10 + i))};
    n.id[0] |= 0x80; // all in the far bucket
    if (!bep42_valid(n.id, n.ep))
      p.heard_from(n, t0, true);
  }
  REQUIRE(p.size() == 8);
  node_entry good{};
  for (uint8_t k = 100; k < 200; ++k) {
    good = {bep42_id(global(k), rng), global(k)};
    if (good.id[0] & 0x80)
      break;
  }
  REQUIRE((good.id[0] & 0x80) != 0);
  CHECK(p.heard_from(good, t0, true));
  CHECK(p.find(good.id) != nullptr);
  CHECK(p.size() == 8);
}
