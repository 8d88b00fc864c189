#include "actors/log.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace dtt::log {

namespace {

level initial_level() {
  const char* env = std::getenv("DTT_LOG");
  if (env == nullptr)
    return level::warn;
  if (std::strcmp(env, "debug") == 0)
    return level::debug;
  if (std::strcmp(env, "info") == 0)
    return level::info;
  if (std::strcmp(env, "error") == 0)
    return level::error;
  if (std::strcmp(env, "off") == 0)
    return level::off;
  return level::warn;
}

std::atomic<int>& current() {
  static std::atomic<int> value{static_cast<int>(initial_level())};
  return value;
}

const char* name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    default: return "";
  }
}

} // namespace

level threshold() noexcept { return static_cast<level>(current().load(std::memory_order_relaxed)); }

void set_threshold(level l) noexcept { current().store(static_cast<int>(l)); }

void write(level l, const std::string& line) {
  static std::mutex mtx;
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> guard{mtx};
  std::fprintf(stderr, "%lld.%03lld dtt %s: %s\n", static_cast<long long>(ms / 1000),
               static_cast<long long>(ms % 1000), name(l), line.c_str());
}

} // namespace dtt::log
