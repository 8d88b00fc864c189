#pragma once

#include "actors/tracker_logic.hpp"
#include "messages/tracker.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <deque>
#include <map>
#include <set>
#include <vector>

namespace dtt {

/// State of a topic's receiver.
struct receiver_state {
  std::set<gossip::endpoint_id> neighbors;
  tracker::message_hash_window hashes;
  std::deque<gossip::event> buffer;   ///< events not yet taken by the application
  size_t capacity = 2048;
  uint64_t lagged = 0;                ///< events dropped since the last delivery
  std::map<uint64_t, caf::typed_response_promise<gossip::event>> readers; ///< by arrival
  uint64_t next_reader = 0;
  std::vector<caf::typed_response_promise<bool>> join_waiters;
  std::vector<caf::actor> watchers;
  static inline const char* name = "dtt.receiver";
};

/// The receiver of one topic (PROTOCOL.md §6.6). Unlike the original it buffers every event from
/// the topic's creation until the application reads it (§10.10), reporting `lagged` with the
/// number of events dropped only when more than `capacity` pile up.
receiver_actor::behavior_type receiver(receiver_actor::stateful_pointer<receiver_state> self,
                                       size_t capacity);

} // namespace dtt
