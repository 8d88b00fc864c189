#include "config/caf_options.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/timespan.hpp>

#include "messages/types.hpp"

#include <algorithm>
#include <limits>

namespace dtt {

namespace {

// One table drives both declaring and loading, so the two cannot drift apart.
template <class F>
void for_each_option(config& c, F&& f) {
  auto& b = c.bootstrap;
  f("dtt.bootstrap", "max-records", b.max_bootstrap_records, "records per minute before we stop writing");
  f("dtt.bootstrap", "no-peers-retry-interval", b.no_peers_retry_interval, "wait when no records were found");
  f("dtt.bootstrap", "per-peer-join-settle-time", b.per_peer_join_settle_time, "wait after each join");
  f("dtt.bootstrap", "join-confirmation-wait-time", b.join_confirmation_wait_time, "wait for a neighbour after joining");
  f("dtt.bootstrap", "discovery-poll-interval", b.discovery_poll_interval, "wait between discovery rounds");
  f("dtt.bootstrap", "publish-record-on-startup", b.publish_record_on_startup, "publish a record at start");
  f("dtt.bootstrap", "check-older-records-first", b.check_older_records_first_on_startup, "look one minute further back first");
  auto& p = c.publisher;
  f("dtt.publisher", "enabled", p.enabled, "run the background publisher");
  f("dtt.publisher", "initial-delay", p.initial_delay, "first publish after join");
  f("dtt.publisher", "base-interval", p.base_interval, "interval between publishes");
  f("dtt.publisher", "max-jitter", p.max_jitter, "random extra wait per interval");
  f("dtt.publisher", "fail-topic-on-startup-failure", p.fail_topic_creation_on_publishing_startup_failure, "no effect: starting the publisher cannot fail in dtt (kept for compatibility)");
  auto& d = c.dht;
  f("dtt.dht", "retries", d.retries, "put retries (attempts = 1 + retries)");
  f("dtt.dht", "base-retry-interval", d.base_retry_interval, "wait before a put retry");
  f("dtt.dht", "max-retry-jitter", d.max_retry_jitter, "random extra wait before a retry");
  f("dtt.dht", "put-timeout", d.put_timeout, "timeout of one put attempt");
  f("dtt.dht", "get-timeout", d.get_timeout, "timeout of one get");
  f("dtt.dht", "min-put-acks", d.min_put_acks, "a put stored by fewer nodes is retried");
  auto& bm = c.merge.bubble_merge;
  f("dtt.bubble-merge", "enabled", bm.enabled, "run bubble merge");
  f("dtt.bubble-merge", "initial-interval", bm.initial_interval, "first check after join");
  f("dtt.bubble-merge", "base-interval", bm.base_interval, "interval between checks");
  f("dtt.bubble-merge", "max-jitter", bm.max_jitter, "random extra wait per interval");
  f("dtt.bubble-merge", "min-neighbors", bm.min_neighbors, "act below this many neighbours");
  f("dtt.bubble-merge", "max-join-peers", bm.max_join_peers, "peers joined per check");
  f("dtt.bubble-merge", "fail-topic-on-startup-failure", bm.fail_topic_creation_on_merge_startup_failure, "no effect: starting a merge worker cannot fail in dtt (kept for compatibility)");
  auto& om = c.merge.message_overlap_merge;
  f("dtt.overlap-merge", "enabled", om.enabled, "run message-overlap merge");
  f("dtt.overlap-merge", "initial-interval", om.initial_interval, "first check after join");
  f("dtt.overlap-merge", "base-interval", om.base_interval, "interval between checks");
  f("dtt.overlap-merge", "max-jitter", om.max_jitter, "random extra wait per interval");
  f("dtt.overlap-merge", "max-join-peers", om.max_join_peers, "peers joined per check");
  f("dtt.overlap-merge", "fail-topic-on-startup-failure", om.fail_topic_creation_on_merge_startup_failure, "no effect: starting a merge worker cannot fail in dtt (kept for compatibility)");
  auto& t = c.timeouts;
  f("dtt.timeouts", "join-peer", t.join_peer_timeout, "timeout for handing joins to gossip");
  f("dtt.timeouts", "broadcast", t.broadcast_timeout, "timeout for handing a broadcast to gossip");
  f("dtt.timeouts", "broadcast-neighbors", t.broadcast_neighbors_timeout, "timeout for broadcast_neighbors");
  f("dtt", "max-join-peer-count", c.max_join_peer_count, "unused, kept for compatibility");
  f("dtt", "join-timeout", c.join_timeout, "waiting join gives up after this (0 = never)");
  f("dtt", "rebootstrap-when-isolated", c.rebootstrap_when_isolated, "bootstrap again when all neighbours are gone");
  f("dtt", "event-buffer", c.event_buffer, "events kept for a slow reader");
  f("dtt", "hardened", c.hardened, "derive the DHT record slot from the secret too (not readable by distributed-topic-tracker; docs/HARDENED.md)");
}

} // namespace

void declare_config_options(caf::config_option_set& options) {
  config defaults;
  for_each_option(defaults, [&](const char* group, const char* name, auto& field, const char* desc) {
    using opt = typename caf_option_type<std::decay_t<decltype(field)>>::type;
    caf::config_option_adder{options, caf_text(group)}.add<opt>(caf_text(name), caf_text(desc));
  });
}

std::vector<option_spec> tracker_option_specs() {
  std::vector<option_spec> out;
  config defaults;
  for_each_option(defaults, [&](const char* group, const char* name, auto& field, const char*) {
    using T = std::decay_t<decltype(field)>;
    option_spec o{std::string(group) + "." + name, option_kind::integer};
    if constexpr (std::is_same<T, duration>::value) {
      o.kind = option_kind::duration;
    } else if constexpr (std::is_same<T, bool>::value) {
      o.kind = option_kind::boolean;
    } else {
      o.max = static_cast<int64_t>(std::min<uint64_t>(std::numeric_limits<T>::max(),
                                                      std::numeric_limits<int64_t>::max()));
    }
    out.push_back(std::move(o));
  });
  return out;
}

config load_config(const caf::actor_system_config& cfg, config defaults) {
  for_each_option(defaults, [&](const char* group, const char* name, auto& field, const char*) {
    read_option(cfg, std::string(group) + "." + name, field);
  });
  defaults.normalise();
  return defaults;
}

system_config::system_config() {
  register_types(*this);
  declare_config_options(custom_options_);
  // A dtt node is I/O-bound and idle most of the time. CAF's default work-stealing scheduler
  // keeps its workers polling in short naps (10 ms condition-variable timeouts after 25 ms of
  // 50 us sleeps per wake-up, CAF 0.17.6 defaults.cpp): an idle dttd joined to one peer used
  // 1.4% of a core with it, 0.08% with work-stealing tuned (moderate-poll-attempts=20,
  // relaxed-sleep-duration=1s) and 0.07% with `sharing`, whose workers sleep on a condition
  // variable; gossip throughput (bench_transport_bench, 2 nodes, 1 KiB) was within the noise
  // of the 2-core VM for the three (issue 12 measurements in the commit). An application or
  // the user (--scheduler.policy=stealing, an INI [scheduler] section) can still choose.
  set("scheduler.policy", caf::atom("sharing"));
}

} // namespace dtt
