#pragma once

#include "actors/topic_context.hpp"

#include <caf/stateful_actor.hpp>

#include <random>

namespace dtt {

/// State shared by the three background workers.
struct worker_state {
  topic_context ctx;
  std::mt19937_64 rng;
  static inline const char* name = "dtt.worker";
};

/// Publisher (PROTOCOL.md §6.3): first tick after initial_delay, then every
/// base_interval + jitter; each tick signs a record with up to 5 neighbours and the last 5
/// message hashes and publishes it (own get, capacity check, put with retries).
caf::behavior publisher_worker(caf::stateful_actor<worker_state>* self, topic_context ctx);

/// Bubble merge (PROTOCOL.md §6.4): with fewer than min_neighbors neighbours, joins up to
/// max_join_peers peers advertised in the last two minutes' records.
caf::behavior bubble_merge_worker(caf::stateful_actor<worker_state>* self, topic_context ctx);

/// Message-overlap merge (PROTOCOL.md §6.5): joins publishers (and their peers) whose recent
/// message hashes share nothing with ours.
caf::behavior overlap_merge_worker(caf::stateful_actor<worker_state>* self, topic_context ctx);

} // namespace dtt
