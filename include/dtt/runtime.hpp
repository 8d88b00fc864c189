#pragma once

#include "dtt/config.hpp"
#include "dtt/errors.hpp"
#include "dtt/events.hpp"
#include "dtt/keys.hpp"
#include "dtt/topic.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace dtt {

/// Bounds of options::gossip::active_view.
inline constexpr size_t min_active_view = 2, max_active_view = 32;

/// Everything a node needs to run: its DHT node, its gossip transport, what it publishes and
/// where it keeps state. One struct for the library, dttd and the examples.
struct options {
  /// The mainline DHT node (BEP 5 + BEP 44).
  struct dht_settings {
    std::string bind = "0.0.0.0"; ///< numeric address of the UDP socket (IPv4)
    /// Numeric IPv6 address of a second, IPv6-only UDP socket on the same port ("::": every
    /// interface): the node joins the IPv6 DHT too, with its own routing table (BEP 32).
    /// Empty: none.
    std::string bind6;
    uint16_t port = 0;            ///< 0: chosen by the OS
    /// "host:port" bootstrap nodes; empty: mainline's public routers (PROTOCOL.md §4.2).
    std::vector<std::string> bootstrap;
    /// Answer queries and store items for others (BEP 43 server mode); false: client only,
    /// distributed-topic-tracker's default (PROTOCOL.md §4.2).
    bool server = false;
    /// Load the routing table from this file at start, save it there at stop; empty: none.
    std::string routing_table_file;
    /// Per-request timeout (PROTOCOL.md §4.2: 2 s).
    std::chrono::milliseconds request_timeout{2000};
    /// Queries per second accepted from one IP in server mode (0: no limit, for testnets).
    double rate_limit_per_ip = 20;
    /// One routing-table entry per IP (libtorrent's dht_restrict_routing_ips); false: per
    /// IP:port, for many nodes on one address (a loopback testnet).
    bool one_entry_per_ip = true;
    /// BEP 42 node-id checks: "off", "prefer" (default) or "enforce".
    std::string node_id_check = "prefer";
  } dht;
  /// The gossip transport (TCP + TLS 1.3).
  struct gossip_settings {
    std::string bind = "127.0.0.1"; ///< numeric listen address ("0.0.0.0" for every interface)
    /// Numeric IPv6 address of a second, IPv6-only listener beside `bind` ("::" for every
    /// interface); its addresses are published in the endpoint record too. Empty: none.
    std::string bind6;
    uint16_t port = 0;              ///< 0: chosen by the OS
    /// Addresses published in the endpoint record instead of the listening ones (a forwarded
    /// port behind NAT, a public address the node cannot see).
    std::vector<socket_address> advertise;
    /// Largest frame (PROTOCOL.md §8.2: 4096); a broadcast may carry this minus 73 bytes.
    uint32_t max_message_size = 4096;
    /// A link with nothing written for this long sends a keep-alive (dtt's choice: 5 s).
    std::chrono::milliseconds keepalive_interval{5000};
    /// A link with nothing read for this long is closed, so a peer behind a partition or
    /// paused is dropped after it (dtt's choice: 30 s, six keep-alives).
    std::chrono::milliseconds idle_timeout{30000};
    /// HyParView's active view: the neighbours each topic keeps (PROTOCOL.md §8.3: 5; from
    /// min_active_view to max_active_view).
    /// Fewer neighbours cost fewer links and messages; more make the overlay harder to split.
    size_t active_view = 5;
  } gossip;
  /// Reaching this node from behind a NAT (issue 15).
  struct nat_settings {
    /// Port mapping of the gossip TCP port (and of the DHT UDP port in server mode) on the
    /// LAN's router: "auto" (UPnP-IGD, then PCP, then NAT-PMP), "upnp", "pcp", "natpmp" or
    /// "off". Off by default in the library (an embedding application opts in); dttd's
    /// `[dttd.nat] port-mapping`
    /// defaults to "auto". Ports bound to a loopback address are never mapped.
    std::string port_mapping = "off";
    /// Lease asked for each mapping, renewed at half its life (RFC 6886 §3.3 recommends 2 h;
    /// dtt asks 1 h so that a crashed node's mappings go away sooner).
    std::chrono::seconds lease{3600};
    /// TCP hole punching (gossip/transport/reversal.hpp): when a reversal is under way and a
    /// common peer hints where the target is, connect once from the listening port to there,
    /// so that our NAT lets the target's dial in. For a node behind a NAT that could not map
    /// its port (harmless elsewhere); off by default here, on in dttd (`[dttd.nat]
    /// hole-punching`).
    bool hole_punching = false;
    /// Relayed links (gossip/transport/relay.hpp): when neither a reversal nor a punch linked
    /// us to a peer, ask a common peer to forward a TLS link's bytes (TLS stays end to end; at
    /// most 64 KiB/s per relayed link). `relay_for_others`: carry such links between two of our
    /// admitted peers (at most 32 at once, 2 per requester). dttd: `[dttd.nat] relay`,
    /// `relay-for-others`.
    bool relay = true;
    bool relay_for_others = true;
  } nat;
  /// Publish this node's endpoint record and resolve peers through the DHT (DESIGN.md).
  bool use_endpoint_records = true;
  /// Directory for the node's state (each topic's peer cache, so that a restarted node rejoins
  /// its former peers without waiting for the DHT); empty: no state kept.
  std::string state_dir;
  /// Added to the system clock wherever the node reads the wall time (the minute of DHT
  /// records, endpoint record seqs, the peer cache): a node that runs skewed, for clock-skew
  /// tests. Nodes tolerate ±90 s between each other (README "Clock tolerance").
  std::chrono::seconds clock_offset{0};

