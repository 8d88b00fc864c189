// Connection reversal through the peer transport (issue 15, gossip/transport/reversal.hpp), on 127.0.0.1:
// A cannot dial B (B's published address is a closed port) but C is linked to both, so A asks
// C, C tells B, and B dials A. Then the hostile cases: notices and requests from peers that
// proved no topic, malformed bodies, requests naming the relay or their sender, budgets, and
// reversal frames on a link of the older protocol.
#include "gossip/transport/transport.hpp"

#include "crypto/membership.hpp"
#include "gossip/transport/connection.hpp"
#include "gossip/transport/frame.hpp"
#include "gossip/transport/tls.hpp"
#include "gossip/transport/relay.hpp"
#include "gossip/transport/reversal.hpp"
#include "transport_harness.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>

using namespace dtt;
using namespace dtt::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

size_t refused(const net::transport_stats& s, bool request, net::reversal_refusal why) {
  auto& a = request ? s.reversal_requests_refused : s.reversal_notices_refused;
  return a[static_cast<size_t>(why)];
}

// A hand-driven peer: completes TLS with a node (optionally proving the test topic) and then
// writes whatever control frames a test gives it, as a hostile peer would.
class raw_peer {
public:
  explicit raw_peer(const std::string& alpn = net::transport_options{}.alpn) {
    auto t = net::tls_identity::create(key_, alpn);
    REQUIRE(t);
    tls_ = *t;
    stream_ = std::make_unique<asio::ssl::stream<tcp::socket>>(io_, tls_->context());
  }
  const gossip::endpoint_id& id() const { return tls_->id(); }

  // Connects to `to` and runs the client handshake; then proves the test topic if `admit`.
  bool connect(node& to, bool admit) {
    verification_.expected = to.id();
    net::tls_identity::attach_verification(stream_->native_handle(), &verification_);
    tls_->prepare_client(stream_->native_handle());
    boost::system::error_code ec;
    auto a = to.addr();
    stream_->next_layer().connect(tcp::endpoint(asio::ip::make_address(a.ip), a.port), ec);
    if (!ec)
      stream_->handshake(asio::ssl::stream_base::client, ec);
    if (ec)
      return false;
    if (!admit)
      return true;
    bytes32 exporter{};
    auto label = crypto::admission_exporter_label;
    if (SSL_export_keying_material(stream_->native_handle(), exporter.data(), exporter.size(),
                                   label.data(), label.size(), nullptr, 0, 0)
        != 1)
      return false;
    crypto::admission adm{test_topic(), crypto::admission_proof(test_membership_key(), exporter,
                                                                id(), to.id(), test_topic())};
    bytes out;
    net::append_admit(out, crypto::encode_admission(adm));
    return write(out);
  }
  bool send(net::control c, const bytes& body) {
    bytes out;
    net::append_control(out, c, body);
    return write(out);
  }

private:
  bool write(const bytes& out) {
    boost::system::error_code ec;
    asio::write(*stream_, asio::buffer(out), ec);
    return !ec;
  }
  crypto::signing_key key_ = crypto::signing_key::generate();
  asio::io_context io_;
  std::shared_ptr<net::tls_identity> tls_;
  net::peer_verification verification_;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> stream_;
};

// A TCP listener on 127.0.0.1 that counts who connects (to see whom a victim dials).
struct dial_trap {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  uint16_t port() const { return acceptor.local_endpoint().port(); }
  // True if a connection arrives within `deadline`.
  bool dialed_within(std::chrono::milliseconds deadline) {
    pollfd p{acceptor.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(deadline.count())) == 1;
  }
};

// A black hole on loopback: a listener whose accept queue is full drops further SYNs, so a
// dial to it neither connects nor fails until the dial timeout (2 s in these tests).
struct black_hole {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  black_hole() {
    acceptor.open(tcp::v4());
    acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor.listen(0);
    for (int i = 0; i < 4; ++i) {
      auto s = std::make_unique<tcp::socket>(io);
      s->open(tcp::v4());
      ::fcntl(s->native_handle(), F_SETFL, ::fcntl(s->native_handle(), F_GETFL) | O_NONBLOCK);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(port());
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      // Completes into the accept queue or stays pending; never accepted.
      (void)::connect(s->native_handle(), reinterpret_cast<sockaddr*>(&to), sizeof(to));
      fillers.push_back(std::move(s));
    }
  }
  uint16_t port() const { return acceptor.local_endpoint().port(); }
};

bytes request_body(const gossip::endpoint_id& target, uint16_t port) {
  return net::encode(net::reversal_request{target, port});
}

