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
  /// The application's actors (subscribe_atom), shared with the exit handler that
  /// unsubscribes them.
  std::shared_ptr<std::vector<event_subscriber>> subscribers =
    std::make_shared<std::vector<event_subscriber>>();
  bool workers_started = false; ///< set by the first successful bootstrap
  /// Messages of the dtt::topic_actor interface handled (stats "actor_messages"): the public
  /// topic API sends broadcasts to the gossip actor directly, so this stays put while one
  /// streams (tests/actors/message_path.cpp).
  uint64_t handled = 0;
  static inline const char* name = "dtt.topic";
};

/// The topic actor (PROTOCOL.md §6.1, §6.8): implements the public dtt::topic_actor interface
/// (include/dtt/actors.hpp) and owns the topic's tracker. Spawns, all linked to itself: the
/// receiver (subscribed to the gossip actor for neighbour events only), the record publisher,
/// the peer cache worker (with a peer cache path), the bootstrap loop and, once the first join
/// succeeded, the publisher and both merges (as configured). It subscribes ctx.sink (the
/// application's event buffer) to the gossip actor, and unsubscribes it and every subscriber
/// the application added when it stops; it then closes the sink. It sets no timers of its own,
/// so dropping the last handle to it stops the whole topic.
///
/// Broadcasts, neighbours and subscriptions are delegated to the gossip actor (the reply goes
/// straight back to the caller). Internal: (bootstrap_done_atom, bool) from the bootstrap loop;
/// (stats_atom) → the tracker's counters by name (records dropped by reason, workers).
caf::behavior topic_actor_fun(caf::stateful_actor<topic_state>* self, topic_context ctx,
                              dht_actor dht);

} // namespace dtt
