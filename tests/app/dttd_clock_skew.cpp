// Clock tolerance with real nodes on a loopback DHT testnet (issue 17, PROTOCOL.md §10.7): a
// dttd on time finds, through the DHT alone, a node whose clock is 60 s ahead and whose
// records are therefore all in the dttd's next minute. Readers used to look at minutes m−1 and m only,
// so such a node was invisible. The dttd publishes nothing (max-records=0), so the only way
// the two meet is the dttd reading the other's records. The skewed node runs with
// options::clock_offset, the same setting as dttd's `[dttd] clock-offset`.
#include "actors/runtime.hpp"
#include "app/daemon.hpp"
#include "dht/subprocess.hpp"
#include "dht/testnet.hpp"
#include "messages/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <thread>

using namespace dtt;
using namespace std::chrono_literals;

TEST_CASE("a dttd on time finds a node 60 s ahead through its next minute's records") {
  dht::testnet_options tno;
  tno.nodes = 8;
  dht::testnet net{tno};
  REQUIRE(net.start());

  // The other node's clock is 60 s ahead: every record it writes is in minute m+1 of ours.
  // The DHT keeps them, so a reader of m−1 and m only (the original) finds the one for m+1
  // once its own minute has turned: the test starts early enough in a minute (waiting up to
  // 16 s for the next one) and requires the join before our minute turns.
  auto second = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count()
           % 60;
  };
  if (second() > 44)
    std::this_thread::sleep_for(std::chrono::seconds(61 - second()));
  const int64_t offset = 60;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto ro = runtime_options::loopback(net.bootstrap());
  ro.clock_offset = std::chrono::seconds(offset);
  auto rt = start_runtime(sys, crypto::signing_key::generate(), ro);
  REQUIRE(rt);
  auto other = (*rt)->internal().node->join_no_wait("skew-topic", byte_view::of("skew-secret"));

  test::temp_dir dir;
  std::string boot;
  for (auto& b : net.bootstrap())
    boot += (boot.empty() ? "\"" : ", \"") + b + "\"";
  auto ini = dir.write("dttd.ini", "[dttd]\ntopic=\"skew-topic\"\nsecret=\"skew-secret\"\n"
                                   "[dttd.dht]\nbind=\"127.0.0.1\"\nbootstrap=["
                                     + boot + "]\n[dttd.gossip]\nbind=\"127.0.0.1\"\n"
                                              "[dtt.bootstrap]\nmax-records=0\n");
  test::subprocess d({"/usr/bin/env", "DTT_LOG=warn", test::daemon_path(), "--config-file=" + ini},
                     false);
  auto t0 = std::chrono::steady_clock::now();
  // Before our minute turns (at least 15 s away), with a 2 s margin.
  auto deadline = t0 + std::chrono::seconds(std::min<int64_t>(15, 58 - second()));
  bool up = false;
  while (!up && std::chrono::steady_clock::now() < deadline) {
    auto line = d.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()));
    if (!line)
      break;
    up = line->find("\"event\":\"neighbor_up\"") != std::string::npos;
  }
  CHECK(up);
  if (up)
    MESSAGE("joined after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - t0)
                                 .count()
                            << " ms");
  d.send_signal(SIGTERM);
  auto status = d.stop(10s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  other = topic{};
  rt->reset();
  net.stop();
}
