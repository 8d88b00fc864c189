// The public API (include/dtt/) as an application uses it: two runtimes on a loopback DHT
// testnet, one options struct, node keys from key files, broadcast waiting for room, the
// bounded event buffer's lagged count, actor subscribers, and handles that outlive their
// runtime. Only dtt/all.hpp (and the testnet, which is a test tool) is included.
#include "dht/testnet.hpp"
#include "dtt/all.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

struct api_fixture {
  dtt::system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  dtt::dht::testnet net{[] {
    dtt::dht::testnet_options o;
    o.nodes = 8;
    return o;
  }()};
  std::string dir = "/tmp/dtt-public-api-" + std::to_string(::getpid());

  api_fixture() {
    sys = std::make_unique<caf::actor_system>(cfg);
    ::mkdir(dir.c_str(), 0700);
    auto st = net.start();
    REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  }
  ~api_fixture() {
    net.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::unique_ptr<dtt::runtime> start() {
    auto rt = dtt::runtime::start(*sys, dtt::node_key::generate(),
                                  dtt::options::loopback(net.bootstrap()));
    REQUIRE_MESSAGE(rt, (rt ? "" : rt.err().message()));
    return std::move(*rt);
  }

  static dtt::config quick(size_t event_buffer = 2048) {
    dtt::config c;
    c.join_timeout = 20s;
    c.event_buffer = event_buffer;
    return c;
  }
};

dtt::bytes text(const std::string& s) { return dtt::bytes(s.begin(), s.end()); }

// Reads events until a received one with `content` arrives (bounded).
bool receives(dtt::topic& t, const dtt::bytes& content, std::chrono::seconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    auto ev = t.next(200ms);
    if (ev && ev->k == dtt::event::kind::received && ev->content == content)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("node_key: load_or_create makes a private key file and reads the same key back") {
  auto dir = "/tmp/dtt-node-key-" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  auto path = dir + "/node.key";
  auto a = dtt::node_key::load_or_create(path);
  REQUIRE(a);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto b = dtt::node_key::load_or_create(path);
  REQUIRE(b);
  CHECK(a->id() == b->id());
  CHECK(a->seed() == b->seed());
  CHECK(dtt::node_key::from_seed(a->seed()).id() == a->id());
  ::chmod(path.c_str(), 0644); // readable by others: refused, as ssh does
  auto c = dtt::node_key::load_or_create(path);
  REQUIRE_FALSE(c);
  CHECK(c.err().code == dtt::errc::refused);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("options: values out of range are refused before any socket is opened") {
  dtt::system_config cfg;
  caf::actor_system sys{cfg};
  auto o = dtt::options::loopback({"127.0.0.1:1"});
  o.dht.node_id_check = "sometimes";
  auto rt = dtt::runtime::start(sys, dtt::node_key::generate(), o);
  REQUIRE_FALSE(rt);
  CHECK(rt.err().code == dtt::errc::invalid_argument);
  o = dtt::options::loopback({"127.0.0.1:1"});
  o.gossip.max_message_size = 100;
  rt = dtt::runtime::start(sys, dtt::node_key::generate(), o);
  REQUIRE_FALSE(rt);
  CHECK(rt.err().code == dtt::errc::invalid_argument);
  for (size_t view : {size_t{1}, size_t{33}}) {
    o = dtt::options::loopback({"127.0.0.1:1"});
    o.gossip.active_view = view;
    rt = dtt::runtime::start(sys, dtt::node_key::generate(), o);
    REQUIRE_FALSE(rt);
    CHECK(rt.err().code == dtt::errc::invalid_argument);
    CHECK(rt.err().message().find("active_view") != std::string::npos);
  }
  CHECK(dtt::parse_addresses("192.0.2.1:4433 [2001:db8::1]:4433"));
  CHECK_FALSE(dtt::parse_addresses("192.0.2.1:0"));
  CHECK_FALSE(dtt::mainline_routers().empty());
}

TEST_CASE_FIXTURE(api_fixture, "two runtimes join, broadcast both ways and bound the message size") {
  auto a = start();
  auto b = start();
  auto ta = a->join_no_wait("api-topic", "api-secret", quick());
  auto tb = b->join("api-topic", "api-secret", quick());
  REQUIRE_MESSAGE(tb, (tb ? "" : tb.err().message()));
  REQUIRE(ta.joined(20s));
  CHECK(ta.id() == tb->id());
  REQUIRE(ta.broadcast(text("from a"), 5s));
  CHECK(receives(*tb, text("from a"), 10s));
  REQUIRE(tb->broadcast(text("from b")));
  CHECK(receives(ta, text("from b"), 10s));
  auto nb = ta.neighbors();
  REQUIRE(nb);
  CHECK(std::find(nb->begin(), nb->end(), b->id()) != nb->end());
  // The gossip layer's bound: the max message size minus the 73-byte envelope.
  CHECK(ta.broadcast(dtt::bytes(4096 - 73, 'x'), 5s));
  auto too_large = ta.broadcast(dtt::bytes(4096 - 72, 'x'), 5s);
  REQUIRE_FALSE(too_large);
  CHECK(too_large.err().code == dtt::errc::too_large);
}

// What dttd reads through the public API (issue 12: dttd uses only include/dtt/): the gossip
// layer's counters, the tracker's counters per topic, the advertised addresses, the io_context
// for its own sockets, and the text helpers for its JSON lines.
TEST_CASE_FIXTURE(api_fixture, "the operator's calls: gossip and topic counters, advertised addresses, io_context") {
  auto a = start();
  auto b = start();
  auto ta = a->join_no_wait("ops-topic", "ops-secret", quick());
  auto tb = b->join("ops-topic", "ops-secret", quick());
  REQUIRE_MESSAGE(tb, (tb ? "" : tb.err().message()));
  REQUIRE(ta.joined(20s));
  REQUIRE(ta.broadcast(text("counted"), 5s));
  REQUIRE(receives(*tb, text("counted"), 10s));
  auto g = b->gossip_stats();
  REQUIRE(g);
  REQUIRE(g->count("links") == 1);
  CHECK(g->at("links") >= 1);
  REQUIRE(g->count("frames_received") == 1);
  CHECK(g->at("frames_received") >= 1);
  CHECK(g->count("topic/" + dtt::to_hex(tb->id()) + "/active") == 1);
  // The tracker's counters: b's bootstrap read a's record (or a's neighbour joined b).
  auto st = tb->stats();
  REQUIRE(st);
  CHECK(st->count("bootstrap_rounds") == 1);
  // Loopback nodes without a configured advertise publish their listening addresses.
  auto adv = a->advertised_addresses();
  auto local = a->local_addresses();
  REQUIRE(adv);
  REQUIRE(local);
  CHECK(*adv == *local);
  // The io thread runs what the application posts on it.
  std::promise<std::thread::id> ran;
  auto on_io = ran.get_future();
  boost::asio::post(a->io_context(), [&ran] { ran.set_value(std::this_thread::get_id()); });
  REQUIRE(on_io.wait_for(5s) == std::future_status::ready);
  CHECK(on_io.get() != std::this_thread::get_id());
  // Text helpers: ids as lowercase hex, contents as strict UTF-8 or base64.
  CHECK(dtt::to_hex(dtt::bytes{0x00, 0xab, 0xff}) == "00abff");
  CHECK(dtt::to_hex(a->id()).size() == 64);
  CHECK(dtt::is_utf8(text("héllo")));
  CHECK_FALSE(dtt::is_utf8(dtt::bytes{0xff}));
  CHECK(dtt::to_base64(dtt::bytes{0xff}) == "/w==");
  CHECK(dtt::from_base64("/w==") == std::optional<dtt::bytes>(dtt::bytes{0xff}));
}

TEST_CASE_FIXTURE(api_fixture, "a slow reader gets one lagged event with the number of events lost") {
  auto a = start();
  auto b = start();
  auto ta = a->join_no_wait("lag-topic", "lag-secret", quick());
  auto tb = b->join_no_wait("lag-topic", "lag-secret", quick(4)); // b keeps 4 events
  REQUIRE(ta.joined(20s));
  REQUIRE(tb.joined(20s));
  for (int i = 0; i < 12; ++i)
    REQUIRE(ta.broadcast(text("m" + std::to_string(i)), 5s));
  // Wait until b has the last message buffered, reading nothing meanwhile: the gossip actor
  // fills the buffer before it sends the same event to a second subscriber (an actor).
  std::atomic<int> seen{0};
  std::atomic<bool> subscribed{false};
  auto counter = sys->spawn([&seen, &subscribed](dtt::event_subscriber::pointer self,
                                    dtt::topic_actor t) -> dtt::event_subscriber::behavior_type {
    self->request(t, caf::infinite, dtt::subscribe_atom::value,
                  caf::actor_cast<dtt::event_subscriber>(self))
      .then([&subscribed](const std::vector<dtt::endpoint_id>&) { subscribed = true; });
    return {[&seen](dtt::event_atom, const dtt::bytes32&, const dtt::event& ev) {
      if (ev.k == dtt::event::kind::received && ev.content == text("last"))
        ++seen;
    }};
  }, tb.handle());
  // The subscriber joined late: it sees what arrives from now on, once the topic actor has
  // answered its subscription (a message arriving before that would not reach it).
  for (int i = 0; i < 250 && !subscribed.load(); ++i)
    std::this_thread::sleep_for(20ms);
  REQUIRE(subscribed.load());
  // Send one more and wait.
  REQUIRE(ta.broadcast(text("last"), 5s));
  for (int i = 0; i < 200 && seen.load() < 1; ++i)
    std::this_thread::sleep_for(20ms);
  REQUIRE(seen.load() >= 1);
  // b's buffer: 4 events kept; everything before them is counted as lost, reported first.
  auto first = tb.next(1s);
  REQUIRE(first);
  CHECK(first->k == dtt::event::kind::lagged);
  CHECK(first->lagged >= 9); // neighbor_up + 13 messages, 4 kept
  std::vector<std::string> kept;
  while (auto ev = tb.next(100ms))
    if (ev->k == dtt::event::kind::received)
      kept.emplace_back(ev->content.begin(), ev->content.end());
  REQUIRE(!kept.empty());
  CHECK(kept.back() == "last");
  CHECK(kept.size() <= 4);
  caf::anon_send_exit(counter, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(api_fixture, "topic handles outlive their runtime and then answer closed") {
  auto a = start();
  auto b = start();
  auto ta = a->join_no_wait("late-topic", "late-secret", quick());
  auto tb = b->join_no_wait("late-topic", "late-secret", quick());
  REQUIRE(ta.joined(20s));
  // A reader blocked without a timeout is woken by the stop.
  std::atomic<bool> woke{false};
  dtt::errc code = dtt::errc::timeout;
  std::thread reader([&] {
    for (;;) {
      auto ev = ta.next(0ms);
      if (!ev) {
        code = ev.err().code;
        break;
      }
    }
    woke = true;
  });
  a.reset(); // the application stops the runtime first
  for (int i = 0; i < 250 && !woke.load(); ++i)
    std::this_thread::sleep_for(20ms);
  CHECK(woke.load());
  if (!woke.load())
    reader.detach();
  else
    reader.join();
  CHECK(code == dtt::errc::closed);
  auto st = ta.broadcast(text("after"), 1s);
  REQUIRE_FALSE(st);
  CHECK(st.err().code == dtt::errc::closed);
  auto nb = ta.neighbors();
  REQUIRE_FALSE(nb);
  CHECK(nb.err().code == dtt::errc::closed);
  CHECK(ta.joined(100ms).err().code == dtt::errc::closed);
  dtt::topic empty;
  CHECK(empty.broadcast(text("x")).err().code == dtt::errc::closed);
  CHECK(ta.stats().err().code == dtt::errc::closed);
  CHECK(empty.stats().err().code == dtt::errc::closed);
  CHECK_FALSE(empty.handle());
  (void)tb;
}
