// The peer transport on both address families (issue 15): a dual-stack listener (bind
// 127.0.0.1, bind6 ::1) reached by an IPv4-only and an IPv6-only peer; bad IPv6 binds refused.
// Skipped (a "skipped:" message) when ::1 cannot be bound here.
#include "transport_harness.hpp"

#include <boost/asio/ip/tcp.hpp>

using namespace dtt;
using namespace dtt::test;

namespace {

std::string ipv6_loopback_problem() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(boost::asio::ip::tcp::v6(), ec);
  if (!ec)
    a.bind({boost::asio::ip::make_address("::1"), 0}, ec);
  return ec ? ec.message() : std::string();
}

} // namespace

TEST_CASE("transport: a dual-stack listener is reached over IPv4 and over IPv6") {
  if (auto why = ipv6_loopback_problem(); !why.empty()) {
    MESSAGE("skipped: ::1 cannot be bound here (" << why << ")");
    return;
  }
  io_thread io;
  node dual(io.io, [](net::transport_options& o) { o.bind6 = {"::1", 0}; });
  node four(io.io);
  node six(io.io, [](net::transport_options& o) { o.bind = {"::1", 0}; });
  auto addrs = dual.t->local_addresses();
  REQUIRE(addrs.size() == 2);
  CHECK(addrs[0].ip == "127.0.0.1");
  CHECK(addrs[1].ip == "::1");
  CHECK(addrs[1].port == addrs[0].port); // one port for both families when it is free
  CHECK(six.addr().ip == "::1");

  // Each single-stack peer knows only the dual-stack node's address of its own family.
  four.t->add_addresses(dual.id(), {addrs[0]});
  six.t->add_addresses(dual.id(), {addrs[1]});
  REQUIRE(four.send(dual.id(), "over v4").ok());
  REQUIRE(six.send(dual.id(), "over v6").ok());
  REQUIRE(dual.rec.wait([&] { return dual.rec.messages.size() == 2; }));
  {
    std::lock_guard<std::mutex> g(dual.rec.mu);
    CHECK(dual.rec.messages_from(four.id()) == 1);
    CHECK(dual.rec.messages_from(six.id()) == 1);
  }
  // The dual-stack node dials an IPv6-only peer at its IPv6 address.
  node six2(io.io, [](net::transport_options& o) { o.bind = {"::1", 0}; });
  six2.introduce_to(dual);
  REQUIRE(dual.send(six2.id(), "to v6").ok());
  REQUIRE(six2.rec.wait([&] { return six2.rec.messages.size() == 1; }));
  CHECK(text(six2.rec.messages[0].content) == "to v6");
  // A peer listing an unreachable address first still gets through on the next one.
  node four2(io.io);
  four2.t->add_addresses(dual.id(), {{"::1", 1}, addrs[0]});
  REQUIRE(four2.send(dual.id(), "second address").ok());
  REQUIRE(dual.rec.wait([&] { return dual.rec.messages.size() == 3; }));
  for (auto* n : {&dual, &four, &six, &six2, &four2})
    n->t->shutdown();
  CHECK(io.stop());
}

TEST_CASE("transport: bad IPv6 listener options are refused at creation") {
  io_thread io;
  for (auto [bind, bind6] : {std::pair<std::string, std::string>{"127.0.0.1", "127.0.0.2"},
                             {"127.0.0.1", "::ffff:127.0.0.1"},
                             {"127.0.0.1", "not-an-address"},
                             {"::1", "::1"}}) {
    CAPTURE(bind6);
    auto rec = std::make_shared<recorder>();
    auto o = test_options(*rec);
    o.bind = {bind, 0};
    o.bind6 = {bind6, 0};
    auto r = net::transport::create(io.io, crypto::signing_key::generate(), o, rec->callbacks());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
  }
  CHECK(io.stop());
}

TEST_CASE("transport: connection reversal over IPv6 (the notice carries the requester's IPv6 address)") {
  if (auto why = ipv6_loopback_problem(); !why.empty()) {
    MESSAGE("skipped: ::1 cannot be bound here (" << why << ")");
    return;
  }
  io_thread io;
  auto v6 = [](net::transport_options& o) { o.bind = {"::1", 0}; };
  node a(io.io, v6), b(io.io, v6), c(io.io, v6);
  link(a, c);
  link(b, c);
  // B's known address is a closed port: A's dial fails, A asks C, C tells B, B dials A at the
  // IPv6 address C observes A's link from.
  a.t->add_addresses(b.id(), {{"::1", closed_port("::1")}});
  REQUIRE(a.send(b.id(), "through the NAT, over IPv6").ok());
  bool arrived = b.rec.wait([&] { return b.rec.messages_from(a.id()) == 1; });
  if (!arrived) {
    std::lock_guard<std::mutex> g(a.rec.mu);
    for (auto& l : a.rec.logs) MESSAGE("a: " << l.second);
    for (auto& l : c.rec.logs) MESSAGE("c: " << l.second);
    for (auto& l : b.rec.logs) MESSAGE("b: " << l.second);
  }
  REQUIRE(arrived);
  auto at_b = b.t->link_of(a.id());
  REQUIRE(at_b);
  CHECK(at_b->method == net::link_method::reversed);
  CHECK(at_b->remote.ip == "::1");
  CHECK(at_b->remote.port == a.addr().port);
  CHECK(c.t->stats().reversal_requests_relayed == 1);
  CHECK(b.t->stats().reversed_dials == 1);
  a.t->shutdown();
  b.t->shutdown();
  c.t->shutdown();
  CHECK(io.stop());
}
