// BEP 32 over real sockets on ::1 and 127.0.0.1: a testnet on ::1 where BEP 44 put/get works,
// IPv4-only and IPv6-only nodes finding each other's items through a dual-stack node, a
// dual-stack testnet, the cache file with both families, and udp_node's bind options. Each
// case is skipped (a "skipped:" message, no assertion) when ::1 cannot be bound here.
#include "dht/testnet.hpp"
#include "client.hpp"

#include <boost/asio/ip/udp.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::io_thread;

namespace {

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

/// Empty if a UDP socket binds ::1 here, else why not.
std::string ipv6_loopback_problem() {
  asio::io_context io;
  asio::ip::udp::socket s(io);
  boost::system::error_code ec;
  s.open(asio::ip::udp::v6(), ec);
  if (!ec)
    s.bind({asio::ip::make_address("::1"), 0}, ec);
  return ec ? ec.message() : std::string();
}

#define DTT_REQUIRE_IPV6_LOOPBACK()                                                          \
  if (auto why = ipv6_loopback_problem(); !why.empty()) {                                    \
    MESSAGE("skipped: ::1 cannot be bound here (" << why                                     \
            << "); enable it with sysctl -w net.ipv6.conf.lo.disable_ipv6=0");               \
    return;                                                                                  \
  }

/// A started udp_node on `t` (REQUIREd to bind).
std::shared_ptr<udp_node> start_node(io_thread& t, udp_node_options o) {
  o.node.rate_limit_per_ip = 0;         // every node here shares 127.0.0.1 or ::1
  o.node.table.one_per_ip = false;      // one entry per IP:port for the same reason
  auto n = udp_node::create(t.io, o);
  REQUIRE_MESSAGE(n, (n ? "" : n.err().message()));
  auto node = *n;
  t.run([&] {
    node->start();
    return 0;
  });
  return node;
}

/// Waits (bounded) until `pred` holds when evaluated on the io thread.
template <class F>
bool wait_on(io_thread& t, F pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (t.run(pred))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return t.run(pred);
}

} // namespace

TEST_CASE("IPv6 loopback: a testnet on ::1 stores and serves a BEP 44 item") {
  DTT_REQUIRE_IPV6_LOOPBACK();
  testnet_options o;
  o.nodes = 10;
  o.address = "::1";
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  CHECK_FALSE(net.distinct_addresses()); // one address: one entry per IP:port
  for (auto& a : net.addresses()) {
    CHECK(a.family == 6);
    CHECK(a.to_string().rfind("[::1]:", 0) == 0);
  }
  for (auto& table : net.tables()) {
    CHECK(table.size() >= 8);
    for (auto& e : table)
      CHECK(e.ep.family == 6);
  }

  io_thread t;
  auto client = [&] {
    udp_node_options c;
    c.bind_address = "::1";
    c.node.read_only = true;
    c.bootstrap = net.bootstrap();
    c.bootstrap.resize(3);
    return start_node(t, c);
  };
  auto writer = client();
  auto reader = client();
  auto item = mutable_item::sign(test::key_filled(0x61), str_bytes("v6"), INT64_MAX,
                                 str_bytes("over ::1"));
  auto put = test::put_and_wait(t, *writer, item, INT64_MAX, 10s);
  REQUIRE(put);
  CHECK(put->ok());
  CHECK(put->stored >= 6);
  auto got = test::get_and_wait(t, *reader, item.key, str_bytes("v6"), 10s);
  REQUIRE(got);
  CHECK(got->count >= 6);
  REQUIRE(!got->items.empty());
  for (auto& it : got->items)
    CHECK(it == item);
  CHECK(net.stats()["puts_stored"] >= 6);
  test::stop_on(t, *writer);
  test::stop_on(t, *reader);
}

