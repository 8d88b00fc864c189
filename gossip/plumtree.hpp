#pragma once

// PlumTree epidemic broadcast for one topic, as a sans-IO state machine (Leitão, Pereira,
// Rodrigues, "Epidemic Broadcast Trees", SRDS 2007; behaviour as in PROTOCOL.md §8.4, modelled
// on iroh-gossip's proto/plumtree).

#include "gossip/effects.hpp"
#include "gossip/graft_answers.hpp"
#include "gossip/id_map.hpp"
#include "gossip/seen_table.hpp"

#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace dtt::gossip {

/// PlumTree parameters. The same values should be used network-wide.
struct plumtree_config {
  /// Wait after the first IHave before grafting (iroh-gossip's guess; the paper leaves it to
  /// deployment, §3.8 p8); PROTOCOL.md §8.4.
  duration graft_timeout_1 = std::chrono::milliseconds(80);
  /// Wait after a Graft before grafting the next announcer ("in the order of an average round
  /// trip", paper p9); PROTOCOL.md §8.4.
  duration graft_timeout_2 = std::chrono::milliseconds(40);
  /// IHave batching delay (iroh-gossip's choice); PROTOCOL.md §8.4.
  duration dispatch_timeout = std::chrono::milliseconds(5);
  /// Rounds a lazy path must beat the eager one by to swap them (paper's experiments, p12);
  /// PROTOCOL.md §8.4.
  uint16_t optimization_threshold = 7;
  /// How long payloads stay available for Graft (iroh-gossip); PROTOCOL.md §8.4. Never longer
  /// than the id retention below.
  duration message_cache_retention = std::chrono::seconds(30);
  /// How long seen ids are remembered (iroh-gossip); PROTOCOL.md §8.4.
  duration message_id_retention = std::chrono::seconds(90);
  /// Period of cache eviction (iroh-gossip); PROTOCOL.md §8.4.
  duration cache_evict_interval = std::chrono::seconds(1);
  /// Wire limit: IHave batches are cut to fit it (PROTOCOL.md §8.2).
  size_t max_message_size = default_max_message_size;
  /// Hard limit on ids announced by IHave but not yet received (memory bound against floods).
  size_t max_missing = 4096;
  /// Hard limit on announcers remembered per missing id.
  size_t max_announcers = 16;
  /// Memory bounds of the Graft cache (payload bytes) and of the seen ids (dtt's choice;
  /// iroh-gossip bounds them only by the retention times). At high rates the retention alone
  /// lets one sender make every node hold rate x 30 s of payloads; past a bound the oldest
  /// entries go first (a Graft for them then goes unanswered, as after the retention).
  size_t max_cache_bytes = 64u << 20;
  size_t max_seen_ids = 1u << 20;
  /// Memory bound of the (peer, id) pairs whose Graft we answered, each answered once while
  /// its payload is cached (gossip/graft_answers.hpp; dtt's choice, iroh-gossip answers every
  /// Graft): one peer Grafting at its whole flood budget (2000/s, config::flood) for the 30 s
  /// cache retention, about 4 MB.
  size_t max_graft_answers = 1u << 16;
  /// Repair on a new link (dtt's choice; neither the paper nor iroh-gossip has it): when a
  /// neighbour comes up we announce to it, by IHave, the payloads we received or sent within
  /// this window (at most neighbor_up_announce_max, newest first), and it Grafts those it
  /// missed. Frames queued on a link that died are lost with it, and a node whose links all
  /// dropped at once (starved past the peers' idle timeout, or its network down for a moment)
  /// gets no IHave for what was broadcast until it had neighbours again: PlumTree alone repairs
  /// only through the lazy links that stayed up. A node that joins may so receive messages
  /// broadcast up to this long before its first link. Zero turns it off.
  duration neighbor_up_announce = std::chrono::seconds(10);
  size_t neighbor_up_announce_max = 256;
  /// Repair on a renewed link (link_renewed(): a link to a neighbour ended without a goodbye
  /// while another carried on, or the neighbour joined us again): the same announcement, at
  /// most once per neighbour per this interval (dtt's choice: a peer can renew at will, by
  /// Join or by dropping one of two links, and each renewal costs us up to 256 IHave entries
  /// and may re-answer one Graft per cached payload).
  duration renewal_interval = std::chrono::seconds(1);
};

/// Counters for the simulator (RMR and LDH, PROTOCOL.md §8.4 / iroh-gossip's sim).
struct plumtree_stats {
  uint64_t payload_messages_received = 0; ///< Gossip messages, duplicates included
  uint64_t control_messages_received = 0; ///< Prune, Graft, IHave
  uint16_t max_last_delivery_hop = 0;     ///< highest round of a first delivery
  uint64_t repeated_grafts = 0; ///< Grafts for a payload already sent to that peer (unanswered)
  uint64_t duplicates = 0;      ///< Gossip messages whose id was already seen (answered Prune)
  uint64_t renewals = 0;        ///< renewed links announced to (link_renewed)
};

/// The hash used for message ids: SHA-256 of the content (OpenSSL's, the fastest hash here;
/// crypto/hash.cpp). A receiver checks it before the id counts as seen.
message_id message_id_of(byte_view content);

