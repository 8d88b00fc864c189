#pragma once

#include "actors/tracker_logic.hpp"
#include "crypto/clock.hpp"
#include "messages/dht.hpp"
#include "messages/tracker.hpp"

#include <caf/actor_clock.hpp>
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
  const crypto::wall_clock* clock = nullptr; ///< for hardened seqs (unix time)
  dht_actor dht;
  dht_config dht_cfg;
  size_t max_records = 5;
  std::mt19937_64 rng;
  uint64_t next_job = 0;
  std::map<uint64_t, put_job> jobs;
  tracker::record_rejections rejected; ///< records dropped since start, by reason
  uint64_t published = 0;   ///< records put on at least min_put_acks nodes
  uint64_t put_failures = 0; ///< records whose put failed after every retry
  uint64_t skipped_full = 0; ///< records not put: their minute already held max_records
  uint64_t fetched = 0;     ///< valid records read from the DHT (rejected ones not included)
  uint64_t rejected_logged = 0;        ///< rejected.total() at the last warning
  caf::actor_clock::time_point last_warning{};
  static inline const char* name = "dtt.record_publisher";
};

/// The record publisher (PROTOCOL.md §4.4–4.5). Gets and puts run concurrently, each under its
/// own timeout, and a failed put attempt does not tear anything down (§10.8 fixes). Records it
/// drops are counted by reason (stats) and reported at warn at most once a minute. `clock`
/// gives hardened records their seq (the unix time).
record_publisher_actor::behavior_type
record_publisher(record_publisher_actor::stateful_pointer<record_publisher_state> self,
                 std::shared_ptr<const tracker::topic_keys> keys, dht_actor dht, dht_config cfg,
                 size_t max_bootstrap_records, uint64_t seed,
                 const crypto::wall_clock* clock = &crypto::system_wall_clock());

} // namespace dtt
