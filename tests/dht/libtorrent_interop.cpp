// Interoperability with libtorrent 2.0 (Debian python3-libtorrent) on 127.0.0.1: BEP 44 mutable
// items put by one implementation and read by the other, and dtt server nodes serving
// libtorrent clients. The libtorrent side is tests/dht/libtorrent_peer.py, a child process this
// test starts and always reaps. Set DTT_PYTHON to choose the interpreter (default
// /usr/bin/python3, where Debian installs the binding); DTT_SKIP_LIBTORRENT=1 skips these tests
// on machines without python3-libtorrent (scripts/install-deps.sh installs it).
#include "dht/testnet.hpp"
#include "client.hpp"
#include "subprocess.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <future>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// This file's folder, absolute: __FILE__ is relative to the build directory when ccache's
// base_dir rewrites paths, and ctest runs the test from another directory.
std::string source_dir() { return std::string(DTT_SOURCE_DIR) + "/tests/dht"; }

bool skip_requested() {
  auto* s = std::getenv("DTT_SKIP_LIBTORRENT");
  return s && std::string(s) == "1";
}

/// libtorrent sessions in a child process (see libtorrent_peer.py).
class libtorrent_peers {
public:
  libtorrent_peers(size_t sessions, const std::vector<std::string>& bootstrap, bool read_only,
                   const std::string& address = "127.0.0.1")
      : proc_(command(sessions, bootstrap, read_only, address)) {
    auto line = proc_.read_line(20s);
    if (!line) {
      error_ = "libtorrent_peer.py did not start (is /usr/bin/python3 there?)";
      return;
    }
    auto j = json::parse(*line, nullptr, false);
    if (j.is_discarded() || !j.value("ready", false)) {
      error_ = "libtorrent_peer.py: " + *line;
      return;
    }
    ports = j["ports"].get<std::vector<int>>();
  }
  ~libtorrent_peers() {
    proc_.write_line("quit");
    proc_.stop();
  }

  /// Empty if the sessions are up, else why not.
  const std::string& error() const noexcept { return error_; }

  /// Sends one command and returns its JSON answer ({"ok": false, ...} on failure).
  json call(const std::string& cmd, std::chrono::milliseconds timeout = 30s) {
    if (!proc_.write_line(cmd))
      return json{{"ok", false}, {"error", "helper gone"}};
    auto line = proc_.read_line(timeout);
    if (!line)
      return json{{"ok", false}, {"error", "no answer to: " + cmd}};
    auto j = json::parse(*line, nullptr, false);
    if (j.is_discarded())
      return json{{"ok", false}, {"error", "bad answer: " + *line}};
    return j;
  }

  /// Waits (bounded) until every session's routing table holds at least `n` nodes.
  bool wait_for_tables(int n, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto j = call("nodes");
      bool all = j.value("ok", false);
      if (all)
        for (auto& v : j["nodes"])
          all = all && v.get<int>() >= n;
      if (all)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  std::vector<int> ports;

private:
  static std::vector<std::string> command(size_t sessions, const std::vector<std::string>& boot,
                                          bool read_only, const std::string& address) {
    auto* py = std::getenv("DTT_PYTHON");
    std::string joined;
    for (auto& b : boot)
      joined += (joined.empty() ? "" : ",") + b;
    return {py ? py : "/usr/bin/python3", source_dir() + "/libtorrent_peer.py",
            "--sessions", std::to_string(sessions), "--bootstrap", joined,
            "--read-only", read_only ? "1" : "0", "--deadline", "50", "--op-timeout", "15",
            "--address", address};
  }

  test::subprocess proc_;
  std::string error_;
};

bytes str_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

std::unique_ptr<testnet> start_testnet(size_t nodes, const std::string& address = "127.0.0.1") {
  testnet_options o;
  o.nodes = nodes;
  o.address = address;
  auto net = std::make_unique<testnet>(o);
  auto st = net->start();
  REQUIRE_MESSAGE(st, (st ? "" : st.err().message()));
  return net;
}

#define DTT_REQUIRE_LIBTORRENT(peers)                                                        \
  if (skip_requested()) {                                                                    \
    MESSAGE("skipped: DTT_SKIP_LIBTORRENT=1");                                               \
    return;                                                                                  \
  }                                                                                          \
  REQUIRE_MESSAGE((peers).error().empty(),                                                   \
                  (std::string((peers).error())                                              \
                   + " (install python3-libtorrent via scripts/install-deps.sh"              \
                     " or set DTT_SKIP_LIBTORRENT=1)"))

} // namespace

