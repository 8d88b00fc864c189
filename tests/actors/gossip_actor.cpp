// The gossip actor on loopback: several nodes in one process join a topic over TLS links.
#include "actors/gossip_actor.hpp"

#include "gossip/transport_harness.hpp"
#include "messages/errors.hpp"
#include "messages/types.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <caf/all.hpp>
#include <doctest/doctest.h>

#include <map>
#include <optional>

using namespace dtt;
using namespace dtt::test;

namespace {

// The membership key every node of these tests proves its topics with (docs/ADMISSION.md).
const bytes32 test_key = [] {
  bytes32 k{};
  k.fill(0x5a);
  return k;
}();

// Events seen by each node's subscriber.
struct event_log {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, std::vector<gossip::event>> events;

  void add(int node, gossip::event ev) {
    std::lock_guard<std::mutex> g(mu);
    events[node].push_back(std::move(ev));
    cv.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds deadline = 15000ms) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, deadline, pred);
  }
  size_t count(int node, gossip::event::kind k) {
    size_t n = 0;
    for (auto& e : events[node])
      n += e.k == k;
    return n;
  }
  bool received(int node, const bytes& content) {
    for (auto& e : events[node])
      if (e.k == gossip::event::kind::received && e.content == content)
        return true;
    return false;
  }
};

gossip_subscriber::behavior_type subscriber(gossip_subscriber::pointer,
                                            std::shared_ptr<event_log> log, int node) {
  return {
    [=](gossip_event_atom, const gossip::topic_id&, const gossip::event& ev) {
      log->add(node, ev);
    },
  };
}

caf::actor_system_config& test_config(caf::actor_system_config& cfg) {
  register_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  return cfg;
}

gossip_options quiet_options() {
  gossip_options o;
  o.transport.bind = {"127.0.0.1", 0};
  o.transport.log = [](net::log_level, const std::string&) {};
  o.transport.handshake_timeout = 2000ms;
  return o;
}

template <class... Ts>
auto ask(caf::scoped_actor& self, const gossip_actor& g, Ts&&... xs) {
  using namespace std::chrono;
  return self->request(g, seconds(10), std::forward<Ts>(xs)...);
}

} // namespace

