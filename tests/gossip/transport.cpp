// Peer transport on 127.0.0.1: TLS identity checks, framing limits, slow peers, duplicate links.
#include "gossip/transport/transport.hpp"

#include "transport_harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <set>

using namespace dtt;
using namespace dtt::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A plain TCP client: connects, writes `payload`, then reads until the server closes the
// connection. True if the server closed it within `deadline`.
bool server_closes_plain_client(const gossip::socket_address& a, const std::string& payload,
                                std::chrono::milliseconds deadline) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address(a.ip), a.port));
  if (!payload.empty())
    asio::write(s, asio::buffer(payload));
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      end - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{s.native_handle(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r == 0)
      return false;
    if (r < 0)
      continue;
    auto n = ::recv(s.native_handle(), buf, sizeof buf, 0);
    if (n <= 0)
      return true; // EOF or reset
  }
}

bytes payload_of(size_t n, uint8_t seed) {
  bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

} // namespace

TEST_CASE("transport: handshake, then frames both ways on one link") {
  io_thread io;
  node a(io.io), b(io.io);
  b.introduce_to(a);
  REQUIRE(a.send(b.id(), "hello").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 1; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    CHECK(b.rec.messages[0].from == a.id()); // the listener learned the id from the certificate
    CHECK(text(b.rec.messages[0].content) == "hello");
    CHECK(b.rec.connected == std::vector<gossip::endpoint_id>{a.id()});
  }
  // b does not know a's address: the reply must travel on the link a dialed.
  REQUIRE(b.send(a.id(), "world").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == 1; }));
  CHECK(text(a.rec.messages[0].content) == "world");
  CHECK(a.rec.messages[0].from == b.id());

  // A run of frames of every size class, up to the limit, arrives complete and in order.
  std::vector<bytes> sent;
  for (size_t i = 0; i < 200; ++i) {
    size_t n = (i * 131) % (gossip::default_max_message_size - gossip::topic_id{}.size() + 1);
    sent.push_back(payload_of(n, static_cast<uint8_t>(i)));
    REQUIRE(a.t->send(b.id(), topic_message(sent.back())).ok());
  }
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 201; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    for (size_t i = 0; i < sent.size(); ++i)
      CHECK(b.rec.messages[i + 1].content == sent[i]);
  }
  CHECK(a.t->stats().links == 1);
  CHECK(b.t->stats().links == 1);
  CHECK(a.rec.closed.empty());
  CHECK(b.rec.closed.empty());
  // Bytes on the wire (TLS plaintext: frames with their headers), node-wide and per link.
  size_t payload = 0;
  for (auto& m : sent)
    payload += m.size() + gossip::topic_id{}.size();
  CHECK(a.t->stats().bytes_out >= payload);
  CHECK(b.t->stats().bytes_in >= payload);
  CHECK(b.t->stats().bytes_out > 0); // "world", admission proofs
  auto link = a.t->link_of(b.id());
  REQUIRE(link);
  CHECK(link->remote == b.addr());
  CHECK(link->bytes_out >= payload);
  CHECK(link->bytes_out <= a.t->stats().bytes_out);
  CHECK(link->since <= std::chrono::system_clock::now());
  CHECK(link->since > std::chrono::system_clock::now() - std::chrono::minutes(1));
  auto back = b.t->link_of(a.id());
  REQUIRE(back);
  CHECK(back->remote.ip == "127.0.0.1");
  CHECK(back->bytes_in >= payload);
  CHECK_FALSE(a.t->link_of(crypto::signing_key::generate().public_key_bytes()));
  for (auto n : a.t->stats().handshake_failures)
    CHECK(n == 0);

  // Over-size messages are refused at the API, before anything is queued.
  auto big = topic_message(gossip::default_max_message_size - gossip::topic_id{}.size() + 1, 0);
  auto st = a.t->send(b.id(), big);
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == errc::too_large);
  CHECK(a.t->send(a.id(), topic_message(1, 0)).err().code == errc::invalid_argument);
  // Under admission every message starts with its topic id.
  CHECK(a.t->send(b.id(), gossip::shared_buffer::copy_of(bytes(31, 0))).err().code
        == errc::invalid_argument);

  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a dialer refuses a certificate whose key is not the expected id") {
  io_thread io;
  node a(io.io), b(io.io);
  auto x = crypto::signing_key::generate().public_key_bytes(); // a's belief: X listens at b
  a.t->add_addresses(x, {b.addr()});
  REQUIRE(a.send(x, "for x").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  {
    std::lock_guard<std::mutex> g(a.rec.mu);
    CHECK(a.rec.closed[0].first == x);
    CHECK(a.rec.closed[0].second.find("expected " + to_hex(x)) != std::string::npos);
    CHECK(a.rec.connected.empty());
  }
  CHECK(a.rec.has_log(net::log_level::warn,
                      "presented key " + to_hex(b.id()) + ", expected " + to_hex(x)));
  auto failures = [](net::transport& t, net::handshake_failure f) {
    return t.stats().handshake_failures[static_cast<size_t>(f)];
  };
  CHECK(failures(*a.t, net::handshake_failure::certificate) == 1);
  CHECK(failures(*a.t, net::handshake_failure::tls) == 0);
  CHECK_FALSE(a.t->link_of(x));
  // b saw the handshake fail and keeps no link; nothing was delivered.
  CHECK(eventually([&] { return b.rec.has_log(net::log_level::debug, "closed"); }));
  CHECK(b.t->stats().links == 0);
  CHECK(b.rec.messages.empty());
  CHECK(b.rec.connected.empty());
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a plain TCP client sending garbage is closed") {
  io_thread io;
  node a(io.io);
  CHECK(server_closes_plain_client(a.addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms));
  CHECK(a.rec.wait([&] {
    for (auto& [l, s] : a.rec.logs)
      if (s.find("TLS handshake failed") != std::string::npos)
        return true;
    return false;
  }));
  CHECK(a.rec.connected.empty());
  CHECK(a.t->stats().handshake_failures[static_cast<size_t>(net::handshake_failure::tls)] == 1);
  a.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a half-open client that sends nothing is closed by the handshake timeout") {
  io_thread io;
  node a(io.io, [](net::transport_options& o) { o.handshake_timeout = 300ms; });
  CHECK(server_closes_plain_client(a.addr(), "", 5000ms));
  CHECK(eventually(
    [&] { return a.rec.has_log(net::log_level::debug, "TLS handshake timeout"); }));
  CHECK(a.rec.connected.empty());
  CHECK(a.t->stats().handshake_failures[static_cast<size_t>(net::handshake_failure::timeout)]
        == 1);
  a.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a frame over the receiver's limit closes that link") {
  io_thread io;
  node a(io.io, [](net::transport_options& o) { o.max_message_size = 8192; });
  node b(io.io); // default limit 4096
  b.introduce_to(a);
  REQUIRE(a.send(b.id(), "small").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 1; }));
  REQUIRE(a.t->send(b.id(), topic_message(5000 - gossip::topic_id{}.size(), 1)).ok());
  REQUIRE(b.rec.wait([&] { return !b.rec.closed.empty(); }));
  CHECK(b.rec.closed[0].first == a.id());
  CHECK(b.rec.has_log(net::log_level::warn, "frame of 5000 bytes over the limit of 4096"));
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.rec.closed[0].first == b.id());
  CHECK(b.rec.messages.size() == 1);
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a peer that never reads is dropped while others are still served") {
  io_thread io;
  io_thread frozen; // b's loop: stopped once the link is up, so b never reads again
  auto small_queue = [](net::transport_options& o) {
    o.max_queued_messages = 64;
    o.max_queued_bytes = 64 * 4096;
  };
  node a(io.io, small_queue), c(io.io);
  node b(frozen.io);
  b.introduce_to(a);
  c.introduce_to(a);
  REQUIRE(a.send(b.id(), "hi b").ok());
  REQUIRE(a.send(c.id(), "hi c").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 1; }));
  REQUIRE(c.rec.wait([&] { return c.rec.messages.size() == 1; }));
  frozen.freeze();

  auto chunk = topic_message(4000 - gossip::topic_id{}.size(), 0x5a);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  size_t to_c = 1;
  bool dropped = false;
  while (!dropped && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 32; ++i)
      REQUIRE(a.t->send(b.id(), chunk).ok());
    REQUIRE(a.send(c.id(), "tick").ok());
    ++to_c;
    dropped = a.rec.wait([&] { return !a.rec.closed.empty(); }, 2ms);
  }
  REQUIRE(dropped);
  CHECK(a.rec.closed[0].first == b.id());
  CHECK(a.rec.closed[0].second == "send queue full");
  CHECK(a.rec.has_log(net::log_level::warn,
                      "peer " + to_hex(byte_view{b.id().data(), 4}) + " is too slow"));
  CHECK(a.t->stats().slow_peers_dropped == 1);
  // c got every message meanwhile and still does.
  REQUIRE(a.send(c.id(), "after").ok());
  ++to_c;
  CHECK(c.rec.wait([&] { return c.rec.messages.size() == to_c; }));
  CHECK(text(c.rec.messages.back().content) == "after");
  CHECK(c.rec.closed.empty());

  a.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
  frozen.thaw();
  b.t->shutdown();
  CHECK(frozen.stop());
}

