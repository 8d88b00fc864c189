#pragma once

#include "hostile/support/child.hpp"
#include "hostile/support/flood.hpp"
#include "hostile/support/proc.hpp"

#include "actors/runtime.hpp"
#include "dht/testnet.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

/// Attack scenarios of the hostile-peer suite (issue 11), shared by the doctest suite (which
/// asserts the bars) and hostile_measure (which prints the figures). Loopback only; every
/// process started here is stopped here, by its PID.
namespace dtt::hostile {

using namespace std::chrono_literals;

/// A CAF actor system for library nodes (two scheduler threads, dtt's types registered).
struct actor_env {
  actor_env();
  ~actor_env();
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

/// A library node (dtt::runtime on 127.0.0.1, DHT client of the given bootstrap) and, once it
/// joined, its topic. Events read from the topic are kept (see drain()).
struct library_node {
  /// Starts the runtime; nullptr with `why` on failure.
  static std::unique_ptr<library_node> start(caf::actor_system& sys,
                                             const std::vector<std::string>& bootstrap,
                                             std::string* why);
  ~library_node();
  /// Joins (without waiting) `name` with `secret`; `publish` false: the node publishes no
  /// record of its own (it finds others, others cannot find it).
  void join(const std::string& name, const std::string& secret, bool publish = true);
  /// Reads every event that is waiting (at most `wait` for the first) into `events`.
  void drain(std::chrono::milliseconds wait = 1ms);
  /// True if some received event so far has exactly `content`.
  bool received(const std::string& content) const;
  /// Number of received events whose content starts with `prefix`.
  size_t received_with_prefix(const std::string& prefix) const;
  /// True if a neighbor_up event for `peer` was seen.
  bool saw_neighbor(const gossip::endpoint_id& peer) const;
  /// The gossip address (127.0.0.1:port).
  gossip::socket_address address() const;
  const gossip::endpoint_id& id() const { return rt->id(); }

  std::unique_ptr<runtime> rt;
  std::unique_ptr<topic> t;
  std::vector<gossip::event> events;
};

/// The tracker config every node of the suite uses (the defaults, with a join that never
/// gives up: joins are waited for with the scenario's own deadlines).
config scenario_config();

/// A dttd process on 127.0.0.1 (DHT client of `bootstrap`, gossip on `gossip_port`).
struct dttd_options {
  std::string path;
  std::string topic = "hostile-topic";
  std::string secret = "hostile-secret";
  std::vector<std::string> bootstrap;
  uint16_t gossip_port = 0; ///< 0: free_tcp_port()
  std::string log_level;    ///< DTT_LOG for the child; empty: unset (the default level)
};

/// A running dttd and what it told us.
struct dttd_process {
  /// Writes its config file, starts it and waits (10 s) for its "started" line.
  static std::unique_ptr<dttd_process> start(const dttd_options& o, std::string* why);
  ~dttd_process();
  /// Broadcasts one line (written to its stdin).
  bool broadcast(const std::string& line) { return proc->write_stdin(line + "\n"); }
  /// True if it printed a received event with exactly `content`.
  bool received(const std::string& content);
  /// Number of received events whose content starts with `prefix`.
  size_t received_with_prefix(const std::string& prefix);
  /// True if it printed neighbor_up for `peer`.
  bool saw_neighbor(const gossip::endpoint_id& peer);
  gossip::socket_address address() const { return {"127.0.0.1", port}; }

