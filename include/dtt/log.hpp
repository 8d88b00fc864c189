#pragma once

#include "dtt/errors.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

/// Public (include/dtt/log.hpp): an application sets the threshold and sink, and may write its own
/// lines through the same writer (dttd does). Formatting uses {fmt} (libfmt-dev).
///
/// dtt's one log writer (Debian's CAF has its logger compiled out). Every line is
///
///     2025-01-02T03:04:05.678Z warn net: peer 1a2b3c4d closed: frame over the limit
///
/// (UTC, ISO 8601 with milliseconds; level; component; text with control bytes escaped as \xNN),
/// written whole to stderr (or to a sink set by set_sink) under one mutex. The threshold is
/// process-wide: DTT_LOG=debug|info|warn|error|off (default warn) or set_threshold (dttd's
/// `[dttd] log-level`). Lines a peer can cause at will go through the rate-limited calls
/// (warn_limited & co.): per kind, at most 5 lines per 10 s, then one "suppressed N similar
/// lines (kind)" line when the window rolls (budgets: crypto/log_limit.hpp, internal).
///
/// Usage:
///     log::info("started");                               // component "dtt"
///     log::in("dttd").warn("key file {} is new", path);   // component "dttd"
///     log::warn_limited("net.bad_frame", "refused frame from {}: {}", peer, why);
///                                                         // component "net", kind net.bad_frame
namespace dtt::log {

/// Severity of a line; `off` as a threshold writes nothing.
enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// "debug", "info", "warn", "error" or "off".
const char* to_string(level l) noexcept;

/// Parses a level name (exactly one of debug, info, warn, error, off); nullopt otherwise.
std::optional<level> parse_level(std::string_view text) noexcept;

/// The level DTT_LOG asks for (warn when unset or empty); an error naming the bad value when it
/// is not a level name.
result<level> level_from_env();

/// The current threshold (first use: DTT_LOG; an invalid DTT_LOG means warn, and the first line
/// written says so).
level threshold() noexcept;
/// Sets the threshold.
void set_threshold(level l) noexcept;
/// True when lines of level `l` are written.
inline bool enabled(level l) noexcept { return l != level::off && l >= threshold(); }

/// `t` in RFC 3339 UTC with milliseconds: "2026-11-29T23:23:00.772Z".
std::string utc_timestamp(std::chrono::system_clock::time_point t);

/// One formatted line, newline included (pure; used by write, exposed for tests).
std::string format_line(std::chrono::system_clock::time_point t, level l,
                        std::string_view component, std::string_view text);

/// Receives whole formatted lines (newline included).
using sink = std::function<void(std::string_view line)>;
/// Sends lines to `s` instead of stderr (empty: stderr again); returns the previous sink.
sink set_sink(sink s);

/// Writes one line if `l` passes the threshold (thread-safe).
void write(level l, std::string_view component, std::string_view text);


/// Writes one line of `kind` ("component.what"; the component is the part before the first
/// dot) if `l` passes the threshold and the kind's budget allows it.
void write_limited(level l, std::string_view kind, std::string_view text);

/// Writes the "suppressed N similar lines (kind)" lines of every window that has ended. The
/// limited calls do it themselves; call it now and then (dttd does, every 200 ms) so that the
/// count of a flood that stopped appears too.
void flush_suppressed();

/// Lines the limited calls suppressed since the process started.
uint64_t suppressed_total() noexcept;

namespace detail {
/// Formats a line and hands it to `out`; never throws: a line that cannot be formatted is
/// handed over as its format string.
template <class Out, class... Ts>
void format_to(Out&& out, const char* f, Ts&&... xs) noexcept {
  try {
    out(fmt::format(fmt::runtime(f), std::forward<Ts>(xs)...));
  } catch (...) {
    try {
      out(std::string("unformattable log line: ") + (f != nullptr ? f : ""));
    } catch (...) { // out of memory: nothing left to say it with
    }
  }
}
} // namespace detail

/// Formats and writes a line of component `c` (never throws).
template <class... Ts>
void emit(level l, std::string_view c, const char* f, Ts&&... xs) noexcept {
  if (enabled(l))
    detail::format_to([&](const std::string& s) { write(l, c, s); }, f,
                      std::forward<Ts>(xs)...);
}

/// Formats and writes a line of `kind` under its rate limit (never throws).
template <class... Ts>
void limited(level l, std::string_view kind, const char* f, Ts&&... xs) noexcept {
  if (enabled(l))
    detail::format_to([&](const std::string& s) { write_limited(l, kind, s); }, f,
                      std::forward<Ts>(xs)...);
}

/// A warning a peer (or any outside input) can trigger at will: rate-limited per kind.
template <class... Ts>
void warn_limited(std::string_view kind, const char* f, Ts&&... xs) {
  limited(level::warn, kind, f, std::forward<Ts>(xs)...);
}
/// An info line a peer can trigger at will: rate-limited per kind.
template <class... Ts>
void info_limited(std::string_view kind, const char* f, Ts&&... xs) {
  limited(level::info, kind, f, std::forward<Ts>(xs)...);
}

/// Lines of one component: log::in("dttd").info(...).
struct source {
  std::string_view component;
  /// A debug line.
  template <class... Ts>
  void debug(const char* f, Ts&&... xs) const {
    emit(level::debug, component, f, std::forward<Ts>(xs)...);
  }
  /// An info line.
  template <class... Ts>
  void info(const char* f, Ts&&... xs) const {
    emit(level::info, component, f, std::forward<Ts>(xs)...);
  }
  /// A warning.
  template <class... Ts>
  void warn(const char* f, Ts&&... xs) const {
    emit(level::warn, component, f, std::forward<Ts>(xs)...);
  }
  /// An error line.
  template <class... Ts>
  void error(const char* f, Ts&&... xs) const {
    emit(level::error, component, f, std::forward<Ts>(xs)...);
  }
};

/// The lines of component `c` (a short name: "dttd", "net", "dht", "bootstrap", ...).
constexpr source in(std::string_view c) noexcept { return source{c}; }

/// A debug line of component "dtt".
template <class... Ts>
void debug(const char* f, Ts&&... xs) { emit(level::debug, "dtt", f, std::forward<Ts>(xs)...); }
/// An info line of component "dtt".
template <class... Ts>
void info(const char* f, Ts&&... xs) { emit(level::info, "dtt", f, std::forward<Ts>(xs)...); }
/// A warning of component "dtt".
template <class... Ts>
void warn(const char* f, Ts&&... xs) { emit(level::warn, "dtt", f, std::forward<Ts>(xs)...); }
/// An error line of component "dtt".
template <class... Ts>
void error(const char* f, Ts&&... xs) { emit(level::error, "dtt", f, std::forward<Ts>(xs)...); }

} // namespace dtt::log