TEST_CASE("transport: an idle link stays up on keep-alives, a silent peer is timed out") {
  io_thread io;
  auto lively = [](net::transport_options& o) {
    o.keepalive_interval = 50ms;
    o.idle_timeout = 1500ms;
  };
  node a(io.io, lively), b(io.io, lively);
  b.introduce_to(a);
  REQUIRE(a.send(b.id(), "x").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 1; }));
  // Three idle timeouts without messages: keep-alives hold the link.
  CHECK_FALSE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 4500ms));
  CHECK(b.rec.closed.empty());

  // A peer that never writes (its keep-alive is an hour) is closed after the idle timeout.
  node quiet(io.io, [](net::transport_options& o) {
    o.keepalive_interval = std::chrono::hours(1);
    o.idle_timeout = std::chrono::hours(2);
  });
  node strict(io.io, [](net::transport_options& o) {
    o.keepalive_interval = 50ms;
    o.idle_timeout = 300ms;
  });
  strict.introduce_to(quiet);
  REQUIRE(quiet.send(strict.id(), "once").ok());
  REQUIRE(strict.rec.wait([&] { return !strict.rec.closed.empty(); }));
  CHECK(strict.rec.closed[0].first == quiet.id());
  CHECK(strict.rec.closed[0].second.find("idle timeout") != std::string::npos);

  for (auto* n : {&a, &b, &quiet, &strict})
    n->t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: simultaneous dials settle on one link and lose no message") {
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    io_thread io;
    node a(io.io), b(io.io);
    a.introduce_to(b);
    b.introduce_to(a);
    // Both dial at once: every send is posted from one io handler, so both dials start
    // before the io thread can complete either.
    constexpr size_t n = 50;
    std::atomic<bool> all_queued{true};
    asio::post(io.io, [&] {
      for (size_t i = 0; i < n; ++i) {
        all_queued = all_queued && a.send(b.id(), "a" + std::to_string(i)).ok()
                     && b.send(a.id(), "b" + std::to_string(i)).ok();
      }
    });
    REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == n; }));
    REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == n; }));
    CHECK(all_queued);
    REQUIRE(eventually([&] { return a.t->stats().links == 1 && b.t->stats().links == 1; }));
    CHECK(a.t->stats().duplicates_retired + b.t->stats().duplicates_retired >= 1);
    // More traffic on the surviving link, after the duplicate is gone.
    for (size_t i = n; i < n + 10; ++i) {
      REQUIRE(a.send(b.id(), "a" + std::to_string(i)).ok());
      REQUIRE(b.send(a.id(), "b" + std::to_string(i)).ok());
    }
    REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == n + 10; }));
    REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == n + 10; }));
    {
      std::lock_guard<std::mutex> ga(a.rec.mu);
      std::lock_guard<std::mutex> gb(b.rec.mu);
      std::set<std::string> at_a, at_b;
      for (auto& m : a.rec.messages)
        at_a.insert(text(m.content));
      for (auto& m : b.rec.messages)
        at_b.insert(text(m.content));
      CHECK(at_a.size() == n + 10); // no loss, no duplicate delivery
      CHECK(at_b.size() == n + 10);
      CHECK(at_a.count("b0") == 1);
      CHECK(at_b.count("a59") == 1);
      // Neither side saw the peer go down or come up twice.
      CHECK(a.rec.connected.size() == 1);
      CHECK(b.rec.connected.size() == 1);
      CHECK(a.rec.closed.empty());
      CHECK(b.rec.closed.empty());
      // The duplicate retired with a goodbye exchange: nothing lost, nothing to repair.
      CHECK(a.rec.renewed.empty());
      CHECK(b.rec.renewed.empty());
    }
    a.t->shutdown();
    b.t->shutdown();
    CHECK(io.stop());
  }
}

