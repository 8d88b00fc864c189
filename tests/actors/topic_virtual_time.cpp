// The whole topic (bootstrap, publisher, merges, receiver, record publisher) over in-memory DHT
// and gossip, in CAF's virtual time: decisions and timings of PROTOCOL.md §6, and lifetimes.
#include "actors/topic_actor.hpp"
#include "crypto/membership.hpp"
#include "messages/types.hpp"

#include "support/fakes.hpp"
#include "support/virtual_time.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <doctest/doctest.h>

using namespace dtt;

namespace {

// The gossip topic id of "vt-topic" with "vt-secret" (docs/ADMISSION.md).
gossip::topic_id vt_gossip_topic() {
  return crypto::derive_membership(crypto::topic_id::from_name("vt-topic").hash(),
                                   crypto::initial_secret_hash(byte_view::of("vt-secret")))
    .topic_id;
}

struct fixture : test::virtual_time_system {
  std::shared_ptr<test::fake_dht_store> store = std::make_shared<test::fake_dht_store>();
  std::shared_ptr<test::fake_gossip_net> net = std::make_shared<test::fake_gossip_net>();
  dht_actor dht;
  std::map<int, gossip_actor> gossips;

  fixture() {
    dht = test::spawn_fake_dht(*sys, store);
    for (int n = 1; n <= 3; ++n)
      gossips[n] = test::spawn_fake_gossip(*sys, net, key(n).public_key_bytes());
    sched->run();
  }

  ~fixture() {
    dht = nullptr;
    gossips.clear();
    run_for(std::chrono::seconds(1));
  }

  static crypto::signing_key key(int n) {
    bytes32 seed{};
    seed[0] = static_cast<uint8_t>(n);
    seed[5] = 0x33;
    return crypto::signing_key::from_seed(seed);
  }

  /// `clk`: the node's wall clock (default: the fixture's, which follows virtual time).
  caf::actor spawn_topic(int n, config c = {}, const crypto::wall_clock* clk = nullptr) {
    auto k = key(n);
    auto& g = gossips.at(n);
    topic_context ctx;
    ctx.keys = std::make_shared<tracker::topic_keys>(crypto::topic_id::from_name("vt-topic"), k,
                                                     byte_view::of("vt-secret"));
    ctx.cfg = c;
    ctx.clock = clk != nullptr ? clk : &clock;
    ctx.gossip = g;
    ctx.seed = static_cast<uint64_t>(n);
    ctx.sink = sinks[n] = std::make_shared<event_sink>(c.event_buffer);
    auto t = sys->spawn(topic_actor_fun, ctx, dht);
    sched->run();
    return t;
  }

  std::map<int, std::shared_ptr<event_sink>> sinks; ///< each topic's application buffer

  // Advances virtual time (and the wall clock with it) in 50 ms steps.
  void run_for(caf::timespan d) { virtual_time_system::run_for(d, std::chrono::milliseconds(50)); }

