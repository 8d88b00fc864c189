// The background workers of PROTOCOL.md §6.3–6.5, one at a time, in CAF's virtual time, with
// scripted stand-ins for the receiver, the record publisher and the gossip actor: every timer,
// jitter bound, cap and decision is checked against the configuration.
#include "actors/workers.hpp"
#include "messages/errors.hpp"
#include "messages/types.hpp"

#include "support/virtual_time.hpp"

#include <caf/all.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <doctest/doctest.h>

#include <set>

using namespace dtt;
using namespace std::chrono_literals;

namespace {

constexpr int64_t start_minute = test::virtual_time_system::wall_start / 60;

// What the stand-ins were asked, and when (virtual time since the fixture started).
struct script {
  caf::timespan now{0};
  // Receiver and gossip side: the view a tick reads.
  std::vector<gossip::endpoint_id> neighbors;
  std::vector<bytes32> hashes;
  // Record publisher side.
  std::map<uint64_t, record_list> records; ///< by minute
  bool fail_gets = false;
  std::vector<std::pair<caf::timespan, crypto::record>> published;
  caf::timespan publish_delay{0}; ///< how long a publish takes to answer (a slow DHT)
  std::vector<std::pair<caf::timespan, uint64_t>> gets;
  // Gossip side.
  std::vector<std::pair<caf::timespan, std::vector<gossip::endpoint_id>>> joins;
};

receiver_actor spawn_receiver(caf::actor_system& sys, std::shared_ptr<script> s) {
  // (Spawned functions get their state as an argument: CAF 0.17.6 dereferences a null argument
  // tuple for functions spawned without arguments, which UBSan reports.)
  return sys.spawn([](std::shared_ptr<script> s) -> receiver_actor::behavior_type {
    return {
      [](gossip_event_atom, const gossip::topic_id&, const gossip::event&) {},
      [s](neighbors_atom) { return s->neighbors; },
      [s](await_joined_atom) { return !s->neighbors.empty(); },
      [](watch_atom, const caf::actor&) {},
    };
  }, s);
}

record_publisher_actor spawn_records(caf::actor_system& sys, std::shared_ptr<script> s) {
  using self_ptr = record_publisher_actor::pointer;
  return sys.spawn([](self_ptr self, std::shared_ptr<script> s)
                     -> record_publisher_actor::behavior_type {
    // Publishes answer after s->publish_delay (a retry_put to itself delivers the promise).
    auto pending = std::make_shared<std::map<uint64_t, caf::typed_response_promise<bool>>>();
    auto next_id = std::make_shared<uint64_t>(0);
    auto publish = [=](const crypto::record& r) -> caf::result<bool> {
      s->published.emplace_back(s->now, r);
      if (s->publish_delay == caf::timespan{0})
        return true;
      auto rp = self->make_response_promise<bool>();
      auto id = (*next_id)++;
      pending->emplace(id, rp);
      self->delayed_send(self, s->publish_delay, retry_put_atom::value, id);
      return rp;
    };
    return {
      [s](get_records_atom, uint64_t minute) -> caf::result<record_list> {
        s->gets.emplace_back(s->now, minute);
        if (s->fail_gets)
          return caf::make_error(errc::unreachable, "scripted get failure");
        return s->records[minute];
      },
      [=](publish_record_atom, const crypto::record& r) { return publish(r); },
      [=](publish_record_atom, const crypto::record& r, const record_list&) { return publish(r); },
      [=](retry_put_atom, uint64_t id) {
        if (auto i = pending->find(id); i != pending->end()) {
          i->second.deliver(true);
          pending->erase(i);
        }
      },
      [](stats_atom) { return std::map<std::string, uint64_t>{}; },
    };
  }, s);
}

gossip_actor spawn_gossip(caf::actor_system& sys, std::shared_ptr<script> s) {
  return sys.spawn([](std::shared_ptr<script> s) -> gossip_actor::behavior_type {
    return {
      [s](subscribe_atom, const gossip::topic_id&, const bytes32&, const gossip_subscriber&) {
        return s->neighbors;
      },
      [s](subscribe_atom, const gossip::topic_id&, const bytes32&,
          const std::shared_ptr<event_sink>&) { return s->neighbors; },
      [s](subscribe_neighbors_atom, const gossip::topic_id&, const bytes32&,
          const gossip_subscriber&) { return s->neighbors; },
      [](unsubscribe_atom, const gossip::topic_id&, const gossip_subscriber&) {},
      [](unsubscribe_atom, const gossip::topic_id&, const std::shared_ptr<event_sink>&) {},
      // The neighbours and message hashes a tick reads (the scripted view).
      [s](snapshot_atom, const gossip::topic_id&) {
        return caf::make_result(s->neighbors, s->hashes);
      },
      [s](join_peers_atom, const gossip::topic_id&, std::vector<gossip::endpoint_id> ids) {
        s->joins.emplace_back(s->now, std::move(ids));
        return true;
      },
      [](broadcast_atom, const gossip::topic_id&, const payload&) { return true; },
      [](broadcast_neighbors_atom, const gossip::topic_id&, const payload&) { return true; },
      [](broadcast_atom, const gossip::topic_id&, const payload&, caf::timespan) { return true; },
      [](broadcast_neighbors_atom, const gossip::topic_id&, const payload&, caf::timespan) {
        return true;
      },
      [s](neighbors_atom, const gossip::topic_id&) { return s->neighbors; },
      [](add_addresses_atom, const gossip::endpoint_id&, std::vector<gossip::socket_address>) {},
      [](local_addresses_atom) { return std::vector<gossip::socket_address>{}; },
      [](gossip_stats_atom) { return std::map<std::string, uint64_t>{}; }, // not read here
    };
  }, s);
}

crypto::signing_key key(int n) {
  bytes32 seed{};
  seed[0] = static_cast<uint8_t>(n);
  seed[7] = 0x5a;
  return crypto::signing_key::from_seed(seed);
}

gossip::endpoint_id id(int n) { return key(n).public_key_bytes(); }

bytes32 hash(int n) {
  bytes32 h{};
  h[0] = static_cast<uint8_t>(n);
  h[31] = 0xee;
  return h;
}

struct fixture : test::virtual_time_system {
  std::shared_ptr<script> s = std::make_shared<script>();
  topic_context ctx;

