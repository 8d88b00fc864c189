// The record publisher over the fake DHT in CAF's virtual time: a record put acknowledged by
// fewer than dht_config::min_put_acks storage nodes is a failure and is retried (issue 16).
#include "actors/record_publisher.hpp"
#include "actors/tracker_logic.hpp"
#include "messages/types.hpp"

#include "support/fakes.hpp"
#include "support/virtual_time.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <doctest/doctest.h>

using namespace dtt;

namespace {

struct fixture : test::virtual_time_system {
  std::shared_ptr<test::fake_dht_store> store = std::make_shared<test::fake_dht_store>();
  std::shared_ptr<tracker::topic_keys> keys;
  std::map<std::string, uint64_t> stats; ///< the publisher's counters after the last publish()

  fixture() {
    bytes32 seed{};
    seed[0] = 0x16;
    keys = std::make_shared<tracker::topic_keys>(crypto::topic_id::from_name("rp-topic"),
                                                 crypto::signing_key::from_seed(seed),
                                                 byte_view::of("rp-secret"));
  }

  // Publishes one record with `cfg`; returns the reply (true: written), or nullopt for an
  // error, after `d` of virtual time.
  std::optional<bool> publish(dht_config cfg, caf::timespan d) {
    auto dht = test::spawn_fake_dht(*sys, store);
    auto rp = sys->spawn(record_publisher, keys, dht, cfg, size_t{5}, uint64_t{1},
                         static_cast<const crypto::wall_clock*>(&clock));
    auto out = std::make_shared<std::optional<bool>>();
    auto rec = tracker::make_record(*keys, *crypto::unix_minute(clock), {}, {});
    sys->spawn(
      [](caf::event_based_actor* self, record_publisher_actor rp, crypto::record rec,
         std::shared_ptr<std::optional<bool>> out) {
        self->request(rp, caf::infinite, publish_record_atom::value, rec)
          .then([out](bool written) { *out = written; },
                [out](caf::error&) { *out = std::nullopt; });
      },
      rp, rec, out);
    run_for(d);
    stats = stats_of(caf::actor_cast<caf::actor>(rp));
    auto r = *out;
    caf::anon_send_exit(rp, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dht, caf::exit_reason::user_shutdown);
    run_for(std::chrono::seconds(1));
    return r;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "record put: fewer than 3 acknowledgements is a failure, retried") {
  dht_config cfg;
  cfg.max_retry_jitter = std::chrono::seconds(0);
  store->acks = {2, 1, 5}; // two puts under the bar, then one over it
  auto r = publish(cfg, std::chrono::seconds(30));
  REQUIRE(r.has_value());
  CHECK(*r);
  CHECK(store->puts == 3);
  CHECK(stats["records_published"] == 1); // one record, however many attempts
  CHECK(stats["record_puts_failed"] == 0);
}

TEST_CASE_FIXTURE(fixture, "record put: every attempt under the bar fails after the retries") {
  dht_config cfg;
  cfg.max_retry_jitter = std::chrono::seconds(0);
  cfg.retries = 2;
  store->acks = {2, 2, 2, 2, 2};
  auto r = publish(cfg, std::chrono::seconds(60));
  CHECK_FALSE(r.has_value()); // an error: put failed
  CHECK(store->puts == 3);    // 1 + retries attempts
  CHECK(stats["records_published"] == 0);
  CHECK(stats["record_puts_failed"] == 1);
}

TEST_CASE_FIXTURE(fixture, "record put: min_put_acks = 1 keeps mainline's rule") {
  dht_config cfg;
  cfg.min_put_acks = 1;
  store->acks = {1};
  auto r = publish(cfg, std::chrono::seconds(5));
  REQUIRE(r.has_value());
  CHECK(*r);
  CHECK(store->puts == 1);
}

TEST_CASE_FIXTURE(fixture, "record publisher: records read back are counted as fetched") {
  dht_config cfg;
  store->acks = {5, 5};
  REQUIRE(publish(cfg, std::chrono::seconds(5)).value_or(false));
  CHECK(stats["records_fetched"] == 0); // the minute was empty before our put
  // Another node's publisher reads the minute first: the first node's record is there.
  bytes32 seed{};
  seed[0] = 0x17;
  keys = std::make_shared<tracker::topic_keys>(crypto::topic_id::from_name("rp-topic"),
                                               crypto::signing_key::from_seed(seed),
                                               byte_view::of("rp-secret"));
  REQUIRE(publish(cfg, std::chrono::seconds(5)).value_or(false));
  CHECK(stats["records_fetched"] == 1);
  CHECK(stats["records_published"] == 1); // a new publisher actor: its own counters
}