bytes notice_body(const gossip::endpoint_id& requester, const std::string& ip, uint16_t port) {
  auto b = net::encode(net::reversal_notice{requester, {ip, port}});
  REQUIRE(b);
  return *b;
}

} // namespace

TEST_CASE("reversal: B behind a closed port is linked to A through a common peer C") {
  io_thread io;
  node a(io.io), b(io.io), c(io.io);
  link(a, c);
  link(b, c);
  // B's published address is undialable, as behind a NAT without a mapping.
  a.t->add_addresses(b.id(), {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(b.id(), "through the NAT").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    CHECK(text(b.rec.messages.back().content) == "through the NAT");
  }
  // The link was made by reversal: B dialed A, and both sides say so.
  auto at_a = a.t->link_of(b.id());
  auto at_b = b.t->link_of(a.id());
  REQUIRE(at_a);
  REQUIRE(at_b);
  CHECK(at_a->method == net::link_method::reversed);
  CHECK(at_b->method == net::link_method::reversed);
  CHECK(at_b->remote.port == a.addr().port);
  CHECK(a.t->link_of(c.id())->method == net::link_method::direct);
  auto sa = a.t->stats(), sb = b.t->stats(), sc = c.t->stats();
  CHECK(sa.reversal_requests_sent == 1); // C is A's only other peer
  CHECK(sc.reversal_requests_relayed == 1);
  CHECK(sb.reversed_dials == 1);
  CHECK(sa.links_reversed == 1);
  CHECK(sb.links_reversed == 1);
  CHECK(sa.handshake_failures[static_cast<size_t>(net::handshake_failure::dial)] == 1);
  {
    std::lock_guard<std::mutex> g(a.rec.mu);
    CHECK(a.rec.closed.empty()); // the queue waited for the reversed link
  }
  // The reversed link carries the other way too.
  REQUIRE(b.send(a.id(), "and back").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages_from(b.id()) == 1; }));
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: with no common peer the failed dial is reported closed at once") {
  io_thread io;
  node a(io.io), b(io.io);
  a.t->add_addresses(b.id(), {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(b.id(), "lost").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.t->stats().reversal_requests_sent == 0);
  CHECK(a.t->stats().reversal_waits_expired == 0);
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: when the target never dials, the peer is reported closed after the wait") {
  io_thread io;
  auto short_wait = [](net::transport_options& o) { o.reversal_wait = 300ms; };
  node a(io.io, short_wait), c(io.io);
  link(a, c);
  // An id C has no link to: C refuses, and nobody dials A.
  auto x = crypto::signing_key::generate().public_key_bytes();
  a.t->add_addresses(x, {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(x, "nobody").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
  CHECK(a.rec.closed[0].first == x);
  CHECK(a.rec.closed[0].second.find("no reversed link") != std::string::npos);
  CHECK(a.t->stats().reversal_requests_sent == 1);
  CHECK(a.t->stats().reversal_waits_expired == 1);
  CHECK(eventually([&] {
    return refused(c.t->stats(), true, net::reversal_refusal::not_connected) == 1;
  }));
  CHECK(c.t->stats().reversal_requests_relayed == 0);
  a.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: a peer of the older protocol still links, and is never sent reversal frames") {
  io_thread io;
  auto old = [](net::transport_options& o) {
    o.alpn = "dtt-gossip/2";
    o.alpn_compat.clear();
  };
  node a(io.io), c_old(io.io, old);
  link(a, c_old); // new and old agree on dtt-gossip/2
  a.t->add_addresses(gossip::endpoint_id{1}, {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(gossip::endpoint_id{1}, "x").ok());
  REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(a.t->stats().reversal_requests_sent == 0);
  // The old peer's link is still up: nothing it could not parse was sent.
  REQUIRE(a.send(c_old.id(), "still here").ok());
  REQUIRE(c_old.rec.wait([&] { return c_old.rec.messages_from(a.id()) == 2; }));
  CHECK(c_old.t->stats().links == 1);
  a.t->shutdown();
  c_old.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: a reversal frame on a link of the older protocol closes it") {
  io_thread io;
  node victim(io.io);
  raw_peer old("dtt-gossip/2");
  REQUIRE(old.connect(victim, true));
  REQUIRE(old.send(net::control::reversal_request, request_body(victim.id(), 4000)));
  CHECK(eventually([&] { return victim.rec.has_log(net::log_level::warn, "older protocol"); }));
  CHECK(eventually([&] { return victim.t->stats().links == 0; }));
  victim.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: a notice makes B dial the notice's address only from an admitted peer") {
  io_thread io;
  node b(io.io);
  dial_trap trap;
  auto requester = crypto::signing_key::generate().public_key_bytes();
  SUBCASE("a peer that proved no topic is refused, and B dials nobody") {
    raw_peer stranger;
    REQUIRE(stranger.connect(b, false));
    REQUIRE(stranger.send(net::control::reversal_notice,
                          notice_body(requester, "127.0.0.1", trap.port())));
    CHECK(eventually([&] {
      return refused(b.t->stats(), false, net::reversal_refusal::not_admitted) == 1;
    }));
    CHECK_FALSE(trap.dialed_within(500ms));
    CHECK(b.t->stats().reversed_dials == 0);
  }
  SUBCASE("an admitted peer's notice is dialed, once per requester") {
    raw_peer member;
    REQUIRE(member.connect(b, true));
    auto body = notice_body(requester, "127.0.0.1", trap.port());
    REQUIRE(member.send(net::control::reversal_notice, body));
    CHECK(trap.dialed_within(5000ms));
    CHECK(b.t->stats().reversed_dials == 1);
    REQUIRE(member.send(net::control::reversal_notice, body)); // dedupe: not again
    CHECK(eventually([&] {
      return refused(b.t->stats(), false, net::reversal_refusal::declined) == 1;
    }));
    CHECK(b.t->stats().reversed_dials == 1);
  }
  SUBCASE("a notice naming B itself is refused") {
    raw_peer member;
    REQUIRE(member.connect(b, true));
    REQUIRE(member.send(net::control::reversal_notice,
                        notice_body(b.id(), "127.0.0.1", trap.port())));
    CHECK(eventually([&] {
      return refused(b.t->stats(), false, net::reversal_refusal::self_target) == 1;
    }));
    CHECK_FALSE(trap.dialed_within(300ms));
  }
  SUBCASE("malformed notices close the link") {
    raw_peer member;
    REQUIRE(member.connect(b, true));
    auto body = notice_body(requester, "127.0.0.1", trap.port());
    SUBCASE("wrong kind byte") { body[0] = 0x01; }
    SUBCASE("port 0") { body[33] = body[34] = 0; }
    SUBCASE("unusable address") { std::fill(body.begin() + 35, body.end(), uint8_t{0xff}); }
    REQUIRE(member.send(net::control::reversal_notice, body));
    CHECK(eventually([&] {
      return refused(b.t->stats(), false, net::reversal_refusal::malformed) == 1;
    }));
    CHECK(eventually([&] { return b.t->stats().links == 0; }));
    CHECK(b.t->stats().reversed_dials == 0);
  }
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: the relay checks requests and keeps its budgets") {
  io_thread io;
  node b(io.io), c(io.io);
  link(b, c);
  dial_trap trap;
  raw_peer requester;
  SUBCASE("a request from a peer that proved no topic is not relayed") {
    REQUIRE(requester.connect(c, false));
    REQUIRE(requester.send(net::control::reversal_request, request_body(b.id(), trap.port())));
    CHECK(eventually([&] {
      return refused(c.t->stats(), true, net::reversal_refusal::not_admitted) == 1;
    }));
    CHECK_FALSE(trap.dialed_within(500ms));
  }
  SUBCASE("a relayed request makes B dial the address C observed, at the requested port") {
    REQUIRE(requester.connect(c, true));
    REQUIRE(requester.send(net::control::reversal_request, request_body(b.id(), trap.port())));
    CHECK(trap.dialed_within(5000ms));
    CHECK(c.t->stats().reversal_requests_relayed == 1);
    CHECK(b.t->stats().reversed_dials == 1);
  }
  SUBCASE("requests naming the relay or their sender are refused") {
    REQUIRE(requester.connect(c, true));
    REQUIRE(requester.send(net::control::reversal_request, request_body(c.id(), trap.port())));
    REQUIRE(requester.send(net::control::reversal_request,
                           request_body(requester.id(), trap.port())));
    CHECK(eventually([&] {
      return refused(c.t->stats(), true, net::reversal_refusal::self_target) == 2;
    }));
    CHECK(c.t->stats().reversal_requests_relayed == 0);
    CHECK_FALSE(trap.dialed_within(300ms));
  }
  SUBCASE("a malformed request closes the link") {
    REQUIRE(requester.connect(c, true));
    auto body = request_body(b.id(), trap.port());
    SUBCASE("wrong kind byte") { body[0] = 0x02; }
    SUBCASE("port 0") { body[33] = body[34] = 0; }
    REQUIRE(requester.send(net::control::reversal_request, body));
    CHECK(eventually([&] {
      return refused(c.t->stats(), true, net::reversal_refusal::malformed) == 1;
    }));
    CHECK(eventually(
      [&] { return c.rec.has_log(net::log_level::warn, "reversal request refused (malformed)"); }));
    CHECK(c.t->stats().reversal_requests_relayed == 0);
  }
  SUBCASE("past its burst a requester's requests are refused; B dials it once") {
    REQUIRE(requester.connect(c, true));
    const size_t burst = 4; // net::reversal_relay::config's per_requester_burst
    for (size_t i = 0; i < burst + 2; ++i)
      REQUIRE(requester.send(net::control::reversal_request, request_body(b.id(), trap.port())));
    CHECK(eventually([&] {
      return refused(c.t->stats(), true, net::reversal_refusal::requester_budget) == 2;
    }));
    CHECK(c.t->stats().reversal_requests_relayed == burst);
    CHECK(eventually([&] {
      return refused(b.t->stats(), false, net::reversal_refusal::declined) == burst - 1;
    }));
    CHECK(b.t->stats().reversed_dials == 1);
  }
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("punching: the relay hints where the target is, and the reversed dial leaves from the "
          "target's listening port") {
  io_thread io;
  auto punching = [](net::transport_options& o) { o.hole_punching = true; };
  node a(io.io, punching), b(io.io), c(io.io);
  link(a, c);
  link(b, c);
  a.t->add_addresses(b.id(), {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(b.id(), "punch").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  // C sent A a hint with the request it relayed.
  CHECK(c.t->stats().punch_hints_sent == 1);
  CHECK(c.t->stats().reversal_requests_relayed == 1);
  // A acted on it (its book's only port for B is the closed one: the primer is refused there,
  // harmlessly), unless B's link was up first, which declines it.
  CHECK(eventually([&] {
    auto s = a.t->stats();
    return s.punch_primers + refused(s, false, net::reversal_refusal::declined) == 1;
  }));
  // B dialled from its listening port: its NAT, if it had one, would keep that port, and a
  // primer from A would have opened A's NAT to exactly that source.
  auto at_a = a.t->link_of(b.id());
  REQUIRE(at_a);
  CHECK(at_a->remote.port == b.addr().port);
  CHECK(at_a->method == net::link_method::reversed);
  CHECK(b.t->link_of(a.id())->method == net::link_method::reversed);
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("punching: a primer leaves from our listening port for the hinted IP at the target's "
          "port, only after a hint from a peer we asked") {
  io_thread io;
  auto punching = [](net::transport_options& o) {
    o.hole_punching = true;
    o.reversal_wait = 2000ms;
  };
  node a(io.io, punching);
  raw_peer c, stranger;
  REQUIRE(c.connect(a, true));
  REQUIRE(stranger.connect(a, true));
  // X listens on 127.0.0.1 (the trap) but A knows it only at 127.0.0.2, where nothing listens.
  dial_trap x_port;
  auto x = crypto::signing_key::generate().public_key_bytes();
  REQUIRE(eventually([&] { return a.t->stats().proofs_accepted == 2; }));
  a.t->add_addresses(x, {{"127.0.0.2", x_port.port()}});
  REQUIRE(a.send(x, "to x").ok());
  REQUIRE(eventually([&] { return a.t->stats().reversal_requests_sent == 2; }));
  auto hint = net::encode(net::punch_hint{x, "127.0.0.1"});
  REQUIRE(hint);
  // Both peers were asked (every admitted link, up to the fanout). A hint naming a target A
  // asked nobody about is declined and primes nothing.
  auto other = net::encode(net::punch_hint{crypto::signing_key::generate().public_key_bytes(),
                                           "127.0.0.1"});
  REQUIRE(other);
  REQUIRE(stranger.send(net::control::punch_hint, *other));
  CHECK(eventually([&] {
    return refused(a.t->stats(), false, net::reversal_refusal::declined) == 1;
  }));
  CHECK_FALSE(x_port.dialed_within(200ms));
  // The hint from a peer asked about X: A connects from its listening port to 127.0.0.1 at
  // X's port, once (the second hint for the same attempt is declined).
  REQUIRE(c.send(net::control::punch_hint, *hint));
  REQUIRE(stranger.send(net::control::punch_hint, *hint));
  REQUIRE(x_port.dialed_within(2000ms));
  tcp::socket s(x_port.io);
  x_port.acceptor.accept(s);
  CHECK(s.remote_endpoint().port() == a.addr().port);
  CHECK(eventually([&] {
    return refused(a.t->stats(), false, net::reversal_refusal::declined) == 2;
  }));
  CHECK(a.t->stats().punch_primers == 1);
  CHECK_FALSE(x_port.dialed_within(300ms));
  // A malformed hint closes the link it came on.
  REQUIRE(c.send(net::control::punch_hint, bytes(37, 0)));
  CHECK(eventually([&] {
    return refused(a.t->stats(), false, net::reversal_refusal::malformed) == 1;
  }));
  a.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("punching: when both sides ask for each other, the sockets from their listening ports "
          "agree on who is the TLS client") {
  io_thread io;
  auto punching = [](net::transport_options& o) { o.hole_punching = true; };
  node a(io.io, punching), b(io.io, punching), c(io.io);
  link(a, c);
  link(b, c);
  // Neither can dial the other: both ask C, and C relays both ways, so each holds a notice
  // (dial the other) and a hint (prime for the other).
  a.t->add_addresses(b.id(), {{"127.0.0.1", closed_port()}});
  b.t->add_addresses(a.id(), {{"127.0.0.1", closed_port()}});
  REQUIRE(a.send(b.id(), "a to b").ok());
  REQUIRE(b.send(a.id(), "b to a").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  REQUIRE(a.rec.wait([&] { return a.rec.messages_from(b.id()) == 1; }));
  CHECK(c.t->stats().reversal_requests_relayed == 2);
  // Each side saw that both asked; the smaller id took the client side of what it connected.
  auto said = [](node& n, const std::string& what) {
    std::lock_guard<std::mutex> g(n.rec.mu);
    for (auto& [lvl, line] : n.rec.logs)
      if (line.find(what) != std::string::npos)
        return true;
    return false;
  };
  auto& small = a.id() < b.id() ? a : b;
  auto& large = a.id() < b.id() ? b : a;
  CHECK(eventually([&] {
    return said(small, "we are the TLS client (we asked for each other")
           || said(large, "we are the TLS server (we asked for each other");
  }));
  CHECK_FALSE(said(small, "we are the TLS server (we asked for each other"));
  CHECK_FALSE(said(large, "we are the TLS client (we asked for each other"));
  // On loopback, without NATs, a socket may also land on the other's listener (that is a
  // plain accepted link); but no connection was left with two TLS clients or two servers,
  // which would fail its handshake or time out (2 s here).
  std::this_thread::sleep_for(2500ms);
  for (auto* n : {&a, &b}) {
    auto f = n->t->stats().handshake_failures;
    CHECK(f[static_cast<size_t>(net::handshake_failure::tls)] == 0);
    CHECK(f[static_cast<size_t>(net::handshake_failure::timeout)] == 0);
    std::lock_guard<std::mutex> g(n->rec.mu);
    CHECK(n->rec.closed.empty());
  }
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("punching: the listener lets our own dials share its port, never a second listener") {
  io_thread io;
  node a(io.io);
  // A second transport (a second dttd with the same config) on a's port fails as before
  // SO_REUSEPORT: the listener sets it only after it is bound.
  auto rec = std::make_shared<recorder>();
  auto o = test_options(*rec);
  o.bind = a.addr();
  auto second = net::transport::create(io.io, crypto::signing_key::generate(), std::move(o),
                                       rec->callbacks());
  REQUIRE_FALSE(second);
  CHECK(second.err().code == errc::io_error);
  // A plain socket without SO_REUSEPORT cannot take the port either; one with it can (that
  // is how reversed dials and primers leave from it: net::open_bound).
  asio::io_context io2;
  tcp::socket plain(io2);
  plain.open(tcp::v4());
  boost::system::error_code ec;
  plain.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a.addr().port), ec);
  CHECK(ec);
  tcp::socket shared(io2);
  CHECK_FALSE(net::open_bound(shared, tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                    a.addr().port)));
  a.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: a dial that stays unanswered asks for a reversal before its timeout") {
  black_hole hole;
  io_thread io;
  auto quick = [](net::transport_options& o) { o.reversal_after = 300ms; };
  node a(io.io, quick), b(io.io), c(io.io);
  link(a, c);
  link(b, c);
  a.t->add_addresses(b.id(), {{"127.0.0.1", hole.port()}});
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(a.send(b.id(), "around the hole").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  // Delivered over B's reversed dial well before A's own dial could time out.
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  CHECK(a.t->link_of(b.id())->method == net::link_method::reversed);
  CHECK(a.t->stats().reversal_requests_sent == 1);
  // A's hanging dial then times out without taking the peer down.
  std::this_thread::sleep_for(2200ms);
  CHECK(a.t->stats().handshake_failures[static_cast<size_t>(net::handshake_failure::timeout)]
        == 1);
  {
    std::lock_guard<std::mutex> g(a.rec.mu);
    CHECK(a.rec.closed.empty());
  }
  REQUIRE(a.send(b.id(), "still there").ok());
  CHECK(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 2; }));
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("reversal: a notice is answered while our own dial to the requester has not connected") {
  // B dials A into a black hole (A's firewall drops it); meanwhile A, whose dial to B failed
  // too, asks through a common peer. B must dial back from its listening port: that dial is
  // what opens B's firewall to A's primer. (It used to be declined as "already linked".)
  black_hole hole;
  io_thread io;
  node b(io.io);
  dial_trap trap;
  auto a_id = crypto::signing_key::generate().public_key_bytes();
  b.t->add_addresses(a_id, {{"127.0.0.1", hole.port()}});
  REQUIRE(b.send(a_id, "into the hole").ok());
  CHECK(eventually([&] { return b.t->stats().dials >= 1; }));
  raw_peer member;
  REQUIRE(member.connect(b, true));
  REQUIRE(member.send(net::control::reversal_notice, notice_body(a_id, "127.0.0.1", trap.port())));
  CHECK(trap.dialed_within(1500ms));
  CHECK(b.t->stats().reversed_dials == 1);
  CHECK(refused(b.t->stats(), false, net::reversal_refusal::declined) == 0);
  b.t->shutdown();
  CHECK(io.stop());
}

// --- relayed links (gossip/transport/relay.hpp) ---

namespace {

bytes relay_open_body(uint32_t channel, const gossip::endpoint_id& target) {
  auto b = net::encode(net::relay_open{channel, target});
  REQUIRE(b);
  return *b;
}

// A: its reversed dial can never arrive (it asks to be dialled at a closed port), and it does
// not punch: after the reversal wait it asks a common peer to relay.
void unreachable_requester(net::transport_options& o) {
  o.reversal_port = closed_port();
  o.reversal_wait = 300ms;
}

// A and B each linked to C; A knows only an undialable address of B (as behind a NAT).
void common_peer(node& a, node& b, node& c) {
  link(a, c);
  link(b, c);
  a.t->add_addresses(b.id(), {{"127.0.0.1", closed_port()}});
}

} // namespace

TEST_CASE("relay: A and B, neither reachable by the other, link through C with TLS end to end") {
  io_thread io;
  node a(io.io, unreachable_requester), b(io.io), c(io.io);
  common_peer(a, b, c);
  REQUIRE(a.send(b.id(), "through the relay").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    CHECK(text(b.rec.messages.back().content) == "through the relay");
    std::lock_guard<std::mutex> ga(a.rec.mu);
    CHECK(a.rec.closed.empty()); // the queue waited for the relayed link
  }
  auto at_a = a.t->link_of(b.id());
  auto at_b = b.t->link_of(a.id());
  REQUIRE(at_a);
  REQUIRE(at_b);
  CHECK(at_a->method == net::link_method::relayed);
  CHECK(at_b->method == net::link_method::relayed);
  CHECK(at_a->remote.port == c.addr().port); // the relay's address, not the local pipe's
  auto sa = a.t->stats(), sb = b.t->stats(), sc = c.t->stats();
  CHECK(sa.reversal_waits_expired == 1);
  CHECK(sa.relay_requests_sent == 1);
  CHECK(sc.relay_requests_carried == 1);
  CHECK(sc.relayed_carried == 1);
  CHECK(sa.links_relayed == 1);
  CHECK(sb.links_relayed == 1);
  // TLS end to end: C forwarded at least both handshakes, and carries no link to either end
  // other than its direct ones.
  CHECK(sc.relay_bytes > 1000);
  CHECK(c.t->link_of(a.id())->method == net::link_method::direct);
  // Both ways, and messages larger than one relay chunk's share of a read.
  REQUIRE(b.send(a.id(), "and back").ok());
  REQUIRE(a.rec.wait([&] { return a.rec.messages_from(b.id()) == 1; }));
  const std::string big(3000, 'x');
  for (int i = 0; i < 40; ++i)
    REQUIRE(a.send(b.id(), big).ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 41; }));
  {
    std::lock_guard<std::mutex> g(b.rec.mu);
    CHECK(text(b.rec.messages.back().content) == big);
  }
  CHECK(c.t->stats().relay_bytes > 40 * 3000);
  // The relay goes away: the relayed link ends, and each end reports the other closed.
  c.t->shutdown();
  CHECK(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(b.rec.wait([&] { return !b.rec.closed.empty(); }));
  a.t->shutdown();
  b.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("relay: a requester whose relays are all refused is reported closed") {
  io_thread io;
  SUBCASE("the relay has no link to the target") {
    node a(io.io, unreachable_requester), c(io.io);
    link(a, c);
    auto x = crypto::signing_key::generate().public_key_bytes();
    a.t->add_addresses(x, {{"127.0.0.1", closed_port()}});
    REQUIRE(a.send(x, "nobody").ok());
    REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
    CHECK(a.rec.closed[0].first == x);
    CHECK(a.rec.closed[0].second.find("no reversed link") != std::string::npos);
    CHECK(a.rec.closed[0].second.find("relayed link failed") != std::string::npos);
    CHECK(a.t->stats().relay_requests_sent == 1);
    CHECK(c.t->stats().relay_requests_refused == 1);
    CHECK(c.t->stats().relay_requests_carried == 0);
    a.t->shutdown();
    c.t->shutdown();
  }
  SUBCASE("the relay relays for nobody") {
    node a(io.io, unreachable_requester), b(io.io),
      c(io.io, [](net::transport_options& o) { o.relay_for_others = false; });
    common_peer(a, b, c);
    REQUIRE(a.send(b.id(), "refused").ok());
    REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
    CHECK(a.t->stats().relay_requests_sent == 1);
    CHECK(c.t->stats().relay_requests_refused == 1);
    CHECK(b.t->stats().links_relayed == 0);
    CHECK_FALSE(b.t->link_of(a.id()));
    a.t->shutdown();
    b.t->shutdown();
    c.t->shutdown();
  }
  SUBCASE("the requester does not ask for relays") {
    node a(io.io,
           [](net::transport_options& o) {
             unreachable_requester(o);
             o.relay = false;
           }),
      b(io.io), c(io.io);
    common_peer(a, b, c);
    REQUIRE(a.send(b.id(), "not relayed").ok());
    REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
    CHECK(a.t->stats().relay_requests_sent == 0);
    CHECK(c.t->stats().relay_requests_refused == 0);
    a.t->shutdown();
    b.t->shutdown();
    c.t->shutdown();
  }
  CHECK(io.stop());
}

TEST_CASE("relay: an outsider cannot use a relay, and a requester is held to its byte budget") {
  io_thread io;
  node c(io.io);
  raw_peer requester, target;
  SUBCASE("a peer that proved no topic is refused") {
    node b(io.io);
    link(b, c);
    REQUIRE(requester.connect(c, false));
    REQUIRE(requester.send(net::control::relay, relay_open_body(7, b.id())));
    CHECK(eventually([&] { return c.t->stats().relay_requests_refused == 1; }));
    CHECK(c.t->stats().relay_requests_carried == 0);
    CHECK(b.t->stats().links_relayed == 0);
    b.t->shutdown();
  }
  SUBCASE("past its burst, the relayed link is closed and nothing more is forwarded") {
    // The target is a raw peer too: it takes the link and reads nothing, so only the relay's
    // budget stops the flood (its kernel buffers take what the relay forwards).
    REQUIRE(target.connect(c, true));
    REQUIRE(requester.connect(c, true));
    REQUIRE(eventually([&] { return c.t->stats().proofs_accepted == 2; }));
    REQUIRE(requester.send(net::control::relay, relay_open_body(7, target.id())));
    REQUIRE(eventually([&] { return c.t->stats().relay_requests_carried == 1; }));
    const auto start = std::chrono::steady_clock::now();
    const bytes chunk(net::max_relay_chunk, 0x5a);
    const size_t sent_bytes = 24 * chunk.size(); // 384 KiB against a 256 KiB burst
    for (size_t i = 0; i < 24; ++i) {
      auto body = net::encode_relay_data(7, chunk);
      REQUIRE(body);
      REQUIRE(requester.send(net::control::relay, *body));
    }
    CHECK(eventually([&] { return c.t->stats().relay_over_budget == 1; }));
    auto s = c.t->stats();
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const net::relay_table::config budget;
    CHECK(s.relayed_carried == 0);
    CHECK(s.relay_bytes < sent_bytes);
    CHECK(double(s.relay_bytes) <= budget.burst_bytes + budget.bytes_per_second * secs);
    CHECK(s.relay_bytes >= budget.burst_bytes - chunk.size());
  }
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("a node that does not listen on loopback alone never dials a loopback address") {
  // A hostile record can name 127.0.0.1:<a service of ours>: such a node does not connect there.
  io_thread io;
  dial_trap trap;
  SUBCASE("dial_loopback off") {
    node a(io.io, [](net::transport_options& o) { o.dial_loopback = false; });
    auto x = crypto::signing_key::generate().public_key_bytes();
    a.t->add_addresses(x, {{"127.0.0.1", trap.port()}, {"::ffff:127.0.0.1", trap.port()}});
    REQUIRE(a.send(x, "to a local service").ok());
    REQUIRE(a.rec.wait([&] { return !a.rec.closed.empty(); }, 5000ms));
    CHECK(a.rec.closed[0].second.find("no known address") != std::string::npos);
    CHECK_FALSE(trap.dialed_within(300ms));
    CHECK(a.t->stats().dials == 0);
    a.t->shutdown();
  }
  SUBCASE("nor at a relay's word: a notice naming a loopback address is declined") {
    node a(io.io, [](net::transport_options& o) { o.dial_loopback = false; });
    raw_peer relay;
    REQUIRE(relay.connect(a, true));
    auto requester = crypto::signing_key::generate().public_key_bytes();
    REQUIRE(relay.send(net::control::reversal_notice,
                       notice_body(requester, "127.0.0.1", trap.port())));
    CHECK(eventually([&] {
      return refused(a.t->stats(), false, net::reversal_refusal::declined) == 1;
    }));
    CHECK_FALSE(trap.dialed_within(300ms));
    CHECK(a.t->stats().reversed_dials == 0);
    a.t->shutdown();
  }
  SUBCASE("by default a node bound to loopback dials loopback addresses") {
    node a(io.io);
    auto x = crypto::signing_key::generate().public_key_bytes();
    a.t->add_addresses(x, {{"127.0.0.1", trap.port()}});
    REQUIRE(a.send(x, "to a local peer").ok());
    CHECK(trap.dialed_within(5000ms));
    a.t->shutdown();
  }
  CHECK(io.stop());
}

TEST_CASE("relay: a relay asked to close a link that carries relayed links closes it when they end") {
  // The gossip layer of the relay drops A from its views (close_when_flushed): A's relayed
  // link to B must not be cut by that; the link to A closes once the relayed link ended.
  io_thread io;
  node a(io.io, unreachable_requester), b(io.io), c(io.io);
  common_peer(a, b, c);
  REQUIRE(a.send(b.id(), "one").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  REQUIRE(c.t->stats().relayed_carried == 1);
  c.t->close_when_flushed(a.id());
  c.t->close_when_flushed(b.id());
  std::this_thread::sleep_for(300ms);
  REQUIRE(a.send(b.id(), "two").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 2; }));
  CHECK(c.t->link_of(a.id()));
  CHECK(c.t->link_of(b.id()));
  // B closes the relayed link: then C's links to A and B close as asked.
  b.t->disconnect(a.id(), "done");
  CHECK(eventually([&] { return !c.t->link_of(a.id()) && !c.t->link_of(b.id()); }));
  CHECK(c.t->stats().relayed_carried == 0);
  {
    std::lock_guard<std::mutex> g(c.rec.mu);
    CHECK(c.rec.closed.empty()); // closed as asked: not reported
  }
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("relay: a close asked of the relay waits for its relayed links at most the limit") {
  io_thread io;
  node a(io.io, unreachable_requester), b(io.io),
    c(io.io, [](net::transport_options& o) { o.relay_close_limit = 500ms; });
  common_peer(a, b, c);
  REQUIRE(a.send(b.id(), "one").ok());
  REQUIRE(b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; }));
  REQUIRE(c.t->stats().relayed_carried == 1);
  const auto asked = std::chrono::steady_clock::now();
  c.t->close_when_flushed(a.id());
  c.t->close_when_flushed(b.id());
  // The relayed link stays up, keep-alives and all, yet C ends it at the limit and closes.
  CHECK(eventually([&] { return !c.t->link_of(a.id()) && !c.t->link_of(b.id()); }, 5000ms));
  CHECK(std::chrono::steady_clock::now() - asked >= 450ms);
  CHECK(c.t->stats().relayed_carried == 0);
  CHECK(a.rec.wait([&] { return !a.rec.closed.empty(); }));
  CHECK(b.rec.wait([&] { return !b.rec.closed.empty(); }));
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}
