// The DHT actor against a loopback testnet (wall clock, short deadlines).
#include "actors/dht_actor.hpp"

#include "dht/bencode.hpp"
#include "dht/testnet.hpp"
#include "messages/errors.hpp"
#include "messages/types.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace dtt;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

/// The io_context the actor's socket lives on, run by one thread for the test's duration.
struct io_thread {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~io_thread() {
    work.reset();
    thread.join(); // returns once the actors posted their shutdown and no work remains
  }
};

struct config : caf::actor_system_config {
  config() { register_types(*this); }
};

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

dht::mutable_item item_for(uint8_t k, const std::string& salt, const std::string& value,
                           int64_t seq = INT64_MAX) {
  bytes32 seed;
  seed.fill(k);
  return dht::mutable_item::sign(crypto::signing_key::from_seed(seed), str_bytes(salt), seq,
                                 str_bytes(value));
}

dht_options client_options(const dht::testnet& net) {
  dht_options o;
  o.bind_address = "127.0.0.1";
  o.bootstrap = net.bootstrap();
  o.read_only = true;
  return o;
}

// Waits until only `baseline` actors run (bounded).
bool actors_back_to(caf::actor_system& sys, size_t baseline) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sys.registry().running() > baseline) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

TEST_CASE("dht actor: put_mutable then get_mutable from another actor") {
  dht::testnet_options to;
  to.nodes = 20;
  dht::testnet net(to);
  REQUIRE(net.start());
  io_thread t;
  config cfg;
  caf::actor_system sys{cfg};
  auto baseline = sys.registry().running();
  {
    auto writer = spawn_dht_actor(sys, t.io, client_options(net));
    auto reader = spawn_dht_actor(sys, t.io, client_options(net));
    REQUIRE(writer);
    REQUIRE(reader);
    caf::scoped_actor self{sys};
    auto item = item_for(1, "salt", "hello actor");
    bool put_ok = false;
    self->request(*writer, 10s, put_mutable_atom::value, item, int64_t{INT64_MAX})
      .receive([&](const dht::put_outcome& o) { put_ok = o.ok() && o.stored >= 6; },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(put_ok);
    CHECK(net.stats()["stored_items"] >= 6); // the storing nodes hold it

    std::vector<dht::mutable_item> got;
    self->request(*reader, 10s, get_mutable_atom::value, item.key, str_bytes("salt"),
                  caf::timespan{5s})
      .receive([&](std::vector<dht::mutable_item>& items) { got = std::move(items); },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(got.size() >= 6);
    for (auto& it : got)
      CHECK(it == item);

    // Another salt: nothing, but no error.
    got.clear();
    bool replied = false;
    self->request(*reader, 10s, get_mutable_atom::value, item.key, str_bytes("other"),
                  caf::timespan{5s})
      .receive([&](std::vector<dht::mutable_item>& items) {
                 replied = true;
                 got = std::move(items);
               },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(replied);
    CHECK(got.empty());

    // cas < 0 means no cas; a lower seq is refused by every storing node.
    auto lower = item_for(1, "salt", "older", 5);
    self->request(*writer, 10s, put_mutable_atom::value, lower, int64_t{-1})
      .receive([&](const dht::put_outcome& o) {
                 CHECK(o.seq_too_small >= 6);
                 CHECK_FALSE(o.ok());
               },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });

    // A badly signed item is refused before any network traffic.
    auto bad = item;
    bad.signature[0] ^= 1;
    self->request(*writer, 10s, put_mutable_atom::value, bad, int64_t{-1})
      .receive([&](const dht::put_outcome&) { FAIL_CHECK("bad item accepted"); },
               [&](const caf::error& e) { CHECK(e == caf::make_error(errc::bad_signature)); });

    std::map<std::string, uint64_t> stats;
    self->request(*reader, 10s, dht_stats_atom::value)
      .receive([&](std::map<std::string, uint64_t>& s) { stats = std::move(s); },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(stats["table_size"] >= 8);
    CHECK(stats["responses_in"] > 0);
    CHECK(stats.count("pending_requests") == 1);
    CHECK(stats["actor_get_mutable"] == 2); // the reader took two gets and nothing else
    CHECK(stats["actor_put_mutable"] == 0);
  }
  CHECK(actors_back_to(sys, baseline));
  net.stop();
}

TEST_CASE("dht actor: immutable put and get") {
  dht::testnet_options to;
  to.nodes = 12;
  dht::testnet net(to);
  REQUIRE(net.start());
  io_thread t;
  config cfg;
  caf::actor_system sys{cfg};
  {
    auto d = spawn_dht_actor(sys, t.io, client_options(net));
    REQUIRE(d);
    caf::scoped_actor self{sys};
    auto v = crypto::bep44::bencode_string(str_bytes("immutable hello"));
    byte_array<20> target{};
    self->request(*d, 10s, put_immutable_atom::value, v)
      .receive([&](const byte_array<20>& t) { target = t; },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(target == crypto::bep44::immutable_target(v));
    self->request(*d, 10s, get_immutable_atom::value, target, caf::timespan{5s})
      .receive([&](const bytes& got) { CHECK(got == v); },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    self->request(*d, 10s, put_immutable_atom::value, str_bytes("not bencoded"))
      .receive([&](const byte_array<20>&) { FAIL_CHECK("accepted"); },
               [&](const caf::error& e) { CHECK(e == caf::make_error(errc::invalid_argument)); });
    byte_array<20> missing{};
    missing.fill(0x42);
    self->request(*d, 10s, get_immutable_atom::value, missing, caf::timespan{5s})
      .receive([&](const bytes&) { FAIL_CHECK("found a value that was never stored"); },
               [&](const caf::error& e) { CHECK(e == caf::make_error(errc::unreachable)); });
  }
  net.stop();
}

TEST_CASE("dht actor: get_mutable replies when its timeout elapses, the actor stops cleanly") {
  io_thread t;
  config cfg;
  caf::actor_system sys{cfg};
  auto baseline = sys.registry().running();
  // A bootstrap address where nothing listens: the lookup cannot finish before the timeout.
  asio::ip::udp::socket hole(t.io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  dht_options o;
  o.bind_address = "127.0.0.1";
  o.bootstrap = {"127.0.0.1:" + std::to_string(hole.local_endpoint().port())};
  o.request_timeout = 1s; // longer than the get's 300 ms: the get cannot end by itself
  {
    auto spawned = std::chrono::steady_clock::now();
    auto d = spawn_dht_actor(sys, t.io, o);
    REQUIRE(d);
    caf::scoped_actor self{sys};
    auto start = std::chrono::steady_clock::now();
    bool replied = false;
    self->request(*d, 10s, get_mutable_atom::value, bytes32{}, bytes{}, caf::timespan{300ms})
      .receive([&](std::vector<dht::mutable_item>& items) {
                 replied = true;
                 CHECK(items.empty());
               },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(replied);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 250ms);
    CHECK(took < 5s);
    // A put that nobody answers fails with errc::unreachable once the request times out, and
    // the actor answers other requests meanwhile.
    auto item = item_for(2, "salt", "nobody stores this");
    start = std::chrono::steady_clock::now();
    auto put = self->request(*d, 10s, put_mutable_atom::value, item, int64_t{-1});
    std::map<std::string, uint64_t> stats;
    self->request(*d, 10s, dht_stats_atom::value)
      .receive([&](std::map<std::string, uint64_t>& s) { stats = std::move(s); },
               [&](const caf::error& e) { FAIL_CHECK(sys.render(e)); });
    CHECK(stats["table_size"] == 0);
    CHECK(stats["actor_put_mutable"] == 1);
    CHECK(stats["pending_requests"] == 1); // answered while the put waits
    bool unreachable = false;
    put.receive([&](const dht::put_outcome&) { FAIL_CHECK("a put nobody answered succeeded"); },
                [&](const caf::error& e) {
                  unreachable = e == caf::make_error(errc::unreachable);
                });
    CHECK(unreachable);
    // Not before the bootstrap request to the only known address timed out (1 s after the
    // spawn), and without waiting for anything else.
    auto now = std::chrono::steady_clock::now();
    CHECK(now - spawned >= 1s);
    CHECK(now - start < 5s);
  }
  CHECK(actors_back_to(sys, baseline));
  hole.close(); // never had pending operations
}

TEST_CASE("dht actor: spawning fails cleanly when the port is taken") {
  io_thread t;
  config cfg;
  caf::actor_system sys{cfg};
  asio::ip::udp::socket taken(t.io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  dht_options o;
  o.bind_address = "127.0.0.1";
  o.port = taken.local_endpoint().port();
  o.bootstrap = {};
  auto d = spawn_dht_actor(sys, t.io, o);
  CHECK_FALSE(d);
  taken.close();
}
