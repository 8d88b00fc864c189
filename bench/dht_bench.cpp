// DHT figures on a loopback testnet (dht/testnet.hpp): start-up time, BEP 44 put and get latency
// (p50/p95/max), lookups per second sequentially and with concurrency, and the same get by a
// libtorrent 2.0 client (tests/dht/libtorrent_peer.py, if /usr/bin/python3 has libtorrent) on
// the same testnet. Targets (issue): get p50 <= 2 ms, >= 1000 lookups/s, 100 nodes ready in
// <= 1 s, get latency below libtorrent's.
// With flood_ids > 0 it then floods every node from one other loopback address (127.0.0.250)
// with queries under flood_ids random node ids (tests/dht/attacker.hpp; queries only, it
// answers nothing) and repeats the sequential gets 1 s after the flood: issue 11 saw gets go
// from 0.01 s to 6 s under this attack. It prints the attacker's entries in all routing tables.
// Usage: bench_dht_bench [nodes=100] [gets=500] [concurrency=16] [flood_ids=10000]
#include "dht/testnet.hpp"
#include "tests/dht/attacker.hpp"
#include "tests/dht/io_thread.hpp"
#include "tests/dht/subprocess.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <condition_variable>

using namespace dtt;
using namespace dtt::dht;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

struct summary {
  double p50 = 0, p95 = 0, max = 0;
  size_t n = 0;
};

summary summarize(std::vector<double> ms) {
  summary s;
  s.n = ms.size();
  if (ms.empty())
    return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
  s.p50 = at(0.50);
  s.p95 = at(0.95);
  s.max = ms.back();
  return s;
}

void print_row(const char* what, const summary& s) {
  fmt::print("  {:<34} p50 {:7.3f} ms   p95 {:7.3f} ms   max {:8.3f} ms   (n={})\n", what, s.p50,
             s.p95, s.max, s.n);
}

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

std::string source_root() {
  std::string f = __FILE__; // .../bench/dht_bench.cpp
  auto slash = f.rfind('/');
  auto dir = slash == std::string::npos ? std::string(".") : f.substr(0, slash);
  return dir + "/..";
}

/// Runs `total` gets, at most `concurrency` outstanding; returns per-get latencies in ms and
/// the number that found at least one item.
std::pair<std::vector<double>, size_t> run_gets(dtt::test::io_thread& t, udp_node& client,
                                                const std::vector<mutable_item>& items,
                                                size_t total, size_t concurrency) {
  std::vector<double> lat;
  size_t found = 0, started = 0, finished = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> launch; // runs on the io thread
  launch = [&] {
    while (started < total && started - finished < concurrency) {
      auto& it = items[started % items.size()];
      ++started;
      auto t0 = clk::now();
      auto got = std::make_shared<size_t>(0);
      client.get_mutable(
        it.key, it.salt, [got](const mutable_item&) { ++*got; },
        [&, t0, got](const completion&) {
          std::lock_guard<std::mutex> g(mu);
          lat.push_back(ms_since(t0));
          found += *got > 0;
          ++finished;
          cv.notify_all();
          launch();
        });
    }
  };
  t.run([&] {
    launch();
    return 0;
  });
  std::unique_lock<std::mutex> g(mu);
  cv.wait_for(g, 120s, [&] { return finished == total; });
  return {lat, found};
}

} // namespace