  std::vector<gossip::endpoint_id> neighbors(int n) {
    auto& m = net->members[{vt_gossip_topic(),
                            key(n).public_key_bytes()}];
    return {m.neighbors.begin(), m.neighbors.end()};
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a lone node publishes one bootstrap record per minute and keeps looking") {
  auto t = spawn_topic(1);
  run_for(std::chrono::seconds(5));
  CHECK(store->puts == 1); // the start-up record for the current minute
  auto gets_5s = store->gets;
  CHECK(gets_5s >= 4);      // two gets per round, a round every ~1.5 s
  run_for(std::chrono::seconds(170));
  // Minutes m0 .. m0+2 have passed: one record each, never two in a minute.
  CHECK(store->puts == 3);
  CHECK(neighbors(1).empty());
  // Rounds every ~1.5 s (no records: no_peers_retry_interval), each counted as it starts; the
  // last one read no records and found no candidate.
  auto st = stats_of(t);
  CHECK(st["bootstrap_rounds"] >= 50);
  CHECK(st["bootstrap_rounds"] <= 118); // 175 s / 1.5 s, and one more
  CHECK(st["last_bootstrap_records"] == 0);
  CHECK(st["last_bootstrap_candidates"] == 0);
  CHECK(st["last_bootstrap_reads_ok"] == 1);
  CHECK(st["last_bootstrap_unix_seconds"] >= static_cast<uint64_t>(wall_start + 170));
  CHECK(st["records_published"] == 3);
  CHECK(st["merges_bubble"] == 0);
  t = nullptr;
  run_for(std::chrono::seconds(2));
}

TEST_CASE_FIXTURE(fixture, "three nodes find each other through the records and start workers") {
  auto baseline = running();
  auto a = spawn_topic(1);
  run_for(std::chrono::seconds(3));
  auto b = spawn_topic(2);
  auto c = spawn_topic(3);
  run_for(std::chrono::seconds(10));
  CHECK_FALSE(neighbors(1).empty());
  CHECK_FALSE(neighbors(2).empty());
  CHECK_FALSE(neighbors(3).empty());
  // Node 1 published first; the later nodes' rounds read its record and joined.
  auto st3 = stats_of(c);
  CHECK(st3["bootstrap_rounds"] >= 1);
  CHECK(st3["records_fetched"] >= 1);
  CHECK(st3["last_bootstrap_records"] >= 1);
  CHECK(st3["last_bootstrap_candidates"] >= 1);
  // Every topic: receiver, record publisher, bootstrap, publisher, bubble merge, overlap merge.
  CHECK(running() == baseline + 3 * 7);

  // The publisher writes records that list neighbours (after its 10 s initial delay).
  run_for(std::chrono::seconds(15));
  auto m = *crypto::unix_minute(clock);
  auto reader = tracker::topic_keys{crypto::topic_id::from_name("vt-topic"), key(9),
                                    byte_view::of("vt-secret")};
  std::vector<dht::mutable_item> items;
  for (auto minute : {m - 1, m}) {
    auto slot = tracker::slot_for(reader, minute);
    auto& xs = store->items[crypto::bep44::mutable_target(slot.dht_key, slot.salt)];
    items.insert(items.end(), xs.begin(), xs.end());
  }
  size_t with_peers = 0;
  for (auto& item : items) // one at a time: a publisher's first record would hide its later ones
    for (auto& r : tracker::records_from_items(reader, m, {item}))
      with_peers += r.gossip_content()->peers().empty() ? 0 : 1;
  CHECK(with_peers >= 1);

  SUBCASE("dropping every handle stops every actor of every topic") {
    a = b = c = nullptr;
    run_for(std::chrono::seconds(1));
    CHECK(running() == baseline);
  }
  SUBCASE("an isolated node runs the bootstrap loop again and rejoins") {
    auto t = vt_gossip_topic();
    auto joins = net->joins;
    net->isolate(t, key(3).public_key_bytes());
    CHECK(neighbors(3).empty());
    run_for(std::chrono::seconds(10));
    CHECK(net->joins > joins);
    CHECK_FALSE(neighbors(3).empty());
  }
}

TEST_CASE_FIXTURE(fixture, "a topic still bootstrapping stops when its handle is dropped") {
  auto baseline = running();
  auto t = spawn_topic(1);
  run_for(std::chrono::seconds(2));
  CHECK(running() == baseline + 4); // topic, receiver, record publisher, bootstrap
  t = nullptr;
  run_for(std::chrono::seconds(1));
  CHECK(running() == baseline);
}

TEST_CASE_FIXTURE(fixture, "a topic whose puts all fail keeps retrying within the configured bounds") {
  store->fail_puts = true;
  auto baseline = running();
  auto t = spawn_topic(1);
  // retries = 3: four attempts, 5–15 s apart, all inside the first minute's window.
  run_for(std::chrono::seconds(50));
  CHECK(store->puts == 4);
  t = nullptr;
  run_for(std::chrono::seconds(1));
  CHECK(running() == baseline);
}

TEST_CASE_FIXTURE(fixture, "events that arrive while bootstrapping wait for the application") {
  auto a = spawn_topic(1);
  auto b = spawn_topic(2);
  run_for(std::chrono::seconds(10));
  REQUIRE_FALSE(neighbors(1).empty());
  caf::anon_send(a, broadcast_atom::value, bytes{1, 2, 3});
  run_for(std::chrono::milliseconds(200));
  // b's application has read nothing so far: its first events are still there, in order.
  std::vector<gossip::event> got;
  for (int i = 0; i < 2; ++i) {
    auto ev = sinks[2]->next(std::chrono::milliseconds(1));
    REQUIRE(ev);
    got.push_back(*ev);
  }
  CHECK(got[0].k == gossip::event::kind::neighbor_up);
  CHECK(got[1].k == gossip::event::kind::received);
  CHECK(got[1].content == bytes{1, 2, 3});
  CHECK_FALSE(sinks[2]->next(std::chrono::milliseconds(1))); // nothing else arrived
  (void)b;
}

TEST_CASE_FIXTURE(fixture, "nodes whose clocks are 90 s behind and 90 s ahead find a node on time") {
  // PROTOCOL.md §10.7: readers looked at minutes m-1 and m only, so a node 90 s behind never
  // saw the records of a node on time in the first half of a minute (they are in its m+1) and
  // a node on time never saw one 90 s ahead (its records are in m+1 or m+2).
  crypto::offset_wall_clock behind{-90, clock}, ahead{90, clock};
  auto on_time = spawn_topic(2);
  run_for(std::chrono::seconds(65)); // alone through a minute: records in m0 and m0+1
  REQUIRE(neighbors(2).empty());
  auto b = spawn_topic(1, {}, &behind);
  auto a = spawn_topic(3, {}, &ahead);
  run_for(std::chrono::seconds(10)); // 75 s: node 1's minute is m0-1, node 3's m0+2
  CHECK_FALSE(neighbors(1).empty());
  CHECK_FALSE(neighbors(2).empty());
  CHECK_FALSE(neighbors(3).empty());
  auto& n2 = net->members[{vt_gossip_topic(), key(2).public_key_bytes()}].neighbors;
  CHECK(n2.count(key(1).public_key_bytes()) == 1);
  CHECK(n2.count(key(3).public_key_bytes()) == 1);
  (void)on_time;
  (void)a;
  (void)b;
}
