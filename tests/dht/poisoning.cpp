// Routing-table poisoning from one address (issue 11, finding 3): a program on one loopback
// address sends well-formed queries under 10,000 random node ids to every node of a testnet
// (and, in a second variant, answers every query those nodes send it, under the id it last
// claimed to that node). Afterwards no routing table holds more than one entry per IP, and BEP 44
// gets take as long as before the flood.
#include "dht/krpc.hpp"
#include "dht/testnet.hpp"
#include "client.hpp"
#include "sim.hpp"

#include <boost/asio/ip/udp.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using clk = std::chrono::steady_clock;

namespace {

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

asio::ip::udp::endpoint to_asio(const endpoint& ep) {
  asio::ip::address_v4::bytes_type b;
  std::copy(ep.ip.begin(), ep.ip.begin() + 4, b.begin());
  return {asio::ip::address_v4(b), ep.port};
}

endpoint from_asio(const asio::ip::udp::endpoint& ep) {
  auto b = ep.address().to_v4().to_bytes();
  return endpoint::v4(b[0], b[1], b[2], b[3], ep.port());
}

/// One UDP socket on one address that claims many node ids (its own thread, stopped and joined
/// by its destructor).
class attacker {
public:
  attacker(const std::string& address, std::vector<endpoint> victims, size_t ids, bool answer)
      : sock_(io_, asio::ip::udp::endpoint(asio::ip::make_address(address), 0)),
        victims_(std::move(victims)), ids_(ids), answer_(answer) {
    sock_.non_blocking(true);
    thread_ = std::thread([this] { run(); });
  }
  ~attacker() {
    stop_ = true;
    thread_.join();
  }
  /// The attacker's address.
  endpoint address() const { return from_asio(sock_.local_endpoint()); }
  /// True once every id was sent to every victim.
  bool flooded() const { return flooded_; }
  /// Queries sent and answers given so far.
  size_t sent() const { return sent_; }
  size_t answered() const { return answered_; }

private:
  void send(const endpoint& to, const krpc::message& m) {
    auto out = krpc::encode(m);
    boost::system::error_code ec;
    sock_.send_to(asio::buffer(out), to_asio(to), 0, ec);
  }
  void drain() {
    std::array<uint8_t, 4096> buf{};
    for (int i = 0; i < 1000; ++i) {
      asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      auto n = sock_.receive_from(asio::buffer(buf), from, 0, ec);
      if (ec)
        return;
      auto m = krpc::decode(byte_view(buf.data(), n));
      if (!answer_ || !m || m->y != krpc::message::type::query)
        continue;
      auto src = from_asio(from);
      auto it = claimed_.find(src);
      krpc::response r;
      r.id = it != claimed_.end() ? it->second : random_id(rng_);
      send(src, krpc::make_response(m->tid, r));
      ++answered_;
    }
  }
  void run() {
    auto deadline = clk::now() + 60s;
    for (size_t i = 0; i < ids_ && !stop_ && clk::now() < deadline; ++i) {
      auto id = random_id(rng_);
      for (auto& v : victims_) {
        krpc::query q;
        q.m = krpc::method::find_node;
        q.id = id;
        q.target = random_id(rng_);
        claimed_[v] = id;
        send(v, krpc::make_query("aa", q));
        ++sent_;
      }
      if (i % 50 == 49) {
        drain();
        std::this_thread::sleep_for(5ms); // paced so that the victims' socket buffers keep up
      }
    }
    flooded_ = true;
    while (!stop_ && clk::now() < deadline) {
      drain();
      std::this_thread::sleep_for(1ms);
    }
  }

