#pragma once

#include <fmt/core.h>

#include <atomic>
#include <cstdio>
#include <string>

/// dtt's logger: one line per event on stderr via fmt (Debian's CAF has its logger compiled out).
/// The level is process-wide: DTT_LOG=debug|info|warn|error|off (default warn).
namespace dtt::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// The current threshold.
level threshold() noexcept;
/// Sets the threshold.
void set_threshold(level l) noexcept;
/// Writes one line (thread-safe).
void write(level l, const std::string& line);

template <class... Ts>
void debug(const char* f, Ts&&... xs) {
  if (threshold() <= level::debug)
    write(level::debug, fmt::format(fmt::runtime(f), std::forward<Ts>(xs)...));
}
template <class... Ts>
void info(const char* f, Ts&&... xs) {
  if (threshold() <= level::info)
    write(level::info, fmt::format(fmt::runtime(f), std::forward<Ts>(xs)...));
}
template <class... Ts>
void warn(const char* f, Ts&&... xs) {
  if (threshold() <= level::warn)
    write(level::warn, fmt::format(fmt::runtime(f), std::forward<Ts>(xs)...));
}
template <class... Ts>
void error(const char* f, Ts&&... xs) {
  if (threshold() <= level::error)
    write(level::error, fmt::format(fmt::runtime(f), std::forward<Ts>(xs)...));
}

} // namespace dtt::log