TEST_CASE("IPv6 loopback: an IPv4-only and an IPv6-only node find each other's items through a "
          "dual-stack node") {
  DTT_REQUIRE_IPV6_LOOPBACK();
  io_thread t;
  auto file = std::string("/tmp/dtt_dht_table6_") + std::to_string(::getpid()) + ".bin";
  std::remove(file.c_str());
  // The dual-stack server: 127.0.0.1 and ::1 on one port.
  udp_node_options dopts;
  dopts.bind_address = "127.0.0.1";
  dopts.bind6 = "::1";
  dopts.routing_table_file = file;
  auto dual = start_node(t, dopts);
  auto d4 = dual->local_endpoint();
  auto d6 = dual->local_endpoint6();
  REQUIRE(d6);
  CHECK(d4.family == 4);
  CHECK(d6->family == 6);
  CHECK(d6->port == d4.port); // one port for both families (free on ::1 in practice)
  CHECK(t.run([&] { return dual->core().has_family(4) && dual->core().has_family(6); }));

  // Three IPv4-only and three IPv6-only servers, bootstrapped from the dual-stack one.
  std::vector<std::shared_ptr<udp_node>> v4, v6;
  for (int i = 0; i < 3; ++i) {
    udp_node_options o;
    o.bind_address = "127.0.0.1";
    o.bootstrap = {d4.to_string()};
    v4.push_back(start_node(t, o));
    udp_node_options o6;
    o6.bind_address = "";
    o6.bind6 = "::1";
    o6.bootstrap = {d6->to_string()};
    v6.push_back(start_node(t, o6));
  }
  CHECK(t.run([&] { return !v4[0]->core().has_family(6) && !v6[0]->core().has_family(4); }));
  // Everyone knows everyone of its family (4 servers per DHT). A node learns the nodes its
  // seed knows when it asks, and those that ask it: bootstrap thin ones again until then.
  bool filled = wait_on(
    t,
    [&] {
      for (auto* list : {&v4, &v6})
        for (auto& n : *list)
          if (n->core().table(n->local_endpoint().family).size() < 3
              && n->core().active_commands() == 0)
            n->bootstrap({(list == &v4 ? d4 : *d6).to_string()});
      bool ok = dual->core().table(4).size() >= 3 && dual->core().table(6).size() >= 3;
      for (auto& n : v4)
        ok = ok && n->core().table(4).size() >= 3;
      for (auto& n : v6)
        ok = ok && n->core().table(6).size() >= 3;
      return ok;
    },
    5s);
  REQUIRE(filled);
  t.run([&] {
    for (auto& n : v4)
      CHECK(n->core().table6().size() == 0);
    for (auto& n : v6)
      CHECK(n->core().table().size() == 0);
    return 0;
  });

  auto client = [&](bool six, const std::string& seed) {
    udp_node_options c;
    c.bind_address = six ? "" : "127.0.0.1";
    c.bind6 = six ? "::1" : "";
    c.node.read_only = true;
    c.bootstrap = {seed};
    return start_node(t, c);
  };
  auto w4 = client(false, v4[0]->local_endpoint().to_string());
  auto r6 = client(true, v6[0]->local_endpoint().to_string());
  auto item = mutable_item::sign(test::key_filled(0x44), str_bytes("x"), 1, str_bytes("from v4"));
  auto put = test::put_and_wait(t, *w4, item, std::nullopt, 10s);
  REQUIRE(put);
  CHECK(put->stored == 4); // the IPv4 DHT: three IPv4-only servers and the dual-stack one
  t.run([&] {
    CHECK(dual->core().storage().get(item.target()) != nullptr);
    for (auto& n : v6)
      CHECK(n->core().storage().get(item.target()) == nullptr);
    return 0;
  });
  auto got = test::get_and_wait(t, *r6, item.key, str_bytes("x"), 10s);
  REQUIRE(got);
  CHECK(got->count == 1); // only the dual-stack node holds it in the IPv6 DHT
  REQUIRE(got->items.size() == 1);
  CHECK(got->items[0] == item);

  // And back: an IPv6-only writer, an IPv4-only reader.
  auto w6 = client(true, v6[1]->local_endpoint().to_string());
  auto r4 = client(false, v4[1]->local_endpoint().to_string());
  auto back = mutable_item::sign(test::key_filled(0x46), str_bytes("y"), 1, str_bytes("from v6"));
  auto put6 = test::put_and_wait(t, *w6, back, std::nullopt, 10s);
  REQUIRE(put6);
  CHECK(put6->stored == 4);
  auto got4 = test::get_and_wait(t, *r4, back.key, str_bytes("y"), 10s);
  REQUIRE(got4);
  CHECK(got4->count == 1);

  // The dual-stack node's cache file keeps both families.
  test::stop_on(t, *dual);
  std::ifstream in(file, std::ios::binary);
  bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto saved = routing_table::load(data);
  REQUIRE(saved);
  size_t s4 = 0, s6 = 0;
  for (auto& n : *saved)
    (n.ep.family == 6 ? s6 : s4)++;
  CHECK(s4 >= 3);
  CHECK(s6 >= 3);
  std::remove(file.c_str());
  for (auto* list : {&v4, &v6})
    for (auto& n : *list)
      test::stop_on(t, *n);
  for (auto& n : {w4, r6, w6, r4})
    test::stop_on(t, *n);
}

