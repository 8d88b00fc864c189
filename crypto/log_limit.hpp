#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

/// Sans-IO rate limiter for log lines, one budget per kind of line (e.g. "net.bad_frame"): at
/// most `lines_per_window` lines of a kind are written per window; the rest are counted and
/// reported as one "suppressed N similar lines (kind)" line when the window rolls. The caller
/// passes the time, so tests drive it with a virtual clock. Not thread-safe (the logger in
/// crypto/log.hpp holds it under its mutex).
namespace dtt::log {

/// Budgets of a rate_limiter.
struct limit_options {
  /// Lines written per kind and window (dtt's choice: a flood shows, but stays readable).
  size_t lines_per_window = 5;
  /// Length of a kind's window, from its first line (dtt's choice).
  std::chrono::milliseconds window{10000};
  /// Kinds tracked at once; lines of further kinds share the kind "other" (bounds memory).
  size_t max_kinds = 64;
};

/// Per-kind line budget with a caller-supplied clock.
class rate_limiter {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Lines of one kind that were not written during a window that has now ended.
  struct suppressed {
    std::string kind;
    uint64_t count = 0;
  };

  /// What to do with one line.
  struct decision {
    bool write = false; ///< write the line
    /// Non-zero: the kind's previous window ended with this many unwritten lines; write the
    /// "suppressed" line (before this one).
    uint64_t rolled_suppressed = 0;
    /// The kind the line is counted under ("other" when the table is full).
    std::string_view kind;
  };

  /// A limiter with the given budgets (lines_per_window 0 suppresses everything).
  explicit rate_limiter(limit_options o = {});

  /// Counts one line of `kind` at `now` and says whether to write it.
  decision admit(std::string_view kind, time_point now);

  /// Ends every window that is over at `now` and returns the kinds whose window suppressed
  /// lines (call it now and then so that a flood's summary appears after the flood stops).
  std::vector<suppressed> expire(time_point now);

  /// Lines suppressed since construction (all kinds).
  uint64_t total_suppressed() const noexcept { return total_suppressed_; }
  /// Kinds currently tracked.
  size_t kinds() const noexcept { return windows_.size(); }
  /// The budgets.
  const limit_options& options() const noexcept { return opts_; }

private:
  struct window {
    time_point start;
    size_t written = 0;
    uint64_t suppressed = 0;
  };
  limit_options opts_;
  std::map<std::string, window, std::less<>> windows_;
  uint64_t total_suppressed_ = 0;
};

} // namespace dtt::log