  /// A node of a loopback testnet (demo, tests, benchmarks): DHT client and gossip on
  /// 127.0.0.1, ports chosen by the OS, bootstrapping from `bootstrap`, no per-IP limits.
  static options loopback(std::vector<std::string> bootstrap);
};

/// How this node can be reached (issue 15): what the DHT's responders and the port mapper found.
struct reachability_info {
  /// Our IPv4 address as a majority of distinct DHT responders see it (BEP 42 "ip"); empty
  /// while undecided.
  std::string external_ip;
  uint16_t dht_external_port = 0; ///< the UDP port they see (0: unknown)
  std::string port_mapping;       ///< the setting: auto, upnp, pcp, natpmp or off
  std::string gateway;            ///< the gateway in use; empty: none found
  /// A mapping in force.
  struct mapping {
    std::string protocol;       ///< "TCP" or "UDP"
    uint16_t internal_port = 0;
    socket_address external;    ///< the gateway's address and port
    std::string method;         ///< "upnp", "pcp" or "natpmp"
    int64_t lease_seconds = 0;
  };
  std::vector<mapping> mappings;
  /// An IPv6 pinhole open in the router's firewall (UPnP IGD2): our own address, reachable.
  struct pinhole {
    std::string protocol;       ///< "TCP" or "UDP"
    socket_address address;     ///< our global IPv6 address and port
    std::string method;         ///< "upnp"
    int64_t lease_seconds = 0;
  };
  std::vector<pinhole> pinholes;
  std::string last_error;       ///< the last mapping failure, with its reason
  /// Mapping and pinhole attempts by outcome.
  uint64_t mapped = 0, renewed = 0, failed = 0, removed = 0;
};

/// The public mainline DHT's bootstrap routers (what an empty options::dht.bootstrap means).
std::vector<std::string> mainline_routers();

/// Parses transport addresses separated by spaces ("192.0.2.1:4433 [2001:db8::1]:4433"), the
/// syntax of endpoint records: numeric IPv4 or bracketed IPv6 literals and ports 1..65535.
result<std::vector<socket_address>> parse_addresses(std::string_view text);

/// A running dtt node inside the application's caf::actor_system: one io thread carrying the
/// DHT (UDP) and gossip (TCP + TLS) sockets, the DHT and gossip actors, and the topics joined.
/// The actor system must be created with dtt's message types registered (dtt::system_config,
/// or dtt::register_types on your own config: include/dtt/caf.hpp).
class runtime {
public:
  /// Binds the sockets and starts everything; fails with the reason (errc::io_error for a port
  /// in use, errc::invalid_argument for bad options).
  static result<std::unique_ptr<runtime>> start(caf::actor_system& sys, const node_key& key,
                                                options opts = {});
  /// Stops every topic (their handles then return errc::closed), the node and the sockets.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Joins a topic and waits until it has a neighbour, at most cfg.join_timeout
  /// (errc::timeout; the topic is then dropped). With join_timeout zero it waits forever.
  result<topic> join(std::string_view topic_name, std::string_view secret, config cfg = {});
  /// Joins a topic and returns at once; discovery runs in the background and events are kept
  /// from now on.
  topic join_no_wait(std::string_view topic_name, std::string_view secret, config cfg = {});

  /// This node's endpoint id (its public key).
  const endpoint_id& id() const noexcept;
  /// Where the gossip transport accepts connections.
  result<std::vector<socket_address>> local_addresses();
  /// The DHT node's counters by name ("nodes", "responses", "timeouts", ...).
  result<std::map<std::string, uint64_t>> dht_stats();
  /// External address and port mappings (issue 15). Does not block.
  reachability_info reachability();
  /// The addresses this node's endpoint record publishes now: options::gossip.advertise when
  /// set, otherwise the mapped ports, then the listening addresses (docs/OPERATING.md, NAT).
  result<std::vector<socket_address>> advertised_addresses();
  /// The gossip layer's counters and gauges by name (transport links, bytes, admission,
  /// refusals; per topic "topic/<hex>/<name>"), as docs/OPERATING.md's metrics list them.
  result<std::map<std::string, uint64_t>> gossip_stats();
  /// The io_context of the node's io thread, which carries its DHT and gossip sockets. An
  /// application may run its own sockets and timers on it (dttd's HTTP server does); it runs
  /// until the runtime is destroyed, so whatever uses it must be stopped first.
  boost::asio::io_context& io_context() noexcept;

  /// dtt's own internals (its actors), for dtt's tests and tools: not part of the API.
  struct internals;
  internals& internal() noexcept { return *impl_; }

  /// Used by start().
  explicit runtime(std::unique_ptr<internals> impl);

private:
  std::unique_ptr<internals> impl_;
};

} // namespace dtt
