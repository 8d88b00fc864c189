#include "gossip/transport/log.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  log_level threshold = log_level::warn;
  if (const char* env = std::getenv("DTT_LOG")) {
    for (auto l : {log_level::debug, log_level::info, log_level::warn, log_level::off})
      if (std::strcmp(env, to_string(l)) == 0)
        threshold = l;
  }
  return [threshold](log_level l, const std::string& line) {
    if (l >= threshold && l != log_level::off)
      fmt::print(stderr, "dtt.net {}: {}\n", to_string(l), line);
  };
}

} // namespace dtt::net