TEST_CASE("libtorrent interop: libtorrent gets a mutable item a dtt client put (seq i64::MAX, "
          "32-byte salt, cas)") {
  auto net = start_testnet(16);
  libtorrent_peers lt(3, net->bootstrap(), false);
  DTT_REQUIRE_LIBTORRENT(lt);
  REQUIRE(lt.ports.size() == 3);
  CHECK(lt.wait_for_tables(8, 15s));

  test::io_thread t;
  auto writer = test::make_client(t, *net, 4);
  auto key = test::key_filled(0x21);
  bytes salt(32, 0x5a); // PROTOCOL.md §1.5: 32-byte salts
  auto item = mutable_item::sign(key, salt, INT64_MAX, str_bytes("written by dtt"));
  auto outcome = test::put_and_wait(t, *writer, item, INT64_MAX, 15s);
  REQUIRE(outcome);
  CHECK(outcome->ok());
  CHECK(outcome->stored >= 4);

  // libtorrent may not see its lookups end ("complete": false) when it has admitted the
  // read-only writer to its routing table (see libtorrent_peer.py); the item must arrive anyway.
  for (int i = 0; i < 3; ++i) {
    auto r = lt.call("get " + std::to_string(i) + " " + to_hex(item.key) + " " + to_hex(salt));
    CAPTURE(r.dump());
    CHECK(r.value("ok", false));
    CHECK(r.value("value_hex", "") == to_hex(item.value));
    CHECK(r.value("seq", int64_t{0}) == INT64_MAX);
    CHECK(r.value("sig_hex", "") == to_hex(item.signature));
  }
  test::stop_on(t, *writer);
}

TEST_CASE("libtorrent interop: a dtt client gets a mutable item libtorrent put with a salt") {
  auto net = start_testnet(16);
  libtorrent_peers lt(3, net->bootstrap(), false);
  DTT_REQUIRE_LIBTORRENT(lt);
  CHECK(lt.wait_for_tables(8, 15s));

  bytes32 seed;
  seed.fill(0x42);
  auto key = test::key_filled(0x42);
  bytes salt = str_bytes("a salt from libtorrent");
  bytes value = str_bytes("written by libtorrent");
  auto put = lt.call("put 0 " + to_hex(seed) + " " + to_hex(salt) + " " + to_hex(value));
  CAPTURE(put.dump());
  REQUIRE(put.value("ok", false));
  CHECK(put.value("num_success", 0) >= 1);
  CHECK(put.value("pubkey_hex", "") == to_hex(key.public_key_bytes()));

  test::io_thread t;
  auto reader = test::make_client(t, *net, 4);
  auto got = test::get_and_wait(t, *reader, key.public_key_bytes(), salt, 15s);
  REQUIRE(got);
  CHECK(got->count >= 1);
  REQUIRE(!got->items.empty());
  for (auto& it : got->items) {
    CHECK(it.value == value);
    CHECK(it.salt == salt);
    CHECK(it.seq == put.value("seq", int64_t{-1}));
    CHECK(to_hex(it.signature) == put.value("sig_hex", ""));
    CHECK(it.verify());
  }
  test::stop_on(t, *reader);
}

