#pragma once

// HyParView membership for one topic, as a sans-IO state machine (Leitão, Pereira, Rodrigues,
// "HyParView: a membership protocol for reliable gossip-based broadcast", DSN 2007; behaviour as
// in PROTOCOL.md §8.3, modelled on iroh-gossip's proto/hyparview).

#include "gossip/effects.hpp"
#include "gossip/rng.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace dtt::gossip {

/// HyParView parameters. The same values should be used network-wide.
struct hyparview_config {
  /// Peers we keep connections to. HyParView paper §5 (p9, "active view size 5");
  /// PROTOCOL.md §8.3.
  size_t active_view_capacity = 5;
  /// Peers we remember without a connection. Paper §5 (p9, passive view 30); PROTOCOL.md §8.3.
  size_t passive_view_capacity = 30;
  /// ForwardJoin walk length (ARWL). Paper §5 (p9, ARWL 6); PROTOCOL.md §8.3.
  uint16_t active_random_walk_length = 6;
  /// Walk step at which ForwardJoin inserts into the passive view (PRWL). Paper §5 (p9, PRWL 3);
  /// PROTOCOL.md §8.3.
  uint16_t passive_random_walk_length = 3;
  /// Shuffle walk length. Paper §5 (p9, shuffle TTL 6 = ARWL); PROTOCOL.md §8.3.
  uint16_t shuffle_random_walk_length = 6;
  /// Active peers sent in a Shuffle (ka). Paper §5 (p9, ka 3); PROTOCOL.md §8.3.
  size_t shuffle_active_view_count = 3;
  /// Passive peers sent in a Shuffle (kp). Paper §5 (p9, kp 4); PROTOCOL.md §8.3.
  size_t shuffle_passive_view_count = 4;
  /// Period of the shuffle (iroh-gossip's choice, not from the paper); PROTOCOL.md §8.3.
  duration shuffle_interval = std::chrono::seconds(60);
  /// How long a Neighbor request may stay unanswered before the next passive peer is tried
  /// (iroh-gossip's choice); PROTOCOL.md §8.3.
  duration neighbor_request_timeout = std::chrono::milliseconds(500);
  /// How long after starting a Shuffle we accept a ShuffleReply for it (dtt's choice; iroh-gossip
  /// accepts any ShuffleReply at any time, which lets one message from anyone fill our passive
  /// view with ids of its choice). The walk takes at most shuffle_random_walk_length (6) hops
  /// and the reply one more, each possibly over a fresh connection (a dial, a few round trips
  /// through a relay), so a few seconds; 30 s leaves room for slow dials and is half the
  /// shuffle interval, so at the defaults at most one Shuffle is outstanding.
  duration shuffle_reply_window = std::chrono::seconds(30);
};

/// Counters for the simulator.
struct hyparview_stats {
  uint64_t messages_received = 0;
  /// ShuffleReplies ignored: neither the one parting reply of a (recent) link nor the answer
  /// to an outstanding Shuffle of ours (see hyparview).
  uint64_t unsolicited_shuffle_replies = 0;
};

/// The membership state of one topic: active and passive views.
///
/// Every input appends effects (sends, timers, disconnects, NeighborUp/Down events, learned
/// addresses) to `out`. Deviations from iroh-gossip, both to keep refills going: a refused or
/// failed Neighbor request is retried with another passive peer (a refusal after its timer, so
/// retries are paced); a connection closing while our Neighbor request is pending counts as a
/// failed dial (the peer leaves the passive view and the next one is tried at once).
///
/// And one against forged membership (iroh-gossip merges any ShuffleReply from anyone, which
/// lets one message fill our passive view with ids of the sender's choice). A ShuffleReply is
/// merged only in the two cases in which §8.3 sends one:
///   - the parting reply: §8.3 sends ShuffleReply + Disconnect when it drops a link (an
///     eviction, a refused Low request, a quit) so that the peer dropped can refill its views.
///     One is merged per link (active, or a Neighbor request of ours), from the peer on its
///     other end, while the link lasts and for a short grace after it ends (both ends often drop
///     a link at once and their replies cross). Its nodes only fill free passive slots and
///     evict nobody: a peer can get a link by Joining (always accepted), so a parting reply
///     must not displace what we know.
///   - the answer to one of our Shuffles, from anyone (the end of the walk replies to its
///     origin): one reply per Shuffle started within shuffle_reply_window.
/// Either merges at most as many nodes as an honest reply holds (ka + kp = 7 for a parting
/// reply, our Shuffle's count for an answer), not the 64 the wire allows.
/// Other ShuffleReplies are ignored, not refused (a late answer may be honest), and counted in
/// the stats. Nothing changes on the wire.
class hyparview {
public:
  /// `me` is our endpoint id, `me_data` our dialing addresses (sent in Join/Neighbor/Shuffle).
  hyparview(endpoint_id me, std::optional<peer_data> me_data, hyparview_config cfg, rng r);

