// Issue 16: BEP 44 gets and puts on a simulated mainline DHT (tests/dht/lookup_scenario.hpp, the
// sans-IO node in virtual time): 10,000 nodes, per-pair round trips log-normal with median
// 100 ms (sigma 0.7: ~1% past 500 ms), 30% of nodes unresponsive, 2% datagram loss, churn.
// The lookup before issue 16 (lookup.adaptive = false) and the adaptive lookup run side by
// side in the same network at the same time. Targets (issue 16, after): get p50 <= 300 ms,
// p99 <= 2 s, success >= 99%, messages <= 2x before.
// Usage: bench_dht_sim_bench [nodes=10000] [gets=400] [puts=100] [unresponsive=0.3]
//                            [loss=0.02] [churn_per_s=2]
#include "tests/dht/lookup_scenario.hpp"

#include <fmt/core.h>

#include <cstdlib>

using namespace dtt::dht::test;

namespace {

void report(const char* what, const std::string& algo, const std::vector<op_sample>& v,
            bool get) {
  std::vector<double> ms, first, queries, hops;
  size_t ok = 0;
  double stored = 0;
  for (auto& s : v) {
    ms.push_back(s.ms);
    if (s.first_ms >= 0)
      first.push_back(s.first_ms);
    queries.push_back(static_cast<double>(s.queries));
    hops.push_back(static_cast<double>(s.hops));
    ok += s.ok;
    stored += static_cast<double>(s.stored);
  }
  double n = v.empty() ? 1 : static_cast<double>(v.size());
  double msgs = 0, hop = 0;
  for (auto q : queries)
    msgs += q;
  for (auto h : hops)
    hop += h;
  fmt::print("  {:<4} {:<6}  p50 {:7.0f}  p95 {:7.0f}  p99 {:7.0f}  max {:7.0f} ms  "
             "ok {:6.2f}%  msgs {:5.1f}  hops {:4.2f}",
             what, algo, percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
             percentile(ms, 100), 100.0 * static_cast<double>(ok) / n, msgs / n, hop / n);
  if (get)
    fmt::print("  first item p50 {:5.0f} p99 {:6.0f} ms", percentile(first, 50),
               percentile(first, 99));
  else
    fmt::print("  stored {:4.2f}", stored / n);
  fmt::print("  (n={})\n", v.size());
}

} // namespace

int main(int argc, char** argv) {
  lookup_scenario_config sc;
  if (argc > 1)
    sc.nodes = std::strtoul(argv[1], nullptr, 10);
  if (argc > 2)
    sc.gets = std::strtoul(argv[2], nullptr, 10);
  if (argc > 3)
    sc.puts = std::strtoul(argv[3], nullptr, 10);
  if (argc > 4)
    sc.unresponsive = std::strtod(argv[4], nullptr);
  if (argc > 5)
    sc.net.loss = std::strtod(argv[5], nullptr);
  if (argc > 6)
    sc.churn_per_s = std::strtod(argv[6], nullptr);
  if (auto* a = std::getenv("DTT_SIM_ALPHA"))
    sc.after.lookup.alpha = std::strtoul(a, nullptr, 10);
  if (auto* a = std::getenv("DTT_SIM_SHORT_MAX_MS"))
    sc.after.short_timeout_max = std::chrono::milliseconds(std::strtol(a, nullptr, 10));
  fmt::print("dht_sim_bench: {} nodes, {:.0f}% unresponsive, RTT log-normal median {:.0f} ms "
             "sigma {:.1f}, {:.1f}% loss, churn {:.1f} nodes/s, {} gets + {} puts per algorithm\n",
             sc.nodes, sc.unresponsive * 100, sc.net.rtt_median_ms, sc.net.rtt_sigma,
             sc.net.loss * 100, sc.churn_per_s, sc.gets, sc.puts);
  auto r = run_lookup_scenario(sc);
  fmt::print("  network built in {:.1f} s wall; measurement {:.1f} s wall, {} datagrams "
             "delivered; at the end {} servers answering, {} not\n",
             r.build_s, r.run_s, r.packets, r.alive, r.unresponsive);
  for (const char* algo : {"before", "after"})
    report("get", algo, r.gets[algo], true);
  for (const char* algo : {"before", "after"})
    report("put", algo, r.puts[algo], false);
  return 0;
}
