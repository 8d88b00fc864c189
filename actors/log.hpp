#pragma once

// The actors' logger is dtt's one log writer (crypto/log.hpp): timestamped lines with a level
// and a component, a threshold from DTT_LOG or the configuration, and rate-limited warnings.
#include "crypto/log.hpp"
