#pragma once

#include "config/config.hpp"
#include "crypto/clock.hpp"
#include "crypto/keys.hpp"
#include "dtt/topic.hpp"
#include "messages/dht.hpp"
#include "messages/gossip.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <mutex>
#include <string_view>
#include <vector>

namespace dtt {

namespace detail {

/// What the copies of one dtt::topic share. The topic actor is held strongly (it lives as long
/// as a handle does); broadcasts go straight to the gossip actor and events come from the sink
/// the gossip actor fills, so neither passes through the topic actor.
struct topic_core {
  caf::actor_system* sys = nullptr;
  caf::actor actor;                 ///< the topic actor (actors/topic_actor.hpp)
  gossip_actor gossip;
  bytes32 topic_id{};               ///< the gossip topic id
  std::shared_ptr<event_sink> sink; ///< the topic's events, filled by the gossip actor
  config cfg;

  ~topic_core();
};

} // namespace detail

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

/// One dtt node: an identity (Ed25519 key) on given DHT and gossip actors, joining topics. The
/// public dtt::runtime wraps one over real sockets; tests give it fakes. Destroying the node
/// stops every topic it made (their handles then return errc::closed).
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
  /// Stops every topic this node made (called by the destructor); returns the topic actors
  /// told to stop, so that a caller can wait until they are gone.
  std::vector<caf::actor> stop_topics();

  /// This node's endpoint id (its public key).
  const crypto::public_key& id() const noexcept { return key_.public_key_bytes(); }
  /// This node's key (the cluster signs its member records with it).
  const crypto::signing_key& key() const noexcept { return key_; }
  /// The actor system.
  caf::actor_system& system() noexcept { return *sys_; }
  /// The directory actor (publishes our endpoint record); null without endpoint records.
  caf::actor_addr directory_address() const {
    return directory_ ? directory_.address() : caf::actor_addr{};
  }

private:
  caf::actor_system* sys_;
  crypto::signing_key key_;
  node_options opts_;
  caf::actor directory_;
  uint64_t topics_spawned_ = 0;
  std::mutex topics_mu_;
  std::vector<caf::weak_actor_ptr> topics_; ///< topic actors made here (weak: handles own them)
};

} // namespace dtt
