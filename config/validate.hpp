#pragma once

#include "crypto/error.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

/// A strict check of an INI file's dtt sections ([dtt], [dtt.*], [dttd], [dttd.*]) before CAF
/// reads it: CAF 0.17 silently ignores unknown keys, values of the wrong type and repeated
/// sections, and its errors carry no line number. The validator reads the text itself, knows
/// every declared option and its type, and returns the first problem as one line
///
///     dttd.ini:7: dttd.dht.port: 70000 is out of range (0..65535)
///
/// Sections of other owners (CAF's own, e.g. [scheduler]) are checked for syntax only. Free of
/// global state and exceptions (a fuzz target calls it with arbitrary bytes).
namespace dtt {

/// The value syntax an option accepts (CAF's INI syntax).
enum class option_kind : uint8_t {
  string,         ///< a double-quoted string
  boolean,        ///< true or false
  integer,        ///< a decimal integer within [min, max]
  duration,       ///< a non-negative integer with a unit: ns, us, ms, s, min, h
  string_list,    ///< ["a", "b"]
  host_port_list, ///< ["host:port", ...] with a port of 1..65535
  log_level,      ///< "debug", "info", "warn", "error" or "off"
  port_mapping,   ///< "auto", "upnp", "natpmp", "pcp" or "off" (issue 15)
  ipv6_address,   ///< a quoted numeric IPv6 address, not IPv4-mapped ("::", "::1", ...), or ""
};

/// One declared option.
struct option_spec {
  std::string key;  ///< full name: section and key joined by dots ("dttd.dht.port")
  option_kind kind; ///< accepted syntax
  int64_t min = 0;  ///< integer bounds (inclusive)
  int64_t max = std::numeric_limits<int64_t>::max();
  bool secret = false; ///< masked in every dump (config_dump)
};

/// Largest config file the validator reads (dtt's choice: a real one is a few KiB).
constexpr size_t max_config_file_size = 1 << 20;

/// Checks `text` (the contents of `file_name`, used in messages) against `specs`. Returns the
/// first problem as errc::invalid_argument with the line "file:line: key: what".
status validate_ini(std::string_view text, std::string_view file_name,
                    const std::vector<option_spec>& specs);

/// True when `section` belongs to dtt: "dtt", "dttd", "dtt.*" or "dttd.*".
bool is_dtt_section(std::string_view section) noexcept;

/// Checks "host:port" (a DNS name, IPv4 address or [IPv6] address and a port of 1..65535);
/// returns what is wrong, or "" when it is well formed.
std::string check_host_port(std::string_view text);

} // namespace dtt
