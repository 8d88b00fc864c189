// Issue 16: BEP 44 gets and puts on a simulated mainline DHT (tests/dht/lookup_scenario.hpp, the
// sans-IO node in virtual time): 10,000 nodes, per-pair round trips log-normal with median
// 100 ms (sigma 0.7: ~1% past 500 ms), 30% of nodes unresponsive, 2% datagram loss, churn.
// The lookup before issue 16 (lookup.adaptive = false) and the adaptive lookup run side by
// side in the same network at the same time; an oracle line gives the lower bound (the k closest
// live servers queried directly, see op_sample). Targets (issue 16, after): get p50 <= 300 ms,
// p99 <= 2 s, success >= 99%, messages <= 2x before.
// Usage: bench_dht_sim_bench [nodes=10000] [gets=400] [puts=100] [unresponsive=0.3]
//                            [loss=0.02] [churn_per_s=2]
// DTT_SIM_SEED=n runs another network (default 16).
// DTT_SIM_TAIL=1 also prints where each lookup's time went (completion::seeded, settled,
// tail_*); DTT_SIM_VARIANTS (below) adds client pools with other tunings to the same run.
#include "tests/dht/lookup_scenario.hpp"

#include <fmt/core.h>

#include <cstdlib>

using namespace dtt::dht;
using namespace dtt::dht::test;

