// The directory (endpoint id → addresses through BEP 44 endpoint records), in CAF's virtual
// time: unresolvable ids are skipped, a silent DHT costs at most the lookup timeout, results are
// cached for a while and then looked up again.
#include "actors/directory.hpp"
#include "actors/endpoint_record.hpp"
#include "messages/errors.hpp"
#include "messages/types.hpp"

#include "support/fakes.hpp"
#include "support/virtual_time.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <doctest/doctest.h>

using namespace dtt;
using namespace std::chrono_literals;

namespace {

crypto::signing_key key(int n) {
  bytes32 seed{};
  seed[0] = static_cast<uint8_t>(n);
  seed[9] = 0x77;
  return crypto::signing_key::from_seed(seed);
}

// A DHT that takes every get and never answers.
dht_actor spawn_silent_dht(caf::actor_system& sys, std::shared_ptr<size_t> gets) {
  return sys.spawn([](std::shared_ptr<size_t> gets) -> dht_actor::behavior_type {
    return {
      [gets](get_mutable_atom, const bytes32&, const bytes&, caf::timespan)
        -> caf::result<std::vector<dht::mutable_item>> {
        ++*gets;
        return caf::delegated<std::vector<dht::mutable_item>>{};
      },
      [](put_mutable_atom, const dht::mutable_item&, int64_t) -> caf::result<dht::put_outcome> {
        return caf::delegated<dht::put_outcome>{};
      },
      [](get_immutable_atom, const byte_array<20>&, caf::timespan) { return bytes{}; },
      [](put_immutable_atom, const bytes&) { return byte_array<20>{}; },
      [](dht_stats_atom) { return std::map<std::string, uint64_t>{}; },
    };
  }, gets);
}

// A strict BEP 44 store (one item per key, as a storing node keeps it): a put whose seq is not
// above the stored one is refused with "seq too small" (KRPC error 302).
struct strict_store {
  std::map<bytes32, dht::mutable_item> items;
  size_t refused = 0;
};

dht_actor spawn_strict_dht(caf::actor_system& sys, std::shared_ptr<strict_store> st) {
  return sys.spawn([](std::shared_ptr<strict_store> st) -> dht_actor::behavior_type {
    return {
      [st](get_mutable_atom, const bytes32& k, const bytes&, caf::timespan) {
        std::vector<dht::mutable_item> out;
        if (auto i = st->items.find(k); i != st->items.end())
          out.push_back(i->second);
        return out;
      },
      [st](put_mutable_atom, const dht::mutable_item& item, int64_t) {
        dht::put_outcome o;
        auto i = st->items.find(item.key);
        if (i != st->items.end() && item.seq <= i->second.seq) {
          ++st->refused;
          o.seq_too_small = 1;
          return o;
        }
        st->items[item.key] = item;
        o.stored = 1;
        return o;
      },
      [](get_immutable_atom, const byte_array<20>&, caf::timespan) { return bytes{}; },
      [](put_immutable_atom, const bytes&) { return byte_array<20>{}; },
      [](dht_stats_atom) { return std::map<std::string, uint64_t>{}; },
    };
  }, st);
}

struct fixture : test::virtual_time_system {
  std::shared_ptr<test::fake_dht_store> store = std::make_shared<test::fake_dht_store>();
  std::shared_ptr<test::fake_gossip_net> net = std::make_shared<test::fake_gossip_net>();

  // Publishes node n's endpoint record (or raw bytes as its value) in the fake DHT.
  void publish(int n, const bytes& value, int64_t seq = 1) {
    auto item = dht::mutable_item::sign(key(n), {}, seq, value);
    store->items[item.target()].push_back(item);
  }

  directory_actor spawn_directory(dht_actor dht) {
    auto g = test::spawn_fake_gossip(*sys, net, key(1).public_key_bytes());
    auto d = sys->spawn(directory, key(1), std::move(dht), g, &clock,
                        std::chrono::milliseconds(2000), std::vector<gossip::socket_address>{});
    sched->run();
    return d;
  }

