#include "config/config.hpp"

namespace dtt {

std::string config::normalise() {
  if (bootstrap.max_bootstrap_records == 0 && publisher.enabled) {
    publisher.enabled = false;
    return "max_bootstrap_records is 0: publisher disabled (read-only participant)";
  }
  return {};
}

} // namespace dtt
