#pragma once

#include "crypto/error.hpp"

#include <caf/error.hpp>
#include <caf/make_message.hpp>

// dtt::errc is dtt's one error category in CAF ("dtt"); register its renderer with
// dtt::register_types(cfg) (messages/types.hpp).
CAF_ERROR_CODE_ENUM(dtt::errc, "dtt")

namespace dtt {

/// Converts a dtt::error into a caf::error carrying the human-readable line as context.
inline caf::error to_caf_error(const error& e) {
  return caf::make_error(e.code, e.what);
}

} // namespace dtt
