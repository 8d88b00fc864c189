#include "support/virtual_time.hpp"

#include "messages/types.hpp"

namespace dtt::test {

virtual_time_system::virtual_time_system() {
  cfg.set("scheduler.policy", caf::atom("testing"));
  register_types(cfg);
  sys = std::make_unique<caf::actor_system>(cfg);
  sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
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
