// Topic admission and connection budgets of the peer transport (docs/ADMISSION.md), attacked
// on 127.0.0.0/8: outsiders with another key, non-members, messages before proofs, links that
// prove nothing, and floods of connections from one address.
#include "gossip/transport/transport.hpp"
#include "transport_harness.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

using namespace dtt;
using namespace dtt::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

auto short_admission(std::chrono::milliseconds t) {
  return [t](net::transport_options& o) { o.admission_timeout = t; };
}

bool any_closed_with(recorder& r, const gossip::endpoint_id& id, const std::string& needle) {
  for (auto& [who, why] : r.closed)
    if (who == id && why.find(needle) != std::string::npos)
      return true;
  return false;
}

// A TCP connection from `from_ip` (a second loopback address) to `to`; nullptr if the local
// address cannot be bound or the connection fails.
std::unique_ptr<tcp::socket> connect_from(asio::io_context& io, const std::string& from_ip,
                                          const gossip::socket_address& to) {
  auto s = std::make_unique<tcp::socket>(io);
  boost::system::error_code ec;
  s->open(tcp::v4(), ec);
  if (!ec)
    s->bind(tcp::endpoint(asio::ip::make_address(from_ip), 0), ec);
  if (!ec)
    s->connect(tcp::endpoint(asio::ip::make_address(to.ip), to.port), ec);
  if (ec)
    return nullptr;
  return s;
}