int main(int argc, char** argv) {
  size_t nodes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
  size_t gets = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 500;
  size_t concurrency = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 16;
  size_t flood_ids = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 10000;

  fmt::print("dht_bench: {} nodes on 127.0.0.1, {} gets, concurrency {}\n", nodes, gets,
             concurrency);
  testnet_options o;
  o.nodes = nodes;
  testnet net(o);
  auto st = net.start();
  if (!st) {
    fmt::print(stderr, "testnet failed: {}\n", st.err().message());
    return 1;
  }
  double startup_ms = std::chrono::duration<double, std::milli>(net.startup_time()).count();
  fmt::print("  testnet start-up (bind + bootstrap until every table holds 8): {:.1f} ms  "
             "[target <= 1000 ms]\n", startup_ms);
  // Routing tables admit a node only once it answered a ping: wait (at most 10 s) until the
  // nodes stop verifying each other, as a long-running testnet has.
  auto s0 = clk::now();
  uint64_t last_pings = ~uint64_t{0};
  for (int quiet = 0; quiet < 3 && clk::now() - s0 < 10s;) {
    auto pings = net.stats()["verify_pings"];
    quiet = pings == last_pings ? quiet + 1 : 0;
    last_pings = pings;
    std::this_thread::sleep_for(100ms);
  }
  fmt::print("  routing tables settled (no verification ping for 300 ms) {:.1f} ms later\n",
             ms_since(s0));
  {
    auto st0 = net.stats();
    fmt::print("  routing tables after start-up: {:.1f} nodes per table on average\n",
               double(st0["table_size"]) / double(net.size()));
  }

  dtt::test::io_thread t;
  udp_node_options co;
  co.bind_address = "127.0.0.1";
  co.node.read_only = true;
  // Lookup tunings to compare (issue 16): DTT_BENCH_ALPHA, DTT_BENCH_ALPHA_CLEAN,
  // DTT_BENCH_CONVERGED.
  if (auto* a = std::getenv("DTT_BENCH_ALPHA"))
    co.node.lookup.alpha = std::strtoul(a, nullptr, 10);
  if (auto* a = std::getenv("DTT_BENCH_ALPHA_CLEAN"))
    co.node.lookup.alpha_clean = std::strtoul(a, nullptr, 10);
  if (auto* a = std::getenv("DTT_BENCH_CONVERGED"))
    co.node.lookup.converged_after = std::strtoul(a, nullptr, 10);
  co.bootstrap = net.bootstrap();
  co.bootstrap.resize(std::min<size_t>(8, co.bootstrap.size()));
  auto client = *udp_node::create(t.io, co);
  t.run([&] {
    client->start();
    return 0;
  });
  // Let the client's bootstrap finish so the first figures do not include it.
  for (auto deadline = clk::now() + 5s;
       t.run([&] { return client->core().table().size(); }) < 8 && clk::now() < deadline;)
    std::this_thread::sleep_for(1ms);

  // Puts: 20 items (PROTOCOL.md §4.2 shape: seq i64::MAX, 32-byte salt, cas), one at a time.
  std::vector<mutable_item> items;
  std::vector<double> put_ms;
  size_t put_ok = 0;
  for (int i = 0; i < 20; ++i) {
    bytes32 seed;
    seed.fill(static_cast<uint8_t>(i + 1));
    auto key = crypto::signing_key::from_seed(seed);
    bytes value(200, static_cast<uint8_t>('a' + i));
    items.push_back(mutable_item::sign(key, bytes(32, static_cast<uint8_t>(i)), INT64_MAX, value));
    std::promise<bool> done;
    auto t0 = clk::now();
    t.run([&] {
      client->put_mutable(items.back(), INT64_MAX,
                          [&](const completion& c) { done.set_value(c.put.ok()); });
      return 0;
    });
    auto f = done.get_future();
    if (f.wait_for(20s) != std::future_status::ready)
      break;
    put_ok += f.get();
    put_ms.push_back(ms_since(t0));
  }
  fmt::print("  puts stored: {}/20\n", put_ok);
  print_row("put (lookup + put to 8)", summarize(put_ms));

  auto t0 = clk::now();
  auto [seq_lat, seq_found] = run_gets(t, *client, items, gets, 1);
  double seq_s = ms_since(t0) / 1000;
  auto seq = summarize(seq_lat);
  print_row("get, sequential", seq);
  fmt::print("  {:<34} {:.0f} lookups/s, {}/{} found  [targets: p50 <= 2 ms, >= 1000/s]\n", "",
             double(seq_lat.size()) / seq_s, seq_found, seq_lat.size());

  t0 = clk::now();
  auto [con_lat, con_found] = run_gets(t, *client, items, gets * 2, concurrency);
  double con_s = ms_since(t0) / 1000;
  print_row(fmt::format("get, {} concurrent", concurrency).c_str(), summarize(con_lat));
  fmt::print("  {:<34} {:.0f} lookups/s, {}/{} found\n", "", double(con_lat.size()) / con_s,
             con_found, con_lat.size());

  if (flood_ids > 0) {
    dht::test::attacker evil("127.0.0.250", net.addresses(), flood_ids, false);
    auto f0 = clk::now();
    evil.wait_flooded(120s);
    double flood_s = ms_since(f0) / 1000;
    std::this_thread::sleep_for(1s); // let the testnet drain its sockets: measure what stays
    auto [fl_lat, fl_found] = run_gets(t, *client, items, std::min<size_t>(gets, 20), 1);
    size_t poisoned = 0, worst = 0;
    for (auto& table : net.tables()) {
      size_t n = 0;
      for (auto& e : table)
        n += e.ep.ip == evil.address().ip;
      poisoned += n;
      worst = std::max(worst, n);
    }
    fmt::print("flood: one address, {} node ids to each of {} nodes ({} queries in {:.1f} s, "
               "{} answers)\n", flood_ids, net.size(), evil.sent(), flood_s, evil.answered());
    print_row("get, sequential, 1 s after the flood", summarize(fl_lat));
    fmt::print("  {:<34} {}/{} found; attacker entries: {} in all tables, at most {} in one "
               "[target <= 1]\n", "", fl_found, fl_lat.size(), poisoned, worst);
  }

  auto stats = net.stats();
  if (std::getenv("DTT_BENCH_STATS"))
    for (auto& [k, v] : stats)
      if (v)
        fmt::print("    {} = {}\n", k, v);
  {
    auto cs = t.run([&] { return client->stats(); });
    fmt::print("  client: {} queries sent, {} short timeouts, {} timeouts\n", cs["queries_out"],
               cs["short_timeouts"], cs["timeouts"]);
  }
  fmt::print("  testnet: {} packets in, {} items stored, {} timeouts, {:.1f} nodes per table, "
             "client timeouts {}\n",
             stats["packets_in"], stats["stored_items"], stats["timeouts"],
             double(stats["table_size"]) / double(net.size()),
             t.run([&] { return client->stats()["timeouts"]; }));

  // The same gets by a libtorrent client on the same testnet.
  const char* py = std::getenv("DTT_PYTHON");
  std::string boot;
  for (size_t i = 0; i < std::min<size_t>(8, net.size()); ++i)
    boot += (boot.empty() ? "" : ",") + net.bootstrap()[i];
  size_t lt_gets = std::min<size_t>(gets, 100);
  dtt::test::subprocess lt({py ? py : "/usr/bin/python3", source_root() + "/tests/dht/libtorrent_peer.py",
                       "--sessions", "1", "--read-only", "1", "--bootstrap", boot, "--deadline",
                       "300"});
  auto hello = lt.read_line(20s);
  auto hj = nlohmann::json::parse(hello.value_or("{}"), nullptr, false);
  if (!hj.is_discarded() && hj.value("ready", false)) {
    // Wait for its routing table, then warm up with one get.
    for (auto deadline = clk::now() + 10s; clk::now() < deadline;) {
      lt.write_line("nodes");
      auto j = nlohmann::json::parse(lt.read_line(10s).value_or("{}"), nullptr, false);
      if (!j.is_discarded() && j.contains("nodes") && j["nodes"][0].get<int>() >= 8)
        break;
      std::this_thread::sleep_for(100ms);
    }
    std::vector<double> lt_lat;
    size_t lt_found = 0;
    for (size_t i = 0; i < lt_gets; ++i) {
      auto& it = items[i % items.size()];
      lt.write_line("get 0 " + to_hex(it.key) + " " + to_hex(it.salt));
      auto j = nlohmann::json::parse(lt.read_line(30s).value_or("{}"), nullptr, false);
      if (j.is_discarded() || !j.contains("ms"))
        break;
      lt_lat.push_back(j["ms"].get<double>());
      lt_found += j.value("ok", false);
    }
    auto lts = summarize(lt_lat);
    fmt::print("libtorrent {} (python binding, read-only client, same testnet):\n",
               hj.value("version", "?"));
    print_row("get, sequential", lts);
    fmt::print("  {:<34} {}/{} found\n", "", lt_found, lt_lat.size());
    if (lts.p50 > 0)
      fmt::print("  ratio dtt/libtorrent get p50: {:.3f}  p95: {:.3f}  [target < 1]\n",
                 seq.p50 / lts.p50, seq.p95 / lts.p95);
    lt.write_line("quit");
  } else {
    fmt::print("libtorrent comparison skipped: {}\n", hello.value_or("helper did not start"));
  }
  lt.stop();
  t.run([&] {
    client->stop();
    return 0;
  });
  net.stop();
  return 0;
}
