#pragma once

// The DHT actor: a thin CAF front for a dht::udp_node that lives on a Boost.Asio io_context
// thread. Requests are posted into the io_context; results come back as messages.
#include "dht/routing_table.hpp"
#include "messages/dht.hpp"

#include <boost/asio/io_context.hpp>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace dtt {

/// Configuration of the DHT actor's node.
struct dht_options {
  std::string bind_address = "0.0.0.0";  ///< numeric address to bind the UDP socket to
  /// Numeric IPv6 address of a second, IPv6-only socket (BEP 32); empty: none.
  std::string bind6;
  uint16_t port = 0;                     ///< 0: chosen by the OS
  /// "host:port" bootstrap addresses (names resolved asynchronously). Default: mainline's
  /// routers (PROTOCOL.md §4.2).
  std::vector<std::string> bootstrap = default_dht_bootstrap();
  /// BEP 43 client mode: answer no queries, store nothing (Rust mainline's default for DTT,
  /// PROTOCOL.md §4.2).
  bool read_only = true;
  /// Load the routing table from this file at start and save it there at stop; empty: none.
  std::string routing_table_file;
  /// Per-request UDP timeout (PROTOCOL.md §4.2: 2 s).
  std::chrono::milliseconds request_timeout{2000};
  /// Queries/s accepted per source IP in server mode (0: unlimited, for loopback testnets).
  double rate_limit_per_ip = 20;
  /// Routing table: one entry per IP (true, libtorrent's dht_restrict_routing_ips) or per
  /// IP:port (false: for many nodes on one address, e.g. a loopback testnet).
  bool one_entry_per_ip = true;
  /// BEP 42 node-id checks once our external address is known and global (see
  /// dht::routing_table::config::id_check for why prefer is the default).
  dht::node_id_check node_id_check = dht::node_id_check::prefer;
  /// Called on the io thread when the external address the DHT's responders report (BEP 42
  /// "ip", decided by dht::external_votes) is decided or changes (issue 15).
  std::function<void(const dht::endpoint&)> on_external_address;
  /// Called once, on the calling thread, with the address the UDP socket is bound to.
  std::function<void(const dht::endpoint&)> on_bound;

  /// Mainline's bootstrap routers.
  static std::vector<std::string> default_dht_bootstrap();
};

/// Binds the node's socket (on the calling thread) and spawns the actor. The caller runs `io`
/// on one thread for as long as the actor lives (the actor posts its node's shutdown into it
/// when it terminates). Fails if the socket cannot be bound.
///
/// The actor implements dht_actor (messages/dht.hpp): get_mutable replies with the valid items
/// received when the lookup ends or when the timeout elapses (keeping partial results);
/// put_mutable with cas < 0 sends no cas and fails with errc::unreachable only if no node
/// answered; get_immutable fails with errc::timeout or errc::unreachable when nothing valid
/// was found; put_immutable takes a bencoded value and fails with errc::invalid_argument if it
/// is not one. The actor stops when its last handle is dropped (no self-ticking).
caf::expected<dht_actor> spawn_dht_actor(caf::actor_system& sys, boost::asio::io_context& io,
                                         dht_options opts);

} // namespace dtt
