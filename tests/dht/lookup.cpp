// lookup_set (dht/lookup.hpp): stalled queries widen the lookup and are not waited for
// (issue 16, adaptive), and the behaviour before it when adaptive is off.
#include "dht/lookup.hpp"
#include "dht/routing_table.hpp"

#include "sim.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::dht;

namespace {

// Ten candidates at increasing distance from a zero target.
std::vector<node_entry> ten() {
  std::vector<node_entry> out;
  for (uint8_t i = 1; i <= 10; ++i) {
    node_id id{};
    id[0] = i;
    out.push_back({id, endpoint::v4(10, 0, 0, i, 6881)});
  }
  return out;
}

lookup_set make(bool adaptive, bool top = true, size_t converged_after = 0) {
  lookup_set::config cfg;
  cfg.alpha = 3;
  cfg.k = 4;
  cfg.adaptive = adaptive;
  cfg.slots_at_top = top;
  cfg.converged_after = converged_after;
  cfg.alpha_clean = 0;
  lookup_set s(node_id{}, cfg);
  s.add(ten());
  return s;
}

} // namespace

TEST_CASE("lookup: a stalled query frees its slot, stays open, and is not waited for") {
  auto s = make(true, false);
  auto first = s.next(100);
  REQUIRE(first.size() == 3);
  CHECK(s.next(100).empty()); // alpha in flight
  s.stalled(first[0].node.ep);
  CHECK(s.stalled_count() == 1);
  auto more = s.next(100);
  REQUIRE(more.size() == 1); // one more candidate per stall
  CHECK(more[0].node.ep == endpoint::v4(10, 0, 0, 4, 6881));
  // The others answer: the lookup ends on the 4 closest that answered, without the stalled one.
  for (auto& c : {first[1], first[2], more[0]})
    CHECK(s.responded(c.node.ep, c.node.id, {}));
  CHECK_FALSE(s.done()); // only 3 answered: a 5th candidate is queried
  auto fifth = s.next(100);
  REQUIRE(fifth.size() == 1);
  CHECK(s.responded(fifth[0].node.ep, fifth[0].node.id, {}));
  CHECK(s.done());
  CHECK(s.in_flight() == 1); // the stalled query is still open
  // A late answer still counts, and puts it first among the responders.
  CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
  CHECK(s.closest_responded(1).at(0)->node.ep == first[0].node.ep);
}

TEST_CASE("lookup: slots at the top: alpha queries stay in flight among the closest") {
  auto s = make(true);
  auto first = s.next(100);
  REQUIRE(first.size() == 3);
  CHECK(s.next(100).empty()); // alpha in flight
  s.stalled(first[0].node.ep);
  auto more = s.next(100);
  REQUIRE(more.size() == 1); // one more candidate per stall
  for (auto& c : {first[1], first[2], more[0]})
    CHECK(s.responded(c.node.ep, c.node.id, {}));
  CHECK_FALSE(s.done());
  // Three answered of k = 4: alpha queries go out at the top again (candidates 5, 6, 7).
  auto next = s.next(100);
  REQUIRE(next.size() == 3);
  CHECK(next[0].node.ep == endpoint::v4(10, 0, 0, 5, 6881));
  // The closest of them answers: the 4 closest that answered are closer than every candidate
  // still in flight, which are not waited for.
  CHECK(s.responded(next[0].node.ep, next[0].node.id, {}));
  CHECK(s.done());
  CHECK(s.in_flight() == 3); // the stalled one and 6, 7
}

TEST_CASE("lookup: a query to a candidate the lookup has passed holds no slot") {
  for (bool top : {false, true}) {
    CAPTURE(top);
    auto s = make(true, top);
    auto first = s.next(100); // 1, 2, 3
    REQUIRE(first.size() == 3);
    // 1 answers with four nodes closer than all ten: 2 and 3, still in flight, are passed.
    std::vector<node_entry> closer_nodes;
    for (uint8_t i = 1; i <= 4; ++i) {
      node_id id{};
      id[1] = i;
      closer_nodes.push_back({id, endpoint::v4(10, 0, 1, i, 6881)});
    }
    CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
    s.add(closer_nodes, 1);
    auto next = s.next(100);
    // Before: 2 and 3 hold two of the three slots. At the top: three queries to the closer.
    CHECK(next.size() == (top ? 3u : 1u));
    CHECK(next.at(0).node.ep == endpoint::v4(10, 0, 1, 1, 6881));
  }
}

