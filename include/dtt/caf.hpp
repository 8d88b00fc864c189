#pragma once

// The CAF side of embedding dtt: the actor_system_config with dtt's message types and options.

#include "dtt/config.hpp"

#include <caf/actor_system_config.hpp>

namespace dtt {

/// Registers dtt's message types and error category on an application's own config (call it
/// before creating the actor_system).
void register_types(caf::actor_system_config& cfg);

/// An actor_system_config with dtt's message types registered, the tracker's options declared
/// ([dtt...] INI sections and --dtt.* flags, include/dtt/config.hpp) and CAF's `sharing`
/// scheduler as the default policy (an idle node then sleeps instead of polling;
/// `--scheduler.policy=stealing` or `[scheduler] policy=...` overrides it).
class system_config : public caf::actor_system_config {
public:
  system_config();
};

/// Reads the [dtt...] options from a parsed config (after cfg.parse), starting from `defaults`
/// and applying config::normalise(); unset options keep their default.
config load_config(const caf::actor_system_config& cfg, config defaults = {});

} // namespace dtt