TEST_CASE("gossip actor: nodes join a topic, see neighbours, broadcast, refuse over-size") {
  io_thread io;
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{test_config(cfg)};
    caf::scoped_actor self{sys};
    constexpr int n = 4;
    auto log = std::make_shared<event_log>();
    gossip::topic_id topic{};
    topic.fill(0x42);
    std::vector<gossip_actor> nodes;
    std::vector<gossip::endpoint_id> ids;
    std::vector<gossip_subscriber> subs;
    for (int i = 0; i < n; ++i) {
      auto key = crypto::signing_key::generate();
      auto g = spawn_gossip_actor(sys, io.io, key, quiet_options());
      REQUIRE(g);
      nodes.push_back(*g);
      ids.push_back(key.public_key_bytes());
      subs.push_back(sys.spawn(subscriber, log, i));
    }
    // Every node subscribes; a fresh topic has no neighbours yet.
    for (int i = 0; i < n; ++i) {
      bool answered = false;
      ask(self, nodes[i], subscribe_atom::value, topic, test_key, subs[i])
        .receive([&](const std::vector<gossip::endpoint_id>& nbrs) {
                   answered = true;
                   CHECK(nbrs.empty());
                 },
                 [&](const caf::error& e) { FAIL(sys.render(e)); });
      CHECK(answered);
    }
    // Node 0's address is the bootstrap hint for the others.
    std::vector<gossip::socket_address> addrs0;
    ask(self, nodes[0], local_addresses_atom::value)
      .receive([&](const std::vector<gossip::socket_address>& a) { addrs0 = a; },
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    REQUIRE(addrs0.size() == 1);
    CHECK(addrs0[0].ip == "127.0.0.1");
    for (int i = 1; i < n; ++i) {
      self->send(nodes[i], add_addresses_atom::value, ids[0], addrs0);
      bool joined = false;
      ask(self, nodes[i], join_peers_atom::value, topic, std::vector<gossip::endpoint_id>{ids[0]})
        .receive([&](bool ok) { joined = ok; }, [&](const caf::error& e) { FAIL(sys.render(e)); });
      CHECK(joined);
    }
    // Everyone sees a neighbour come up; node 0 sees all three joiners.
    REQUIRE(log->wait([&] {
      for (int i = 0; i < n; ++i)
        if (log->count(i, gossip::event::kind::neighbor_up) == 0)
          return false;
      return log->count(0, gossip::event::kind::neighbor_up) >= n - 1;
    }));
    std::vector<gossip::endpoint_id> nbrs0;
    ask(self, nodes[0], neighbors_atom::value, topic)
      .receive([&](const std::vector<gossip::endpoint_id>& v) { nbrs0 = v; },
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    CHECK(nbrs0.size() == n - 1);

    // A broadcast from node 1 reaches every other node (and not node 1 itself).
    bytes hello{'h', 'e', 'l', 'l', 'o'};
    bool sent = false;
    ask(self, nodes[1], broadcast_atom::value, topic, payload(hello))
      .receive([&](bool ok) { sent = ok; }, [&](const caf::error& e) { FAIL(sys.render(e)); });
    CHECK(sent);
    CHECK(log->wait([&] {
      return log->received(0, hello) && log->received(2, hello) && log->received(3, hello);
    }));
    CHECK_FALSE(log->received(1, hello));

    // The largest content that fits goes through; one byte more is refused with too_large.
    bytes largest(gossip::default_max_message_size - gossip::gossip_overhead, 0x61);
    ask(self, nodes[2], broadcast_atom::value, topic, payload(largest))
      .receive([&](bool ok) { CHECK(ok); }, [&](const caf::error& e) { FAIL(sys.render(e)); });
    CHECK(log->wait([&] { return log->received(0, largest) && log->received(3, largest); }));
    bytes too_big(largest.size() + 1, 0x62);
    bool refused = false;
    ask(self, nodes[3], broadcast_atom::value, topic, payload(too_big))
      .receive([&](bool) { FAIL("over-size broadcast accepted"); },
               [&](const caf::error& e) {
                 refused = true;
                 CHECK(e.category() == caf::atom("dtt"));
                 CHECK(e.code() == static_cast<uint8_t>(errc::too_large));
               });
    CHECK(refused);
    // A topic nobody subscribed to: join_peers says false, broadcast says closed.
    gossip::topic_id other{};
    other.fill(0x07);
    ask(self, nodes[1], join_peers_atom::value, other, std::vector<gossip::endpoint_id>{ids[0]})
      .receive([&](bool ok) { CHECK_FALSE(ok); },
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    ask(self, nodes[1], broadcast_atom::value, other, payload(hello))
      .receive([&](bool) { FAIL("broadcast on an unjoined topic accepted"); },
               [&](const caf::error& e) {
                 CHECK(e.code() == static_cast<uint8_t>(errc::closed));
               });

    for (auto& g : nodes)
      self->send_exit(g, caf::exit_reason::user_shutdown);
    for (auto& s : subs)
      self->send_exit(s, caf::exit_reason::user_shutdown);
  } // ~actor_system waits for every actor
  CHECK(io.stop());
}

TEST_CASE("gossip actor: dropping the last handle stops the actor and its transport") {
  io_thread io;
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{test_config(cfg)};
    auto baseline = sys.registry().running();
    {
      auto log = std::make_shared<event_log>();
      auto ka = crypto::signing_key::generate();
      auto kb = crypto::signing_key::generate();
      auto a = spawn_gossip_actor(sys, io.io, ka, quiet_options());
      auto b = spawn_gossip_actor(sys, io.io, kb, quiet_options());
      REQUIRE(a);
      REQUIRE(b);
      auto sa = sys.spawn(subscriber, log, 0);
      auto sb = sys.spawn(subscriber, log, 1);
      caf::scoped_actor self{sys};
      gossip::topic_id topic{};
      topic.fill(9);
      std::vector<gossip::socket_address> addrs;
      ask(self, *b, local_addresses_atom::value)
        .receive([&](const std::vector<gossip::socket_address>& v) { addrs = v; },
                 [&](const caf::error& e) { FAIL(sys.render(e)); });
      for (auto [g, s] : {std::pair{*a, sa}, std::pair{*b, sb}})
        ask(self, g, subscribe_atom::value, topic, test_key, s)
          .receive([](const std::vector<gossip::endpoint_id>&) {},
                   [&](const caf::error& e) { FAIL(sys.render(e)); });
      self->send(*a, add_addresses_atom::value, kb.public_key_bytes(), addrs);
      self->send(*a, join_peers_atom::value, topic,
                 std::vector<gossip::endpoint_id>{kb.public_key_bytes()});
      // A link and protocol timers (shuffle, cache eviction) are live when the handles go.
      REQUIRE(log->wait([&] {
        return log->count(0, gossip::event::kind::neighbor_up) == 1
               && log->count(1, gossip::event::kind::neighbor_up) == 1;
      }));
      CHECK(sys.registry().running() > baseline);
    }
    // Every handle is gone: the actors terminate on their own (no self-timers keep them).
    CHECK(eventually([&] { return sys.registry().running() == baseline; }));
  }
  CHECK(io.stop());
}

TEST_CASE("gossip actor: a peer flooding Joins is logged and disconnected, others stay") {
  io_thread io;
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{test_config(cfg)};
    caf::scoped_actor self{sys};
    auto events = std::make_shared<event_log>();
    auto logs = std::make_shared<recorder>();
    auto opts = quiet_options();
    opts.transport.log = logs->sink();
    auto key = crypto::signing_key::generate();
    auto g = spawn_gossip_actor(sys, io.io, key, opts);
    REQUIRE(g);
    auto sub = sys.spawn(subscriber, events, 0);
    gossip::topic_id topic{};
    topic.fill(0x3c);
    ask(self, *g, subscribe_atom::value, topic, test_key, sub)
      .receive([](const std::vector<gossip::endpoint_id>&) {},
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    std::vector<gossip::socket_address> addrs;
    ask(self, *g, local_addresses_atom::value)
      .receive([&](const std::vector<gossip::socket_address>& v) { addrs = v; },
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    REQUIRE_FALSE(addrs.empty());

    // The attacker is a bare transport that writes Join frames as fast as it can: an insider
    // (it proves the topic's membership key), which the flood guard must still stop.
    node attacker(io.io);
    attacker.t->add_topic(topic, test_key);
    attacker.t->add_addresses(key.public_key_bytes(), addrs);
    auto join = gossip::encode_shared({topic, gossip::msg::join{}});
    for (int i = 0; i < 200; ++i)
      REQUIRE(attacker.t->send(key.public_key_bytes(), join).ok());
    REQUIRE(attacker.rec.wait([&] { return !attacker.rec.closed.empty(); }));
    CHECK(logs->wait([&] {
      for (auto& [l, s] : logs->logs)
        if (l == net::log_level::warn && s.find("refused frame from") != std::string::npos
            && s.find("Join flood") != std::string::npos)
          return true;
      return false;
    }));
    // The flooder came up once and went down; the node keeps serving an honest peer.
    CHECK(events->wait([&] {
      return events->count(0, gossip::event::kind::neighbor_up) == 1
             && events->count(0, gossip::event::kind::neighbor_down) == 1;
    }));
    auto honest_key = crypto::signing_key::generate();
    auto honest = spawn_gossip_actor(sys, io.io, honest_key, quiet_options());
    REQUIRE(honest);
    auto honest_sub = sys.spawn(subscriber, events, 1);
    ask(self, *honest, subscribe_atom::value, topic, test_key, honest_sub)
      .receive([](const std::vector<gossip::endpoint_id>&) {},
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    self->send(*honest, add_addresses_atom::value, key.public_key_bytes(), addrs);
    self->send(*honest, join_peers_atom::value, topic,
               std::vector<gossip::endpoint_id>{key.public_key_bytes()});
    CHECK(events->wait([&] { return events->count(1, gossip::event::kind::neighbor_up) == 1; }));
    std::vector<gossip::endpoint_id> nbrs;
    ask(self, *g, neighbors_atom::value, topic)
      .receive([&](const std::vector<gossip::endpoint_id>& v) { nbrs = v; },
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    CHECK(nbrs == std::vector<gossip::endpoint_id>{honest_key.public_key_bytes()});

    attacker.t->shutdown();
    for (auto& a : {*g, *honest})
      self->send_exit(a, caf::exit_reason::user_shutdown);
    self->send_exit(sub, caf::exit_reason::user_shutdown);
    self->send_exit(honest_sub, caf::exit_reason::user_shutdown);
  }
  CHECK(io.stop());
}

TEST_CASE("gossip actor: broadcasts are refused as busy while a peer's queue is half full") {
  io_thread io;
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{test_config(cfg)};
    auto log = std::make_shared<event_log>();
    auto opts = quiet_options();
    opts.transport.max_queued_messages = 8; // busy from 4 waiting messages on
    opts.transport.handshake_timeout = 1500ms;
    auto a = spawn_gossip_actor(sys, io.io, crypto::signing_key::generate(), opts);
    REQUIRE(a);
    auto sa = sys.spawn(subscriber, log, 0);
    caf::scoped_actor self{sys};
    gossip::topic_id topic{};
    topic.fill(4);
    ask(self, *a, subscribe_atom::value, topic, test_key, sa)
      .receive([](const std::vector<gossip::endpoint_id>&) {},
               [&](const caf::error& e) { FAIL(sys.render(e)); });
    auto broadcast = [&](const std::string& s) {
      std::optional<caf::error> err;
      ask(self, *a, broadcast_atom::value, topic, payload(bytes(s.begin(), s.end())))
        .receive([](bool) {}, [&](const caf::error& e) { err = e; });
      return err;
    };
    CHECK_FALSE(broadcast("alone")); // nobody to send to, nothing waiting
    // A peer that accepts TCP but never completes the TLS handshake: our Joins wait for it.
    boost::asio::io_context mute_io;
    boost::asio::ip::tcp::acceptor mute(
      mute_io,
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    auto x = crypto::signing_key::generate().public_key_bytes();
    self->send(*a, add_addresses_atom::value, x,
               std::vector<gossip::socket_address>{{"127.0.0.1", mute.local_endpoint().port()}});
    for (int i = 0; i < 4; ++i)
      ask(self, *a, join_peers_atom::value, topic, std::vector<gossip::endpoint_id>{x})
        .receive([](bool) {}, [&](const caf::error& e) { FAIL(sys.render(e)); });
    auto err = broadcast("too fast");
    REQUIRE(err);
    CHECK(err->code() == caf::make_error(errc::busy).code());
    // The handshake times out, the peer and its queue are dropped: broadcasts go through again.
    CHECK(eventually([&] { return !broadcast("later"); }));
    self->send_exit(*a, caf::exit_reason::user_shutdown);
    self->send_exit(sa, caf::exit_reason::user_shutdown);
    self->wait_for(*a, sa);
  }
  CHECK(io.stop());
}