/// The broadcast state of one topic: eager/lazy peer sets, seen ids, payload cache.
class plumtree {
public:
  /// `hash_key` keys the hash of message ids in its tables (random per node in real use, so that
  /// peers cannot pick colliding ids; any value in tests).
  plumtree(endpoint_id me, plumtree_config cfg, uint64_t hash_key = 0);

  /// Arms the eviction tick (evict_cache timer) unless it is pending: for owners that prune
  /// their own state on it (the flood guard).
  void keep_ticking(time_point now, effects& out) { arm_evict(now, out); }
  /// Call once, when the topic is created. The cache eviction timer is armed by the first
  /// message remembered and stops when nothing is left to evict.
  void start(time_point now, effects& out);
  /// Broadcasts `content` to the swarm or (neighbors) to the eager peers only. The caller
  /// checks the size. We do not receive our own message.
  void broadcast(shared_bytes content, delivery_scope::kind scope, time_point now, effects& out);
  /// Handles a PlumTree message (other bodies are ignored).
  void receive(const endpoint_id& from, const msg::body& m, time_point now, effects& out);
  /// Handles one of our timers (graft, dispatch_lazy_push, evict_cache).
  void timer_fired(const topic_timer& t, time_point now, effects& out);
  /// HyParView added `peer`: it becomes eager.
  void neighbor_up(const endpoint_id& peer);
  /// As above, and the recent payloads are announced to it (neighbor_up_announce).
  void neighbor_up(const endpoint_id& peer, time_point now, effects& out);
  /// The link to neighbour `peer` was renewed and frames in flight on the old one may be lost
  /// either way: the recent payloads are announced to it again (neighbor_up_announce, at most
  /// once per renewal_interval), and its Grafts are answered once more. Its eager or lazy
  /// place stays. Ignored for a peer that is not a neighbour.
  void link_renewed(const endpoint_id& peer, time_point now, effects& out);
  /// HyParView dropped `peer`: forget it everywhere.
  void neighbor_down(const endpoint_id& peer);

  const std::set<endpoint_id>& eager_peers() const { return eager_; }
  const std::set<endpoint_id>& lazy_peers() const { return lazy_; }
  /// True if a swarm message with this id was received or sent within the id retention.
  bool has_seen(const message_id& id) const { return seen_.contains(id); }
  /// A hint that `id` will be received soon (see seen_table::prefetch).
  void prefetch(const message_id& id) const noexcept { seen_.prefetch(id); }
  /// Number of payloads in the Graft cache, and their bytes.
  size_t cache_size() const { return seen_.cache_size(); }
  size_t cache_bytes() const { return seen_.cache_bytes(); }
  /// Number of seen ids remembered.
  size_t seen_count() const { return seen_.size(); }
  /// Number of ids announced by IHave and still missing.
  size_t missing_count() const { return missing_.size(); }
  /// Number of (peer, id) pairs remembered as answered by Graft.
  size_t graft_answer_count() const { return answered_.size(); }
  const plumtree_config& config() const { return cfg_; }
  const plumtree_stats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

private:
  // Who announced a missing id, and at which round, oldest first (at most max_announcers: a
  // vector, not a deque, whose first block alone would be 512 bytes per missing id).
  using announcers = std::vector<std::pair<endpoint_id, uint16_t>>;

  void on_gossip(const endpoint_id& from, const msg::gossip& m, time_point now, effects& out);
  void on_ihave(const endpoint_id& from, const msg::ihave& m, time_point now, effects& out);
  void on_graft(const endpoint_id& from, const msg::graft& m, time_point now, effects& out);
  void on_graft_timer(const message_id& id, time_point now, effects& out);
  void on_dispatch(effects& out);
  void on_evict(time_point now, effects& out);
  void optimize(const endpoint_id& sender, uint16_t round,
                const announcers& announced, effects& out);
  void eager_push(const msg::gossip& m, const endpoint_id& except, effects& out);
  void lazy_push(const msg::gossip& m, const endpoint_id& except, time_point now, effects& out);
  void add_eager(const endpoint_id& peer);
  void add_lazy(const endpoint_id& peer);
  void remember(const msg::gossip& m, time_point now, effects& out, bool absent = false);
  void arm_evict(time_point now, effects& out);
  void announce_recent(const endpoint_id& peer, time_point now, effects& out);
  // A neighbour's link epoch: new at each neighbor_up and renewal, so that a Graft whose
  // answer may have been lost with a link is answered once more on the next one.
  struct link_state {
    uint64_t epoch = 0;
    std::optional<time_point> renewed_at;
  };

  endpoint_id me_;
  plumtree_config cfg_;
  std::set<endpoint_id> eager_;
  std::set<endpoint_id> lazy_;
  std::map<endpoint_id, std::vector<msg::ihave_entry>> lazy_queue_;
  std::unordered_map<message_id, announcers, id_hasher>
    missing_;
  seen_table seen_; // seen ids and the Graft cache
  graft_answers answered_; // (peer, link epoch, id) answered by Graft while cached
  std::map<endpoint_id, link_state> links_; // one per neighbour (eager or lazy)
  uint64_t epochs_ = 0;                     // the last link epoch handed out
  std::unordered_set<message_id, id_hasher> graft_timer_armed_;
  bool dispatch_armed_ = false;
  bool evict_armed_ = false; // an evict_cache timer is pending
  plumtree_stats stats_;
};

} // namespace dtt::gossip
