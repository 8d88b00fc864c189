#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

/// dtt's configuration tree with the defaults of distributed-topic-tracker 0.3 (PROTOCOL.md §5).
/// Every struct has a builder reproducing the crate's builder quirks (which setters ignore zero)
/// and the tree can be loaded from CAF's INI config (config/caf_options.hpp).
namespace dtt {

using duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

/// Timeouts of the gossip sender side (PROTOCOL.md §5 TimeoutConfig). Builder accepts zero.
struct timeout_config {
  duration join_peer_timeout = 5s;           ///< §5: covers handing join_peers to gossip
  duration broadcast_timeout = 5s;           ///< §5
  duration broadcast_neighbors_timeout = 5s; ///< §5
  class builder;
};

/// DHT retry and timeout policy (PROTOCOL.md §4.2, §5 DhtConfig).
struct dht_config {
  uint32_t retries = 3;              ///< §5: attempts = 1 + retries
  duration base_retry_interval = 5s; ///< §4.2 (builder ignores zero)
  duration max_retry_jitter = 10s;   ///< §4.2 (zero → no jitter)
  duration put_timeout = 10s;        ///< §4.2 (builder ignores zero)
  duration get_timeout = 10s;        ///< §4.3 (builder ignores zero)
  /// A record put acknowledged by fewer storage nodes counts as failed and is retried
  /// (issue 16: some mainline implementations drop seq = i64::MAX items without an error).
  uint32_t min_put_acks = 3;
  class builder;
};

/// Bootstrap loop settings (PROTOCOL.md §6.2, §5 BootstrapConfig). Builder accepts anything.
struct bootstrap_config {
  size_t max_bootstrap_records = 5;                  ///< §4.5 capacity check
  duration no_peers_retry_interval = 1500ms;         ///< §6.2 step 4
  duration per_peer_join_settle_time = 100ms;        ///< §6.2 step 7
  duration join_confirmation_wait_time = 500ms;      ///< §6.2 step 8
  duration discovery_poll_interval = 2000ms;         ///< §6.2 step 9
  bool publish_record_on_startup = true;             ///< §6.2 start-up
  bool check_older_records_first_on_startup = false; ///< §6.2 step 2
  class builder;
};

/// Background publisher (PROTOCOL.md §6.3). `enabled = false` is the crate's Disabled variant.
struct publisher_config {
  bool enabled = true;
  duration initial_delay = 10s; ///< §6.3
  duration base_interval = 10s; ///< §6.3 (builder ignores zero; runtime clamps to ≥ 1 s)
  duration max_jitter = 50s;    ///< §6.3
  /// §5; no effect in dtt: spawning a worker actor cannot fail (kept for compatibility).
  bool fail_topic_creation_on_publishing_startup_failure = true;
  class builder;
};

/// Bubble merge (PROTOCOL.md §6.4).
struct bubble_merge_config {
  bool enabled = true;
  duration initial_interval = 30s; ///< §6.4
  duration base_interval = 60s;    ///< §6.4 (builder ignores zero; runtime ≥ 1 s)
  duration max_jitter = 120s;      ///< §6.4
  size_t min_neighbors = 4;        ///< §6.4: act only below this many neighbours
  bool fail_topic_creation_on_merge_startup_failure = true; ///< §5; no effect in dtt
  size_t max_join_peers = 2;       ///< §5, the crate's code (§10.12); builder ignores 0
  class builder;
};

/// Message-overlap merge (PROTOCOL.md §6.5).
struct message_overlap_merge_config {
  bool enabled = true;
  duration initial_interval = 30s; ///< §6.5
  duration base_interval = 60s;    ///< §6.5 (builder ignores zero; runtime ≥ 1 s)
  duration max_jitter = 120s;      ///< §6.5
  bool fail_topic_creation_on_merge_startup_failure = true; ///< §5; no effect in dtt
  size_t max_join_peers = 2;       ///< §5; builder ignores 0
  class builder;
};

/// Both merge strategies.
struct merge_config {
  bubble_merge_config bubble_merge;
  message_overlap_merge_config message_overlap_merge;
  class builder;
};

/// The whole tracker configuration (PROTOCOL.md §5 Config) plus dtt's own additions.
struct config {
  bootstrap_config bootstrap;
  publisher_config publisher;
  dht_config dht;
  merge_config merge;
  size_t max_join_peer_count = 4; ///< §5: kept for compatibility; the crate never uses it
  timeout_config timeouts;

  // dtt additions (fixes of PROTOCOL.md §10):
  /// The waiting join gives up with errc::timeout after this long (§10.9); zero waits forever
  /// as the original does.
  duration join_timeout = 60s;
  /// Run the bootstrap loop again when a joined topic loses all its neighbours (§10.9).
  bool rebootstrap_when_isolated = true;
  /// Events kept for the application while it is not reading; beyond it `lagged` is reported.
  size_t event_buffer = 2048;
  /// Hardened record slots (docs/HARDENED.md, closes §10.1): the DHT key and salt are derived
  /// from the secret too and records carry seq = unix time. Off by default: such records are
  /// invisible to distributed-topic-tracker and to dtt nodes without it (dtt's choice).
  bool hardened = false;

  class builder;

