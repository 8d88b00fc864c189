#pragma once

#include "actors/peer_cache.hpp"
#include "actors/topic_context.hpp"

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>

#include <random>

namespace dtt {

/// State shared by the three background workers.
struct worker_state {
  topic_context ctx;
  std::mt19937_64 rng;
  static inline const char* name = "dtt.worker";
};

/// State of the peer cache worker.
struct peer_cache_state {
  topic_context ctx;
  std::vector<peer_cache::entry> entries;        ///< the cache as last read or written
  std::vector<gossip::endpoint_id> written;      ///< neighbours at the last write, sorted
  caf::actor_clock::time_point last_write{};
  bool writing = false;                           ///< a write (address lookup) is under way
  std::vector<gossip::endpoint_id> seen;         ///< neighbours at the last check, sorted
  caf::timespan check_interval{std::chrono::seconds(1)}; ///< until the next check (backs off)
  static inline const char* name = "dtt.peer_cache";
};

/// Peers tried per rejoin step, every join_confirmation_wait_time (dtt's choice: about one
/// HyParView active view, PROTOCOL.md §8.3).
inline constexpr size_t peer_cache_batch = 4;
/// How often the worker looks at the neighbours: every peer_cache_check_interval after a
/// change, backing off (doubling) to peer_cache_max_check_interval while they stay the same, so
/// that an idle node wakes rarely (issue 12); and how often it rewrites an unchanged cache
/// (refreshing last_seen) while it has neighbours (dtt's choices).
inline constexpr std::chrono::seconds peer_cache_check_interval{1};
inline constexpr std::chrono::seconds peer_cache_max_check_interval{16};
inline constexpr std::chrono::seconds peer_cache_refresh_interval{60};

/// The peer cache worker (issue 11): at start it reads ctx.peer_cache_path and joins the cached
/// peers at their cached addresses (peer_cache_batch at a time, most recent first, until the
/// topic has a neighbour), in parallel with the bootstrap loop and without the DHT slot. Then
/// it writes the file whenever the set of neighbours changed (and every
/// peer_cache_refresh_interval), with the neighbours' endpoint-record addresses from
/// ctx.resolver (without a resolver: ids only). A file that does not parse is ignored (warn).
caf::behavior peer_cache_worker(caf::stateful_actor<peer_cache_state>* self, topic_context ctx);

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
