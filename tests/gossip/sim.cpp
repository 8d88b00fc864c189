// Whole-swarm behaviour in the deterministic simulator (gossip/sim.hpp), at 100 nodes, against
// iroh-gossip's own bars (its tests/sim.rs): single sender LDH < 15, RMR < 0.2; multiple
// senders LDH < 18, RMR < 1; burst LDH < 30, RMR < 3; never a missed delivery.
#include "gossip/scenarios.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dtt;
using namespace dtt::gossip;
using namespace dtt::gossip::sim;
using namespace std::chrono_literals;

namespace {

void no_bugs(const scenario_result& r) {
  CHECK(r.rounds.missed_total == 0);
  CHECK(r.rounds.max.duplicate_events == 0);
  CHECK(r.views.without_neighbors == 0);
  CHECK(r.refused == 0); // honest nodes never hit the flood guard
}

} // namespace

TEST_CASE("gossip sim: no node is left without neighbours after joining") {
  sim_config cfg;
  cfg.proto.membership.shuffle_interval = 5s; // as iroh's big_hyparview
  simulator s(cfg);
  s.bootstrap(100);
  auto r = s.report();
  CHECK(r.nodes == 100);
  CHECK(r.without_neighbors == 0);
  s.run_for(30s);
  r = s.report();
  CHECK(r.without_neighbors == 0);
  // Once quiet, links are symmetric and views are full (5 active, 30 passive).
  CHECK(s.views_symmetric());
  CHECK(r.active.rbegin()->first == 5);
  CHECK(r.passive.rbegin()->first <= 30);
  size_t at_least_four = 0;
  for (auto [size, count] : r.active)
    if (size >= 4)
      at_least_four += count;
  CHECK(at_least_four >= 95);
}

TEST_CASE("gossip sim: single sender at 100 nodes") {
  auto r = single_sender(100, 30, sim_config{});
  INFO("RMR " << r.rounds.mean.rmr << " LDH " << r.rounds.mean.ldh);
  CHECK(r.rounds.mean.ldh < 15);
  CHECK(r.rounds.mean.rmr < 0.2);
  no_bugs(r);
  // A converged tree: the last rounds are almost free of redundancy.
  CHECK(r.views.eager.size() > 0);
}

TEST_CASE("gossip sim: multiple senders at 100 nodes") {
  auto r = multiple_senders(100, 30, sim_config{});
  INFO("RMR " << r.rounds.mean.rmr << " LDH " << r.rounds.mean.ldh);
  CHECK(r.rounds.mean.ldh < 18);
  CHECK(r.rounds.mean.rmr < 1);
  no_bugs(r);
}

TEST_CASE("gossip sim: burst (every node sends) at 100 nodes") {
  auto r = burst(100, 3, sim_config{});
  INFO("RMR " << r.rounds.mean.rmr << " LDH " << r.rounds.mean.ldh);
  CHECK(r.rounds.mean.ldh < 30);
  CHECK(r.rounds.mean.rmr < 3);
  no_bugs(r);
}

TEST_CASE("gossip sim: 5% churn per round loses nothing") {
  auto r = churn(100, 5, 0.05, 2s, sim_config{});
  CHECK(r.nodes == 100);
  no_bugs(r);
}

TEST_CASE("gossip sim: the swarm heals after 30% and 50% of the nodes crash") {
  for (double f : {0.3, 0.5}) {
    CAPTURE(f);
    auto r = failure(100, 5, f, 10s, sim_config{});
    CHECK(r.nodes == size_t(100 * (1 - f) + 0.5));
    no_bugs(r);
  }
}

TEST_CASE("gossip sim: the same seed gives the same run, another seed another run") {
  sim_config a;
  a.seed = 42;
  auto r1 = multiple_senders(50, 5, a);
  auto r2 = multiple_senders(50, 5, a);
  CHECK(r1.rounds.mean.rmr == r2.rounds.mean.rmr);
  CHECK(r1.rounds.mean.ldh == r2.rounds.mean.ldh);
  CHECK(r1.rounds.mean.elapsed == r2.rounds.mean.elapsed);
  CHECK(r1.views.passive == r2.views.passive);
  sim_config b;
  b.seed = 43;
  auto r3 = multiple_senders(50, 5, b);
  CHECK((r3.rounds.mean.elapsed != r1.rounds.mean.elapsed ||
         r3.views.passive != r1.views.passive));
}

TEST_CASE("gossip sim: with 2% message loss grafts still deliver almost everything") {
  sim_config cfg;
  cfg.loss = 0.02;
  auto r = multiple_senders(100, 10, cfg);
  // Lost payloads are recovered through IHave + Graft; what is lost for good is an IHave
  // and every Gossip copy together, which is rare.
  uint64_t total = r.rounds.mean.expected * r.rounds.rounds;
  CHECK(total == 990);
  CHECK(r.rounds.missed_total <= total / 50);
  CHECK(r.rounds.max.duplicate_events == 0);
}

TEST_CASE("gossip sim: a node that leaves tells its neighbours, who refill") {
  simulator s(sim_config{});
  s.bootstrap(30);
  s.run_for(5s);
  auto victim = s.random_live_node();
  auto before = s.node(victim)->neighbors(simulator::topic());
  REQUIRE_FALSE(before.empty());
  s.leave(victim);
  s.run_for(110ms); // one maximal latency: the Disconnects have arrived
  // Its former neighbours heard Disconnect(alive=false) and did not keep it as a contact
  // (it may come back later through other nodes' shuffles, until a dial to it fails).
  for (const auto& peer : before) {
    size_t i = 0;
    while (simulator::id_of(i) != peer)
      ++i;
    const auto& pv = s.node(i)->membership(simulator::topic())->passive_view();
    CHECK(std::find(pv.begin(), pv.end(), simulator::id_of(victim)) == pv.end());
  }
  s.run_for(5s);
  for (auto i : s.live_nodes()) {
    auto nb = s.node(i)->neighbors(simulator::topic());
    CHECK(std::find(nb.begin(), nb.end(), simulator::id_of(victim)) == nb.end());
  }
  CHECK(s.report().without_neighbors == 0);
}

TEST_CASE("gossip sim: refusals are counted by kind, and the swarm copes with their disconnects") {
  sim_config cfg;
  cfg.proto.membership.shuffle_interval = 1s;
  cfg.proto.flood.shuffle = {1, std::chrono::hours(1)}; // one Shuffle per peer, ever
  simulator s(cfg);
  s.bootstrap(30);
  s.run_for(10s);
  CHECK(s.refused()[2] > 0);
  for (size_t k = 0; k < s.refused().size(); ++k)
    if (k != 2)
      CHECK(s.refused()[k] == 0);
  auto r = s.gossip_round({{s.random_live_node(), bytes{1, 2, 3}}});
  CHECK(r.missed == 0);
  CHECK(s.report().without_neighbors == 0);
}
