#pragma once

#include "messages/tracker.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <set>
#include <vector>

namespace dtt {

/// State of a topic's receiver.
struct receiver_state {
  std::set<gossip::endpoint_id> neighbors;
  std::vector<caf::typed_response_promise<bool>> join_waiters;
  std::vector<caf::actor> watchers;
  static inline const char* name = "dtt.receiver";
};

/// The receiver of one topic (messages/tracker.hpp receiver_actor); `topic` names the topic in
/// its log lines. (It also gives the spawn an argument: CAF 0.17.6 dereferences a null argument
/// tuple for functions spawned without arguments, which UBSan reports.)
receiver_actor::behavior_type receiver(receiver_actor::stateful_pointer<receiver_state> self,
                                       gossip::topic_id topic);

} // namespace dtt