  fixture() {
    on_step = [s = s](caf::timespan now) { s->now = now; };
    ctx.keys = std::make_shared<tracker::topic_keys>(crypto::topic_id::from_name("w-topic"), key(1),
                                                     byte_view::of("w-secret"));
    ctx.clock = &clock;
    ctx.receiver = spawn_receiver(*sys, s);
    ctx.records = spawn_records(*sys, s);
    ctx.gossip = spawn_gossip(*sys, s);
    ctx.seed = 7;
    sched->run();
  }

  std::vector<caf::actor> workers;

  // Workers re-arm their own timers; in a topic they are linked to the topic actor and stop
  // with it. Here the fixture stops them.
  ~fixture() {
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    workers.clear();
    ctx = topic_context{};
    run_for(1s);
  }

  // A record of node n for the current minute, listing `peers` and `hashes`.
  crypto::record record_of(int n, std::vector<gossip::endpoint_id> peers,
                           std::vector<bytes32> hashes) {
    tracker::topic_keys k{crypto::topic_id::from_name("w-topic"), key(n), byte_view::of("w-secret")};
    return tracker::make_record(k, *crypto::unix_minute(clock), peers, hashes);
  }

  template <class Worker>
  caf::actor spawn(Worker w) {
    auto a = caf::actor_cast<caf::actor>(sys->spawn(w, ctx));
    sched->run();
    workers.push_back(a);
    return a;
  }
};

// Gaps between consecutive entries of a timed log.
template <class Log>
std::vector<caf::timespan> gaps(const Log& log) {
  std::vector<caf::timespan> out;
  for (size_t i = 1; i < log.size(); ++i)
    out.push_back(log[i].first - log[i - 1].first);
  return out;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "publisher: first record after the initial delay, then base plus jitter apart") {
  s->neighbors = {id(2), id(3), id(4), id(5), id(6), id(7)}; // six: a record lists at most five
  s->hashes = {hash(1), hash(2)};
  ctx.cfg.publisher.initial_delay = 10s;
  ctx.cfg.publisher.base_interval = 10s;
  ctx.cfg.publisher.max_jitter = 50s;
  auto w = spawn(publisher_worker);
  run_for(9900ms);
  CHECK(s->published.empty());
  run_for(200ms);
  REQUIRE(s->published.size() == 1);
  CHECK(s->published[0].first >= 10s);
  CHECK(s->published[0].first <= 10s + 20ms);

  run_for(20min);
  auto g = gaps(s->published);
  REQUIRE(g.size() >= 20);          // 20 min / at most 60 s
  CHECK(g.size() <= 20 * 60 / 10);  // 20 min / at least 10 s
  std::set<caf::timespan> distinct;
  for (auto d : g) {
    CHECK(d >= 10s);
    CHECK(d <= 60s + 50ms);
    distinct.insert(std::chrono::duration_cast<std::chrono::seconds>(d));
  }
  CHECK(distinct.size() > 3); // jittered, not a fixed period

  // Every record is ours, for the minute it was made in, with ≤ 5 peers and our hashes.
  for (auto& [at, r] : s->published) {
    CHECK(r.pub_key() == id(1));
    auto minute = static_cast<uint64_t>(start_minute)
                  + static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::minutes>(at).count());
    CHECK(r.unix_minute() == minute);
    auto content = r.gossip_content();
    REQUIRE(content);
    CHECK(content->peers().size() == 5);
    CHECK(content->hashes() == s->hashes);
  }
  CHECK(s->joins.empty()); // the publisher never joins anyone
  (void) w;
}

