#include "support/virtual_time.hpp"

#include "messages/atoms.hpp"
#include "messages/types.hpp"

#include <caf/event_based_actor.hpp>

namespace dtt::test {

virtual_time_system::virtual_time_system() {
  cfg.set("scheduler.policy", caf::atom("testing"));
  register_types(cfg);
  sys = std::make_unique<caf::actor_system>(cfg);
  sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
}

std::map<std::string, uint64_t> virtual_time_system::stats_of(const caf::actor& a) {
  auto got = std::make_shared<std::map<std::string, uint64_t>>();
  sys->spawn(
    [](caf::event_based_actor* self, caf::actor a,
       std::shared_ptr<std::map<std::string, uint64_t>> got) {
      self->request(a, caf::infinite, stats_atom::value)
        .then([got](const std::map<std::string, uint64_t>& m) { *got = m; });
    },
    a, got);
  sched->run();
  return *got;
}

void virtual_time_system::run_for(caf::timespan d, caf::timespan step) {
  auto end = elapsed + d;
  while (elapsed < end) {
    sched->run();
    sched->advance_time(step);
    elapsed += step;
    clock.set(wall_start + std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
    if (on_step)
      on_step(elapsed);
    sched->run();
  }
}

} // namespace dtt::test
