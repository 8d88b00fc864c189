#pragma once

#include "config/caf_options.hpp"
#include "config/validate.hpp"

#include <array>
#include <string>
#include <vector>

namespace dtt {

/// A topic joined from the config file besides [dttd] topic: section [dttd.topicN], N = 2..9.
struct extra_topic {
  std::string name;   ///< topic name; empty: the slot is unused
  std::string secret; ///< its secret (required with a name; masked in dumps)
};

/// Topics a config file may add to [dttd] topic (dtt's choice; more through the HTTP API).
constexpr size_t max_extra_topics = 8;

/// dttd's own settings ([dttd], [dttd.dht], [dttd.gossip]); the tracker's are dtt::config.
struct daemon_settings {
  std::string topic = "dtt"; ///< topic name
  std::string secret;        ///< shared secret of the topic (required; masked in dumps)
  std::string key_file;      ///< node key file (created 0600 if missing); empty: a fresh key
  bool exit_on_eof = false;  ///< stop at the end of stdin
  /// Log threshold (debug|info|warn|error|off); empty: DTT_LOG or warn. DTT_LOG wins.
  std::string log_level;
  /// Log file (appended to, created 0600, reopened on SIGHUP); empty: stderr.
  std::string log_file;
  /// Seconds added to the system clock for every minute and record time (clock-skew tests;
  /// PROTOCOL.md §10.7); 0: the system clock.
  int32_t clock_offset = 0;
  /// Directory of the peer cache (peers-<hash>.bin per topic, 0600); empty: none.
  std::string state_dir;
  std::string dht_bind = "0.0.0.0"; ///< UDP bind address
  std::string dht_bind6;            ///< IPv6 UDP bind address (BEP 32); empty: IPv4 only
  uint16_t dht_port = 0;            ///< 0: any
  std::vector<std::string> dht_bootstrap; ///< empty: mainline's routers
  bool dht_server = false;                ///< answer queries and store items
  /// Start fails (exit 2) when no bootstrap node has answered within this time; zero turns the
  /// check off (dtt's choice: five DHT request timeouts of 2 s, PROTOCOL.md §4.2).
  duration bootstrap_timeout = std::chrono::seconds(10);
  std::string gossip_bind = "0.0.0.0"; ///< TCP bind address of the peer transport
  std::string gossip_bind6;            ///< IPv6 listen address beside it; empty: none
  uint16_t gossip_port = 0;            ///< 0: any
  std::vector<std::string> advertise;  ///< published instead of the interface addresses
  /// Port mapping of the gossip TCP port (and the DHT UDP port in server mode) on the LAN's
  /// router (issue 15): auto (UPnP-IGD, then PCP, then NAT-PMP), upnp, pcp, natpmp or off.
  std::string port_mapping = "auto";
  /// TCP hole punching when a reversal is under way (runtime options::nat.hole_punching).
  bool hole_punching = true;
  /// Relayed links, ours and for others (runtime options::nat.relay, relay_for_others).
  bool relay = true;
  bool relay_for_others = true;
  /// The HTTP server (metrics, status, local API): off unless enabled, so that a dttd
  /// upgraded in place opens no new socket.
  bool http_enable = false;
  /// Its bind address: loopback by default; any other address needs http_token.
  std::string http_bind = "127.0.0.1";
  uint16_t http_port = 0; ///< 0: chosen by the OS (dttd prints it in its "started" line)
  /// Bearer token every request must carry (required off loopback; masked in dumps).
  std::string http_token;
  /// Connections at once (HTTP and WebSocket; dtt's choice, as nginx's worker_connections/16).
  uint16_t http_max_connections = 64;
  /// More topics from the config file ([dttd.topic2] ... [dttd.topic9], name and secret).
  std::array<extra_topic, max_extra_topics> extra_topics;
  /// [dttd.cluster]: the daemon joins this CAF cluster (docs/CLUSTER.md) as a member that
  /// publishes no actor, so that /status and /metrics show the cluster; empty: no cluster.
  std::string cluster_name;
  std::string cluster_secret;             ///< the cluster's secret (required with a name)
  std::string cluster_bind = "0.0.0.0";   ///< the middleman's TLS bind address
  uint16_t cluster_port = 0;              ///< 0: chosen by the OS
  /// Where the member's TLS credentials are written (mode 0700); empty: <state-dir>/cluster.
  std::string cluster_dir;
  duration keepalive_interval = std::chrono::seconds(5); ///< options::gossip (dtt's choice)
  duration idle_timeout = std::chrono::seconds(30);      ///< options::gossip (dtt's choice)
  int32_t active_view = 5;                               ///< runtime options::gossip (§8.3)
};

/// An actor_system_config with dtt's and dttd's options declared and dtt's types registered.
class daemon_config : public system_config {
public:
  daemon_config();
};

/// Reads dttd's settings after cfg.parse; unset keys keep their default.
daemon_settings read_daemon_settings(const caf::actor_system_config& cfg);

/// Every option dttd accepts in an INI file (its own and the tracker's), for validate_ini.
const std::vector<option_spec>& daemon_option_specs();

/// validate_ini against daemon_option_specs(): the check dttd runs on its config file.
status validate_daemon_config(std::string_view text, std::string_view file_name);

/// dttd's --help: its own options first, with their defaults.
std::string daemon_help();

/// The configuration as INI text, every secret (a key declared secret, or a key whose name
/// holds "secret", "seed" or "pass") replaced by "<hidden>". For --dump-config.
std::string dump_config(const caf::actor_system_config& cfg);

} // namespace dtt
