#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace dtt::crypto {

/// Wall-clock source (UTC). Injectable so that tests and simulations choose the minute.
class wall_clock {
public:
  virtual ~wall_clock() = default;
  /// Seconds since the Unix epoch.
  virtual int64_t unix_seconds() const = 0;
};

/// The system clock.
wall_clock& system_wall_clock();

/// A clock that returns whatever it is set to (tests).
class manual_wall_clock final : public wall_clock {
public:
  explicit manual_wall_clock(int64_t seconds = 0) : seconds_(seconds) {}
  int64_t unix_seconds() const override { return seconds_; }
  void set(int64_t seconds) { seconds_ = seconds; }
  void advance(int64_t seconds) { seconds_ += seconds; }

private:
  int64_t seconds_;
};

/// The system clock shifted by a fixed number of seconds: a node that runs with a skewed clock
/// (`options::clock_offset`, dttd's `[dttd] clock-offset`), for clock-skew tests and for an
/// operator who knows the host clock is off.
class offset_wall_clock final : public wall_clock {
public:
  explicit offset_wall_clock(int64_t offset_seconds, const wall_clock& base = system_wall_clock())
    : base_(&base), offset_(offset_seconds) {}
  int64_t unix_seconds() const override { return base_->unix_seconds() + offset_; }
  /// The offset in seconds.
  int64_t offset() const noexcept { return offset_; }

private:
  const wall_clock* base_;
  int64_t offset_;
};

/// The system clock plus `offset_seconds` (the system clock itself for 0). The instance lives
/// until the process exits, so that actors which outlive their runtime for a moment may still
/// read it; one instance per distinct offset.
const wall_clock& system_wall_clock_offset(int64_t offset_seconds);

/// unix_minute(offset) = floor(seconds / 60) + offset (PROTOCOL.md §1.3). Returns nullopt where
/// the Rust code would panic (a negative result).
std::optional<uint64_t> unix_minute(const wall_clock& clock, int64_t offset = 0);

} // namespace dtt::crypto
