// Tracker figures on a loopback DHT testnet, with the default tracker configuration (§5):
//  - time to first neighbour of nodes 2..N when they start one after another (p50/p99/max);
//  - DHT requests per node per minute in steady state (after every node joined), next to the
//    original's figures of PROTOCOL.md §6.9.
//
//   bench_tracker [--nodes 10] [--dht-nodes 40] [--stagger-ms 500] [--steady-s 180]
#include "actors/runtime.hpp"
#include "dht/testnet.hpp"
#include "messages/atoms.hpp"
#include "messages/types.hpp"

#include <caf/all.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <thread>

using namespace dtt;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::map<std::string, uint64_t> dht_stats(caf::actor_system& sys, const dht_actor& d) {
  caf::scoped_actor self{sys};
  std::map<std::string, uint64_t> out;
  self->request(d, std::chrono::seconds(10), dht_stats_atom::value)
    .receive([&](std::map<std::string, uint64_t>& s) { out = std::move(s); },
             [&](const caf::error&) {});
  return out;
}

} // namespace

int main(int argc, char** argv) {
  size_t n = 10, dht_nodes = 40;
  int stagger_ms = 500, steady_s = 180;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) n = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dht-nodes")) dht_nodes = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--stagger-ms")) stagger_ms = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steady-s")) steady_s = std::stoi(argv[i + 1]);
  }
  n = std::max<size_t>(n, 2);

  dht::testnet_options tno;
  tno.nodes = dht_nodes;
  dht::testnet net{tno};
  if (auto st = net.start(); !st) {
    fmt::print(stderr, "testnet: {}\n", st.err().message());
    return 1;
  }

  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};

  struct member {
    std::unique_ptr<runtime> rt;
    std::unique_ptr<topic> t;
    clock_type::time_point started;
    std::optional<double> first_neighbour_s;
  };
  std::vector<member> nodes(n);
  fmt::print("tracker bench: {} nodes started {} ms apart, {}-node loopback DHT testnet, "
             "default tracker config\n", n, stagger_ms, net.size());
  auto deadline = clock_type::now() + std::chrono::seconds(120 + n * stagger_ms / 1000);
  for (size_t i = 0; i < n; ++i) {
    auto rt = start_runtime(sys, crypto::signing_key::generate(),
                             runtime_options::loopback(net.bootstrap()));
    if (!rt) {
      fmt::print(stderr, "node {}: {}\n", i + 1, rt.err().message());
      return 1;
    }
    nodes[i].rt = std::move(*rt);
    nodes[i].started = clock_type::now();
    nodes[i].t = std::make_unique<topic>(
      nodes[i].rt->internal().node->join_no_wait("bench-topic", byte_view::of(std::string("secret"))));
    // Poll for joins while waiting for the next start.
    auto next = clock_type::now() + std::chrono::milliseconds(i + 1 < n ? stagger_ms : 0);
    do {
      for (auto& m : nodes)
        if (m.t && !m.first_neighbour_s && m.t->joined(std::chrono::milliseconds(1)))
          m.first_neighbour_s = seconds_between(m.started, clock_type::now());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } while (clock_type::now() < next);
  }
  size_t joined = 0;
  while (clock_type::now() < deadline) {
    joined = 0;
    for (auto& m : nodes) {
      if (!m.first_neighbour_s && m.t->joined(std::chrono::milliseconds(1)))
        m.first_neighbour_s = seconds_between(m.started, clock_type::now());
      joined += m.first_neighbour_s ? 1 : 0;
    }
    if (joined == n)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<double> ttfn;
  for (size_t i = 1; i < n; ++i)
    if (nodes[i].first_neighbour_s)
      ttfn.push_back(*nodes[i].first_neighbour_s);
  fmt::print("time to first neighbour, nodes 2..{}: p50 {:.3f} s, p99 {:.3f} s, max {:.3f} s "
             "({}/{} joined); node 1 (waits for node 2): {:.3f} s\n",
             n, percentile(ttfn, 0.5), percentile(ttfn, 0.99), percentile(ttfn, 1.0),
             ttfn.size(), n - 1, nodes[0].first_neighbour_s.value_or(-1));
  if (joined < n) {
    fmt::print("not every node joined before the deadline; no steady-state figures\n");
    return 1;
  }

  // Steady state: DHT requests the tracker made, per node, over steady_s seconds.
  std::vector<std::map<std::string, uint64_t>> before(n), after(n);
  for (size_t i = 0; i < n; ++i)
    before[i] = dht_stats(sys, nodes[i].rt->internal().dht);
  fmt::print("steady state: measuring for {} s...\n", steady_s);
  std::this_thread::sleep_for(std::chrono::seconds(steady_s));
  for (size_t i = 0; i < n; ++i)
    after[i] = dht_stats(sys, nodes[i].rt->internal().dht);
  double minutes = steady_s / 60.0;
  auto per_minute = [&](const char* key) {
    std::vector<double> v;
    for (size_t i = 0; i < n; ++i)
      v.push_back(static_cast<double>(after[i][key] - before[i][key]) / minutes);
    return v;
  };
  auto gets = per_minute("actor_get_mutable");
  auto puts = per_minute("actor_put_mutable");
  auto packets = per_minute("packets_out");
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (auto x : v)
      s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  };
  fmt::print("per node per minute (mean / min / max over {} nodes):\n", n);
  fmt::print("  BEP 44 gets     {:6.2f} / {:6.2f} / {:6.2f}\n", mean(gets), percentile(gets, 0),
             percentile(gets, 1));
  fmt::print("  BEP 44 puts     {:6.2f} / {:6.2f} / {:6.2f}\n", mean(puts), percentile(puts, 0),
             percentile(puts, 1));
  fmt::print("  UDP packets out {:6.1f} / {:6.1f} / {:6.1f}\n", mean(packets),
             percentile(packets, 0), percentile(packets, 1));
  fmt::print("original (§6.9, defaults): publisher 1 get + 1 put every 10-60 s (~1.7 + 1.7/min), "
             "each merge 2 gets every 60-180 s (~1/min each): ~3.7 gets + ~1.7 puts per minute\n");

  for (auto& m : nodes)
    m.t.reset();
  for (auto& m : nodes)
    m.rt.reset();
  net.stop();
  return 0;
}