TEST_CASE("IPv6 loopback: a dual-stack testnet fills both tables and a dual-stack client puts "
          "into both DHTs") {
  DTT_REQUIRE_IPV6_LOOPBACK();
  testnet_options o;
  o.nodes = 10;
  o.address6 = "::1";
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  REQUIRE(net.addresses6().size() == 10);
  REQUIRE(net.bootstrap6().size() == 10);
  CHECK(net.bootstrap6()[0].rfind("[::1]:", 0) == 0);
  for (auto& table : net.tables()) {
    size_t n4 = 0, n6 = 0;
    for (auto& e : table)
      (e.ep.family == 6 ? n6 : n4)++;
    CHECK(n4 >= 8);
    CHECK(n6 >= 8);
  }
  io_thread t;
  udp_node_options c;
  c.bind_address = "127.0.0.1";
  c.bind6 = "::1";
  c.node.read_only = true;
  c.bootstrap = {net.bootstrap()[0], net.bootstrap6()[1]};
  auto client = start_node(t, c);
  auto item = mutable_item::sign(test::key_filled(0x55), str_bytes("d"), 1, str_bytes("dual"));
  auto put = test::put_and_wait(t, *client, item, std::nullopt, 10s);
  REQUIRE(put);
  CHECK(put->stored >= 12); // k nodes of each DHT (some hold it twice: same item)
  udp_node_options r;
  r.bind_address = "";
  r.bind6 = "::1";
  r.node.read_only = true;
  r.bootstrap = {net.bootstrap6()[5]};
  auto reader = start_node(t, r);
  auto got = test::get_and_wait(t, *reader, item.key, str_bytes("d"), 10s);
  REQUIRE(got);
  CHECK(got->count >= 6);
  test::stop_on(t, *client);
  test::stop_on(t, *reader);
}

TEST_CASE("IPv6 loopback: udp_node's bind options (IPv4, IPv6 or both) and bad IPv6 binds") {
  DTT_REQUIRE_IPV6_LOOPBACK();
  asio::io_context io;
  udp_node_options o;
  o.bind_address = "127.0.0.1";
  o.bind6 = "127.0.0.1"; // not IPv6
  auto a = udp_node::create(io, o);
  REQUIRE_FALSE(a);
  CHECK(a.err().code == errc::invalid_argument);
  o.bind6 = "::ffff:127.0.0.1"; // IPv4-mapped
  CHECK_FALSE(udp_node::create(io, o));
  o.bind6 = "nonsense";
  CHECK_FALSE(udp_node::create(io, o));
  o.bind_address = "";
  o.bind6 = "";
  CHECK_FALSE(udp_node::create(io, o)); // nothing to bind
  o.bind_address = "::1";
  o.bind6 = "::1"; // the legacy IPv6 bind_address and bind6 together
  CHECK_FALSE(udp_node::create(io, o));

  o.bind_address = "";
  o.bind6 = "::1";
  auto only6 = udp_node::create(io, o);
  REQUIRE(only6);
  CHECK((*only6)->local_endpoint().family == 6);
  CHECK((*only6)->local_endpoints().size() == 1);
  CHECK((*only6)->core().has_family(6));
  CHECK_FALSE((*only6)->core().has_family(4));
  o.bind_address = "127.0.0.1";
  o.bind6 = "";
  auto only4 = udp_node::create(io, o);
  REQUIRE(only4);
  CHECK_FALSE((*only4)->local_endpoint6());
  CHECK_FALSE((*only4)->core().has_family(6));
  // A given port is used by both sockets; a port taken on ::1 fails the create.
  o.bind6 = "::1";
  o.port = (*only6)->local_endpoint().port;
  auto clash = udp_node::create(io, o);
  CHECK_FALSE(clash);
  o.port = 0;
  auto both = udp_node::create(io, o);
  REQUIRE(both);
  CHECK((*both)->local_endpoints().size() == 2);
  (*only6)->stop();
  (*only4)->stop();
  (*both)->stop();
}
