#include "config/daemon_options.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/timespan.hpp>

#include <limits>

namespace dtt {

namespace {

// One table drives declaring, reading, validating and masking, so they cannot drift apart.
// Add a key here and it is declared to CAF, read into daemon_settings and known to the
// validator.
template <class F>
void for_each_daemon_option(daemon_settings& s, F&& f) {
  using k = option_kind;
  f("dttd", "topic", s.topic, k::string, "topic name (default \"dtt\")");
  f("dttd", "secret", s.secret, k::string, "shared secret of the topic (required)");
  f("dttd", "key-file", s.key_file, k::string,
    "file with the node's Ed25519 seed as hex (created 0600 if missing)");
  f("dttd", "exit-on-eof", s.exit_on_eof, k::boolean, "stop when stdin ends");
  f("dttd", "log-level", s.log_level, k::log_level,
    "debug, info, warn, error or off (default warn; DTT_LOG overrides it)");
  f("dttd", "log-file", s.log_file, k::string,
    "append log lines to this file instead of stderr; SIGHUP reopens it");
  f("dttd", "clock-offset", s.clock_offset, k::integer,
    "seconds added to the system clock (clock-skew tests; default 0)");
  f("dttd", "state-dir", s.state_dir, k::string,
    "directory for the peer cache (empty: none)");
  f("dttd.dht", "bind", s.dht_bind, k::string, "UDP bind address (default 0.0.0.0)");
  f("dttd.dht", "port", s.dht_port, k::integer, "UDP port (default 0: any)");
  f("dttd.dht", "bind6", s.dht_bind6, k::ipv6_address,
    "IPv6 UDP bind address, e.g. \"::\" (joins the IPv6 DHT too, BEP 32; default none)");
  f("dttd.dht", "bootstrap", s.dht_bootstrap, k::host_port_list,
    "bootstrap nodes host:port (default: mainline routers)");
  f("dttd.dht", "server", s.dht_server, k::boolean,
    "answer DHT queries and store items (default false)");
  f("dttd.dht", "bootstrap-timeout", s.bootstrap_timeout, k::duration,
    "exit when no bootstrap node answered within this time (default 10s; 0s: never)");
  f("dttd.gossip", "bind", s.gossip_bind, k::string,
    "TCP bind address of the peer transport (default 0.0.0.0)");
  f("dttd.gossip", "port", s.gossip_port, k::integer, "TCP port (default 0: any)");
  f("dttd.gossip", "bind6", s.gossip_bind6, k::ipv6_address,
    "IPv6 listen address beside bind, e.g. \"::\" (published too; default none)");
  f("dttd.gossip", "advertise", s.advertise, k::string_list,
    "ip:port or [ipv6]:port to publish instead of the interface addresses");
  f("dttd.nat", "port-mapping", s.port_mapping, k::port_mapping,
    "map the gossip port (and the DHT port in server mode) on the router: auto, upnp, "
    "pcp, natpmp or off (default auto)");
  f("dttd.nat", "hole-punching", s.hole_punching, k::boolean,
    "prime our NAT for a peer's reversed dial when a reversal is under way (default true)");
  f("dttd.nat", "relay", s.relay, k::boolean,
    "when no reversal or punch links us to a peer, ask a common peer to relay (default true)");
  f("dttd.nat", "relay-for-others", s.relay_for_others, k::boolean,
    "relay links between two of our admitted peers, within a byte budget (default true)");
  f("dttd.http", "enable", s.http_enable, k::boolean,
    "serve metrics, status and the local API over HTTP (default false)");
  f("dttd.http", "bind", s.http_bind, k::string,
    "HTTP bind address (default 127.0.0.1; another address needs a token)");
  f("dttd.http", "port", s.http_port, k::integer, "HTTP port (default 0: any, printed at start)");
  f("dttd.http", "token", s.http_token, k::string,
    "bearer token required on every HTTP request (required off loopback)");
  f("dttd.http", "max-connections", s.http_max_connections, k::integer,
    "HTTP and WebSocket connections at once (default 64)");
  static const auto sections = [] {
    std::array<std::string, max_extra_topics> out;
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = "dttd.topic" + std::to_string(i + 2);
    return out;
  }();
  for (size_t i = 0; i < max_extra_topics; ++i) {
    f(sections[i].c_str(), "name", s.extra_topics[i].name, k::string,
      "another topic to join (sections dttd.topic2 ... dttd.topic9)");
    f(sections[i].c_str(), "secret", s.extra_topics[i].secret, k::string,
      "its shared secret (required with a name)");
  }
  f("dttd.cluster", "name", s.cluster_name, k::string,
    "join this CAF cluster as a member that publishes nothing (docs/CLUSTER.md)");
  f("dttd.cluster", "secret", s.cluster_secret, k::string,
    "the cluster's secret (required with a name)");
  f("dttd.cluster", "bind", s.cluster_bind, k::string,
    "the cluster middleman's TLS bind address (default 0.0.0.0)");
  f("dttd.cluster", "port", s.cluster_port, k::integer, "its TCP port (default 0: any)");
  f("dttd.cluster", "dir", s.cluster_dir, k::string,
    "directory for the member's TLS credentials (default: <state-dir>/cluster)");
  f("dttd.gossip", "keepalive-interval", s.keepalive_interval, k::duration,
    "send a keep-alive on a link idle this long (default 5s)");
  f("dttd.gossip", "idle-timeout", s.idle_timeout, k::duration,
    "close a link silent this long (default 30s; a partitioned or paused peer)");
  f("dttd.gossip", "active-view", s.active_view, k::integer,
    "neighbours kept per topic, HyParView's active view (default 5; 2 to 32)");
}

bool looks_secret(const std::string& key) {
  auto last = key.substr(key.rfind('.') + 1);
  for (const char* word : {"secret", "seed", "pass", "token"})
    if (last.find(word) != std::string::npos)
      return true;
  return false;
}

bool is_secret(const std::string& key) {
  for (auto& s : daemon_option_specs())
    if (s.key == key)
      return s.secret;
  return looks_secret(key);
}

void dump(const caf::settings& xs, const std::string& prefix, std::string& out) {
  std::string scalars;
  for (auto& [name, value] : xs)
    if (!caf::holds_alternative<caf::settings>(value)) {
      auto key = prefix.empty() ? name : prefix + "." + name;
      scalars += name + "=" + (is_secret(key) ? "\"<hidden>\"" : caf::to_string(value)) + "\n";
    }
  if (!scalars.empty())
    out += (prefix.empty() ? "" : "[" + prefix + "]\n") + scalars;
  for (auto& [name, value] : xs)
    if (auto sub = caf::get_if<caf::settings>(&value))
      dump(*sub, prefix.empty() ? name : prefix + "." + name, out);
}

} // namespace

daemon_config::daemon_config() {
  daemon_settings s;
  for_each_daemon_option(s, [&](const char* group, const char* name, auto& field, option_kind,
                                const char* desc) {
    using T = typename caf_option_type<std::decay_t<decltype(field)>>::type;
    caf::config_option_adder{custom_options_, caf_text(group)}.add<T>(caf_text(name), caf_text(desc));
  });
  // The scheduler policy defaults to `sharing` in system_config (see there, issue 12).
}

daemon_settings read_daemon_settings(const caf::actor_system_config& cfg) {
  daemon_settings s;
  for_each_daemon_option(s, [&](const char* group, const char* name, auto& field, option_kind,
                                const char*) {
    read_option(cfg, std::string(group) + "." + name, field);
  });
  return s;
}

const std::vector<option_spec>& daemon_option_specs() {
  static const std::vector<option_spec> specs = [] {
    auto out = tracker_option_specs();
    daemon_settings s;
    for_each_daemon_option(s, [&](const char* group, const char* name, auto& field,
                                  option_kind kind, const char*) {
      using T = std::decay_t<decltype(field)>;
      option_spec o{std::string(group) + "." + name, kind};
      if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
        o.min = static_cast<int64_t>(std::numeric_limits<T>::min());
        o.max = static_cast<int64_t>(std::numeric_limits<T>::max());
      }
      o.secret = looks_secret(o.key);
      out.push_back(std::move(o));
    });
    return out;
  }();
  return specs;
}

