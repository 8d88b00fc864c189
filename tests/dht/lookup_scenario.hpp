#pragma once

// Issue 16's lookup scenario on a large_sim (tests and benches only): a network of server
// nodes, a share of them unresponsive, BEP 44 items stored, then gets and puts from two pools
// of client nodes, one running the lookup before issue 16 (lookup.adaptive = false), one the
// adaptive lookup, interleaved in the same network at the same time, with churn.
#include "large_sim.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace dtt::dht::test {

/// Scenario parameters.
struct lookup_scenario_config {
  size_t nodes = 10000;      ///< server nodes
  double unresponsive = 0.3; ///< share of server nodes that answer nothing
  size_t items = 200;        ///< items stored before the measurement
  size_t gets = 400;         ///< gets per algorithm
  size_t puts = 100;         ///< puts per algorithm
  size_t clients = 16;       ///< client nodes per algorithm
  std::chrono::milliseconds join_interval{2};  ///< between two joins while building
  std::chrono::milliseconds op_interval{50};   ///< between two operations of one algorithm
  double churn_per_s = 2;    ///< nodes leaving (and as many joining) per second
  large_sim_config net{};
  node_config after{};  ///< the adaptive clients' configuration (lookup.adaptive is forced)
  /// More client pools ("name", configuration as is), measured alongside "before" and "after"
  /// in the same run (bench/dht_sim_bench compares tunings this way).
  std::vector<std::pair<std::string, node_config>> variants;
};

/// One operation's outcome.
struct op_sample {
  double ms = 0;         ///< until completion
  double first_ms = -1;  ///< get: until the first valid item (-1: none)
  bool ok = false;       ///< get: an item found; put: stored by >= 3 nodes
  size_t stored = 0;     ///< put: nodes that acknowledged
  size_t queries = 0;
  size_t hops = 0;
  size_t seeded = 0;        ///< candidates the lookup started with
  double settled_ms = 0;    ///< until the last of the closest answered (completion::settled)
  double discovered_ms = 0; ///< until the last of the closest became a candidate
  double queried_ms = 0;    ///< until the last of the closest was queried
  size_t tail_failed = 0, tail_stalled = 0, tail_late = 0;  ///< completion::tail_*
  bool timed_out = false;
  /// Reference points, not lookups (gets only): an oracle that knows the network queries, at
  /// the get's start, the k closest live servers to the target: `oracle_all_ms` until all k
  /// answered (the slowest round trip of the k), `oracle_fastest_ms` until any k of the 2k
  /// closest live servers answered (the k-th fastest round trip of the 2k). A lookup needs a
  /// few hops to find them first and then hears from k of them: these bound its time from below.
  double oracle_all_ms = 0, oracle_fastest_ms = 0;
  /// Any k of the k + end_slack closest live servers answered (the adaptive lookup's end
  /// rule, lookup_set::config::end_slack, with no hop).
  double oracle_slack_ms = 0;
};

/// Outcomes per algorithm ("before", "after").
struct lookup_scenario_result {
  std::map<std::string, std::vector<op_sample>> gets, puts;
  double build_s = 0;    ///< wall-clock seconds to build the network
  double run_s = 0;      ///< wall-clock seconds of the measurement
  uint64_t packets = 0;
  size_t alive = 0, unresponsive = 0;
};

inline crypto::signing_key scenario_key(uint64_t i) {
  bytes32 seed{};
  for (size_t b = 0; b < 8; ++b)
    seed[b] = static_cast<uint8_t>(i >> (8 * b));
  seed[31] = 0x16;
  return crypto::signing_key::from_seed(seed);
}

/// The oracle figures of op_sample for a get from `from` (k closest live servers to `target`).
inline std::array<double, 3> oracle_times(const large_sim& sim,
                                          const std::vector<large_sim::host*>& servers,
                                          const large_sim::host& from, const node_id& target,
                                          size_t k, size_t slack) {
  std::vector<large_sim::host*> live;
  for (auto* h : servers)
    if (h->alive)
      live.push_back(h);
  size_t m = std::min(live.size(), 2 * k);
  std::partial_sort(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(m), live.end(),
                    [&](const auto* a, const auto* b) { return closer(target, a->n->id(), b->n->id()); });
  std::vector<double> rtt;
  for (size_t i = 0; i < m; ++i)
    rtt.push_back(sim.rtt_ms(from.index, live[i]->index));
  if (rtt.empty())
    return {0, 0, 0};
  size_t kk = std::min(k, rtt.size());
  double all = *std::max_element(rtt.begin(), rtt.begin() + static_cast<std::ptrdiff_t>(kk));
  std::vector<double> near(rtt.begin(),
                           rtt.begin() + static_cast<std::ptrdiff_t>(std::min(k + slack, m)));
  std::nth_element(near.begin(), near.begin() + static_cast<std::ptrdiff_t>(kk - 1), near.end());
  std::nth_element(rtt.begin(), rtt.begin() + static_cast<std::ptrdiff_t>(kk - 1), rtt.end());
  return {all, rtt[kk - 1], near[kk - 1]};
}