namespace {

// DTT_SIM_VARIANTS="name:key=value,key=value;name2:..." adds client pools with other tunings
// (keys below), measured in the same run as "before" and "after".
bool set_knob(node_config& c, const std::string& key, const std::string& value) {
  auto num = std::strtod(value.c_str(), nullptr);
  auto ms = std::chrono::milliseconds(static_cast<int64_t>(num));
  if (key == "alpha")
    c.lookup.alpha = static_cast<size_t>(num);
  else if (key == "k")
    c.lookup.k = static_cast<size_t>(num);
  else if (key == "top")
    c.lookup.slots_at_top = num != 0;
  else if (key == "table_k")
    c.table.k = static_cast<size_t>(num);
  else if (key == "clean")
    c.lookup.alpha_clean = static_cast<size_t>(num);
  else if (key == "conv")
    c.lookup.converged_after = static_cast<size_t>(num);
  else if (key == "max_open")
    c.lookup.max_open_extra = static_cast<size_t>(num);
  else if (key == "slack")
    c.lookup.end_slack = static_cast<size_t>(num);
  else if (key == "sf")
    c.short_timeout_factor = num;
  else if (key == "adaptive")
    c.lookup.adaptive = num != 0;
  else if (key == "short_max")
    c.short_timeout_max = ms;
  else if (key == "short_min")
    c.short_timeout_min = ms;
  else if (key == "lookup_max")
    c.lookup_max_duration = ms;
  else
    return false;
  return true;
}

std::vector<std::pair<std::string, node_config>> parse_variants(const node_config& base,
                                                                const std::string& spec) {
  std::vector<std::pair<std::string, node_config>> out;
  size_t pos = 0;
  while (pos < spec.size()) {
    auto end = spec.find(';', pos);
    auto item = spec.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? spec.size() : end + 1;
    auto colon = item.find(':');
    node_config c = base;
    std::string name = item.substr(0, colon);
    if (colon != std::string::npos) {
      auto rest = item.substr(colon + 1);
      size_t p = 0;
      while (p < rest.size()) {
        auto e = rest.find(',', p);
        auto kv = rest.substr(p, e == std::string::npos ? std::string::npos : e - p);
        p = e == std::string::npos ? rest.size() : e + 1;
        auto eq = kv.find('=');
        if (eq == std::string::npos || !set_knob(c, kv.substr(0, eq), kv.substr(eq + 1)))
          fmt::print(stderr, "unknown knob in '{}'\n", kv);
      }
    }
    if (!name.empty())
      out.emplace_back(name, c);
  }
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (auto x : v)
    s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Where the time went: candidates at the start, time until the last of the closest answered
// and the wait after it, and the tail (failed, stalled, late) among the closest.
void report_tail(const char* what, const std::string& algo, const std::vector<op_sample>& v) {
  std::vector<double> seeded, settled, after, failed, stalled, late, disc, queried, wait;
  size_t timed_out = 0;
  for (auto& s : v) {
    seeded.push_back(static_cast<double>(s.seeded));
    settled.push_back(s.settled_ms);
    disc.push_back(s.discovered_ms);
    queried.push_back(s.queried_ms);
    wait.push_back(s.settled_ms - s.queried_ms);
    after.push_back(s.ms - s.settled_ms);
    failed.push_back(static_cast<double>(s.tail_failed));
    stalled.push_back(static_cast<double>(s.tail_stalled));
    late.push_back(static_cast<double>(s.tail_late));
    timed_out += s.timed_out;
  }
  fmt::print("  {:<4} {:<10} seeded {:4.1f}  settled p50 {:5.0f} p95 {:5.0f}  wait after p50 "
             "{:5.0f} p95 {:5.0f} ms  closer failed {:4.2f} stalled {:4.2f}  late {:4.2f}  "
             "time bound {}\n",
             what, algo, mean(seeded), percentile(settled, 50), percentile(settled, 95),
             percentile(after, 50), percentile(after, 95), mean(failed), mean(stalled),
             mean(late), timed_out);
  fmt::print("  {:<4} {:<10} last of closest: discovered p50 {:5.0f} p95 {:5.0f}  queried p50 "
             "{:5.0f} p95 {:5.0f}  answered after last queried p50 {:5.0f} p95 {:5.0f} ms\n",
             what, algo, percentile(disc, 50), percentile(disc, 95), percentile(queried, 50),
             percentile(queried, 95), percentile(wait, 50), percentile(wait, 95));
}

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
  fmt::print("  {:<4} {:<10}  p50 {:7.0f}  p95 {:7.0f}  p99 {:7.0f}  max {:7.0f} ms  "
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
  if (auto* v = std::getenv("DTT_SIM_SEED"))
    sc.net.seed = std::strtoull(v, nullptr, 10);
  if (auto* v = std::getenv("DTT_SIM_VARIANTS"))
    sc.variants = parse_variants(sc.after, v);
  fmt::print("dht_sim_bench: {} nodes, {:.0f}% unresponsive, RTT log-normal median {:.0f} ms "
             "sigma {:.1f}, {:.1f}% loss, churn {:.1f} nodes/s, {} gets + {} puts per algorithm\n",
             sc.nodes, sc.unresponsive * 100, sc.net.rtt_median_ms, sc.net.rtt_sigma,
             sc.net.loss * 100, sc.churn_per_s, sc.gets, sc.puts);
  auto r = run_lookup_scenario(sc);
  fmt::print("  network built in {:.1f} s wall; measurement {:.1f} s wall, {} datagrams "
             "delivered; at the end {} servers answering, {} not\n",
             r.build_s, r.run_s, r.packets, r.alive, r.unresponsive);
  std::vector<std::string> algos{"before", "after"};
  for (auto& [name, c] : sc.variants)
    algos.push_back(name);
  for (auto& algo : algos)
    report("get", algo, r.gets[algo], true);
  for (auto& algo : algos)
    report("put", algo, r.puts[algo], false);
  // The oracle's figures (op_sample): a lower bound for any lookup, from the same gets.
  std::vector<double> oracle_all, oracle_fastest, oracle_slack;
  for (auto& algo : algos)
    for (auto& s : r.gets[algo]) {
      oracle_all.push_back(s.oracle_all_ms);
      oracle_fastest.push_back(s.oracle_fastest_ms);
      oracle_slack.push_back(s.oracle_slack_ms);
    }
  fmt::print("  get  oracle: the {} closest live servers queried at the start, no hop: all "
             "answered p50 {:.0f} p99 {:.0f} ms; any {} of the {} closest answered p50 {:.0f} "
             "p99 {:.0f} ms (n={})\n",
             sc.after.lookup.k, percentile(oracle_all, 50), percentile(oracle_all, 99),
             sc.after.lookup.k, 2 * sc.after.lookup.k, percentile(oracle_fastest, 50),
             percentile(oracle_fastest, 99), oracle_all.size());
  fmt::print("  get  oracle: any {} of the {} closest live servers (end_slack) answered p50 "
             "{:.0f} p99 {:.0f} ms\n",
             sc.after.lookup.k, sc.after.lookup.k + sc.after.lookup.end_slack,
             percentile(oracle_slack, 50), percentile(oracle_slack, 99));
  if (std::getenv("DTT_SIM_TAIL")) {
    for (auto& algo : algos)
      report_tail("get", algo, r.gets[algo]);
    for (auto& algo : algos)
      report_tail("put", algo, r.puts[algo]);
  }
  return 0;
}
