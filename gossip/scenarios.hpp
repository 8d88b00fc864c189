#pragma once

// The standard simulation scenarios (iroh-gossip's sim tests and simulations/*.toml), shared by
// tests/gossip/sim.cpp and bench/gossip_sim_bench.cpp.

#include "gossip/sim.hpp"

#include <string>

namespace dtt::gossip::sim {

/// The outcome of one scenario.
struct scenario_result {
  std::string name;
  size_t nodes = 0;            ///< live nodes at the end
  round_summary rounds;
  view_report views;           ///< after the last round
  view_report views_before;    ///< after bootstrap (before failures/churn)
  uint64_t refused = 0;        ///< messages refused as floods in the whole run (all kinds)
};

/// One node broadcasts `rounds` messages, one per round.
scenario_result single_sender(size_t n, size_t rounds, const sim_config& cfg);
/// Each round a random node broadcasts one message.
scenario_result multiple_senders(size_t n, size_t rounds, const sim_config& cfg);
/// Each round every node broadcasts one message.
scenario_result burst(size_t n, size_t rounds, const sim_config& cfg);
/// Each round `fraction` of the nodes crash and as many new nodes join a random live node;
/// after `settle` a random node broadcasts.
scenario_result churn(size_t n, size_t rounds, double fraction, duration settle,
                      const sim_config& cfg);
/// After bootstrap `fraction` of the nodes crash at once; after `settle` of repair, each round
/// a random survivor broadcasts.
scenario_result failure(size_t n, size_t rounds, double fraction, duration settle,
                        const sim_config& cfg);

} // namespace dtt::gossip::sim
