#pragma once

#include "actors/topic_context.hpp"

#include <caf/stateful_actor.hpp>

namespace dtt {

/// State of the topic actor: the one actor an application's topic handle holds.
struct topic_state {
  topic_context ctx;
  caf::actor bootstrap;
  std::vector<caf::actor> workers;
  caf::actor peer_cache; ///< the peer cache worker, if ctx.peer_cache_path is set
  bool workers_started = false; ///< set by the first successful bootstrap
  static inline const char* name = "dtt.topic";
};

/// The topic actor (PROTOCOL.md §6.1, §6.8). Spawns, all linked to itself: the receiver (and
/// subscribes it to the gossip actor), the record publisher, the peer cache worker (with a
/// peer cache path), the bootstrap loop and, once the
/// first join succeeded, the publisher and both merges (as configured). It sets no timers of its
/// own, so dropping the last handle to it stops the whole topic.
///
/// Requests: (broadcast_atom, bytes) → bool, (broadcast_neighbors_atom, bytes) → bool,
/// (join_peers_atom, ids) → bool, (neighbors_atom) → ids, (hashes_atom) → hashes,
/// (next_event_atom) → gossip::event, (await_joined_atom) → bool,
/// (stats_atom) → std::map<std::string, uint64_t>.
caf::behavior topic_actor(caf::stateful_actor<topic_state>* self, topic_context ctx,
                          dht_actor dht);

} // namespace dtt
