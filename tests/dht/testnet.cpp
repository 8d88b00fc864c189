// Loopback tests of the socket glue: a 20-node testnet, put from one client, get from another.
#include "dht/testnet.hpp"
#include "client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <future>
#include <iterator>
#include <sstream>
#include <thread>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

using test::io_thread;

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

} // namespace

TEST_CASE("a 20-node loopback testnet: put from one client, get from another") {
  testnet_options o;
  o.nodes = 20;
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  CHECK(net.ready());
  REQUIRE(net.addresses().size() == 20);
  // Each node on its own loopback address, from 127.0.0.1 up (one routing-table entry per IP).
  CHECK(net.distinct_addresses());
  for (size_t i = 0; i < net.addresses().size(); ++i) {
    auto& a = net.addresses()[i];
    CHECK(a.to_string().rfind("127.0.0." + std::to_string(i + 1) + ":", 0) == 0);
    CHECK(a.port != 0);
  }

  io_thread t;
  auto writer = test::make_client(t, net, 3);
  auto reader = test::make_client(t, net, 3);

  auto key = test::key_filled(7);
  auto item = mutable_item::sign(key, str_bytes("salt"), INT64_MAX, str_bytes("hello testnet"));

  auto outcome = test::put_and_wait(t, *writer, item, INT64_MAX, 10s);
  REQUIRE(outcome);
  CHECK(outcome->ok());
  CHECK(outcome->stored >= 6);

  auto got = test::get_and_wait(t, *reader, item.key, str_bytes("salt"), 10s);
  REQUIRE(got);
  CHECK(got->count >= 6);
  REQUIRE(!got->items.empty());
  for (auto& it : got->items)
    CHECK(it == item);

  auto stats = net.stats();
  CHECK(stats["puts_stored"] >= 6);
  CHECK(stats["stored_items"] >= 6);
  test::stop_on(t, *writer);
  test::stop_on(t, *reader);
  net.stop();
  CHECK(net.addresses().empty());
}

TEST_CASE("a udp_node saves its routing table and bootstraps from it after a restart") {
  testnet_options o;
  o.nodes = 10;
  testnet net(o);
  auto started = net.start();
  REQUIRE_MESSAGE(started, (started ? "" : started.err().message()));
  auto file = std::string("/tmp/dtt_dht_table_") + std::to_string(::getpid()) + ".bin";
  std::remove(file.c_str());
  io_thread t;
  // Waits (bounded) until the node's table holds 8 nodes and its commands (bootstrap, refresh
  // lookups) are finished, so that the table is saved or checked in a settled state rather
  // than mid-bootstrap on a loaded machine.
  auto settle = [&](const std::shared_ptr<udp_node>& n) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto [size, busy] = t.run([&] {
        return std::make_pair(n->core().table().size(), n->core().active_commands());
      });
      if (size >= 8 && busy == 0)
        break;
      std::this_thread::sleep_for(5ms);
    }
    return t.run([&] { return n->core().table().size(); });
  };
  size_t saved = 0;
  {
    udp_node_options opts;
    opts.bind_address = "127.0.0.1";
    opts.node.read_only = true;
    opts.bootstrap = {net.bootstrap()[0]};
    opts.routing_table_file = file;
    auto n = *udp_node::create(t.io, opts);
    t.run([&] { n->start(); return 0; });
    saved = settle(n);
    t.run([&] { n->stop(); return 0; });
  }
  REQUIRE(saved >= 8); // the first run filled its table before saving it
  auto loaded = [&] {
    std::ifstream in(file, std::ios::binary);
    bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto nodes = routing_table::load(data);
    return nodes ? nodes->size() : size_t{0};
  }();
  CHECK(loaded == saved);
  {
    udp_node_options opts;
    opts.bind_address = "127.0.0.1";
    opts.node.read_only = true;
    opts.routing_table_file = file; // no bootstrap addresses: only the saved table
    auto n = *udp_node::create(t.io, opts);
    t.run([&] { n->start(); return 0; });
    CHECK(settle(n) >= 8);
    t.run([&] { n->stop(); return 0; });
  }
  std::remove(file.c_str());
}

TEST_CASE("bootstrap names resolve asynchronously, bad names do not block the node") {
  // Only local name resolution: "localhost" (the hosts file) and a service name that does not
  // exist (refused by the resolver before any host lookup). No DNS query leaves the machine.
  testnet_options o;
  o.nodes = 10;
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  auto first = net.addresses()[0];
  REQUIRE(first.to_string() == "127.0.0.1:" + std::to_string(first.port));
  io_thread t;
  udp_node_options opts;
  opts.bind_address = "127.0.0.1";
  opts.node.read_only = true;
  // A malformed entry (no port), a name whose port does not resolve, and a name that resolves
  // to the testnet's first node: the only way in.
  opts.bootstrap = {"garbage", "localhost:notaport", "localhost:" + std::to_string(first.port)};
  auto n = *udp_node::create(t.io, opts);
  auto before = std::chrono::steady_clock::now();
  // start() returns at once, having refused only the malformed entry: the names resolve in
  // the background, their results handled later on the io thread.
  auto failures_at_start = t.run([&] {
    n->start();
    return n->stats()["resolve_failures"];
  });
  CHECK(std::chrono::steady_clock::now() - before < 1s);
  CHECK(failures_at_start == 1);
  // The unresolvable name fails; the good one fills the routing table from the testnet.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto state = [&] {
    return t.run([&] {
      return std::make_pair(n->stats()["resolve_failures"], n->core().table().size());
    });
  };
  while ((state().first < 2 || state().second < 8) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  auto [failures, table] = state();
  CHECK(failures == 2);
  CHECK(table >= 8);
  t.run([&] { n->stop(); return 0; });
  net.stop();
}

TEST_CASE("udp_node refuses a bad bind address") {
  asio::io_context io;
  udp_node_options opts;
  opts.bind_address = "not an address";
  CHECK_FALSE(udp_node::create(io, opts));
}

TEST_CASE("a testnet whose addresses would leave 127/8 shares one address, one entry per "
          "IP:port") {
  testnet_options o;
  o.nodes = 10;
  o.address = "127.255.255.250"; // 127.255.255.250 + 9 is outside 127/8
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  CHECK_FALSE(net.distinct_addresses());
  for (auto& a : net.addresses())
    CHECK(a.to_string().rfind("127.255.255.250:", 0) == 0);
  for (auto& table : net.tables())
    CHECK(table.size() >= 8); // every node's table holds the others despite the shared IP
  io_thread t;
  auto client = test::make_client(t, net, 3);
  auto item = mutable_item::sign(test::key_filled(11), {}, 1, str_bytes("shared address"));
  auto put = test::put_and_wait(t, *client, item, std::nullopt, 10s);
  REQUIRE(put);
  CHECK(put->stored >= 6);
  test::stop_on(t, *client);
}
