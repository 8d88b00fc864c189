#include "crypto/clock.hpp"

#include <map>
#include <memory>
#include <mutex>

namespace dtt::crypto {

namespace {
class system_clock_source final : public wall_clock {
public:
  int64_t unix_seconds() const override {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  }
};
} // namespace

wall_clock& system_wall_clock() {
  static system_clock_source instance;
  return instance;
}

const wall_clock& system_wall_clock_offset(int64_t offset_seconds) {
  if (offset_seconds == 0)
    return system_wall_clock();
  static std::mutex mtx;
  static std::map<int64_t, std::unique_ptr<offset_wall_clock>>* clocks =
    new std::map<int64_t, std::unique_ptr<offset_wall_clock>>(); // never destroyed: see header
  std::lock_guard<std::mutex> guard{mtx};
  auto& c = (*clocks)[offset_seconds];
  if (!c)
    c = std::make_unique<offset_wall_clock>(offset_seconds);
  return *c;
}

std::optional<uint64_t> unix_minute(const wall_clock& clock, int64_t offset) {
  int64_t s = clock.unix_seconds();
  // Floor division, so that times before 1970 do not round toward zero.
  int64_t m = s / 60 - ((s % 60 != 0 && s < 0) ? 1 : 0);
  int64_t r = m + offset;
  if (r < 0)
    return std::nullopt;
  return static_cast<uint64_t>(r);
}

} // namespace dtt::crypto