  /// Arms the periodic shuffle timer. Call once, when the topic is created.
  void start(time_point now, effects& out);
  /// Sends Join to `peer` (the application's join_peers).
  void join(const endpoint_id& peer, time_point now, effects& out);
  /// Handles a swarm message (other bodies are ignored).
  void receive(const endpoint_id& from, const msg::body& m, time_point now, effects& out);
  /// Handles one of our timers (shuffle, neighbor_request).
  void timer_fired(const topic_timer& t, time_point now, effects& out);
  /// The transport lost its connection to `peer`.
  void connection_closed(const endpoint_id& peer, time_point now, effects& out);
  /// Leaves the topic: ShuffleReply + Disconnect(alive=false) to every active peer.
  void quit(time_point now, effects& out);
  /// Replaces the addresses we advertise.

  /// Current active view (neighbours), in insertion order.
  const std::vector<endpoint_id>& active_view() const { return active_; }
  /// True if `peer` is in the active view.
  bool is_active(const endpoint_id& peer) const {
    return std::find(active_.begin(), active_.end(), peer) != active_.end();
  }
  /// Current passive view.
  const std::vector<endpoint_id>& passive_view() const { return passive_; }
  /// True if a Neighbor request to `peer` awaits its answer.
  bool is_pending(const endpoint_id& peer) const { return pending_.count(peer) != 0; }
  /// Known addresses of `peer`, if any.
  const peer_data* addresses_of(const endpoint_id& peer) const;
  const hyparview_config& config() const { return cfg_; }
  const hyparview_stats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

private:
  enum class removal { connection_closed, disconnect_alive, disconnect_leaving, random };

  void on_join(const endpoint_id& from, const std::optional<peer_data>& data, time_point now,
               effects& out);
  void on_forward_join(const endpoint_id& from, const msg::forward_join& m, time_point now,
                       effects& out);
  void on_shuffle(const endpoint_id& from, const msg::shuffle& m, time_point now, effects& out);
  void on_shuffle_reply(const endpoint_id& from, const msg::shuffle_reply& m, time_point now,
                        effects& out);
  // The node count of the oldest outstanding Shuffle, which it takes (0: none).
  size_t take_outstanding_shuffle(time_point now);
  // Parting ShuffleReply credits: one per link (active or Neighbor request), kept for a grace
  // period after the link ends.
  void link_started(const endpoint_id& peer, time_point now);
  void link_ended(const endpoint_id& peer, time_point now);
  // Ends our outstanding Neighbor request to `peer` (and its link, see link_ended); false if
  // there was none.
  bool drop_pending(const endpoint_id& peer, time_point now);
  bool take_parting_credit(const endpoint_id& peer, time_point now);
  void drop_parting_credit(time_point now);
  void on_neighbor(const endpoint_id& from, const msg::neighbor& m, time_point now, effects& out);
  void on_disconnect(const endpoint_id& from, const msg::disconnect& m, time_point now,
                     effects& out);
  void on_shuffle_timer(time_point now, effects& out);
  void on_neighbor_timer(const endpoint_id& peer, time_point now, effects& out);

  bool add_active(const endpoint_id& peer, const std::optional<peer_data>& data, priority prio,
                  bool reply, time_point now, effects& out);
  // `evict`: when the view is full, replace a random passive peer (else skip `peer`).
  void add_passive(const endpoint_id& peer, const std::optional<peer_data>& data, effects& out,
                   bool evict = true);
  void remove_active(const endpoint_id& peer, removal why, time_point now, effects& out);
  void remove_passive(const endpoint_id& peer);
  void refill(const std::vector<endpoint_id>& skip, time_point now, effects& out);
  // A request is answered (pending + timer); an ack answers a request or renews a link.
  void request_neighbor(const endpoint_id& peer, priority prio, time_point now, effects& out);
  void send_neighbor_ack(const endpoint_id& peer, priority prio, effects& out);
  void send_disconnect(const endpoint_id& peer, bool alive, effects& out);
  void send_shuffle_reply(const endpoint_id& to, size_t len, effects& out);
  void learn(const peer_info& info, effects& out);
  void forget_if_unknown(const endpoint_id& peer);
  peer_info info_of(const endpoint_id& peer) const;
  std::vector<endpoint_id> sample(const std::vector<endpoint_id>& from,
                                  const std::vector<endpoint_id>& skip, size_t n);

  endpoint_id me_;
  std::optional<peer_data> me_data_;
  hyparview_config cfg_;
  rng rng_;
  std::vector<endpoint_id> active_;
  std::vector<endpoint_id> passive_;
  std::set<endpoint_id> pending_;         // Neighbor requests awaiting an answer
  std::set<endpoint_id> refused_;         // refused requests, retried when their timer fires
  std::set<endpoint_id> alive_disconnect_; // said Disconnect(alive): keep passive on close
  std::map<endpoint_id, peer_data> addresses_;
  // Our outstanding Shuffles, oldest first: deadline (start + shuffle_reply_window) and node
  // count; one is taken by each ShuffleReply merged. At most max_outstanding_shuffles.
  std::deque<std::pair<time_point, size_t>> shuffles_out_;
  // Peers whose parting ShuffleReply we would merge, with the end of that right
  // (time_point::max() while linked); at most max_parting_credits.
  std::map<endpoint_id, time_point> parting_;
  hyparview_stats stats_;
};

} // namespace dtt::gossip
