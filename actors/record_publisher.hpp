#pragma once

#include "actors/tracker_logic.hpp"
#include "messages/dht.hpp"
#include "messages/tracker.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <random>

namespace dtt {

/// State of the record publisher actor.
struct record_publisher_state {
  struct put_job {
    dht::mutable_item item;
    uint32_t attempts_left;
    caf::typed_response_promise<bool> promise;
  };
  std::shared_ptr<const tracker::topic_keys> keys;
  dht_actor dht;
  dht_config dht_cfg;
  size_t max_records = 5;
  std::mt19937_64 rng;
  uint64_t next_job = 0;
  std::map<uint64_t, put_job> jobs;
  static inline const char* name = "dtt.record_publisher";
};

/// The record publisher (PROTOCOL.md §4.4–4.5). Gets and puts run concurrently, each under its
/// own timeout, and a failed put attempt does not tear anything down (§10.8 fixes).
record_publisher_actor::behavior_type
record_publisher(record_publisher_actor::stateful_pointer<record_publisher_state> self,
                 std::shared_ptr<const tracker::topic_keys> keys, dht_actor dht, dht_config cfg,
                 size_t max_bootstrap_records, uint64_t seed);

} // namespace dtt
