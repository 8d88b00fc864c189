#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace dtt::net {

/// Severity of a transport log line.
enum class log_level : uint8_t { debug, info, warn, off };

/// Receives the transport's log lines (called on the io thread).
using log_sink = std::function<void(log_level, const std::string&)>;

/// A sink that hands lines to dtt's log writer (crypto/log.hpp) as component "net": the same
/// line format (timestamp, level, component), threshold (DTT_LOG or set_threshold) and stderr.
log_sink stderr_log_sink();

/// Short name of a level ("debug", "info", "warn").
const char* to_string(log_level l) noexcept;

} // namespace dtt::net
