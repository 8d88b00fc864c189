#pragma once

// PlumTree's memory of the Grafts it answered with a payload (dtt's choice; iroh-gossip answers
// every Graft for a cached id). A Graft costs its sender a few dozen bytes and us a payload of
// up to the max message size (4 KiB, PROTOCOL.md §8.2), so a peer repeating one Graft within
// its flood budget (gossip/flood_guard.hpp) could have us send it the same payload thousands of
// times a second. An honest peer Grafts a missing id from each announcer at most once (see
// plumtree::on_graft_timer), so each (peer, id) pair is answered at most once while the
// payload is cached.
//
// The pairs are kept in answer order and expire after the cache retention (by then their
// payload has left the cache: it was cached no later than it was answered), at most
// `max_pairs` of them; past that bound the oldest go first, so a pair can be answered again
// only after `max_pairs` other answers, each a distinct payload. A pair is stored as a keyed
// 64-bit hash (random key per node, so that peers cannot choose colliding pairs; a collision
// only leaves one Graft unanswered, and the Grafting peer then asks its next announcer).

#include "gossip/effects.hpp"
#include "gossip/id_map.hpp"

#include <cstdint>
#include <deque>
#include <unordered_set>
#include <utility>

namespace dtt::gossip {

class graft_answers {
public:
  /// Pairs are remembered for `retention` (the payload cache retention), at most `max_pairs`
  /// of them. `hash_key` keys the pair hash.
  graft_answers(duration retention, size_t max_pairs, uint64_t hash_key)
    : retention_(retention), max_pairs_(max_pairs), peer_hash_(hash_key),
      id_hash_(hash_key + 1) {}

  /// True if `id` was not answered to `peer` on its link `epoch` within the retention, and
  /// remembers that it is now (at `now`); false if it was (answer nothing). The epoch is the
  /// caller's count of the peer's links (0 for a peer that is not a neighbour): an answer lost
  /// with a link may be asked for once more on the next.
  bool first_answer(const endpoint_id& peer, uint64_t epoch, const message_id& id,
                    time_point now) {
    if (max_pairs_ == 0)
      return true;
    uint64_t k = key_of(peer, id) ^ (epoch * 0x9e3779b97f4a7c15ull);
    if (!keys_.insert(k).second)
      return false;
    order_.emplace_back(now, k);
    while (order_.size() > max_pairs_)
      pop_oldest();
    return true;
  }

  /// Forgets the pairs answered at least the retention before `now`.
  void expire(time_point now) {
    while (!order_.empty() && order_.front().first + retention_ <= now)
      pop_oldest();
  }

  /// Number of pairs remembered.
  size_t size() const { return order_.size(); }

private:
  uint64_t key_of(const endpoint_id& peer, const message_id& id) const {
    // Two independently keyed hashes, the id's rotated so that equal hashes do not cancel.
    uint64_t h = id_hash_(id);
    return peer_hash_(peer) ^ ((h << 32) | (h >> 32));
  }

  void pop_oldest() {
    keys_.erase(order_.front().second);
    order_.pop_front();
  }

  duration retention_;
  size_t max_pairs_;
  id_hasher peer_hash_;
  id_hasher id_hash_;
  std::deque<std::pair<time_point, uint64_t>> order_; // answer time and key, oldest first
  std::unordered_set<uint64_t> keys_;
};

} // namespace dtt::gossip