TEST_CASE_FIXTURE(fixture, "publisher: zero jitter gives a fixed period, and a sub-second base is clamped to 1 s") {
  ctx.cfg.publisher.initial_delay = 0s;
  ctx.cfg.publisher.base_interval = 100ms;
  ctx.cfg.publisher.max_jitter = 0s;
  auto w = spawn(publisher_worker);
  run_for(10s + 5ms);
  CHECK(s->published.size() == 11); // t = 0, 1, ..., 10 s
  for (auto d : gaps(s->published))
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(d) == 1000ms);
  (void) w;
}

TEST_CASE_FIXTURE(fixture, "publisher: a publish that ends in the next minute publishes there too") {
  // PROTOCOL.md §10.7: a publish whose get and put retries run past the minute used to leave
  // the record only in the old slot, which readers leave within a minute.
  s->neighbors = {id(2)};
  ctx.cfg.publisher.initial_delay = 55s; // 5 s before the end of the fixture's first minute
  ctx.cfg.publisher.base_interval = 30s;
  ctx.cfg.publisher.max_jitter = 0s;
  s->publish_delay = 10s;                // a slow DHT: the publish answers at 65 s
  auto w = spawn(publisher_worker);
  run_for(66s);
  REQUIRE(s->published.size() == 2);
  CHECK(s->published[0].second.unix_minute() == static_cast<uint64_t>(start_minute));
  CHECK(s->published[1].second.unix_minute() == static_cast<uint64_t>(start_minute) + 1);
  CHECK(s->published[1].first >= 65s);
  CHECK(s->published[1].first < 65s + 100ms); // at once, not on the next tick (95 s)
  CHECK(s->published[1].second.gossip_content()->peers().size() == 1);
  // A publish that ends within its minute is not repeated: the next tick is 30 s after the
  // second publish ended (75 s), at 105 s, for minute + 1, then one at 145 s for minute + 2.
  run_for(80s);
  REQUIRE(s->published.size() == 4);
  CHECK(s->published[2].second.unix_minute() == static_cast<uint64_t>(start_minute) + 1);
  CHECK(s->published[3].second.unix_minute() == static_cast<uint64_t>(start_minute) + 2);
  // The stand-in's pending answer (a delayed message to itself) must fire before the system
  // goes down: an actor with a pending delayed_send keeps ~actor_system waiting (DESIGN.md).
  s->publish_delay = caf::timespan{0};
  run_for(15s);
  (void) w;
}

