#pragma once

// What the per-topic protocol layers (hyparview, plumtree) ask their owner to do. The owner
// (gossip::protocol) adds the topic and turns timers into ids; tests read these directly.

#include "gossip/types.hpp"
#include "gossip/wire.hpp"

#include <chrono>
#include <variant>
#include <vector>

namespace dtt::gossip {

/// The monotonic clock of the gossip cores. Callers pass `now`; nothing reads a clock itself.
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

/// A timer a topic asked for, handed back when it fires.
struct topic_timer {
  enum class kind : uint8_t {
    shuffle,            ///< HyParView: periodic shuffle
    neighbor_request,   ///< HyParView: a Neighbor request to `peer` timed out
    graft,              ///< PlumTree: message `id` still missing after IHave/Graft
    dispatch_lazy_push, ///< PlumTree: send queued IHaves
    evict_cache,        ///< PlumTree: expire cached messages and ids
  };
  kind k = kind::shuffle;
  endpoint_id peer{}; ///< neighbor_request only
  message_id id{};    ///< graft only
  friend bool operator==(const topic_timer& a, const topic_timer& b) {
    return a.k == b.k && a.peer == b.peer && a.id == b.id;
  }
};

/// One effect of a topic layer.
namespace effect {
/// Send `body` (of this topic) to `to`, dialing it if needed.
struct send {
  endpoint_id to{};
  msg::body body;
};
/// Call back with `timer` at `at`.
struct timer {
  time_point at{};
  topic_timer t;
};
/// Close the connection to `peer` as far as this topic is concerned.
struct disconnect {
  endpoint_id peer{};
};
/// Deliver an event to the topic's subscribers. A received message's content is `payload`
/// (shared with the Graft cache; ev.content stays empty, the owner copies it out for each
/// application that takes it).
struct emit {
  gossip::event ev;
  shared_bytes payload;
};
/// `peer` announced (new) dialing addresses.
struct peer_addresses {
  endpoint_id peer{};
  peer_data addresses;
};
using any = std::variant<send, timer, disconnect, emit, peer_addresses>;
} // namespace effect

/// The effects a layer produced, in order.
using effects = std::vector<effect::any>;

} // namespace dtt::gossip
