#pragma once

#include <fmt/core.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace dtt {

/// What dttd refused or survived while running (read by the exit line; these become metrics
/// later). Bad configuration and key files stop dttd before it runs, so they are not counted.
struct daemon_stats {
  std::atomic<uint64_t> events_printed{0};     ///< JSON event lines written
  std::atomic<uint64_t> binary_messages{0};    ///< received messages printed as content_b64
  std::atomic<uint64_t> event_errors{0};       ///< events dropped by an exception
  std::atomic<uint64_t> input_errors{0};       ///< stdin lines dropped by an exception
  std::atomic<uint64_t> broadcast_failures{0}; ///< stdin lines that could not be broadcast

  /// "events 12 (binary 3), event errors 0, ..." for the exit line.
  std::string summary(uint64_t suppressed_log_lines) const {
    return fmt::format("events {} (binary {}), event errors {}, input errors {}, broadcast "
                       "failures {}, suppressed log lines {}",
                       events_printed.load(), binary_messages.load(), event_errors.load(),
                       input_errors.load(), broadcast_failures.load(), suppressed_log_lines);
  }
};

} // namespace dtt