  std::unique_ptr<child> proc;
  gossip::endpoint_id id{};
  uint16_t port = 0;
  std::string config_path;
};

/// A loopback DHT testnet (in this process) small enough to start in well under a second.
std::unique_ptr<dht::testnet> start_testnet(std::string* why, size_t nodes = 10);

/// Which node is attacked.
enum class victim_kind { dttd, library };

/// The connection flood (issue 11 finding 4): `connections` connections from 127.0.0.2,
/// reopened at most `rate` per second, against a victim, while a new honest node joins.
struct flood_scenario {
  victim_kind victim = victim_kind::dttd;
  flood_mode mode = flood_mode::tcp;
  size_t connections = 500;
  double rate = 1000;                 ///< attacker's bound on opens per second
  std::string dttd_path;              ///< the dttd binary (victim_kind::dttd)
  std::string attack_path;            ///< the dtt_attack binary
  std::string log_level;              ///< DTT_LOG of a dttd victim; empty: default level
  std::chrono::milliseconds settle{3000};     ///< victim alone before the baseline sample
  std::chrono::milliseconds ramp{2000};       ///< flood running before measuring
  std::chrono::milliseconds cpu_window{5000}; ///< CPU measured over this while flooding
  std::chrono::milliseconds join_wait{8000};  ///< how long the honest join is waited for
  std::chrono::milliseconds exchange_wait{5000}; ///< per direction
  std::chrono::milliseconds drain_wait{20000};   ///< for the descriptors to come back
  size_t fd_slack = 8; ///< descriptors over the baseline that count as "back"
};

/// What a flood scenario saw.
struct flood_report {
  std::string error;             ///< set if the scenario could not be set up (then nothing else)
  pid_t victim_pid = -1;
  proc_sample before, during, after;
  size_t max_fds_during = 0, max_rss_during = 0;
  double cpu_percent = 0;        ///< victim (dttd) or this whole process (library victim)
  std::optional<double> join_s;  ///< honest join time, if it joined within join_wait
  bool honest_to_victim = false, victim_to_honest = false;
  std::optional<double> fds_back_s; ///< after the flood: time until fds <= baseline + slack
  double flood_s = 0;            ///< how long the flood ran
  size_t log_bytes = 0;          ///< victim stderr bytes written while the flood ran (dttd)
  size_t log_lines = 0, untimestamped_lines = 0; ///< whole victim stderr (dttd)
  std::string first_untimestamped;
  std::string attacker_final;    ///< the attacker's last counters (JSON)
  std::string attacker_during;   ///< its counters just before the honest join
  uint64_t attacker_handshakes = 0; ///< TLS handshakes the attacker completed (TLS modes)
};

/// Runs the scenario (about settle + ramp + cpu_window + join + exchange + drain).
flood_report run_flood_scenario(const flood_scenario& s);

/// Silent connections (issue 11 finding 4): `connections` connections that do nothing useful
/// (idle TCP, or TLS with keep-alives only), not reopened; how long the victim lets them live.
struct silent_scenario {
  flood_mode mode = flood_mode::tcp;
  size_t connections = 20;
  std::string dttd_path, attack_path;
  std::chrono::milliseconds watch{15000}; ///< how long the attacker watches them
};

/// What the attacker saw of its silent connections.
struct silent_report {
  std::string error;
  uint64_t connected = 0, closed_by_victim = 0, still_open = 0;
  int64_t max_lifetime_ms = 0;   ///< of those the victim closed
  int64_t oldest_open_ms = 0;    ///< of those still open at the end
  uint64_t handshakes = 0;       ///< TLS handshakes completed (TLS modes)
  std::string attacker_final;
};

/// Runs the silent-connection scenario against a dttd victim.
silent_report run_silent_scenario(const silent_scenario& s);

/// The outsider (issue 11 finding 1): a node that knows the topic name, not the secret.
enum class outsider_kind {
  wrong_secret, ///< joins through the public API with a wrong secret
  topic_id,     ///< uses the honest nodes' gossip topic id directly on its gossip actor
};

/// The outsider scenario: honest A (library or dttd) and honest B (library) share a topic;
/// an outsider dials both and, for `window`, everyone broadcasts.
struct outsider_scenario {
  victim_kind honest_a = victim_kind::library;
  outsider_kind outsider = outsider_kind::wrong_secret;
  std::string dttd_path;
  std::chrono::milliseconds honest_join_wait{20000};
  std::chrono::milliseconds window{6000};
};

/// What the outsider scenario saw.
struct outsider_report {
  std::string error;
  bool honest_joined = false;       ///< A and B became neighbours (precondition)
  bool honest_exchange = false;     ///< B received a broadcast of A in the window (control)
  bool outsider_attempted = false;  ///< the outsider's join request was handed to its gossip layer
  bool outsider_neighbor = false;   ///< some honest node or the outsider saw the other as neighbour
  size_t outsider_received = 0;     ///< honest broadcasts the outsider received
  size_t honest_received = 0;       ///< outsider broadcasts the honest nodes received
};

/// Runs the outsider scenario.
outsider_report run_outsider_scenario(const outsider_scenario& s);

/// True if a log line starts with a timestamp: an ISO-8601 date and time, a time of day
/// (HH:MM:SS), or seconds since the epoch with a fraction, optionally after '['.
bool has_timestamp(const std::string& line);

/// The gossip topic id of a topic as seen on the wire: derived from name and secret
/// (docs/ADMISSION.md).
gossip::topic_id gossip_topic_of(const std::string& name, const std::string& secret);

} // namespace dtt::hostile