status validate_daemon_config(std::string_view text, std::string_view file_name) {
  return validate_ini(text, file_name, daemon_option_specs());
}

namespace {

std::string default_text(const std::string& v) { return v.empty() ? "\"\"" : "\"" + v + "\""; }
std::string default_text(bool v) { return v ? "true" : "false"; }
std::string default_text(uint16_t v) { return std::to_string(v); }
std::string default_text(int32_t v) { return std::to_string(v); }
std::string default_text(duration v) {
  auto ms = v.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}
std::string default_text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (auto& x : v)
    out += (out.size() > 1 ? "," : "") + default_text(x);
  return out + "]";
}

} // namespace

std::string daemon_help() {
  std::string out = "dttd: a dtt node driven by a config file (CAF INI) and --section.key=value "
                    "flags.\n\nUsage: dttd [--config-file=FILE] [--section.key=value ...]\n\n"
                    "  --config-file=FILE      the INI file (default caf-application.ini)\n"
                    "  --dump-config           print the configuration, secrets hidden\n"
                    "  --version               print the version\n"
                    "  --help                  this text; --caf-help: CAF's own options too\n\n"
                    "dttd's options (section.key, default):\n";
  daemon_settings s;
  std::string group_seen;
  for_each_daemon_option(s, [&](const char* group, const char* name, auto& field, option_kind,
                                const char* desc) {
    if (std::string(group).rfind("dttd.topic", 0) == 0 && std::string(group) != "dttd.topic2")
      return; // the same two keys up to dttd.topic9
    if (group_seen != group) {
      out += std::string("\n[") + group + "]\n";
      group_seen = group;
    }
    auto key = std::string("  --") + group + "." + name + "=" + default_text(field);
    if (key.size() < 44)
      key.resize(44, ' ');
    else
      key += "\n" + std::string(44, ' ');
    out += key + " " + desc + "\n";
  });
  out += "  ... the same in [dttd.topic3] to [dttd.topic9]\n";
  out += "\nThe tracker's own settings ([dtt], [dtt.bootstrap], [dtt.publisher], ...) are in "
         "config/examples/dttd.ini with their defaults; CAF's (scheduler, logging) with "
         "--caf-help.\n";
  return out;
}

std::string dump_config(const caf::actor_system_config& cfg) {
  std::string out;
  dump(cfg.dump_content(), "", out);
  return out;
}

} // namespace dtt
