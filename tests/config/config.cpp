#include "config/caf_options.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace dtt;

TEST_CASE("defaults are those of distributed-topic-tracker 0.3 (PROTOCOL.md section 5)") {
  config c;
  CHECK(c.bootstrap.max_bootstrap_records == 5);
  CHECK(c.bootstrap.no_peers_retry_interval == 1500ms);
  CHECK(c.bootstrap.per_peer_join_settle_time == 100ms);
  CHECK(c.bootstrap.join_confirmation_wait_time == 500ms);
  CHECK(c.bootstrap.discovery_poll_interval == 2000ms);
  CHECK(c.bootstrap.publish_record_on_startup);
  CHECK_FALSE(c.bootstrap.check_older_records_first_on_startup);
  CHECK(c.publisher.enabled);
  CHECK(c.publisher.initial_delay == 10s);
  CHECK(c.publisher.base_interval == 10s);
  CHECK(c.publisher.max_jitter == 50s);
  CHECK(c.dht.retries == 3);
  CHECK(c.dht.base_retry_interval == 5s);
  CHECK(c.dht.max_retry_jitter == 10s);
  CHECK(c.dht.put_timeout == 10s);
  CHECK(c.dht.get_timeout == 10s);
  CHECK(c.merge.bubble_merge.initial_interval == 30s);
  CHECK(c.merge.bubble_merge.base_interval == 60s);
  CHECK(c.merge.bubble_merge.max_jitter == 120s);
  CHECK(c.merge.bubble_merge.min_neighbors == 4);
  CHECK(c.merge.bubble_merge.max_join_peers == 2);
  CHECK(c.merge.message_overlap_merge.max_join_peers == 2);
  CHECK(c.max_join_peer_count == 4);
  CHECK(c.timeouts.join_peer_timeout == 5s);
  CHECK(c.timeouts.broadcast_timeout == 5s);
  CHECK(c.timeouts.broadcast_neighbors_timeout == 5s);
}

TEST_CASE("builders ignore zero where the crate's builders do") {
  auto d = dht_config::builder{}.base_retry_interval(0ms).put_timeout(0ms).get_timeout(0ms)
             .max_retry_jitter(0ms).retries(0).build();
  CHECK(d.base_retry_interval == 5s);
  CHECK(d.put_timeout == 10s);
  CHECK(d.get_timeout == 10s);
  CHECK(d.max_retry_jitter == 0ms); // zero allowed: no jitter
  CHECK(d.retries == 0);
  auto p = publisher_config::builder{}.base_interval(0ms).initial_delay(0ms).build();
  CHECK(p.base_interval == 10s);
  CHECK(p.initial_delay == 0ms);
  auto b = bubble_merge_config::builder{}.max_join_peers(0).base_interval(0ms).build();
  CHECK(b.max_join_peers == 2);
  CHECK(b.base_interval == 60s);
  auto t = timeout_config::builder{}.join_peer_timeout(0ms).build();
  CHECK(t.join_peer_timeout == 0ms);
  CHECK(config::builder{}.max_join_peer_count(0).build().max_join_peer_count == 4);
}

TEST_CASE("zero bootstrap records turns the publisher off (a read-only participant)") {
  auto c = config::builder{}
             .bootstrap(bootstrap_config::builder{}.max_bootstrap_records(0).build())
             .build();
  CHECK_FALSE(c.publisher.enabled);
  config raw;
  raw.bootstrap.max_bootstrap_records = 0;
  CHECK_FALSE(raw.normalise().empty());
  CHECK(raw.normalise().empty()); // already normalised
}

TEST_CASE("the config tree loads from a CAF INI file and keeps defaults for unset keys") {
  system_config cfg;
  std::istringstream ini(R"(
[dtt]
join-timeout=15s
hardened=true
[dtt.bootstrap]
discovery-poll-interval=750ms
max-records=7
[dtt.publisher]
enabled=false
[dtt.bubble-merge]
min-neighbors=3
[dtt.dht]
retries=1
)");
  auto err = cfg.parse(caf::actor_system_config::string_list{}, ini);
  REQUIRE_FALSE(err);
  auto c = load_config(cfg);
  CHECK(c.join_timeout == 15s);
  CHECK(c.hardened);
  CHECK_FALSE(config{}.hardened); // hardened slots are opt-in (docs/HARDENED.md)
  CHECK(c.bootstrap.discovery_poll_interval == 750ms);
  CHECK(c.bootstrap.max_bootstrap_records == 7);
  CHECK_FALSE(c.publisher.enabled);
  CHECK(c.merge.bubble_merge.min_neighbors == 3);
  CHECK(c.dht.retries == 1);
  CHECK(c.dht.get_timeout == 10s);
  CHECK(c.bootstrap.no_peers_retry_interval == 1500ms);
}

TEST_CASE("command-line flags override the config tree") {
  system_config cfg;
  std::istringstream ini("");
  auto err = cfg.parse(caf::actor_system_config::string_list{"--dtt.bootstrap.per-peer-join-settle-time=250ms"}, ini);
  REQUIRE_FALSE(err);
  CHECK(load_config(cfg).bootstrap.per_peer_join_settle_time == 250ms);
}

TEST_CASE("system_config: the sharing scheduler by default, and the user can choose another") {
  // An idle node polls under CAF's default work-stealing scheduler (issue 12).
  {
    system_config cfg;
    std::istringstream ini("");
    REQUIRE_FALSE(cfg.parse(caf::actor_system_config::string_list{}, ini));
    CHECK(caf::get_or(cfg, "scheduler.policy", caf::atom("stealing")) == caf::atom("sharing"));
  }
  {
    system_config cfg;
    std::istringstream ini("");
    REQUIRE_FALSE(
      cfg.parse(caf::actor_system_config::string_list{"--scheduler.policy=stealing"}, ini));
    CHECK(caf::get_or(cfg, "scheduler.policy", caf::atom("sharing")) == caf::atom("stealing"));
  }
  {
    system_config cfg;
    std::istringstream ini("[scheduler]\npolicy='stealing'\n");
    REQUIRE_FALSE(cfg.parse(caf::actor_system_config::string_list{}, ini));
    CHECK(caf::get_or(cfg, "scheduler.policy", caf::atom("sharing")) == caf::atom("stealing"));
  }
}
