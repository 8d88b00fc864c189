#pragma once

#include <functional>
#include <string>

namespace dtt::net {

/// Severity of a transport log line.
enum class log_level : uint8_t { debug, info, warn, off };

/// Receives the transport's log lines (called on the io thread).
using log_sink = std::function<void(log_level, const std::string&)>;

/// A sink that writes lines at or above a threshold to stderr. The threshold comes from the
/// environment variable DTT_LOG (debug|info|warn|off), default warn.
log_sink stderr_log_sink();

/// Short name of a level ("debug", "info", "warn").
const char* to_string(log_level l) noexcept;

} // namespace dtt::net