TEST_CASE("transport: a link that ends without the goodbye exchange while another carries on is reported renewed") {
  // b1 and b2 hold one key: to a, they are one peer with two links. a keeps the newer and
  // retires b1's with a goodbye, which b1 (frozen) never answers: that link ends after the
  // drain timeout, and what b1 wrote on it but a never read is lost. a still has a link to
  // the peer, so it reports no close, but says the link was renewed.
  io_thread io_a, io_b1, io_b2;
  node a(io_a.io, [](net::transport_options& o) { o.drain_timeout = 300ms; });
  node b1(io_b1.io);
  node b2(io_b2.io, b1.key);
  REQUIRE(b1.id() == b2.id());
  a.introduce_to(b1);
  a.introduce_to(b2);
  REQUIRE(b1.send(a.id(), "one").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == 1; }));
  io_b1.freeze();
  REQUIRE(b2.send(a.id(), "two").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == 2; }));
  REQUIRE(a.rec.wait([&] { return !a.rec.renewed.empty(); }, 5000ms));
  {
    std::lock_guard<std::mutex> g(a.rec.mu);
    CHECK(a.rec.renewed == std::vector<gossip::endpoint_id>{b1.id()});
    CHECK(a.rec.closed.empty());
    CHECK(a.rec.connected.size() == 1);
  }
  CHECK(a.t->stats().links_renewed == 1);
  CHECK(a.t->stats().links == 1);
  // The peer is still connected through the link that stayed.
  REQUIRE(a.send(b2.id(), "three").ok());
  REQUIRE(b2.rec.wait([&] { return b2.rec.messages.size() == 1; }));
  a.t->shutdown();
  b2.t->shutdown();
  io_b1.thaw();
  b1.t->shutdown();
  CHECK(io_a.stop());
  CHECK(io_b2.stop());
  CHECK(io_b1.stop());
}