TEST_CASE("libtorrent interop: dtt server nodes store and serve items for libtorrent clients") {
  // Read-only libtorrent clients answer no queries, so every node that stores is a dtt node.
  auto net = start_testnet(16);
  libtorrent_peers lt(2, net->bootstrap(), true);
  DTT_REQUIRE_LIBTORRENT(lt);
  CHECK(lt.wait_for_tables(8, 15s));
  auto before = net->stats();

  bytes32 seed;
  seed.fill(0x63);
  bytes salt = str_bytes("only dtt servers");
  bytes value = str_bytes("stored by dtt, for libtorrent");
  auto put = lt.call("put 0 " + to_hex(seed) + " " + to_hex(salt) + " " + to_hex(value));
  CAPTURE(put.dump());
  REQUIRE(put.value("ok", false));
  auto stored = put.value("num_success", 0);
  CHECK(stored >= 4);
  auto after = net->stats();
  CHECK(after["puts_stored"] - before["puts_stored"] >= static_cast<uint64_t>(stored));
  CHECK(after["stored_items"] >= static_cast<uint64_t>(stored));

  auto get = lt.call("get 1 " + put.value("pubkey_hex", "") + " " + to_hex(salt));
  CAPTURE(get.dump());
  CHECK(get.value("ok", false));
  CHECK(get.value("value_hex", "") == to_hex(value));
  CHECK(get.value("seq", int64_t{-1}) == put.value("seq", int64_t{-2}));
  CHECK(get.value("sig_hex", "") == put.value("sig_hex", "x"));
}

// The same over ::1 (BEP 32): libtorrent 2.0 runs an IPv6 DHT node on an IPv6 listen address.
TEST_CASE("libtorrent interop over ::1: items put by each implementation are read by the other") {
  if (skip_requested()) {
    MESSAGE("skipped: DTT_SKIP_LIBTORRENT=1");
    return;
  }
  {
    boost::asio::io_context io;
    boost::asio::ip::udp::socket s(io);
    boost::system::error_code ec;
    s.open(boost::asio::ip::udp::v6(), ec);
    if (!ec)
      s.bind({boost::asio::ip::make_address("::1"), 0}, ec);
    if (ec) {
      MESSAGE("skipped: ::1 cannot be bound here (" << ec.message() << ")");
      return;
    }
  }
  auto net = start_testnet(12, "::1");
  libtorrent_peers lt(3, net->bootstrap(), false, "::1");
  DTT_REQUIRE_LIBTORRENT(lt);
  CHECK(lt.wait_for_tables(8, 15s));

  // libtorrent puts, dtt reads. (First: once a read-only dtt client has put to libtorrent,
  // libtorrent 2.0 holds it in its table and its put traversals wait for it; see
  // libtorrent_peer.py.)
  bytes32 seed;
  seed.fill(0x37);
  bytes salt = str_bytes("from libtorrent over ::1");
  bytes value = str_bytes("libtorrent over ::1");
  auto put = lt.call("put 1 " + to_hex(seed) + " " + to_hex(salt) + " " + to_hex(value));
  CAPTURE(put.dump());
  REQUIRE(put.value("ok", false));
  CHECK(put.value("num_success", 0) >= 1);

  test::io_thread t;
  dht::udp_node_options co;
  co.bind_address = "::1";
  co.node.read_only = true;
  co.bootstrap = {net->bootstrap()[0], net->bootstrap()[1]};
  auto created = dht::udp_node::create(t.io, co);
  REQUIRE(created);
  auto client = *created;
  t.run([&] {
    client->start();
    return 0;
  });
  auto got = test::get_and_wait(t, *client, test::key_filled(0x37).public_key_bytes(), salt, 15s);
  REQUIRE(got);
  CHECK(got->count >= 1);
  REQUIRE(!got->items.empty());
  for (auto& it : got->items) {
    CHECK(it.value == value);
    CHECK(it.verify());
  }
  // dtt puts, libtorrent reads.
  auto key = test::key_filled(0x36);
  auto item = mutable_item::sign(key, str_bytes("v6 salt"), INT64_MAX, str_bytes("dtt over ::1"));
  auto outcome = test::put_and_wait(t, *client, item, std::nullopt, 15s);
  REQUIRE(outcome);
  CHECK(outcome->stored >= 4);
  auto r = lt.call("get 0 " + to_hex(item.key) + " " + to_hex(item.salt));
  CAPTURE(r.dump());
  CHECK(r.value("ok", false));
  CHECK(r.value("value_hex", "") == to_hex(item.value));
  CHECK(r.value("seq", int64_t{0}) == INT64_MAX);
  test::stop_on(t, *client);
}