/// Runs the scenario.
inline lookup_scenario_result run_lookup_scenario(const lookup_scenario_config& sc) {
  using namespace std::chrono;
  using host = large_sim::host;
  lookup_scenario_result res;
  large_sim sim(sc.net);
  auto wall0 = steady_clock::now();
  node_config server;
  std::vector<host*> servers;
  auto join = [&](host& h) {
    std::vector<endpoint> seeds;
    for (int s = 0; s < 12 && seeds.size() < 3 && !servers.empty(); ++s) {
      auto* peer = servers[sim.index_below(servers.size())];
      if (peer->alive && peer != &h)
        seeds.push_back(peer->ep);
    }
    if (!seeds.empty())
      sim.call(h, [&](node& n) { n.bootstrap(seeds, sim.now()); });
  };
  // Build: one join every join_interval, each from up to three earlier nodes.
  auto t = sim.now();
  for (size_t i = 0; i < sc.nodes; ++i) {
    auto& h = sim.add(server);
    join(h);
    servers.push_back(&h);
    t += sc.join_interval;
    sim.run_until(t);
  }
  sim.run_until(sim.now() + seconds(30));
  // Unresponsive nodes: gone or behind NATs, still in the others' tables.
  for (auto* h : servers)
    if (sim.uniform() < sc.unresponsive)
      sim.set_alive(*h, false);
  // Clients of both algorithms, and a publisher for the items to get.
  std::map<std::string, std::vector<host*>> clients;
  std::vector<std::pair<std::string, node_config>> pools;
  {
    node_config before;  // the lookup before issue 16: alpha 3, fixed timeouts
    before.lookup.adaptive = false;
    before.lookup.alpha = 3;
    node_config after = sc.after;
    after.lookup.adaptive = true;
    pools = {{"before", before}, {"after", after}};
    pools.insert(pools.end(), sc.variants.begin(), sc.variants.end());
  }
  for (auto& [algo, c] : pools) {
    for (size_t i = 0; i < sc.clients; ++i) {
      auto& h = sim.add(c);
      join(h);
      clients[algo].push_back(&h);
    }
  }
  auto& publisher = sim.add(server);
  join(publisher);
  sim.run_until(sim.now() + seconds(30));
  std::vector<mutable_item> items;
  for (size_t i = 0; i < sc.items; ++i)
    items.push_back(mutable_item::sign(scenario_key(i), {}, 1, bytes{'v'}));
  // A put stored by fewer than 3 nodes (or refused: the publisher runs at most max_lookups
  // commands, and its queries wait for max_in_flight) is tried again 2 s later, up to 10
  // times. Puts are paced 100 ms apart: at 50 ms the publisher's wide lookups kept more than
  // max_in_flight queries open (queries to dead nodes stay open 2 s) and its commands piled up.
  size_t published = 0;
  std::map<request_id, size_t> put_index;
  std::vector<int> tries(sc.items, 0);
  size_t calling = 0;
  std::function<void(size_t)> publish = [&](size_t i) {
    calling = i;
    auto id = sim.call(publisher, [&](node& n) {
      return n.put_mutable(items[i], std::nullopt, sim.now());
    });
    put_index[id] = i;
  };
  publisher.done_cb = [&](const completion& c) {
    auto it = put_index.find(c.id);
    size_t i = it != put_index.end() ? it->second : calling;
    if (std::getenv("DTT_SIM_DEBUG"))
      fprintf(stderr, "publish %zu: stored %zu responses %zu queries %zu timed_out %d\n", i,
              size_t{c.put.stored}, c.responses, c.queries, int(c.timed_out));
    if (c.put.stored < 3 && ++tries[i] < 10)
      sim.at(sim.now() + seconds(2), [&, i] { publish(i); });
    else
      ++published;
  };
  for (size_t i = 0; i < sc.items; ++i) // paced: a node runs at most max_lookups commands
    sim.at(sim.now() + milliseconds(100) * static_cast<int64_t>(i), [&, i] { publish(i); });
  sim.run_until(sim.now() + milliseconds(100) * static_cast<int64_t>(sc.items) + seconds(60),
                [&] { return published == sc.items; });
  res.build_s = duration<double>(steady_clock::now() - wall0).count();
  auto wall1 = steady_clock::now();

  // Measurement with churn.
  auto start = sim.now();
  auto end = start + sc.op_interval * static_cast<int64_t>(std::max(sc.gets, sc.puts) + 1);
  if (sc.churn_per_s > 0) {
    auto step = duration_cast<microseconds>(duration<double>(1.0 / sc.churn_per_s));
    for (auto ct = start + step; ct < end; ct += step) {
      sim.at(ct, [&] {
        auto* gone = servers[sim.index_below(servers.size())];
        sim.set_alive(*gone, false);
        auto& h = sim.add(server);
        join(h);
        servers.push_back(&h);
      });
    }
  }
  struct pending_op {
    time_point started;
    bool get = true;
    std::string algo;
    op_sample s;
  };
  std::map<std::pair<host*, request_id>, pending_op> open;
  std::map<std::pair<host*, request_id>, completion> early;
  size_t outstanding = 0;
  for (auto& [algo, pool] : clients) {
    for (auto* h : pool) {
      auto a = algo;
      h->item_cb = [&, h](request_id id, const mutable_item&) {
        auto it = open.find({h, id});
        if (it != open.end() && it->second.s.first_ms < 0)
          it->second.s.first_ms = duration<double, std::milli>(sim.now() - it->second.started)
                                    .count();
      };
      h->done_cb = [&, h](const completion& c) {
        auto it = open.find({h, c.id});
        if (it == open.end()) {
          early[{h, c.id}] = c;  // completed inside the call that started it
          return;
        }
        auto& op = it->second;
        op.s.ms = duration<double, std::milli>(sim.now() - op.started).count();
        op.s.queries = c.queries;
        op.s.hops = c.hops;
        op.s.stored = c.put.stored;
        op.s.seeded = c.seeded;
        op.s.settled_ms = static_cast<double>(c.settled.count()) / 1000;
        op.s.discovered_ms = static_cast<double>(c.discovered.count()) / 1000;
        op.s.queried_ms = static_cast<double>(c.queried.count()) / 1000;
        op.s.tail_failed = c.tail_failed;
        op.s.tail_stalled = c.tail_stalled;
        op.s.tail_late = c.tail_late;
        op.s.timed_out = c.timed_out;
        op.s.ok = op.get ? c.items > 0 : c.put.stored >= 3;
        if (std::getenv("DTT_SIM_DEBUG") && !op.s.ok)
          fprintf(stderr, "%s %s fail: ms %.0f responses %zu queries %zu timeouts %zu stalls %zu "
                  "hops %zu closest %zu timed_out %d stored %zu\n", op.algo.c_str(),
                  op.get ? "get" : "put", op.s.ms, c.responses, c.queries, c.timeouts, c.stalls,
                  c.hops, c.closest.size(), int(c.timed_out), size_t{c.put.stored});
        (op.get ? res.gets : res.puts)[op.algo].push_back(op.s);
        open.erase(it);
        --outstanding;
      };
    }
  }
  for (size_t i = 0; i < std::max(sc.gets, sc.puts); ++i) {
    auto ot = start + sc.op_interval * static_cast<int64_t>(i);
    for (auto& [algo, pool] : clients) {
      auto* h = pool[i % pool.size()];
      auto a = algo;
      if (i < sc.gets) {
        sim.at(ot, [&, h, a, i] {
          auto& item = items[i % items.size()];
          auto oracle = oracle_times(sim, servers, *h, item.target(), sc.after.lookup.k,
                                     sc.after.lookup.end_slack);
          auto id = sim.call(*h, [&](node& n) {
            return n.get_mutable(item.key, {}, sim.now());
          });
          op_sample s;
          s.oracle_all_ms = oracle[0];
          s.oracle_fastest_ms = oracle[1];
          s.oracle_slack_ms = oracle[2];
          open[{h, id}] = {sim.now(), true, a, s};
          ++outstanding;
          if (auto e = early.find({h, id}); e != early.end())
            h->done_cb(e->second);
        });
      }
      if (i < sc.puts) {
        sim.at(ot + sc.op_interval / 2, [&, h, a, i] {
          auto item = mutable_item::sign(scenario_key(1'000'000 + i), {}, 1, bytes{'p'});
          auto id = sim.call(*h, [&](node& n) {
            return n.put_mutable(item, std::nullopt, sim.now());
          });
          open[{h, id}] = {sim.now(), false, a, {}};
          ++outstanding;
          if (auto e = early.find({h, id}); e != early.end())
            h->done_cb(e->second);
        });
      }
    }
  }
  sim.run_until(end);
  sim.run_until(end + seconds(60), [&] { return outstanding == 0; });
  // Operations that never completed count as failures at the time bound.
  for (auto& [key, op] : open) {
    op.s.ms = duration<double, std::milli>(sim.now() - op.started).count();
    (op.get ? res.gets : res.puts)[op.algo].push_back(op.s);
  }
  res.run_s = duration<double>(steady_clock::now() - wall1).count();
  res.packets = sim.delivered();
  for (auto* h : servers)
    (h->alive ? res.alive : res.unresponsive) += 1;
  for (auto& [algo, pool] : clients)
    for (auto* h : pool)
      h->item_cb = nullptr, h->done_cb = nullptr;
  return res;
}

/// The p-th percentile (0..100) of `v` (nearest rank).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

} // namespace dtt::dht::test
