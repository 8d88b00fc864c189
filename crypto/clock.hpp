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

/// unix_minute(offset) = floor(seconds / 60) + offset (PROTOCOL.md §1.3). Returns nullopt where
/// the Rust code would panic (a negative result).
std::optional<uint64_t> unix_minute(const wall_clock& clock, int64_t offset = 0);

} // namespace dtt::crypto
