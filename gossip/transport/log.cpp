#include "gossip/transport/log.hpp"

#include "crypto/log.hpp"

namespace dtt::net {

const char* to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::off:
      return "off";
  }
  return "?";
}

log_sink stderr_log_sink() {
  return [](log_level l, const std::string& line) {
    switch (l) {
      case log_level::debug: return log::write(log::level::debug, "net", line);
      case log_level::info: return log::write(log::level::info, "net", line);
      case log_level::warn: return log::write(log::level::warn, "net", line);
      case log_level::off: return;
    }
  };
}

} // namespace dtt::net
