#pragma once

#include "config/config.hpp"
#include "crypto/clock.hpp"
#include "crypto/keys.hpp"
#include "messages/dht.hpp"
#include "messages/gossip.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <string_view>
#include <vector>

/// The public API for applications that embed dtt in their own caf::actor_system.
namespace dtt {

/// A joined (or joining) topic. Copies share the topic; when the last copy is gone every actor
/// of the topic stops and the node leaves the gossip topic. Blocking calls must not be made from
/// inside an actor (use handle() and messages there).
class topic {
public:
  /// Broadcasts to the whole topic (PROTOCOL.md §8.4). Over-size content → errc::too_large;
  /// a peer link with half its send queue waiting → errc::busy (back-pressure: retry later).
  status broadcast(const bytes& content);
  /// Sends to direct (eager) neighbours only.
  status broadcast_neighbors(const bytes& content);
  /// The next event (neighbor_up/down, received, lagged), waiting at most `timeout`
  /// (errc::timeout). Events that arrived before the first call are kept (§10.10).
  result<gossip::event> next(duration timeout);
  /// The current neighbours.
  result<std::vector<gossip::endpoint_id>> neighbors();
  /// Joins the given peers (resolving their addresses through the DHT first).
  status join_peers(std::vector<gossip::endpoint_id> peers);
  /// Waits until the topic has a neighbour (or received a message), at most `timeout`.
  status joined(duration timeout);
  /// The topic actor, for use from actors: accepts (broadcast_atom, bytes),
  /// (broadcast_neighbors_atom, bytes), (join_peers_atom, ids), (neighbors_atom),
  /// (next_event_atom, caf::timespan wait), (await_joined_atom).
  const caf::actor& handle() const noexcept { return actor_; }
  /// The topic id.
  const crypto::topic_id& id() const noexcept { return id_; }

private:
  friend class node;
  topic(caf::actor_system& sys, caf::actor a, crypto::topic_id id, config cfg)
    : sys_(&sys), actor_(std::move(a)), id_(id), cfg_(std::move(cfg)) {}
  caf::actor_system* sys_;
  caf::actor actor_;
  crypto::topic_id id_;
  config cfg_;
};

/// What a node runs on: the DHT and gossip actors (real ones from dtt::runtime, or your own).
struct node_options {
  dht_actor dht;
  gossip_actor gossip;
  /// Publish this node's endpoint record and resolve peers through the DHT (DESIGN.md).
  bool use_endpoint_records = true;
  /// Addresses to publish in the endpoint record instead of the ones the transport listens on
  /// (for a node behind NAT with a forwarded port, or with a public address it cannot see).
  std::vector<gossip::socket_address> advertise;
  /// Wall clock for minutes; the system clock unless a test injects one.
  const crypto::wall_clock* clock = &crypto::system_wall_clock();
  /// Directory for the node's state: each topic's peer cache (actors/peer_cache.hpp), so that
  /// a restarted node rejoins its former peers without the DHT slot. Empty: no state kept.
  std::string state_dir;
};

/// One dtt node: an identity (Ed25519 key) on given DHT and gossip actors, joining topics.
class node {
public:
  node(caf::actor_system& sys, crypto::signing_key key, node_options opts);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Joins a topic and waits until it has a neighbour or cfg.join_timeout passes
  /// (errc::timeout; the topic is then dropped). With join_timeout zero it waits forever.
  result<topic> join(std::string_view topic_name, byte_view secret, config cfg = {},
                     crypto::rotation_handle rotation = {});
  /// Joins a topic and returns at once; discovery runs in the background.
  topic join_no_wait(std::string_view topic_name, byte_view secret, config cfg = {},
                     crypto::rotation_handle rotation = {});

  /// This node's endpoint id (its public key).
  const crypto::public_key& id() const noexcept { return key_.public_key_bytes(); }
  /// The actor system.
  caf::actor_system& system() noexcept { return *sys_; }

private:
  caf::actor_system* sys_;
  crypto::signing_key key_;
  node_options opts_;
  caf::actor directory_;
  uint64_t topics_spawned_ = 0;
};

} // namespace dtt
