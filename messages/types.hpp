#pragma once

#include <caf/actor_system_config.hpp>

namespace dtt {

/// Registers dtt's message types and its error category with a CAF config. Call once on every
/// actor_system_config that runs dtt actors (dtt::node does it for you).
void register_types(caf::actor_system_config& cfg);

} // namespace dtt