// True if the server closed `s` (EOF or reset) within `deadline`.
bool closed_by_server(tcp::socket& s, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[256];
  while (std::chrono::steady_clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      end - std::chrono::steady_clock::now());
    pollfd p{s.native_handle(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count())));
    if (r > 0 && ::recv(s.native_handle(), buf, sizeof buf, 0) <= 0)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("admission: members of a topic exchange its messages after one proof each way") {
  io_thread io;
  node a(io.io), b(io.io);
  b.introduce_to(a);
  REQUIRE(a.send(b.id(), "hello").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages.size() == 1; }));
  CHECK(text(b.rec.messages[0].content) == "hello");
  REQUIRE(b.send(a.id(), "back").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages.size() == 1; }));
  CHECK(a.t->stats().proofs_accepted == 1);
  CHECK(b.t->stats().proofs_accepted == 1);
  CHECK(a.t->stats().proofs_refused + b.t->stats().proofs_refused == 0);
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("admission: a peer proving the topic with another key is refused and reads nothing") {
  io_thread io;
  node a(io.io), outsider(io.io);
  // Same topic id, another membership key: what a node with the right topic id but the wrong
  // secret would hold.
  bytes32 wrong{};
  wrong.fill(0x01);
  outsider.t->add_topic(test_topic(), wrong);
  outsider.introduce_to(a);
  a.introduce_to(outsider);
  // The outsider sends first: its proof does not verify at a, which closes the link.
  REQUIRE(outsider.send(a.id(), "let me in").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.rec.messages.empty());
  CHECK(a.t->stats().proofs_refused == 1);
  CHECK(a.rec.has_log(net::log_level::warn, "bad proof of membership"));
  // a sends to the outsider: the outsider's answer does not verify, nothing is delivered.
  REQUIRE(a.send(outsider.id(), "members only").ok());
  REQUIRE(eventually([&] { return outsider.t->stats().proofs_refused >= 1; }));
  CHECK(eventually([&] { return a.t->stats().peers == 0; }));
  {
    std::lock_guard<std::mutex> g(outsider.rec.mu);
    CHECK(outsider.rec.messages.empty());
  }
  CHECK(a.t->stats().proofs_accepted == 0);
  CHECK(outsider.t->stats().proofs_accepted == 0);
  a.t->shutdown();
  outsider.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("admission: a peer that is not a member never receives the topic's messages") {
  io_thread io;
  auto opts = short_admission(600ms);
  node a(io.io, opts), stranger(io.io, opts);
  stranger.t->remove_topic(test_topic());
  stranger.introduce_to(a);
  REQUIRE(a.send(stranger.id(), "private").ok());
  // a's message waits for a proof that never comes; the link is closed by the deadline.
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
  CHECK(a.rec.closed[0].first == stranger.id());
  CHECK(eventually([&] {
    auto sa = a.t->stats();
    return sa.proofs_unanswered + sa.links_without_topic
             + stranger.t->stats().links_without_topic
           >= 1;
  }));
  CHECK(stranger.t->stats().proofs_unknown_topic >= 1);
  {
    std::lock_guard<std::mutex> g(stranger.rec.mu);
    CHECK(stranger.rec.messages.empty());
  }
  CHECK(eventually([&] { return a.t->backlog_of(stranger.id()).first == 0; }));
  a.t->shutdown();
  stranger.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("admission: a message of a topic before its proof closes the link and is dropped") {
  io_thread io;
  node victim(io.io);
  // The attacker's transport skips admission: it sends the topic's message without a proof.
  node attacker(io.io, [](net::transport_options& o) { o.require_admission = false; });
  victim.introduce_to(attacker);
  REQUIRE(attacker.send(victim.id(), "unproven").ok());
  REQUIRE(victim.rec.wait([&] { return !victim.rec.closed.empty(); }));
  CHECK(victim.rec.messages.empty());
  CHECK(victim.t->stats().early_messages == 1);
  CHECK(victim.rec.has_log(net::log_level::warn, "before its proof of membership"));
  victim.t->shutdown();
  attacker.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("admission: a link that proves no topic is closed, keep-alives notwithstanding") {
  io_thread io;
  node victim(io.io, [](net::transport_options& o) {
    o.admission_timeout = 600ms;
    o.keepalive_interval = 50ms;
  });
  // A silent peer: it dials (for a message of a topic it is not a member of, which its own
  // transport then drops) and sends only keep-alives.
  node silent(io.io, [](net::transport_options& o) { o.keepalive_interval = 50ms; });
  silent.t->remove_topic(test_topic());
  victim.introduce_to(silent);
  REQUIRE(silent.send(victim.id(), "dropped before it leaves").ok());
  REQUIRE(victim.rec.wait([&] { return !victim.rec.connected.empty(); }, 5000ms));
  auto up = std::chrono::steady_clock::now();
  REQUIRE(silent.rec.wait([&] { return !silent.rec.closed.empty(); }, 5000ms));
  auto lasted = std::chrono::steady_clock::now() - up;
  CHECK(lasted >= 500ms);
  CHECK(lasted < 3000ms);
  CHECK(victim.t->stats().links_without_topic == 1);
  CHECK(silent.t->stats().messages_not_member == 1);
  CHECK(victim.rec.messages.empty());
  victim.t->shutdown();
  silent.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("budgets: idle connections from one address are held, an honest peer still joins") {
  io_thread io;
  node victim(io.io, [](net::transport_options& o) {
    o.max_pending_handshakes_per_ip = 4;
    o.refused_hold = 800ms;
    o.handshake_timeout = 3000ms;
  });
  asio::io_context cio;
  std::vector<std::unique_ptr<tcp::socket>> flood;
  for (int i = 0; i < 40; ++i) {
    auto s = connect_from(cio, "127.0.0.2", victim.addr());
    if (!s)
      break;
    flood.push_back(std::move(s));
  }
  if (flood.size() < 40) {
    MESSAGE("cannot bind 127.0.0.2 here; skipping");
    victim.t->shutdown();
    CHECK(io.stop());
    return;
  }
  REQUIRE(eventually([&] { return victim.t->stats().refused_ip_handshakes >= 36; }, 5000ms));
  auto st = victim.t->stats();
  CHECK(st.pending_handshakes <= 4);
  CHECK(st.refused_held >= 1);
  // An honest peer from 127.0.0.1 joins and exchanges messages meanwhile, within 2 s.
  node honest(io.io);
  victim.introduce_to(honest);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(honest.send(victim.id(), "still here").ok());
  REQUIRE(victim.rec.wait([&] { return victim.rec.messages.size() == 1; }, 2000ms));
  CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);
  // The held connections are closed after the hold, and the rest by the handshake timeout.
  size_t closed = 0;
  for (auto& s : flood)
    closed += closed_by_server(*s, 6000ms);
  CHECK(closed == flood.size());
  CHECK(eventually([&] {
    auto s = victim.t->stats();
    return s.refused_held == 0 && s.pending_handshakes == 0;
  }));
  victim.t->shutdown();
  honest.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("budgets: inbound links per address are bounded") {
  io_thread io;
  node victim(io.io, [](net::transport_options& o) {
    o.max_connections_per_ip = 2;
    o.refused_hold = 300ms;
  });
  std::vector<std::unique_ptr<node>> peers;
  for (int i = 0; i < 3; ++i) {
    peers.push_back(std::make_unique<node>(io.io));
    victim.introduce_to(*peers.back());
  }
  for (int i = 0; i < 2; ++i) {
    REQUIRE(peers[i]->send(victim.id(), "p" + std::to_string(i)).ok());
    REQUIRE(victim.rec.wait([&] { return victim.rec.messages.size() == size_t(i + 1); }));
  }
  // The third peer from the same address is refused: held, then closed; never delivered.
  REQUIRE(peers[2]->send(victim.id(), "p2").ok());
  REQUIRE(peers[2]->rec.wait([&] { return !peers[2]->rec.closed.empty(); }, 8000ms));
  CHECK(victim.t->stats().refused_ip_links >= 1);
  CHECK(victim.rec.messages.size() == 2);
  victim.t->shutdown();
  for (auto& p : peers)
    p->t->shutdown();
  CHECK(io.stop());
}
