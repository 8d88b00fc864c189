#pragma once

#include "dtt/actors.hpp"
#include "dtt/errors.hpp"
#include "dtt/events.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dtt {

namespace detail {
struct topic_core;
} // namespace detail

/// A joined (or joining) topic. Copies share the topic; when the last copy is gone every actor
/// of the topic stops and the node leaves the gossip topic. A topic may outlive its runtime:
/// once the runtime has stopped every call returns errc::closed (and the actor system must
/// still exist when the last copy goes). The blocking calls may be made from any thread, but
/// not from inside an actor: there, use handle() (a dtt::topic_actor) and messages.
class topic {
public:
  using duration = std::chrono::milliseconds;

  /// An empty handle: every call returns errc::closed.
  topic() = default;

  /// Broadcasts `content` to the whole topic (PROTOCOL.md §8.4). When a peer's send queue is
  /// half full the call waits for room, at most `wait_for_room` (zero: not at all), then
  /// returns errc::busy; nothing is sent twice or lost unless it returns an error.
  /// errc::too_large: over config::max_message_size minus the gossip envelope;
  /// errc::closed: the topic or runtime has stopped.
  /// `content` is shared, not copied, until it is written into its frame: a `bytes` vector
  /// passed by value or moved is taken as it is; a payload_buffer (dtt/events.hpp) writes the
  /// message straight into a pooled block.
  status broadcast(payload content, duration wait_for_room);
  /// broadcast() waiting at most config::timeouts.broadcast_timeout for room.
  status broadcast(payload content);
  /// Sends to the direct neighbours only; waits for room like broadcast().
  status broadcast_neighbors(payload content, duration wait_for_room);
  /// broadcast_neighbors() waiting at most config::timeouts.broadcast_neighbors_timeout.
  status broadcast_neighbors(payload content);
  /// The next event, waiting at most `timeout` (zero: no limit); errc::timeout when none came.
  /// Events that arrived before the first call are kept (PROTOCOL.md §10.10); a reader too
  /// slow for config::event_buffer events gets one event of kind lagged with the number lost.
  result<event> next(duration timeout);
  /// The current neighbours.
  result<std::vector<endpoint_id>> neighbors();
  /// The tracker's counters of this topic by name (records published and read, rejected by
  /// reason, merges, the last bootstrap; docs/OPERATING.md lists them as dtt_tracker_*).
  result<std::map<std::string, uint64_t>> stats();
  /// Joins the given peers (resolving their addresses through the DHT first).
  status join_peers(std::vector<endpoint_id> peers);
  /// Waits until the topic has a neighbour (or received a message), at most `timeout` (zero:
  /// no limit): errc::timeout, errc::closed.
  status joined(duration timeout);
  /// The topic actor, for callers inside actors (see dtt::topic_actor). Null for an empty
  /// handle.
  topic_actor handle() const;
  /// The topic's gossip id (what event_subscriber messages carry; derived from name and
  /// secret, docs/ADMISSION.md).
  bytes32 id() const;
  /// True unless this is an empty handle.
  explicit operator bool() const noexcept { return core_ != nullptr; }

  /// Used by dtt's node to make handles.
  explicit topic(std::shared_ptr<detail::topic_core> core) : core_(std::move(core)) {}

private:
  status send(bool neighbors_only, payload content, duration wait_for_room);
  std::shared_ptr<detail::topic_core> core_;
};

} // namespace dtt