  /// Applies the crate's ConfigBuilder::build() rule: with max_bootstrap_records == 0 an
  /// enabled publisher is disabled (a read-only participant). Returns a warning line or "".
  std::string normalise();
};

#define DTT_BUILDER_SETTER(type, field)                                                        \
  builder& field(type v) {                                                                     \
    c_.field = v;                                                                              \
    return *this;                                                                              \
  }
#define DTT_BUILDER_SETTER_NONZERO(type, field)                                                \
  builder& field(type v) {                                                                     \
    if (v != type{})                                                                           \
      c_.field = v;                                                                            \
    return *this;                                                                              \
  }

/// Builder for timeout_config.
class timeout_config::builder {
public:
  DTT_BUILDER_SETTER(duration, join_peer_timeout)
  DTT_BUILDER_SETTER(duration, broadcast_timeout)
  DTT_BUILDER_SETTER(duration, broadcast_neighbors_timeout)
  timeout_config build() const { return c_; }

private:
  timeout_config c_;
};

/// Builder for dht_config.
class dht_config::builder {
public:
  DTT_BUILDER_SETTER(uint32_t, retries)
  DTT_BUILDER_SETTER_NONZERO(duration, base_retry_interval)
  DTT_BUILDER_SETTER(duration, max_retry_jitter)
  DTT_BUILDER_SETTER_NONZERO(duration, put_timeout)
  DTT_BUILDER_SETTER_NONZERO(duration, get_timeout)
  DTT_BUILDER_SETTER(uint32_t, min_put_acks)
  dht_config build() const { return c_; }

private:
  dht_config c_;
};

/// Builder for bootstrap_config.
class bootstrap_config::builder {
public:
  DTT_BUILDER_SETTER(size_t, max_bootstrap_records)
  DTT_BUILDER_SETTER(duration, no_peers_retry_interval)
  DTT_BUILDER_SETTER(duration, per_peer_join_settle_time)
  DTT_BUILDER_SETTER(duration, join_confirmation_wait_time)
  DTT_BUILDER_SETTER(duration, discovery_poll_interval)
  DTT_BUILDER_SETTER(bool, publish_record_on_startup)
  DTT_BUILDER_SETTER(bool, check_older_records_first_on_startup)
  bootstrap_config build() const { return c_; }

private:
  bootstrap_config c_;
};

/// Builder for publisher_config; always yields an enabled publisher, as the crate's does.
class publisher_config::builder {
public:
  DTT_BUILDER_SETTER(duration, initial_delay)
  DTT_BUILDER_SETTER_NONZERO(duration, base_interval)
  DTT_BUILDER_SETTER(duration, max_jitter)
  DTT_BUILDER_SETTER(bool, fail_topic_creation_on_publishing_startup_failure)
  publisher_config build() const { return c_; }

private:
  publisher_config c_;
};

/// Builder for bubble_merge_config.
class bubble_merge_config::builder {
public:
  DTT_BUILDER_SETTER(duration, initial_interval)
  DTT_BUILDER_SETTER_NONZERO(duration, base_interval)
  DTT_BUILDER_SETTER(duration, max_jitter)
  DTT_BUILDER_SETTER(size_t, min_neighbors)
  DTT_BUILDER_SETTER(bool, fail_topic_creation_on_merge_startup_failure)
  DTT_BUILDER_SETTER_NONZERO(size_t, max_join_peers)
  bubble_merge_config build() const { return c_; }

private:
  bubble_merge_config c_;
};

/// Builder for message_overlap_merge_config.
class message_overlap_merge_config::builder {
public:
  DTT_BUILDER_SETTER(duration, initial_interval)
  DTT_BUILDER_SETTER_NONZERO(duration, base_interval)
  DTT_BUILDER_SETTER(duration, max_jitter)
  DTT_BUILDER_SETTER(bool, fail_topic_creation_on_merge_startup_failure)
  DTT_BUILDER_SETTER_NONZERO(size_t, max_join_peers)
  message_overlap_merge_config build() const { return c_; }

private:
  message_overlap_merge_config c_;
};

/// Builder for merge_config.
class merge_config::builder {
public:
  DTT_BUILDER_SETTER(bubble_merge_config, bubble_merge)
  DTT_BUILDER_SETTER(message_overlap_merge_config, message_overlap_merge)
  merge_config build() const { return c_; }

private:
  merge_config c_;
};

/// Builder for config; build() applies normalise().
class config::builder {
public:
  DTT_BUILDER_SETTER(bootstrap_config, bootstrap)
  DTT_BUILDER_SETTER(publisher_config, publisher)
  DTT_BUILDER_SETTER(dht_config, dht)
  DTT_BUILDER_SETTER(merge_config, merge)
  DTT_BUILDER_SETTER_NONZERO(size_t, max_join_peer_count)
  DTT_BUILDER_SETTER(timeout_config, timeouts)
  DTT_BUILDER_SETTER(duration, join_timeout)
  DTT_BUILDER_SETTER(bool, rebootstrap_when_isolated)
  DTT_BUILDER_SETTER_NONZERO(size_t, event_buffer)
  DTT_BUILDER_SETTER(bool, hardened)
  config build() const {
    auto c = c_;
    c.normalise();
    return c;
  }

private:
  config c_;
};

#undef DTT_BUILDER_SETTER
#undef DTT_BUILDER_SETTER_NONZERO

/// Runtime floor for the background intervals (§6.3–6.5: "runtime clamps to ≥ 1 s").
inline duration clamp_interval(duration d) { return d < 1s ? duration{1s} : d; }

} // namespace dtt
