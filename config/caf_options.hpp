#pragma once

#include "config/config.hpp"
#include "config/validate.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

#include <cstring>

namespace dtt {

/// A caf::string_view of a C string: CAF 0.17 converts `const char*` implicitly only when built
/// with GCC, so clang (the fuzz build) needs the length spelled out.
inline caf::string_view caf_text(const char* s) noexcept { return {s, std::strlen(s)}; }

/// The CAF option type that holds a config field of type T (durations as caf::timespan,
/// uint32_t as size_t).
template <class T>
struct caf_option_type {
  using type = T;
};
template <>
struct caf_option_type<duration> {
  using type = caf::timespan;
};
template <>
struct caf_option_type<uint32_t> {
  using type = size_t;
};

/// Reads option `key` into `field` when it is set; unset keys leave `field` as it is.
template <class T>
void read_option(const caf::actor_system_config& cfg, const std::string& key, T& field) {
  if (auto v = caf::get_if<typename caf_option_type<T>::type>(&cfg, key)) {
    if constexpr (std::is_same<T, duration>::value)
      field = std::chrono::duration_cast<duration>(*v);
    else
      field = static_cast<T>(*v);
  }
}

/// Declares every field of dtt::config as a CAF option (call it from the constructor of your own
/// actor_system_config subclass with its custom_options_), so that an INI file's sections
/// [dtt.bootstrap], [dtt.publisher], [dtt.dht], [dtt.bubble-merge], [dtt.overlap-merge],
/// [dtt.timeouts] and [dtt] (or `--dtt.bootstrap.discovery-poll-interval=2s` flags) set them.
/// Durations use CAF's syntax: 500ms, 10s, 2min.
void declare_config_options(caf::config_option_set& options);

/// The same options as declare_config_options, for validate_ini.
std::vector<option_spec> tracker_option_specs();

/// An actor_system_config with dtt's options declared, its message types registered and CAF's
/// `sharing` scheduler as the default policy (an idle node then sleeps instead of polling;
/// `--scheduler.policy=stealing` or `[scheduler] policy=...` overrides it).
class system_config : public caf::actor_system_config {
public:
  system_config();
};

/// Reads the options declared above (after cfg.parse), starting from `defaults`, and applies
/// config::normalise(). Unset options keep their default.
config load_config(const caf::actor_system_config& cfg, config defaults = {});

} // namespace dtt
