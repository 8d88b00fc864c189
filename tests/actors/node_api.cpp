// The blocking public API (dtt::node, dtt::topic) on CAF's threaded scheduler, over in-memory
// DHT and gossip. Wall-clock deadlines are short and generous.
#include "actors/node.hpp"
#include "actors/peer_cache.hpp"
#include "gossip/wire.hpp"
#include "messages/types.hpp"

#include "support/fakes.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <doctest/doctest.h>

#include <thread>

#include <sys/stat.h>
#include <unistd.h>

using namespace dtt;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<test::fake_dht_store> store = std::make_shared<test::fake_dht_store>();
  std::shared_ptr<test::fake_gossip_net> net = std::make_shared<test::fake_gossip_net>();
  dht_actor dht;

  system_fixture() {
    cfg.set("scheduler.max-threads", 2);
    register_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    dht = test::spawn_fake_dht(*sys, store);
  }

  static crypto::signing_key key(int n) {
    bytes32 seed{};
    seed[0] = static_cast<uint8_t>(n);
    seed[7] = 0x77;
    return crypto::signing_key::from_seed(seed);
  }

  std::unique_ptr<node> make_node(int n, std::string state_dir = {}) {
    node_options o;
    o.dht = dht;
    o.gossip = test::spawn_fake_gossip(*sys, net, key(n).public_key_bytes());
    o.use_endpoint_records = false;
    o.state_dir = std::move(state_dir);
    return std::make_unique<node>(*sys, key(n), o);
  }

  // Waits (bounded) until the running-actor count drops to `n`.
  bool settles_to(size_t n) {
    for (int i = 0; i < 200; ++i) {
      if (sys->registry().running() == n)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

config quick_config() {
  config c;
  c.join_timeout = std::chrono::seconds(10);
  return c;
}

} // namespace

TEST_CASE_FIXTURE(system_fixture, "a lone waiting join fails with a timeout and leaves nothing running") {
  auto n = make_node(1);
  auto baseline = sys->registry().running();
  auto c = quick_config();
  c.join_timeout = std::chrono::milliseconds(300);
  auto t = n->join("api-topic", byte_view::of("s"), c);
  REQUIRE_FALSE(t);
  CHECK(t.err().code == errc::timeout);
  CHECK(settles_to(baseline));
}

TEST_CASE_FIXTURE(system_fixture, "three nodes join, broadcast, and receive through the blocking API") {
  auto a = make_node(1);
  auto b = make_node(2);
  auto c = make_node(3);
  auto baseline = sys->registry().running();
  {
  auto ta = a->join_no_wait("api-topic", byte_view::of("s"), quick_config());
  auto tb = b->join_no_wait("api-topic", byte_view::of("s"), quick_config());
  auto tc = c->join("api-topic", byte_view::of("s"), quick_config());
  REQUIRE(tc);
  REQUIRE(ta.joined(std::chrono::seconds(10)));
  REQUIRE(tb.joined(std::chrono::seconds(10)));

  REQUIRE(ta.broadcast(bytes{'h', 'i'}));
  // b may see neighbour events first; read until the message (bounded).
  bool got = false;
  for (int i = 0; i < 10 && !got; ++i) {
    auto ev = tb.next(std::chrono::seconds(5));
    REQUIRE(ev);
    got = ev->k == gossip::event::kind::received && ev->content == bytes{'h', 'i'};
  }
  CHECK(got);
  auto nb = tb.neighbors();
  REQUIRE(nb);
  CHECK_FALSE(nb->empty());

  // The real gossip actor's bound (the fakes enforce it): the max message size (4096) minus
  // the 73-byte Gossip envelope. The largest content goes through; one byte more is refused.
  const size_t largest = gossip::default_max_message_size - gossip::gossip_overhead;
  REQUIRE(net->max_content_size() == largest);
  REQUIRE(ta.broadcast(bytes(largest, 'L')));
  got = false;
  for (int i = 0; i < 10 && !got; ++i) {
    auto ev = tb.next(std::chrono::seconds(5));
    REQUIRE(ev);
    got = ev->k == gossip::event::kind::received && ev->content == bytes(largest, 'L');
  }
  CHECK(got);
  auto too_big = ta.broadcast(bytes(largest + 1, 0));
  REQUIRE_FALSE(too_big);
  CHECK(too_big.err().code == errc::too_large);

  auto quick = tb.next(std::chrono::milliseconds(1));
  if (!quick)
    CHECK(quick.err().code == errc::timeout); // an empty queue times out, never hangs
  }
  // Every topic handle is gone: all topic actors stop.
  CHECK(settles_to(baseline));
}

TEST_CASE_FIXTURE(system_fixture, "a topic with a peer cache writes its neighbours and stops cleanly") {
  auto dir = "/tmp/dtt-node-api-cache-" + std::to_string(::getpid());
  auto a = make_node(1, dir);
  auto b = make_node(2);
  auto baseline = sys->registry().running();
  auto path = dir + "/"
              + peer_cache::file_name(crypto::topic_id::from_name("api-topic"),
                                      crypto::initial_secret_hash(byte_view::of("s")));
  {
    auto tb = b->join_no_wait("api-topic", byte_view::of("s"), quick_config());
    auto ta = a->join("api-topic", byte_view::of("s"), quick_config());
    REQUIRE(ta);
    // Written within a few checks (every second); without a resolver the entry has no address.
    bool listed = false;
    for (int i = 0; i < 100 && !listed; ++i) {
      if (auto data = peer_cache::read_file(path))
        if (auto entries = peer_cache::decode(*data))
          listed = entries->size() == 1 && (*entries)[0].id == key(2).public_key_bytes();
      if (!listed)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(listed);
  }
  CHECK(settles_to(baseline));
  {
    // A garbage cache file is ignored (the join still works through the DHT).
    REQUIRE(peer_cache::write_file_atomic(path, byte_view::of("garbage")));
    auto tb = b->join_no_wait("api-topic", byte_view::of("s"), quick_config());
    auto ta = a->join("api-topic", byte_view::of("s"), quick_config());
    CHECK(ta);
  }
  CHECK(settles_to(baseline));
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}