TEST_CASE_FIXTURE(fixture, "bubble merge: joins at most two peers, only below four neighbours, on its timer") {
  ctx.cfg.merge.bubble_merge.initial_interval = 30s;
  ctx.cfg.merge.bubble_merge.base_interval = 60s;
  ctx.cfg.merge.bubble_merge.max_jitter = 120s;
  // Records of minute m list publishers 4..6 and their peers 7..9; we know 2 and 3.
  auto m = static_cast<uint64_t>(start_minute);
  s->records[m] = {record_of(4, {id(7), id(1)}, {}), record_of(5, {id(8)}, {}),
                   record_of(6, {id(9), id(2)}, {})};
  s->records[m - 1] = {record_of(4, {id(7)}, {})};

  SUBCASE("with three neighbours it acts") {
    s->neighbors = {id(2), id(3), id(10)};
    auto w = spawn(bubble_merge_worker);
    run_for(29900ms);
    CHECK(s->gets.empty());
    run_for(200ms);
    // One tick: minutes m-2 to m+1 fetched (clock tolerance, PROTOCOL.md §10.7), one join of
    // at most two new peers.
    REQUIRE(s->gets.size() == 4);
    std::set<uint64_t> minutes;
    for (auto& g : s->gets)
      minutes.insert(g.second);
    CHECK(minutes == std::set<uint64_t>{m - 2, m - 1, m, m + 1});
    REQUIRE(s->joins.size() == 1);
    auto& joined = s->joins[0].second;
    CHECK(joined.size() == 2);
    std::set<gossip::endpoint_id> allowed{id(4), id(5), id(6), id(7), id(8), id(9)};
    for (auto& j : joined)
      CHECK(allowed.count(j) == 1); // never us, never a neighbour
    CHECK(std::set<gossip::endpoint_id>(joined.begin(), joined.end()).size() == joined.size());
    // Counted where it happened (dttd's dtt_tracker_merges_total{kind="bubble"}).
    auto& n = *ctx.counters;
    CHECK(n.merges[static_cast<size_t>(merge_kind::bubble)] == 1);
    CHECK(n.merge_peers[static_cast<size_t>(merge_kind::bubble)] == 2);
    CHECK(n.merges[static_cast<size_t>(merge_kind::overlap)] == 0);

    // Later ticks: 60–180 s apart (fetch gaps), each acting again while below four.
    for (uint64_t later = m + 1; later < m + 40; ++later)
      s->records[later] = s->records[m];
    run_for(30min);
    std::vector<std::pair<caf::timespan, uint64_t>> ticks;
    for (size_t i = 0; i < s->gets.size(); i += 4)
      ticks.push_back(s->gets[i]);
    REQUIRE(ticks.size() >= 10);
    CHECK(ticks.size() <= 31);
    for (auto d : gaps(ticks)) {
      CHECK(d >= 60s);
      CHECK(d <= 180s + 50ms);
    }
    CHECK(s->joins.size() == ticks.size());
    CHECK(n.merges[static_cast<size_t>(merge_kind::bubble)] == s->joins.size());
    (void) w;
  }
  SUBCASE("with four neighbours it only looks") {
    s->neighbors = {id(2), id(3), id(10), id(11)};
    auto w = spawn(bubble_merge_worker);
    run_for(10min);
    CHECK(s->gets.size() >= 4 * 4);
    CHECK(s->joins.empty());
    CHECK(ctx.counters->merges[static_cast<size_t>(merge_kind::bubble)] == 0);
    (void) w;
  }
  SUBCASE("a failed get skips the tick") {
    s->neighbors = {id(2)};
    s->fail_gets = true;
    auto w = spawn(bubble_merge_worker);
    run_for(10min);
    CHECK(s->gets.size() >= 4 * 4);
    CHECK(s->joins.empty());
    (void) w;
  }
}

TEST_CASE_FIXTURE(fixture, "overlap merge: joins only publishers whose message hashes are disjoint from ours") {
  ctx.cfg.merge.message_overlap_merge.initial_interval = 30s;
  ctx.cfg.merge.message_overlap_merge.max_join_peers = 2;
  auto m = static_cast<uint64_t>(start_minute);
  s->neighbors = {id(2), id(3), id(10), id(11), id(12)}; // many neighbours: no bubble-merge rule here
  s->hashes = {hash(1), hash(2), hash(3)};

  SUBCASE("an overlapping record is left alone") {
    s->records[m] = {record_of(4, {id(7)}, {hash(3), hash(9)}), record_of(5, {id(8)}, {})};
    auto w = spawn(overlap_merge_worker);
    run_for(31s);
    CHECK(s->gets.size() == 4);
    CHECK(s->joins.empty());
    (void) w;
  }
  SUBCASE("a disjoint record: its publisher and peers are candidates, at most two joined") {
    s->records[m] = {record_of(4, {id(7), id(2)}, {hash(8), hash(9)}),
                     record_of(5, {id(8)}, {hash(1)})};
    auto w = spawn(overlap_merge_worker);
    run_for(31s);
    REQUIRE(s->joins.size() == 1);
    auto& joined = s->joins[0].second;
    CHECK(joined.size() == 2);
    std::set<gossip::endpoint_id> got(joined.begin(), joined.end());
    CHECK(got == std::set<gossip::endpoint_id>{id(4), id(7)}); // not 2 (a neighbour), not 5, 8
    CHECK(ctx.counters->merges[static_cast<size_t>(merge_kind::overlap)] == 1);
    CHECK(ctx.counters->merge_peers[static_cast<size_t>(merge_kind::overlap)] == 2);
    CHECK(ctx.counters->merges[static_cast<size_t>(merge_kind::bubble)] == 0);
    (void) w;
  }
  SUBCASE("with no messages of our own it never acts") {
    s->hashes.clear();
    s->records[m] = {record_of(4, {id(7)}, {hash(8)})};
    auto w = spawn(overlap_merge_worker);
    run_for(10min);
    CHECK(s->gets.size() >= 4 * 4);
    CHECK(s->joins.empty());
    (void) w;
  }
}
