#pragma once

// The gossip protocol of one node: many topics, each with its own HyParView membership and
// PlumTree broadcast, as one sans-IO state machine (PROTOCOL.md §8; iroh-gossip's proto/state).
//
// Driving it (what the gossip actor and the simulator do):
//   - feed inputs: receive()/receive_bytes(), timer_fired(), connection_closed(), and the
//     commands join()/broadcast()/broadcast_neighbors()/quit(); each takes `now`;
//   - then take_outputs() and perform them in order:
//       send{to, message}        encode (wire::encode) and write to `to`, dialing it if needed
//                                (a failed dial is reported back as connection_closed(to));
//       arm_timer{at, id}        call timer_fired(id, now) at `at` (timers are never cancelled;
//                                a stale one is ignored when it fires);
//       emit{topic, event, p}    deliver to the topic's subscribers (a received message's
//                                content is p, shared with the Graft cache);
//       disconnect{peer}         close the connection to `peer` once queued sends are flushed
//                                (no topic uses it); do not report that close back;
//       peer_addresses{peer, a}  remember `a` as dialing hints for `peer`.
//   - report connection_closed(peer) when a connection ends without our asking (remote close,
//     error, failed dial).
// Nothing here reads a clock, touches a socket or uses global randomness.

#include "crypto/error.hpp"
#include "gossip/effects.hpp"
#include "gossip/flood_guard.hpp"
#include "gossip/hyparview.hpp"
#include "gossip/plumtree.hpp"
#include "gossip/rng.hpp"
#include "gossip/types.hpp"
#include "gossip/wire.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <variant>
#include <vector>

namespace dtt::gossip {

/// Configuration of the whole protocol. All nodes of a network should agree on it.
struct config {
  hyparview_config membership;
  plumtree_config broadcast;
  /// Largest encoded message (PROTOCOL.md §8.2; at least min_max_message_size).
  size_t max_message_size = default_max_message_size;
  /// Flood guard budgets per peer, topic and message kind (gossip/flood_guard.hpp).
  flood_limits flood;
};

/// Number of message kinds (msg::body indices; kind_name() names them).
inline constexpr size_t message_kinds = std::variant_size_v<msg::body>;

/// Messages of one topic by kind (a msg::body index), for operators (dttd's /metrics).
struct message_counters {
  std::array<uint64_t, message_kinds> received{};      ///< handled (past the flood guard)
  std::array<uint64_t, message_kinds> sent{};          ///< handed to the driver to send
  std::array<uint64_t, message_kinds> flood_refused{}; ///< refused by the flood guard
};

/// Identifies an armed timer (see output::arm_timer).
using timer_id = uint64_t;

/// What the protocol asks its driver to do (see the file comment).
namespace output {
struct send {
  endpoint_id to{};
  message msg;
};
struct arm_timer {
  time_point at{};
  timer_id id = 0;
};
struct emit {
  topic_id topic{};
  gossip::event ev;
  shared_bytes payload; ///< received: the content (ev.content is empty; see effect::emit)
};
struct disconnect {
  endpoint_id peer{};
};
struct peer_addresses {
  endpoint_id peer{};
  peer_data addresses;
};
using any = std::variant<send, arm_timer, emit, disconnect, peer_addresses>;
} // namespace output

/// The gossip state machine of one node.
class protocol {
public:
  /// `me` is our endpoint id, `addresses` where we accept connections (sent in Join/Neighbor),
  /// `seed` seeds every random choice. Throws std::invalid_argument if
  /// cfg.max_message_size < min_max_message_size (start-up configuration error).
  protocol(endpoint_id me, peer_data addresses, config cfg, uint64_t seed);

  // ---- commands ------------------------------------------------------------------------------

  /// Subscribes to `topic` (creating its state on first use) and sends Join to each peer.
  /// An empty list just creates the topic.
  void join(const topic_id& topic, const std::vector<endpoint_id>& peers, time_point now);
  /// Broadcasts `content` to the topic's swarm. Errors: too_large (over max_content_size()),
  /// closed (topic not joined).
  status broadcast(const topic_id& topic, shared_bytes content, time_point now);
  /// Sends `content` to the topic's eager neighbours only (not forwarded, not cached).
  /// Same errors as broadcast().
  status broadcast_neighbors(const topic_id& topic, shared_bytes content, time_point now);
  /// Leaves `topic`: tells its active peers (Disconnect alive=false) and drops its state.
  void quit(const topic_id& topic, time_point now);

  // ---- network and time ----------------------------------------------------------------------

