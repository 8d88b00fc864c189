#pragma once

// dtt's logger: the public part is include/dtt/log.hpp; the limiter's budgets stay internal.
#include "crypto/log_limit.hpp"
#include "dtt/log.hpp"

namespace dtt::log {

/// Replaces the budgets of the limited calls (resets their windows).
void set_limits(limit_options o);

} // namespace dtt::log
