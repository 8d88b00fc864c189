#pragma once

// In-memory stand-ins for the DHT and gossip actors, for deterministic actor tests under CAF's
// test_coordinator. They implement the same typed interfaces as the real actors.
#include "gossip/wire.hpp"
#include "messages/dht.hpp"
#include "messages/gossip.hpp"

#include <caf/actor_system.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace dtt::test {

/// A DHT in which every put is stored and every get returns all items for the target
/// (the best case of PROTOCOL.md §4: no storage node overwrote another writer). Puts obey the
/// real DHT actor's rules: an item that does not verify is refused (errc::too_large,
/// errc::bad_signature), and a put that no node answered fails with errc::unreachable.
struct fake_dht_store {
  std::map<crypto::bep44::target, std::vector<dht::mutable_item>> items;
  size_t gets = 0;
  size_t puts = 0;
  bool fail_puts = false; ///< no node answers a put (errc::unreachable)
  /// Storage nodes that acknowledge each put, in order (puts past the list: 8).
  std::vector<uint32_t> acks;
  std::mutex mtx;         ///< the fakes also run on the threaded scheduler
};

/// Spawns a DHT actor over a shared store.
dht_actor spawn_fake_dht(caf::actor_system& sys, std::shared_ptr<fake_dht_store> store);

/// A gossip network in which join_peers connects instantly to every id that has subscribed to
/// the topic, broadcasts reach every member connected to the sender, and broadcast_neighbors
/// reaches direct neighbours. Broadcasts obey the real gossip actor's limits: content over
/// max_content_size() is refused with errc::too_large, and a topic without a subscriber with
/// errc::closed (actors/gossip_actor.hpp, gossip::protocol::broadcast); join_peers on such a
/// topic replies false.
struct fake_gossip_net {
  /// A subscriber: an actor (every event, or neighbour events only) or an event sink.
  struct subscriber {
    gossip_subscriber actor;
    std::shared_ptr<event_sink> sink;
    bool messages = true;
  };
  struct member {
    std::set<gossip::endpoint_id> neighbors;
    std::vector<subscriber> subscribers;
    std::vector<bytes> recent; ///< the last received contents (at most 5), for snapshots
  };
  std::map<std::pair<gossip::topic_id, gossip::endpoint_id>, member> members;
  /// The last add_addresses each node's gossip actor received, by node and then by peer.
  std::map<gossip::endpoint_id, std::map<gossip::endpoint_id, std::vector<gossip::socket_address>>>
    addresses;
  size_t joins = 0;
  /// The message size limit of every node (the real actor's default, PROTOCOL.md §8.2).
  size_t max_message_size = gossip::default_max_message_size;
  /// Largest broadcast content accepted: what gossip::protocol::max_content_size() gives for
  /// max_message_size (the message minus the Gossip envelope, gossip/wire.hpp).
  size_t max_content_size() const { return max_message_size - gossip::gossip_overhead; }
  std::recursive_mutex mtx; ///< the fakes also run on the threaded scheduler
  /// Severs every link of `id` on `topic` (both sides see neighbor_down).
  void isolate(const gossip::topic_id& topic, const gossip::endpoint_id& id);
};

/// Spawns the gossip actor of node `self_id` on the shared network.
gossip_actor spawn_fake_gossip(caf::actor_system& sys, std::shared_ptr<fake_gossip_net> net,
                               gossip::endpoint_id self_id);

} // namespace dtt::test