TEST_CASE("transport: dialing an id with no known address reports it closed") {
  io_thread io;
  node a(io.io);
  auto x = crypto::signing_key::generate().public_key_bytes();
  REQUIRE(a.send(x, "nowhere").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.rec.closed[0].first == x);
  CHECK(a.rec.closed[0].second == "no known address");
  a.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: options are checked at creation") {
  io_thread io;
  auto key = crypto::signing_key::generate();
  net::transport_options o;
  o.max_message_size = 511; // below PROTOCOL.md §8.2's minimum
  auto r = net::transport::create(io.io, key, o, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_argument);
  o.max_message_size = 512;
  o.bind = {"not-an-ip", 0};
  auto r2 = net::transport::create(io.io, key, o, {});
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.err().code == errc::invalid_argument);
  CHECK(io.stop());
}

TEST_CASE("transport: close_when_flushed writes the queue first and reports nothing") {
  io_thread io;
  auto quick = [](net::transport_options& o) { o.drain_timeout = 200ms; };
  node a(io.io, quick), b(io.io, quick);
  b.introduce_to(a);
  for (int i = 0; i < 100; ++i)
    REQUIRE(a.send(b.id(), "m" + std::to_string(i)).ok());
  a.t->close_when_flushed(b.id());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 100; }));
  CHECK(text(b.rec.messages.back().content) == "m99");
  REQUIRE(eventually([&] { return a.t->stats().links == 0 && b.t->stats().links == 0; }));
  // b learns the link is gone after the drain timeout (no replacement came); a asked, so it
  // hears nothing.
  REQUIRE(b.rec.wait([&] { return b.rec.closed.size() == 1; }));
  CHECK(b.rec.closed[0].first == a.id());
  CHECK(a.rec.closed.empty());
  // A later send dials a new link.
  REQUIRE(a.send(b.id(), "again").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 101; }));
  CHECK(a.rec.connected.size() == 2);
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a batch send queues its valid messages in order and returns the refused") {
  io_thread io;
  node a(io.io), b(io.io), c(io.io);
  b.introduce_to(a);
  c.introduce_to(a);
  auto msg = [](const std::string& s) { return topic_message(byte_view::of(s)); };
  std::vector<net::outgoing> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back({b.id(), msg("b" + std::to_string(i))});
    batch.push_back({c.id(), msg("c" + std::to_string(i))});
  }
  // Refused entries (too large, our own id, no message) do not stop the rest.
  batch.insert(batch.begin() + 10,
               {b.id(), topic_message(gossip::default_max_message_size, 0)});
  batch.insert(batch.begin() + 20, {a.id(), msg("self")});
  batch.insert(batch.begin() + 30, {c.id(), gossip::shared_buffer{}});
  auto refused = a.t->send(std::move(batch));
  REQUIRE(refused.size() == 3);
  CHECK(refused[0].first == b.id());
  CHECK(refused[0].second.code == errc::too_large);
  CHECK(refused[1].first == a.id());
  CHECK(refused[1].second.code == errc::invalid_argument);
  CHECK(refused[2].first == c.id());
  CHECK(refused[2].second.code == errc::invalid_argument);
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 50; }));
  REQUIRE(c.rec.wait([&] { return c.rec.messages.size() == 50; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    for (int i = 0; i < 50; ++i)
      CHECK(text(b.rec.messages[i].content) == "b" + std::to_string(i));
  }
  {
    std::lock_guard<std::mutex> g(c.rec.mu);
    for (int i = 0; i < 50; ++i)
      CHECK(text(c.rec.messages[i].content) == "c" + std::to_string(i));
  }
  CHECK(a.t->stats().messages_out == 100);
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: the backlog counts what waits for a peer until it is written or dropped") {
  io_thread io;
  node a(io.io, [](net::transport_options& o) { o.handshake_timeout = 1500ms; });
  node b(io.io);
  b.introduce_to(a);
  // A peer that accepts TCP but never answers the TLS handshake: messages wait in its queue.
  asio::io_context mute_io;
  tcp::acceptor mute(mute_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto x = crypto::signing_key::generate().public_key_bytes();
  a.t->add_addresses(x, {{"127.0.0.1", mute.local_endpoint().port()}});
  for (int i = 0; i < 10; ++i)
    REQUIRE(a.send(x, "0123456789").ok());
  CHECK(a.t->backlog_of(x) == std::pair<size_t, size_t>{10, 420}); // topic id + 10 bytes each
  CHECK(a.t->backlogged(10, SIZE_MAX));
  CHECK(a.t->backlogged(SIZE_MAX, 420));
  CHECK_FALSE(a.t->backlogged(11, 421));
  // Messages to a live peer leave the backlog once written.
  for (int i = 0; i < 20; ++i)
    REQUIRE(a.send(b.id(), "hello").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 20; }));
  CHECK(eventually([&] { return a.t->backlog_of(b.id()).first == 0; }));
  CHECK(a.t->backlog_of(x).first == 10); // still no handshake
  // The handshake times out: the peer is closed and its queue dropped with its count.
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.rec.closed[0].first == x);
  CHECK(eventually([&] { return a.t->backlog_of(x) == std::pair<size_t, size_t>{0, 0}; }));
  CHECK_FALSE(a.t->backlogged(1, 1));
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a peer that closes every link at once is redialled less and less often, and gets every message") {
  // The 1-hour soak's redial storm: b closes each link from a as soon as a message arrives on
  // it (as a peer whose HyParView does not hold a as a neighbour does), while a keeps sending.
  // Without a back-off a redials at link-setup speed, past b's per-IP handshake budget.
  io_thread io;
  node a(io.io), b(io.io);
  b.introduce_to(a);
  const auto end = std::chrono::steady_clock::now() + 2500ms;
  size_t sent = 0, seen = 0;
  while (std::chrono::steady_clock::now() < end) {
    REQUIRE(a.send(b.id(), "m" + std::to_string(sent)).ok());
    ++sent;
    std::this_thread::sleep_for(5ms);
    size_t now_seen;
    {
      std::lock_guard<std::mutex> g(b.rec.mu);
      now_seen = b.rec.messages.size();
    }
    if (now_seen != seen) {
      seen = now_seen;
      b.t->close_when_flushed(a.id());
    }
  }
  const auto dials = a.t->stats().dials;
  MESSAGE("dials from a in 2.5 s: " << dials << ", dials held back: "
                                     << a.t->stats().dials_held_back);
  CHECK(dials >= 4);  // b did close them, a did redial
  CHECK(dials <= 10); // 3 at once, then 100, 200, 400, 800 ms ...
  CHECK(a.t->stats().dials_held_back > 0);
  CHECK_FALSE(b.rec.has_log(net::log_level::warn, "too many handshakes"));
  // Nothing sent is lost: what waited during a back-off goes out on the next link.
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() >= sent; }, 15000ms));
  CHECK(b.rec.messages.size() == sent);
  CHECK(text(b.rec.messages.back().content) == "m" + std::to_string(sent - 1));
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: a restarted node whose old link the peer still holds waits for it instead of redialling into each retirement") {
  // K holds link L to D and wins duplicate settlement with it (K has the smaller id). D
  // restarts with the same key (d2) and has messages for K: each link d2 dials is retired by K
  // before any proof while L lives. d2 waits for K's link (at most 1 s) before dialing again,
  // rather than at once (the stress runs' storm: 43 redials in 150 ms).
  io_thread io;
  auto kk = crypto::signing_key::generate(), dk = crypto::signing_key::generate();
  if (!(kk.public_key_bytes() < dk.public_key_bytes()))
    std::swap(kk, dk);
  node k(io.io, kk), d1(io.io, dk);
  REQUIRE(k.id() < d1.id());
  d1.introduce_to(k);
  REQUIRE(k.send(d1.id(), "over L").ok());
  REQUIRE(d1.rec.wait([&] { return d1.rec.messages_from(k.id()) == 1; }));
  node d2(io.io, dk);
  k.introduce_to(d2);
  const auto end = std::chrono::steady_clock::now() + 2500ms;
  size_t sent = 0;
  while (std::chrono::steady_clock::now() < end) {
    REQUIRE(d2.send(k.id(), "m" + std::to_string(sent)).ok());
    ++sent;
    std::this_thread::sleep_for(20ms);
  }
  const auto dials = d2.t->stats().dials;
  MESSAGE("d2 dialed K " << dials << " times in 2.5 s while K held L");
  CHECK(dials >= 2);
  CHECK(dials <= 4); // the back-off alone allows 7 (3 at once, then 100, 200, 400, 800 ms)
  CHECK(k.t->stats().duplicates_retired >= dials);
  // The old process goes; K's L closes and d2's next link stays: nothing d2 sent is lost.
  d1.t->shutdown();
  REQUIRE(k.rec.wait([&] { return k.rec.messages_from(d2.id()) >= sent; }, 15000ms));
  CHECK(k.rec.messages_from(d2.id()) == sent);
  k.t->shutdown();
  d2.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: an address of a peer that is our own listener is never dialled") {
  // A peer's record or gossip may carry its loopback address on a port that is ours here: the
  // 1-hour soak dialled itself that way and logged its own certificate as a forged one.
  io_thread io;
  node a(io.io), b(io.io);
  const auto own = a.addr();
  a.t->add_addresses(b.id(), {{"127.0.0.1", own.port}, {"127.0.0.2", own.port}});
  REQUIRE(a.send(b.id(), "to nowhere").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.rec.closed[0].first == b.id());
  CHECK_FALSE(a.rec.has_log(net::log_level::info, "certificate refused"));
  CHECK(a.rec.has_log(net::log_level::debug, "that is our own listener"));
  CHECK(a.t->stats().dials == 0);
  // With b's real address beside it, the message gets through.
  b.introduce_to(a);
  REQUIRE(a.send(b.id(), "to b").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  CHECK_FALSE(a.rec.has_log(net::log_level::info, "certificate refused"));
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}
