// Issue 11 finding 5: joins that do not depend on the DHT slot. Real nodes (dtt::runtime: UDP
// DHT clients, TLS gossip) on a loopback DHT testnet, while a slot flooder that knows only the
// topic name overwrites the slots every 0.2 s (PROTOCOL.md §10.1).
#include "actors/peer_cache.hpp"
#include "actors/runtime.hpp"
#include "dht/testnet.hpp"
#include "messages/types.hpp"

#include "support/slot_flooder.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

using namespace dtt;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

crypto::signing_key key(int n) {
  bytes32 seed{};
  seed[0] = static_cast<uint8_t>(n);
  seed[5] = 0xf1;
  return crypto::signing_key::from_seed(seed);
}

struct flood_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  dht::testnet net{[] {
    dht::testnet_options o;
    o.nodes = 12;
    return o;
  }()};
  std::string dir = "/tmp/dtt-slot-flood-" + std::to_string(::getpid());
  std::string topic_name = "flooded-topic";
  std::string secret = "flood-secret";

  flood_fixture() {
    cfg.set("scheduler.max-threads", 2);
    register_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    ::mkdir(dir.c_str(), 0700); // the state directories are created one level deep
    auto st = net.start();
    REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  }
  ~flood_fixture() {
    net.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::unique_ptr<runtime> start(int n, const std::string& state_dir) {
    auto ro = runtime_options::loopback(net.bootstrap());
    ro.state_dir = state_dir;
    auto rt = start_runtime(*sys, key(n), ro);
    REQUIRE_MESSAGE(rt, (rt ? "" : rt.err().message()));
    return std::move(*rt);
  }

  config tracker_config(bool hardened) {
    config c;
    c.join_timeout = 30s;
    c.hardened = hardened;
    return c;
  }

  std::map<std::string, uint64_t> stats(const topic& t) {
    caf::scoped_actor self{*sys};
    std::map<std::string, uint64_t> out;
    self->request(caf::actor_cast<caf::actor>(t.handle()), 5s, stats_atom::value)
      .receive([&](std::map<std::string, uint64_t>& m) { out = std::move(m); },
               [&](caf::error&) {});
    return out;
  }

  // Waits (bounded) until the node's peer cache lists `peer` with at least one address.
  bool cache_lists(const std::string& state_dir, const crypto::public_key& peer,
                   std::chrono::seconds deadline) {
    auto path = state_dir + "/"
                + peer_cache::file_name(crypto::topic_id::from_name(topic_name),
                                        crypto::initial_secret_hash(byte_view::of(secret)));
    auto until = steady::now() + deadline;
    while (steady::now() < until) {
      if (auto data = peer_cache::read_file(path))
        if (auto entries = peer_cache::decode(*data))
          for (auto& e : *entries)
            if (e.id == peer && !e.addresses.empty())
              return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Waits (bounded) until the flooder's junk was stored at least `n` times.
  static bool flood_landed(test::slot_flooder& f, uint64_t n, std::chrono::seconds deadline) {
    auto until = steady::now() + deadline;
    while (f.stored() < n && steady::now() < until)
      std::this_thread::sleep_for(20ms);
    return f.stored() >= n;
  }

  // Waits (bounded) until the topic counted undecryptable records (the junk reached its reads).
  bool saw_junk(const topic& t, std::chrono::seconds deadline) {
    auto until = steady::now() + deadline;
    while (steady::now() < until) {
      if (stats(t)["rejected_undecryptable"] > 0)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // Restarts node `n` (same key, same state directory) under the flood and returns the
  // seconds to its first neighbour, or nullopt after `cap`.
  std::optional<double> restart_and_time(int n, const std::string& state_dir,
                                         std::chrono::seconds cap, bool check_junk) {
    auto rt = start(n, state_dir);
    auto t0 = steady::now();
    auto t = std::make_unique<topic>(
      rt->internal().node->join_no_wait(topic_name, byte_view::of(secret), tracker_config(false)));
    std::optional<double> took;
    if (t->joined(cap))
      took = seconds_since(t0);
    if (check_junk)
      CHECK_MESSAGE(saw_junk(*t, 10s), "the flood did not reach the restarted node's reads");
    t.reset();
    rt.reset();
    return took;
  }
};

} // namespace

TEST_CASE_FIXTURE(flood_fixture, "with the slot flooded, a restarted node rejoins from its peer cache within 5 s") {
  auto a = start(1, dir + "/a");
  auto b = start(2, dir + "/b");
  {
    auto ta = a->internal().node->join_no_wait(topic_name, byte_view::of(secret), tracker_config(false));
    {
      auto tb = b->internal().node->join(topic_name, byte_view::of(secret), tracker_config(false));
      REQUIRE_MESSAGE(tb, (tb ? "" : tb.err().message()));
      REQUIRE(cache_lists(dir + "/b", a->internal().node->id(), 20s));
    }
    b.reset(); // B stops; A stays in the topic

    test::slot_flooder flooder(net.bootstrap(), topic_name);
    REQUIRE(flooder.start());
    REQUIRE(flood_landed(flooder, 20, 10s));

    auto took = restart_and_time(2, dir + "/b", 30s, true);
    REQUIRE_MESSAGE(took, "the restarted node did not rejoin within 30 s");
    MESSAGE("rejoin with peer cache under flood: " << *took << " s (" << flooder.puts_sent()
                                                   << " junk puts, " << flooder.stored()
                                                   << " stored)");
    CHECK(*took <= 5.0);
    flooder.stop();
  }
  a.reset();
}

// The same restart without a peer cache: the figure before this change. Slow by design (up to
// 120 s), so it is skipped by default; run with `test_actors -tc='*without a peer cache*' --no-skip`.
TEST_CASE_FIXTURE(flood_fixture, "measure: with the slot flooded, a restarted node without a peer cache" * doctest::skip()) {
  auto a = start(1, "");
  auto b = start(2, "");
  {
    auto ta = a->internal().node->join_no_wait(topic_name, byte_view::of(secret), tracker_config(false));
    {
      auto tb = b->internal().node->join(topic_name, byte_view::of(secret), tracker_config(false));
      REQUIRE(tb);
    }
    b.reset();
    auto quiet = restart_and_time(2, "", 120s, false);
    MESSAGE("rejoin without peer cache, no flood: "
            << (quiet ? std::to_string(*quiet) + " s" : std::string("no join within 120 s")));
    test::slot_flooder flooder(net.bootstrap(), topic_name);
    REQUIRE(flooder.start());
    REQUIRE(flood_landed(flooder, 20, 10s));
    auto took = restart_and_time(2, "", 120s, false);
    MESSAGE("rejoin without peer cache under flood: "
            << (took ? std::to_string(*took) + " s" : std::string("no join within 120 s")));
    flooder.stop();
  }
  a.reset();
}

TEST_CASE_FIXTURE(flood_fixture, "in hardened mode a new node joins as fast with the slot flooded as without") {
  auto a = start(1, "");
  auto ta = std::make_unique<topic>(
    a->internal().node->join_no_wait(topic_name, byte_view::of(secret), tracker_config(true)));
  // A new node (fresh key, no cache) joins; returns the seconds it took.
  auto join_new = [&](int n, bool flooded) {
    auto rt = start(n, "");
    auto t0 = steady::now();
    auto t = std::make_unique<topic>(
      rt->internal().node->join_no_wait(topic_name, byte_view::of(secret), tracker_config(true)));
    std::optional<double> took;
    if (t->joined(30s))
      took = seconds_since(t0);
    // Hardened nodes read a slot the flooder cannot compute: its junk never reaches them.
    std::this_thread::sleep_for(1s);
    CHECK(stats(*t)["rejected_undecryptable"] == 0);
    if (flooded)
      CHECK(stats(*ta)["rejected_undecryptable"] == 0);
    t.reset();
    rt.reset();
    return took;
  };
  auto quiet = join_new(3, false);
  REQUIRE_MESSAGE(quiet, "no join without the flood");

  test::slot_flooder flooder(net.bootstrap(), topic_name);
  REQUIRE(flooder.start());
  REQUIRE(flood_landed(flooder, 20, 10s));
  auto flooded = join_new(4, true);
  flooder.stop();
  REQUIRE_MESSAGE(flooded, "no join under the flood");
  MESSAGE("hardened join: " << *quiet << " s without flood, " << *flooded << " s with ("
                            << flooder.puts_sent() << " junk puts, " << flooder.stored()
                            << " stored)");
  CHECK(*quiet <= 10.0);
  CHECK(*flooded <= 10.0);
  // A bootstrap round is 1.5-2.5 s (PROTOCOL.md §6.2), so "as fast" allows two rounds either
  // way; without hardening the same flood delays a join by 45 s to over 120 s (measure above).
  CHECK(*flooded <= *quiet + 5.0);
  ta.reset();
  a.reset();
}
