#pragma once

// Flood guard: per-peer budgets for the gossip control messages (dtt's choice; iroh-gossip has
// none). Every HyParView message and the PlumTree control messages (Prune, Graft, IHave) cost
// the receiver work, and some (Join, ForwardJoin, Shuffle) are relayed into the swarm, so a peer
// sending an unbounded stream of them would have us do unbounded work and amplify it. Each
// (peer, topic, kind) has a token bucket; a message over its budget is refused and the driver
// closes that peer's connection (gossip::protocol::receive). Gossip payloads are not limited
// here. The budgets are kept per authenticated connection peer id and survive the peer's
// disconnection (a refused peer that reconnects at once finds its budget still spent).

#include "gossip/effects.hpp"
#include "gossip/wire.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <variant>

namespace dtt::gossip {

/// A budget: `burst` messages at once, and one more per `interval` (a token bucket). A burst of
/// 0 refuses every message; an interval of 0 (with a burst) admits every message.
struct rate_limit {
  size_t burst = 0;
  duration interval{};
};

/// The budgets per peer and topic of each limited message kind. The defaults are meant never
/// to be reached by a peer following the protocol at the defaults of PROTOCOL.md §8.3/§8.4, and
/// to cut a flood (thousands of messages per second on one connection) short.
struct flood_limits {
  /// A well-behaved peer sends one Join per join_peers call: DTT's bootstrap loop
  /// (PROTOCOL.md §6.2) at most once per candidate every ~2.6 s, BubbleMerge (§6.4) every 60 s
  /// or more. Each Join makes us send ForwardJoin to every other active peer (§8.3), the
  /// largest amplification of all.
  rate_limit join{8, std::chrono::seconds(1)};
  /// A peer sends ForwardJoin for every Join it takes in (one to each of its other active
  /// peers, §8.3) and relays random walks (<= 6 hops each), so its rate follows the whole
  /// swarm's join rate, not its own: when a crowd joins through one contact (iroh's "single"
  /// bootstrap, every node joining node 0 at once) that contact's active peers get one
  /// ForwardJoin per joiner within a round trip (the simulator's 1000-node bootstrap needs
  /// between 16 and 64 at once). 256 at once and 100/s (a contact taking in 100 Joins a
  /// second); each costs us at most one relay and one Neighbor request.
  rate_limit forward_join{256, std::chrono::milliseconds(10)};
  /// Every node starts one Shuffle per shuffle_interval (60 s, §8.3) and each walk takes <= 6
  /// hops, so a node relays 0.1 Shuffles/s on average over its 5 links; but nodes that started
  /// together shuffle together, and walks then cross: the simulator (every node started at the
  /// same instant) needs between 4 and 8 at once. 32 at once and 1/s (50x the average per link,
  /// 4x with a 5 s shuffle interval).
  rate_limit shuffle{32, std::chrono::seconds(1)};
  /// A ShuffleReply answers one of our Shuffles (one per 60 s, usually from a peer we have no
  /// other link to), or precedes each Disconnect (an eviction, a refused Low Neighbor request
  /// or a quit, §8.3): as often as Disconnect, below, so the same 64 at once and 2/s.
  rate_limit shuffle_reply{64, std::chrono::milliseconds(500)};
  /// Neighbor is exchanged when a link comes up (request and answer), re-sent when a
  /// ForwardJoin walk of a joiner visits a node that already has it active (<= 6 per walk,
  /// §8.3), and a peer's refill requests to us are paced by its 500 ms
  /// neighbor_request_timeout. The simulator's 1000-node bootstrap needs between 8 and 16 at
  /// once. 64 at once and 4/s.
  rate_limit neighbor{64, std::chrono::milliseconds(250)};
  /// One per link teardown: while a crowd joins through one contact, the contact evicts a
  /// random active peer per Join (§8.3) and an evicted peer left without neighbours comes
  /// straight back with a High Neighbor request, so one peer can be dropped several times in a
  /// round trip (the simulator's 1000-node bootstrap needs between 4 and 8 at once); refused Low
  /// requests are retried no faster than the 500 ms neighbor_request_timeout. 64 at once and
  /// 2/s.
  rate_limit disconnect{64, std::chrono::milliseconds(500)};
  /// A peer sends Prune for each duplicate Gossip we pushed to it, which stops within a round
  /// trip once we make it lazy, or when an IHave beat its eager path by 7 rounds (optimisation,
  /// §8.4): bursts after a tree change, bounded by the payloads on the link (the simulator's
  /// scenarios need fewer than 20 at once of each PlumTree kind). 2000 at once and 2000/s, as
  /// IHave.
  rate_limit prune{2000, std::chrono::microseconds(500)};
  /// A peer Grafts us once per id we announced that it still misses after graft_timeout_1
  /// (80 ms; the next announcer after graft_timeout_2, 40 ms, §8.4), after which we push to it
  /// eagerly, so Grafts come in bursts of the ids announced in about 80 ms plus a round trip;
  /// plus one without id per optimisation. 2000 at once and 2000/s, as IHave.
  rate_limit graft{2000, std::chrono::microseconds(500)};
  /// IHaves are dispatched once per dispatch_timeout (5 ms, §8.4) per topic, so a peer sends
  /// us at most 200 per second, plus one more batch per ~119 ids queued in one dispatch (4 KiB
  /// messages), i.e. more only above ~24 000 payloads/s. 2000 at once (10 s of dispatches, or a
  /// second of backlog after a stall) and 2000/s (payload rates up to ~200 000/s).
  rate_limit ihave{2000, std::chrono::microseconds(500)};

  /// The budget of message kind `kind` (a msg::body index), or nullptr if it is not limited
  /// (Gossip).
  const rate_limit* of(size_t kind) const;
};

/// The name of message kind `kind` (a msg::body index), e.g. "ForwardJoin".
const char* kind_name(size_t kind);

/// The token buckets of one topic: per peer and message kind, the time at which the bucket is
/// full again (the generic cell rate algorithm). A peer without an entry has full buckets, so
/// entries whose times are all past can be dropped at any time; the number of entries is
/// bounded by max_peers.
class flood_guard {
public:
  /// Bound on the peers remembered (per topic). Past it, stale entries go first, then the one
  /// closest to full buckets.
  static constexpr size_t max_peers = 1024;

  /// Takes one message of kind `kind` (a msg::body index) from `peer`'s budget under `limit`;
  /// false (and nothing taken) if the budget is spent.
  bool admit(const endpoint_id& peer, size_t kind, const rate_limit& limit, time_point now);
  /// Drops the entries whose buckets are all full at `now`.
  void prune(time_point now);
  /// Number of peers remembered.
  size_t size() const { return peers_.size(); }

private:
  static constexpr size_t kinds = std::variant_size_v<msg::body>;
  struct entry {
    std::array<time_point, kinds> full{}; // per kind; the epoch means full
    time_point latest{};                  // the latest of `full`
  };
  void make_room(time_point now);

  std::map<endpoint_id, entry> peers_;
};

/// The error text of a refused message, e.g. "ForwardJoin flood: over the budget of 256 (one
/// more per 10000 us) for topic 5a5a5a5a".
std::string flood_error_text(size_t kind, const rate_limit& limit, const topic_id& topic);

} // namespace dtt::gossip