TEST_CASE("lookup: once converged, up to k queries run at the top") {
  auto s = make(true, true, 2);
  auto first = s.next(100); // 1, 2, 3
  REQUIRE(first.size() == 3);
  CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
  CHECK(s.next(100).size() == 1); // one of the 4 closest answered: alpha (4 at the top)
  CHECK(s.responded(first[1].node.ep, first[1].node.id, {}));
  // Two of the 4 closest answered, nothing closer came up: converged, k = 4 at the top
  // (3, 4 in flight, then 5 and 6).
  auto burst = s.next(100);
  REQUIRE(burst.size() == 2);
  CHECK(burst[0].node.ep == endpoint::v4(10, 0, 0, 5, 6881));
}

TEST_CASE("lookup: by default a troubled lookup asks 4, and all of the k closest once one answered") {
  // Issue 16 (bench/dht_sim_bench, lookup_set::config::converged_after): alpha 4, and the
  // final burst as soon as one of the k closest answered.
  lookup_set s(node_id{}, lookup_set::config{});
  s.add(ten());
  s.mark_troubled();
  auto first = s.next(100);
  REQUIRE(first.size() == 4);
  CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
  // 2, 3, 4 in flight; 5 to 9 join them: k = 8 at the top.
  auto burst = s.next(100);
  REQUIRE(burst.size() == 5);
  CHECK(burst[0].node.ep == endpoint::v4(10, 0, 0, 5, 6881));
  CHECK(burst[4].node.ep == endpoint::v4(10, 0, 0, 9, 6881));
}

TEST_CASE("lookup: alpha_clean until the first stall, then alpha and the final burst") {
  lookup_set::config cfg;
  cfg.alpha = 5;
  cfg.alpha_clean = 2;
  cfg.k = 4;
  cfg.converged_after = 2;
  for (bool marked : {false, true}) {
    CAPTURE(marked);
    lookup_set s(node_id{}, cfg);
    s.add(ten());
    if (marked)
      s.mark_troubled(); // the node saw timeouts lately
    auto first = s.next(100);
    REQUIRE(first.size() == (marked ? 5u : 2u));
    if (marked)
      continue;
    CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
    CHECK(s.responded(first[1].node.ep, first[1].node.id, {}));
    // Converged, but no stall yet: still alpha_clean at the top (3 and 4).
    auto clean = s.next(100);
    REQUIRE(clean.size() == 2);
    s.stalled(clean[0].node.ep);
    // A stall: alpha 5 at the top (4 in flight, then 5, 6, 7, 8; 3 stalled holds no slot).
    auto wide = s.next(100);
    CHECK(wide.size() == 4);
  }
}

TEST_CASE("lookup: without adaptive, stalls change nothing and the lookup waits for all") {
  auto s = make(false);
  auto first = s.next(100);
  REQUIRE(first.size() == 3);
  s.stalled(first[0].node.ep);
  CHECK(s.stalled_count() == 0);
  CHECK(s.next(100).empty());
}

TEST_CASE("lookup: give_up ends a lookup at once and ignores late answers") {
  auto s = make(true);
  auto first = s.next(100);
  CHECK(s.responded(first[0].node.ep, first[0].node.id, {}));
  CHECK_FALSE(s.done());
  s.give_up();
  CHECK(s.done());
  CHECK(s.in_flight() == 0);
  CHECK_FALSE(s.responded(first[1].node.ep, first[1].node.id, {}));
  CHECK(s.closest_responded(8).size() == 1);
}

TEST_CASE("lookup: depth grows by one per referral") {
  auto s = make(true);
  auto first = s.next(100);
  CHECK(s.depth_of(first[0].node.ep) == 0);
  node_id near{};
  near[19] = 1;
  s.add({{near, endpoint::v4(10, 0, 1, 1, 6881)}}, 1);
  CHECK(s.depth_of(endpoint::v4(10, 0, 1, 1, 6881)) == 1);
}