  asio::io_context io_;
  asio::ip::udp::socket sock_;
  std::vector<endpoint> victims_;
  size_t ids_;
  bool answer_;
  dht::test::seeded_random rng_{0xa77ac};
  std::map<endpoint, node_id> claimed_;
  std::atomic<bool> stop_{false}, flooded_{false};
  std::atomic<size_t> sent_{0}, answered_{0};
  std::thread thread_;
};

/// Entries per IP address in one table (port ignored).
std::map<std::array<uint8_t, 16>, size_t> per_ip(const std::vector<node_entry>& table) {
  std::map<std::array<uint8_t, 16>, size_t> out;
  for (auto& e : table)
    ++out[e.ep.ip];
  return out;
}

/// Times `n` gets of `item` from `client`; every get must find it. Returns latencies in ms.
std::vector<double> timed_gets(dtt::test::io_thread& t, udp_node& client, const mutable_item& item,
                               size_t n) {
  std::vector<double> ms;
  for (size_t i = 0; i < n; ++i) {
    auto t0 = clk::now();
    auto got = dtt::test::get_and_wait(t, client, item.key, item.salt, 20s);
    ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    REQUIRE(got);
    CHECK(got->count >= 1);
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

void wait_flooded(const attacker& a) {
  auto deadline = clk::now() + 60s;
  while (!a.flooded() && clk::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(a.flooded());
}

} // namespace

TEST_CASE("poisoning: one address claiming 10,000 node ids leaves <= 1 entry per IP in every "
          "testnet table, and gets stay as fast") {
  bool answer = false;
  SUBCASE("queries only") { answer = false; }
  SUBCASE("queries, and answers to every query the victims send") { answer = true; }
  CAPTURE(answer);
  testnet_options o;
  o.nodes = 20;
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));

  dtt::test::io_thread t;
  auto writer = dtt::test::make_client(t, net, 3);
  auto reader = dtt::test::make_client(t, net, 3);
  auto item = mutable_item::sign(dtt::test::key_filled(9), str_bytes("poison"), 1, str_bytes("v"));
  auto put = dtt::test::put_and_wait(t, *writer, item, std::nullopt, 10s);
  REQUIRE(put);
  CHECK(put->stored >= 6);
  auto before = timed_gets(t, *reader, item, 5);

  attacker evil("127.0.0.250", net.addresses(), 10'000, answer);
  wait_flooded(evil);
  std::this_thread::sleep_for(200ms); // let the victims process what is queued
  CHECK(evil.sent() == 10'000 * net.size());
  auto after = timed_gets(t, *reader, item, 10);

  auto tables = net.tables();
  REQUIRE(tables.size() == net.size());
  size_t poisoned = 0;
  for (auto& table : tables) {
    for (auto& [ip, count] : per_ip(table))
      CHECK(count <= 1);
    size_t from_attacker = 0;
    for (auto& e : table)
      from_attacker += e.ep.ip == evil.address().ip;
    CHECK(from_attacker <= 1);
    poisoned += from_attacker;
  }
  MESSAGE("attacker entries in all tables: " << poisoned << ", get p50 before " << before[2]
                                             << " ms, after " << after[5] << " ms, max after "
                                             << after.back() << " ms");
  CHECK(after[5] <= before[2] * 3 + 50);
  CHECK(after.back() < 1000);
  dtt::test::stop_on(t, *writer);
  dtt::test::stop_on(t, *reader);
}

TEST_CASE("poisoning: a server-mode node under the same flood keeps <= 1 entry per IP and its "
          "gets stay as fast") {
  testnet_options o;
  o.nodes = 20;
  testnet net(o);
  auto st = net.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));

  dtt::test::io_thread t;
  udp_node_options so; // dttd in server mode: default node settings, answers queries
  so.bind_address = "127.0.0.200";
  so.bootstrap = net.bootstrap();
  so.bootstrap.resize(3);
  auto server = udp_node::create(t.io, so);
  REQUIRE(server);
  t.run([&] {
    (*server)->start();
    return 0;
  });
  auto deadline = clk::now() + 10s;
  while (t.run([&] { return (*server)->core().table().size(); }) < 8 && clk::now() < deadline)
    std::this_thread::sleep_for(5ms);
  auto item = mutable_item::sign(dtt::test::key_filled(10), str_bytes("poison"), 1, str_bytes("v"));
  auto put = dtt::test::put_and_wait(t, **server, item, std::nullopt, 10s);
  REQUIRE(put);
  CHECK(put->stored >= 6);
  auto before = timed_gets(t, **server, item, 5);

  auto victims = net.addresses();
  victims.push_back(t.run([&] { return (*server)->local_endpoint(); }));
  attacker evil("127.0.0.250", victims, 10'000, true);
  wait_flooded(evil);
  std::this_thread::sleep_for(200ms);
  auto after = timed_gets(t, **server, item, 10);

  auto table = t.run([&] { return (*server)->core().table().all(); });
  for (auto& [ip, count] : per_ip(table))
    CHECK(count <= 1);
  size_t from_attacker = 0;
  for (auto& e : table)
    from_attacker += e.ep.ip == evil.address().ip;
  CHECK(from_attacker <= 1);
  MESSAGE("server table " << table.size() << " entries, " << from_attacker
                          << " from the attacker; get p50 before " << before[2] << " ms, after "
                          << after[5] << " ms");
  CHECK(after[5] <= before[2] * 3 + 50);
  CHECK(after.back() < 1000);
  dtt::test::stop_on(t, **server);
}