  // Sends resolve(ids) and runs virtual time until the answer or `limit`.
  std::optional<std::vector<gossip::endpoint_id>>
  resolve(const directory_actor& d, std::vector<gossip::endpoint_id> ids, caf::timespan limit,
          caf::timespan* took = nullptr) {
    auto answer = std::make_shared<std::optional<std::vector<gossip::endpoint_id>>>();
    auto asker = sys->spawn([=](caf::event_based_actor* self, directory_actor dir) {
      self->request(dir, caf::infinite, resolve_atom::value, ids)
        .then([=](const std::vector<gossip::endpoint_id>& r) { *answer = r; });
    }, d);
    auto start = elapsed;
    while (!*answer && elapsed - start < limit)
      run_for(10ms);
    if (took)
      *took = elapsed - start;
    (void) asker;
    return *answer;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "directory: resolvable ids come back, unresolvable and malformed ones are skipped") {
  publish(2, encode_endpoint_record({{"127.0.0.1", 4002}}));
  std::string junk = "not an endpoint record";
  publish(3, bytes(junk.begin(), junk.end()));
  // Three records of node 5, the highest seq neither first nor last: that one wins.
  publish(5, encode_endpoint_record({{"127.0.0.1", 4005}}), 3);
  publish(5, encode_endpoint_record({{"127.0.0.1", 5005}}), 7);
  publish(5, encode_endpoint_record({{"127.0.0.1", 6005}}), 1);
  auto d = spawn_directory(test::spawn_fake_dht(*sys, store));
  auto ids = std::vector<gossip::endpoint_id>{key(2).public_key_bytes(), key(3).public_key_bytes(),
                                              key(4).public_key_bytes(), key(5).public_key_bytes()};
  auto r = resolve(d, ids, 5s);
  REQUIRE(r);
  CHECK(*r == std::vector<gossip::endpoint_id>{key(2).public_key_bytes(),
                                               key(5).public_key_bytes()});
  // The gossip actor was given the addresses of the resolved ids only, node 5's from seq 7.
  using addresses = std::vector<gossip::socket_address>;
  auto& told = net->addresses[key(1).public_key_bytes()];
  CHECK(told.size() == 2);
  CHECK(told[key(2).public_key_bytes()] == addresses{{"127.0.0.1", 4002}});
  CHECK(told[key(5).public_key_bytes()] == addresses{{"127.0.0.1", 5005}});
  // The answers that came from the DHT are cached: a second resolve asks it only for the misses.
  auto gets = store->gets;
  r = resolve(d, ids, 5s);
  REQUIRE(r);
  CHECK(r->size() == 2);
  CHECK(store->gets == gets + 2);
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  run_for(100ms);
}

TEST_CASE_FIXTURE(fixture, "directory: a DHT that never answers costs at most the lookup timeout") {
  auto gets = std::make_shared<size_t>(0);
  auto d = spawn_directory(spawn_silent_dht(*sys, gets));
  caf::timespan took{};
  auto r = resolve(d, {key(2).public_key_bytes(), key(3).public_key_bytes()}, 10s, &took);
  REQUIRE(r);
  CHECK(r->empty());
  CHECK(*gets == 2);
  CHECK(took >= 2s);          // the lookup timeout...
  CHECK(took <= 3s + 20ms);   // ...plus the request's one-second margin, no more
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  run_for(100ms);
}

TEST_CASE_FIXTURE(fixture, "directory: cached addresses expire after ten minutes, and a lookup that then finds nothing keeps them") {
  publish(2, encode_endpoint_record({{"127.0.0.1", 4002}}), 1);
  auto d = spawn_directory(test::spawn_fake_dht(*sys, store));
  auto id2 = key(2).public_key_bytes();
  REQUIRE(resolve(d, {id2}, 5s));
  auto gets = store->gets;
  run_for(5min);
  REQUIRE(resolve(d, {id2}, 5s));
  CHECK(store->gets == gets); // still fresh
  run_for(6min);
  store->items.clear(); // the record vanished: the old addresses are still used
  auto r = resolve(d, {id2}, 5s);
  REQUIRE(r);
  CHECK(store->gets == gets + 1);
  CHECK(*r == std::vector<gossip::endpoint_id>{id2});
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  run_for(100ms);
}

TEST_CASE_FIXTURE(fixture, "directory: publishes the advertised addresses when given, and refreshes every 30 minutes") {
  auto g = test::spawn_fake_gossip(*sys, net, key(1).public_key_bytes());
  std::vector<gossip::socket_address> adv{{"203.0.113.7", 4242}, {"2001:db8::7", 4242}};
  auto d = sys->spawn(directory, key(1), test::spawn_fake_dht(*sys, store), g, &clock,
                      std::chrono::milliseconds(2000), adv);
  caf::anon_send(d, publish_record_atom::value);
  run_for(1s);
  auto target = crypto::bep44::mutable_target(key(1).public_key_bytes(), {});
  REQUIRE(store->items[target].size() == 1);
  auto item = store->items[target][0]; // a copy: the vector grows below
  CHECK(item.verify());
  auto addrs = decode_endpoint_record(item.value);
  REQUIRE(addrs);
  CHECK(*addrs == adv);
  run_for(29min);
  CHECK(store->items[target].size() == 1);
  run_for(61s);
  CHECK(store->items[target].size() == 2);
  CHECK(store->items[target][1].seq > item.seq);
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  run_for(100ms);
}

TEST_CASE_FIXTURE(fixture, "directory: a restart with an earlier clock still replaces the endpoint record") {
  // PROTOCOL.md §10.7 / issue 17: the seq is the clock in µs. A node that ran 90 s ahead and
  // restarts 90 s behind (new port) had its record refused as older for 180 s, so peers dialed
  // its old address. Now it reads the stored record and publishes above it.
  auto st = std::make_shared<strict_store>();
  auto dht = spawn_strict_dht(*sys, st);
  sched->run();
  auto start = [&](const crypto::wall_clock* c, std::vector<gossip::socket_address> addrs) {
    auto d = sys->spawn(directory, key(1), dht, test::spawn_fake_gossip(*sys, net,
                                                                   key(1).public_key_bytes()),
                        c, std::chrono::milliseconds(2000), std::move(addrs));
    caf::anon_send(d, publish_record_atom::value);
    run_for(1s);
    caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    run_for(100ms);
  };
  crypto::offset_wall_clock ahead{90, clock}, behind{-90, clock};
  start(&ahead, {{"127.0.0.1", 4001}});
  auto target = key(1).public_key_bytes();
  REQUIRE(st->items.count(target) == 1);
  auto first_seq = st->items[target].seq;
  start(&behind, {{"127.0.0.1", 5001}});
  CHECK(st->refused == 1);
  REQUIRE(st->items.count(target) == 1);
  CHECK(st->items[target].seq > first_seq);
  auto addrs = decode_endpoint_record(byte_view(st->items[target].value));
  REQUIRE(addrs);
  CHECK(*addrs == std::vector<gossip::socket_address>{{"127.0.0.1", 5001}});
}
