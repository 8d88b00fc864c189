#pragma once

#include "crypto/ed25519.hpp"
#include "gossip/proto.hpp"
#include "gossip/transport/options.hpp"
#include "messages/gossip.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <cstdint>

namespace dtt {

/// Settings of a gossip actor.
struct gossip_options {
  /// The peer transport: bind address and port (default 127.0.0.1:0), max message size (also
  /// the protocol's; PROTOCOL.md §8.2: 4096), queue bounds, timeouts, ALPN and log sink.
  net::transport_options transport;
  /// HyParView and PlumTree settings (PROTOCOL.md §8.3-8.4 defaults). Its max_message_size is
  /// overridden by transport.max_message_size.
  gossip::config protocol;
  /// Seed of the protocol's random choices; 0 draws one from the OS.
  uint64_t seed = 0;
};

/// Spawns the gossip actor of a node (the dtt::gossip_actor interface of messages/gossip.hpp):
/// the multi-topic HyParView + PlumTree protocol (gossip/proto.hpp) over the TLS transport
/// (gossip/transport/), whose sockets and timers run on `io` (the caller runs it on one thread
/// and keeps it alive, and running, until the actor is gone).
///
/// - The actor holds no timer of its own: protocol timers run on `io` and wake it by message,
///   so it terminates when its last handle is dropped (or on an exit message), and then stops
///   its transport.
/// - Broadcast content over the max message size minus the 73-byte Gossip envelope is refused
///   with errc::too_large; broadcasting on a topic with no subscriber gives errc::closed.
/// - join_peers on a topic that has no subscriber replies false (subscribe first).
/// - A peer whose frame does not decode is disconnected (and reported down by the protocol).
///
/// Fails (caf::error with a dtt::errc) if the transport cannot be set up: bad options
/// (invalid_argument), TLS setup (crypto_failure) or bind failure (io_error).
caf::expected<gossip_actor> spawn_gossip_actor(caf::actor_system& sys,
                                               boost::asio::io_context& io,
                                               const crypto::signing_key& node_key,
                                               gossip_options opts = {});

} // namespace dtt