TEST_CASE("routing table: a node that failed once is pinged before a replacement evicts it") {
  routing_table::config cfg;
  cfg.k = 2;
  cfg.one_per_ip = false;
  node_id own{};
  own[0] = 0x80; // far from the nodes below: their bucket never splits
  routing_table t(own, cfg);
  auto t0 = time_point{} + std::chrono::hours(1);
  std::vector<node_entry> nodes;
  for (uint8_t i = 1; i <= 3; ++i) {
    node_id id{};
    id[1] = i;
    nodes.push_back({id, endpoint::v4(10, 0, 0, i, 6881)});
  }
  CHECK(t.heard_from(nodes[0], t0, true));
  CHECK(t.heard_from(nodes[1], t0, true));
  CHECK(t.questionable(4).empty());
  t.failed(nodes[0].id);
  CHECK(t.questionable(4).empty()); // no replacement waits: nothing to decide
  t.heard_from(nodes[2], t0, false); // a candidate that only queried us waits
  REQUIRE(t.questionable(4).size() == 1);
  CHECK(t.questionable(4)[0].id == nodes[0].id);
  // It answers the ping: kept, no longer questionable.
  CHECK(t.heard_from(nodes[0], t0, true));
  CHECK(t.questionable(4).empty());
  // The candidate answers too (it waits: the bucket is full of good nodes); then the bucket
  // node fails once (questionable, pinged), and again: the replacement takes its slot.
  t.heard_from(nodes[2], t0, true);
  CHECK(t.find(nodes[2].id) == nullptr);
  t.failed(nodes[0].id);
  CHECK(t.find(nodes[0].id) != nullptr);
  CHECK(t.questionable(4).size() == 1);
  t.failed(nodes[0].id);
  CHECK(t.find(nodes[0].id) == nullptr);
  CHECK(t.find(nodes[2].id) != nullptr);
}

TEST_CASE("lookup: responders that keep listing closer nodes that never answer hold at most alpha + k queries open") {
  // Each round the first query answers with four nodes closer than every candidate (a hostile
  // or confused responder); the queries it passed never answer and are not yet timed out.
  for (bool converged : {false, true}) {
    CAPTURE(converged);
    auto s = make(true, true, converged ? 2 : 0);
    size_t max_open = 0;
    for (uint8_t round = 0; round < 12; ++round) {
      auto out = s.next(100);
      max_open = std::max(max_open, s.in_flight() - s.stalled_count());
      if (out.empty())
        break;
      std::vector<node_entry> closer;
      for (uint8_t i = 1; i <= 4; ++i) {
        node_id id{};
        id[2 + round] = i;
        closer.push_back({id, endpoint::v4(10, 1, round, i, 6881)});
      }
      CHECK(s.responded(out[0].node.ep, out[0].node.id, {}));
      s.add(closer, round + 1);
    }
    CHECK(max_open <= 3 + 4); // alpha + k
    CHECK(max_open >= 3);
  }
}

TEST_CASE("lookup: a troubled lookup ends with up to end_slack of the closest still in flight") {
  auto run = [](bool troubled, size_t slack) {
    lookup_set::config cfg;
    cfg.alpha = 6;
    cfg.k = 4;
    cfg.alpha_clean = 6;
    cfg.end_slack = slack;
    lookup_set s(node_id{}, cfg);
    s.add(ten());
    if (troubled)
      s.mark_troubled();
    // Troubled: six queries at the top (alpha); the clean phase asks the k closest only. The
    // two closest stay in flight, the others answer.
    auto asked = s.next(100);
    REQUIRE(asked.size() == (troubled ? 6u : 4u));
    CHECK(asked[0].node.id[0] == 1);
    CHECK(asked[1].node.id[0] == 2);
    for (size_t i = 2; i < asked.size(); ++i)
      CHECK(s.responded(asked[i].node.ep, asked[i].node.id, {}));
    return s.done();
  };
  // Within its slack, a troubled lookup ends on the four that answered.
  CHECK(run(true, 2));
  CHECK(run(true, 3));
  // One slow candidate more than the slack, or no slack: it waits.
  CHECK_FALSE(run(true, 1));
  CHECK_FALSE(run(true, 0));
  // A lookup that met no trouble waits for every close candidate, as before issue 16.
  CHECK_FALSE(run(false, 2));
}