  /// Handles a decoded message from `from`. Messages for topics we have not joined are ignored.
  /// A control message (every kind but Gossip) over its flood guard budget (config::flood, per
  /// peer, topic and kind) is not handled and gives errc::refused, whose text names the kind;
  /// the driver should close that peer's connection. That connection carries every topic, so
  /// a flood in one topic drops the peer from all of them (each topic sees connection_closed);
  /// the spent budgets outlive the connection.
  status receive(const endpoint_id& from, const message& m, time_point now);
  /// Decodes (under the max message size) and handles one frame. On a decoding error (or a
  /// refused flood, as receive()) nothing changes and the error is returned (the driver should
  /// close that connection).
  status receive_bytes(const endpoint_id& from, byte_view frame, time_point now);
  /// As receive_bytes(), taking the frame: a Gossip payload keeps (a slice of) it instead of a
  /// copy, in the Graft cache and in the emitted event.
  status receive_frame(const endpoint_id& from, shared_buffer frame, time_point now);
  /// A hint that `frame` will be received soon: if it is a Gossip message of a joined topic,
  /// the seen-id index's slot for its id is fetched into the cache meanwhile (the caller
  /// passes the next frames of a batch while it handles the current one).
  void prefetch(byte_view frame) const noexcept;
  /// An armed timer is due. Unknown or stale ids are ignored.
  void timer_fired(timer_id id, time_point now);
  /// The connection to `peer` ended (remote close, error or failed dial).
  void connection_closed(const endpoint_id& peer, time_point now);
  /// The connection to `peer` lost a link without a goodbye while another link carries on
  /// (frames in flight on it may be lost, either way): every topic where `peer` is a
  /// neighbour announces its recent payloads to it again (plumtree::link_renewed).
  void link_renewed(const endpoint_id& peer, time_point now);

  // ---- outputs and queries -------------------------------------------------------------------

  /// Removes and returns the pending outputs, oldest first.
  std::vector<output::any> take_outputs();
  /// As take_outputs(), into `into` (cleared first); the two vectors trade their storage, so
  /// that a caller that keeps `into` allocates nothing per call.
  void take_outputs(std::vector<output::any>& into);
  /// True if take_outputs() would return something.
  bool has_outputs() const { return !outbox_.empty(); }
  /// Number of pending outputs.
  size_t pending_outputs() const { return outbox_.size(); }

  const endpoint_id& me() const { return me_; }
  const config& cfg() const { return cfg_; }
  /// Largest content broadcast() accepts (max message size minus the Gossip envelope).
  size_t max_content_size() const { return cfg_.max_message_size - gossip_overhead; }
  bool has_topic(const topic_id& topic) const { return topics_.count(topic) != 0; }
  /// The active view of `topic` (empty if not joined).
  std::vector<endpoint_id> neighbors(const topic_id& topic) const;
  /// The per-topic layers, or nullptr if not joined (tests, simulator, metrics).
  const hyparview* membership(const topic_id& topic) const;
  const plumtree* broadcast_tree(const topic_id& topic) const;
  const flood_guard* flood_budgets(const topic_id& topic) const;
  /// The topic's message counters, or nullptr if not joined.
  const message_counters* counters(const topic_id& topic) const;
  /// Zeroes the per-topic counters (simulator rounds).
  void reset_stats(const topic_id& topic);
  /// Number of armed timers not yet fired (bounded; for tests).
  size_t armed_timers() const { return timers_.size(); }

private:
  struct topic_state {
    hyparview swarm;
    plumtree tree;
    flood_guard guard; // per-peer budgets; stale entries pruned on each cache eviction tick
    message_counters counts;
  };

  status do_broadcast(const topic_id& topic, shared_bytes content, delivery_scope::kind k,
                      time_point now);
  void apply(const topic_id& topic, topic_state& st, effects& fx, time_point now);
  // The effects vector every command fills and apply() empties, kept for its storage (no
  // allocation per message). Not reentrant: the only effects apply() makes itself (PlumTree's
  // NeighborUp announcement) are appended to the same vector before it is emptied.
  effects& scratch() {
    fx_.clear();
    return fx_;
  }
  void release(const topic_id& topic, const endpoint_id& peer);

  endpoint_id me_;
  peer_data addresses_;
  config cfg_;
  rng rng_;
  std::map<topic_id, std::unique_ptr<topic_state>> topics_;
  std::unordered_map<timer_id, std::pair<topic_id, topic_timer>> timers_;
  timer_id next_timer_ = 1;
  std::map<endpoint_id, std::set<topic_id>> peer_topics_; // which topics use a connection
  std::vector<output::any> outbox_;
  effects fx_;
};

} // namespace dtt::gossip
