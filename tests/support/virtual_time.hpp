#pragma once

// A CAF actor system on the deterministic test scheduler, with virtual time that a wall clock
// follows: the base of the actor tests that check timers of PROTOCOL.md §6 exactly.
#include "crypto/clock.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace dtt::test {

struct virtual_time_system {
  /// The wall clock starts at this unix second (a minute boundary) and follows virtual time.
  static constexpr int64_t wall_start = 29500000LL * 60;

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  crypto::manual_wall_clock clock{wall_start};
  caf::timespan elapsed{0};
  /// Called after every step with the new elapsed time (for stand-ins that log times).
  std::function<void(caf::timespan)> on_step;

  virtual_time_system();
  virtual ~virtual_time_system() = default;

  /// Runs what is due, then advances virtual time in `step`s until `d` has passed.
  void run_for(caf::timespan d, caf::timespan step = std::chrono::milliseconds(10));
  /// Actors running in the system (for lifetime checks).
  size_t running() { return sys->registry().running(); }
  /// Asks `a` for its counters (stats_atom) and runs what is due until it answered (empty if
  /// it did not).
  std::map<std::string, uint64_t> stats_of(const caf::actor& a);
};

} // namespace dtt::test
