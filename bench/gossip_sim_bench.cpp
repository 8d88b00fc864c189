// Gossip simulator figures (gossip/sim.hpp): RMR, LDH, missed deliveries and view sizes for the
// standard scenarios at 100 and 1000 nodes. Usage: bench_gossip_sim_bench [seed] [max_nodes]
#include "gossip/scenarios.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <functional>

using namespace dtt::gossip;
using namespace dtt::gossip::sim;
using namespace std::chrono_literals;

namespace {

double mean_of(const std::map<size_t, size_t>& h) {
  double sum = 0, count = 0;
  for (auto [k, v] : h) {
    sum += double(k) * double(v);
    count += double(v);
  }
  return count ? sum / count : 0;
}

void row(const scenario_result& r, double wall) {
  const auto& s = r.rounds;
  fmt::print("| {:<18} | {:>5} | {:>3} | {:>6.3f} | {:>6} | {:>6.3f} | {:>5.1f} | {:>3.0f} | "
             "{:>6} | {:>4} | {:>7} | {:>7.0f} | {:>4.2f} | {:>5.1f} | {:>3} | {:>5.1f} |\n",
             r.name, r.nodes, s.rounds, s.mean.rmr,
             s.rounds > 1 ? fmt::format("{:.3f}", s.rmr_after_first) : "-", s.max.rmr, s.mean.ldh,
             s.max.ldh,
             s.missed_total, s.mean.duplicate_events, r.refused,
             std::chrono::duration<double, std::milli>(s.mean.elapsed).count(),
             mean_of(r.views.active), mean_of(r.views.passive), r.views.without_neighbors, wall);
}

} // namespace

int main(int argc, char** argv) {
  sim_config cfg;
  cfg.seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 0;
  size_t max_nodes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
  fmt::print("gossip simulator, seed {}, latency {}-{} ms per link, round timeout {} s\n\n",
             cfg.seed, cfg.latency_min / 1ms, cfg.latency_max / 1ms, cfg.round_timeout / 1s);
  fmt::print("| {:<18} | {:>5} | {:>3} | {:>6} | {:>6} | {:>6} | {:>5} | {:>3} | {:>6} | {:>4} | "
             "{:>7} | {:>7} | {:>4} | {:>5} | {:>3} | {:>5} |\n",
             "scenario", "nodes", "rnd", "RMR", "RMR>1", "RMRmax", "LDH", "max", "missed", "dup",
             "refused", "ms/rnd", "act", "pass", "iso", "wall");
  fmt::print("|{:-<20}|{:-<7}|{:-<5}|{:-<8}|{:-<8}|{:-<8}|{:-<7}|{:-<5}|{:-<8}|{:-<6}|{:-<9}|"
             "{:-<9}|{:-<6}|{:-<7}|{:-<5}|{:-<7}|\n", "", "", "", "", "", "", "", "", "", "", "",
             "", "", "", "", "");
  std::vector<std::pair<std::string, std::function<scenario_result(size_t)>>> runs = {
    {"single", [&](size_t n) { return single_sender(n, 30, cfg); }},
    {"multi", [&](size_t n) { return multiple_senders(n, 30, cfg); }},
    {"burst", [&](size_t n) { return burst(n, n >= 1000 ? 1 : 5, cfg); }},
    {"churn", [&](size_t n) { return churn(n, 10, 0.05, 2s, cfg); }},
    {"fail30", [&](size_t n) { return failure(n, 10, 0.3, 10s, cfg); }},
    {"fail50", [&](size_t n) { return failure(n, 10, 0.5, 10s, cfg); }},
  };
  std::vector<scenario_result> results;
  for (size_t n : {size_t(100), size_t(1000)}) {
    if (n > max_nodes)
      continue;
    for (auto& [name, f] : runs) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = f(n);
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      row(r, wall);
      results.push_back(std::move(r));
    }
  }
  fmt::print("\nRMR/LDH: mean over rounds (RMRmax/max: worst round); RMR>1: mean RMR of the\n"
             "rounds after the first (the first broadcast builds the tree over every link); each\n"
             "round ends {} s after its last delivery; missed: total over rounds;\n"
             "dup: duplicate Received events; refused: control messages refused by the flood\n"
             "guard over the whole run (gossip/flood_guard.hpp; honest nodes should cause none;\n"
             "each closes a connection); act/pass: mean view sizes at the end; iso: live\n"
             "nodes with no neighbour; wall: seconds of real time.\n\nview histograms (size: "
             "nodes) at the end:\n",
             std::chrono::duration<double>(cfg.round_drain).count());
  for (const auto& r : results)
    fmt::print("  {:<18} n={:<5} active {} eager {} lazy {} passive {}\n", r.name, r.nodes,
               to_string(r.views.active), to_string(r.views.eager), to_string(r.views.lazy),
               to_string(r.views.passive));
}
