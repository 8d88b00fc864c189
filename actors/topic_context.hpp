#pragma once

#include "actors/tracker_logic.hpp"
#include "config/config.hpp"
#include "crypto/clock.hpp"
#include "messages/dht.hpp"
#include "messages/gossip.hpp"
#include "messages/tracker.hpp"

#include <caf/event_based_actor.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace dtt {

/// The two merge workers (PROTOCOL.md §6.4, §6.5), an index into topic_counters' arrays.
enum class merge_kind : uint8_t { bubble, overlap };
/// "bubble" or "overlap" (logs, stats keys, metric labels).
inline const char* merge_kind_name(merge_kind k) {
  return k == merge_kind::bubble ? "bubble" : "overlap";
}

/// Counters of one topic's tracker actors (bootstrap loop, merge workers), written where the
/// event happens and read by the topic actor's stats (dttd's /metrics and /status). Shared by
/// every copy of the topic's context; atomics, since those actors run on any CAF thread.
struct topic_counters {
  std::atomic<uint64_t> bootstrap_rounds{0};  ///< discovery rounds started (§6.2)
  /// Merge ticks that handed peers to the gossip actor, and the peers handed, by merge_kind.
  std::array<std::atomic<uint64_t>, 2> merges{};
  std::array<std::atomic<uint64_t>, 2> merge_peers{};
  /// The last bootstrap round whose records were read: its start (unix seconds of the topic's
  /// wall clock, 0: none yet), whether every get succeeded, the valid records of minutes m−2
  /// to m+1 and the join candidates among them.
  std::atomic<uint64_t> last_round_unix{0};
  std::atomic<uint64_t> last_round_reads_ok{0};
  std::atomic<uint64_t> last_round_records{0};
  std::atomic<uint64_t> last_round_candidates{0};
};

/// What every actor of one topic shares: keys, configuration, clock and the handles of the
/// node-level and topic-level actors it talks to. Holds no handle to the topic actor itself, so
/// that the application's handle is the only thing keeping a topic alive.
struct topic_context {
  std::shared_ptr<const tracker::topic_keys> keys;
  config cfg;
  const crypto::wall_clock* clock = nullptr;
  gossip_actor gossip;
  resolver_actor resolver; ///< optional: without it ids are joined as they are
  record_publisher_actor records;
  receiver_actor receiver;
  /// The application's event buffer (dtt::topic::next), filled by the gossip actor.
  std::shared_ptr<event_sink> sink;
  uint64_t seed = 0;
  /// The topic's peer cache file (actors/peer_cache.hpp); empty: no cache.
  std::string peer_cache_path;
  /// The tracker's counters (one set per topic: copies of a context share it).
  std::shared_ptr<topic_counters> counters = std::make_shared<topic_counters>();

  /// The current unix minute (the wall clock is before 1970 → 0).
  uint64_t minute(int64_t offset = 0) const;
  /// The gossip topic id (derived from name and secret, docs/ADMISSION.md; not the DHT's
  /// topic hash).
  const gossip::topic_id& topic_id() const { return keys->membership.topic_id; }
  /// The key whose proofs admit us to the gossip topic.
  const bytes32& membership_key() const { return keys->membership.key; }
  /// Our endpoint id.
  const gossip::endpoint_id& self_id() const { return keys->node_key.public_key_bytes(); }
};

/// Resolves `ids` (if a resolver is set) and sends one join_peers for them to the gossip actor,
/// bounded by timeouts.join_peer_timeout. Calls `done(true)` once the command was handed over.
void join_peers(caf::event_based_actor* self, const topic_context& ctx,
                std::vector<gossip::endpoint_id> ids, std::function<void(bool)> done);

/// Asks the receiver whether we have at least one neighbour; errors count as "no".
void check_joined(caf::event_based_actor* self, const topic_context& ctx,
                  std::function<void(bool)> then);

/// Asks the gossip actor for our current neighbours and message hashes (what a record lists),
/// in one snapshot request; `ok` is false if it failed.
void fetch_view(caf::event_based_actor* self, const topic_context& ctx,
                std::function<void(bool ok, std::vector<gossip::endpoint_id> neighbors,
                                   std::vector<bytes32> hashes)> then);

/// Fetches the records of minutes m−2 to m+1 (in parallel) and passes m's records as `now` and
/// the union of the others as `others`; `ok` is false if any get failed (bubble and overlap
/// merge then skip the tick, §6.4). The original reads m−1 and m only (PROTOCOL.md §10.7): a
/// writer whose clock is a minute or more off was invisible. With m−2 and m+1 a reader finds
/// every writer within 60 s of its clock at any second, and of two nodes up to 120 s apart at
/// least one finds the other at any second, which is enough to join (README "Clock
/// tolerance").
void fetch_minutes(caf::event_based_actor* self, const topic_context& ctx, uint64_t m,
                   std::function<void(bool ok, record_list others, record_list now)> then);

} // namespace dtt
