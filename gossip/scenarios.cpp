#include "gossip/scenarios.hpp"

#include <string>

namespace dtt::gossip::sim {

namespace {

bytes text(const std::string& s) { return bytes(s.begin(), s.end()); }

scenario_result finish(std::string name, simulator& s, std::vector<round_stats> rounds,
                       view_report before) {
  scenario_result r;
  r.name = std::move(name);
  r.nodes = s.live_nodes().size();
  r.rounds = summarize(rounds);
  r.views = s.report();
  r.views_before = std::move(before);
  for (auto n : s.refused())
    r.refused += n;
  return r;
}

} // namespace

scenario_result single_sender(size_t n, size_t rounds, const sim_config& cfg) {
  simulator s(cfg);
  s.bootstrap(n);
  auto before = s.report();
  size_t from = s.random_live_node();
  std::vector<round_stats> stats;
  for (size_t i = 0; i < rounds; ++i)
    stats.push_back(s.gossip_round({{from, text("m" + std::to_string(i))}}));
  return finish("single sender", s, std::move(stats), std::move(before));
}

scenario_result multiple_senders(size_t n, size_t rounds, const sim_config& cfg) {
  simulator s(cfg);
  s.bootstrap(n);
  auto before = s.report();
  std::vector<round_stats> stats;
  for (size_t i = 0; i < rounds; ++i)
    stats.push_back(s.gossip_round({{s.random_live_node(), text("m" + std::to_string(i))}}));
  return finish("multiple senders", s, std::move(stats), std::move(before));
}

scenario_result burst(size_t n, size_t rounds, const sim_config& cfg) {
  simulator s(cfg);
  s.bootstrap(n);
  auto before = s.report();
  std::vector<round_stats> stats;
  for (size_t i = 0; i < rounds; ++i) {
    std::vector<std::pair<size_t, bytes>> messages;
    for (auto id : s.live_nodes())
      messages.emplace_back(id, text(std::to_string(i) + "." + std::to_string(id)));
    stats.push_back(s.gossip_round(messages));
  }
  return finish("burst", s, std::move(stats), std::move(before));
}

scenario_result churn(size_t n, size_t rounds, double fraction, duration settle,
                      const sim_config& cfg) {
  simulator s(cfg);
  s.bootstrap(n);
  auto before = s.report();
  size_t k = static_cast<size_t>(double(n) * fraction + 0.5);
  std::vector<round_stats> stats;
  for (size_t i = 0; i < rounds; ++i) {
    s.crash_random(k);
    auto survivors = s.live_nodes();
    for (size_t j = 0; j < k; ++j)
      s.add_node({survivors[s.random().below(survivors.size())]});
    s.run_for(settle);
    stats.push_back(s.gossip_round({{s.random_live_node(), text("c" + std::to_string(i))}}));
  }
  return finish("churn " + std::to_string(int(fraction * 100 + 0.5)) + "%/round", s,
                std::move(stats), std::move(before));
}

scenario_result failure(size_t n, size_t rounds, double fraction, duration settle,
                        const sim_config& cfg) {
  simulator s(cfg);
  s.bootstrap(n);
  auto before = s.report();
  s.crash_random(static_cast<size_t>(double(n) * fraction + 0.5));
  s.run_for(settle);
  std::vector<round_stats> stats;
  for (size_t i = 0; i < rounds; ++i)
    stats.push_back(s.gossip_round({{s.random_live_node(), text("f" + std::to_string(i))}}));
  return finish(std::to_string(int(fraction * 100 + 0.5)) + "% failed", s, std::move(stats),
                std::move(before));
}

} // namespace dtt::gossip::sim
