#pragma once

#include "actors/topic_context.hpp"

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

namespace dtt {

/// State of the bootstrap loop.
struct bootstrap_state {
  topic_context ctx;
  caf::actor_addr owner;       ///< the topic actor, held weakly
  uint64_t last_pub = 0;       ///< minute of our last bootstrap record
  bool running = false;        ///< a discovery round is in progress
  bool first_round = true;
  uint64_t wait_generation = 0;
  std::function<void()> waiting; ///< continuation of the current wait
  uint64_t rounds = 0;
  bool joined = false;         ///< the receiver's last notice: a neighbour is up
  static inline const char* name = "dtt.bootstrap";
};

/// The bootstrap loop of PROTOCOL.md §6.2: publish, read the last two minutes, join the peers
/// found, until the receiver reports a neighbour. Reports (bootstrap_done_atom, true) to `owner`
/// on success. Unlike the original it then stays and runs again whenever the topic loses its
/// last neighbour (if cfg.rebootstrap_when_isolated, §10.9).
caf::behavior bootstrap_loop(caf::stateful_actor<bootstrap_state>* self, topic_context ctx,
                             caf::actor_addr owner);

} // namespace dtt
