#include "app/cli/demo.hpp"

#include "actors/log.hpp"
#include "dtt/all.hpp"
#include "dht/testnet.hpp"
#include "messages/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <fmt/core.h>

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

namespace dtt::app {

namespace {

using clock_type = std::chrono::steady_clock;

struct demo_options {
  size_t nodes = 5;
  size_t dht_nodes = 20;
  int deadline_s = 50;
  std::string topic = "dtt-demo-topic";
  std::string secret = "dtt-demo-secret";
};

struct node_report {
  std::unique_ptr<runtime> rt;
  std::unique_ptr<topic> t;
  std::optional<double> first_neighbor_s;
  size_t neighbors = 0;
  std::set<std::string> received;
};

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Connected components of the nodes' neighbour graph.
size_t count_clusters(std::vector<node_report>& nodes) {
  std::map<endpoint_id, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i)
    index[nodes[i].rt->id()] = i;
  std::vector<size_t> parent(nodes.size());
  for (size_t i = 0; i < parent.size(); ++i)
    parent[i] = i;
  std::function<size_t(size_t)> root = [&](size_t i) {
    return parent[i] == i ? i : parent[i] = root(parent[i]);
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto nb = nodes[i].t->neighbors();
    if (!nb)
      continue;
    for (auto& id : *nb)
      if (auto it = index.find(id); it != index.end())
        parent[root(i)] = root(it->second);
  }
  size_t n = 0;
  for (size_t i = 0; i < nodes.size(); ++i)
    n += root(i) == i ? 1 : 0;
  return n;
}

int run_demo(const demo_options& o) {
  auto t0 = clock_type::now();
  auto deadline = t0 + std::chrono::seconds(o.deadline_s);
  fmt::print("dtt demo: {} nodes, topic '{}', on a {}-node loopback DHT testnet\n", o.nodes,
             o.topic, o.dht_nodes);

  dht::testnet_options tno;
  tno.nodes = o.dht_nodes;
  dht::testnet net{tno};
  if (auto st = net.start(); !st) {
    fmt::print(stderr, "dtt demo: testnet failed to start: {}\n", st.err().message());
    return 1;
  }
  fmt::print("[{:6.2f}s] DHT testnet ready ({} nodes on 127.0.0.1)\n", seconds_since(t0),
             net.size());

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  register_types(cfg);
  caf::actor_system sys{cfg};

  config tracker_cfg;
  tracker_cfg.join_timeout = std::chrono::seconds(o.deadline_s);
  // Quicker background checks than the defaults, so that the demo shows them within a minute.
  tracker_cfg.publisher.initial_delay = std::chrono::seconds(2);
  tracker_cfg.publisher.max_jitter = std::chrono::seconds(5);
  // Nodes that start together often join in separate small clusters (each found only the
  // records published before it looked). Bubble merge (§6.4) joins them; by default it first
  // runs after 30 s, here after 2 s and then every 2–4 s.
  tracker_cfg.merge.bubble_merge.initial_interval = std::chrono::seconds(2);
  tracker_cfg.merge.bubble_merge.base_interval = std::chrono::seconds(2);
  tracker_cfg.merge.bubble_merge.max_jitter = std::chrono::seconds(2);

  std::vector<node_report> nodes(o.nodes);
  for (size_t i = 0; i < o.nodes; ++i) {
    auto rt = runtime::start(sys, node_key::generate(),
                             options::loopback(net.bootstrap()));
    if (!rt) {
      fmt::print(stderr, "dtt demo: node {} failed to start: {}\n", i + 1, rt.err().message());
      return 1;
    }
    nodes[i].rt = std::move(*rt);
    nodes[i].t = std::make_unique<topic>(nodes[i].rt->join_no_wait(
      o.topic, o.secret, tracker_cfg));
    fmt::print("[{:6.2f}s] node {} started, id {}…, looking for peers\n", seconds_since(t0),
               i + 1, to_hex(byte_view(nodes[i].rt->id()).sub(0, 6)));
  }

  // Wait for every node's first neighbour, reporting as they come.
  size_t joined = 0;
  while (joined < o.nodes && clock_type::now() < deadline) {
    for (size_t i = 0; i < o.nodes; ++i) {
      auto& n = nodes[i];
      if (n.first_neighbor_s)
        continue;
      if (n.t->joined(std::chrono::milliseconds(20))) {
        n.first_neighbor_s = seconds_since(t0);
        ++joined;
        fmt::print("[{:6.2f}s] node {} joined the topic\n", *n.first_neighbor_s, i + 1);
      }
    }
  }

  // Gossip delivers to the members connected at the time of a broadcast (it keeps no history
  // for latecomers), so wait until the overlay is one connected graph, then everyone says hello.
  size_t clusters = 0;
  while (clock_type::now() < deadline) {
    auto c = count_clusters(nodes);
    if (c != clusters) {
      fmt::print("[{:6.2f}s] overlay: {} cluster(s){}\n", seconds_since(t0), c,
                 c == 1 ? ", connected" : "; waiting for bubble merge to join them");
      clusters = c;
    }
    if (c == 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (size_t i = 0; i < o.nodes; ++i) {
    auto msg = fmt::format("hello from node {}", i + 1);
    if (auto st = nodes[i].t->broadcast(bytes(msg.begin(), msg.end())); !st)
      fmt::print("[{:6.2f}s] node {} broadcast failed: {}\n", seconds_since(t0), i + 1,
                 st.err().message());
  }
  auto all_received = [&] {
    for (auto& n : nodes)
      if (n.received.size() < o.nodes - 1)
        return false;
    return true;
  };
  while (!all_received() && clock_type::now() < deadline) {
    for (auto& n : nodes) {
      auto ev = n.t->next(std::chrono::milliseconds(20));
      if (ev && ev->k == event::kind::received)
        n.received.insert(std::string(ev->content.begin(), ev->content.end()));
    }
  }
  fmt::print("[{:6.2f}s] {}\n", seconds_since(t0),
             all_received() ? "every node received every message" : "deadline reached");

  fmt::print("\n{:<6} {:<14} {:>22} {:>11} {:>10}\n", "node", "id", "time to 1st neighbour",
             "neighbours", "messages");
  bool ok = true;
  for (size_t i = 0; i < o.nodes; ++i) {
    auto& n = nodes[i];
    auto nb = n.t->neighbors();
    n.neighbors = nb ? nb->size() : 0;
    ok = ok && n.first_neighbor_s && n.received.size() == o.nodes - 1;
    fmt::print("{:<6} {:<14} {:>22} {:>11} {:>7}/{}\n", i + 1,
               to_hex(byte_view(n.rt->id()).sub(0, 6)),
               n.first_neighbor_s ? fmt::format("{:.2f} s", *n.first_neighbor_s) : "never",
               n.neighbors, n.received.size(), o.nodes - 1);
  }
  auto dht_stats = net.stats();
  auto stat = [&](const char* k) { return dht_stats.count(k) ? dht_stats[k] : uint64_t{0}; };
  fmt::print("\nDHT testnet: {} packets in, {} puts stored, {} items held\n", stat("packets_in"),
             stat("puts_stored"), stat("stored_items"));
  fmt::print("result: {}\n", ok ? "PASS (all nodes joined and got every message)" : "FAIL");

  for (auto& n : nodes)
    n.t.reset();
  for (auto& n : nodes)
    n.rt.reset();
  net.stop();
  return ok ? 0 : 1;
}

} // namespace

void add_network_commands(CLI::App& app) {
  auto o = std::make_shared<demo_options>();
  auto demo = app.add_subcommand("demo", "loopback DHT testnet + N nodes joining one topic");
  demo->add_option("--nodes", o->nodes, "tracker nodes (default 5)")->check(CLI::Range(2, 50));
  demo->add_option("--dht-nodes", o->dht_nodes, "DHT testnet nodes (default 20)")
    ->check(CLI::Range(4, 500));
  demo->add_option("--deadline", o->deadline_s, "seconds before giving up (default 50)")
    ->check(CLI::Range(5, 600));
  demo->add_option("--topic", o->topic, "topic name");
  demo->add_option("--secret", o->secret, "shared secret");
  demo->callback([o] { std::exit(run_demo(*o)); });

  auto nodes = std::make_shared<size_t>(20);
  auto port = std::make_shared<uint16_t>(0);
  auto address = std::make_shared<std::string>("127.0.0.1");
  auto tn = app.add_subcommand("testnet", "serve a local DHT testnet until interrupted");
  tn->add_option("--nodes", *nodes, "DHT nodes (default 20)")->check(CLI::Range(2, 1000));
  tn->add_option("--port", *port, "first UDP port (default: chosen by the OS)");
  tn->add_option("--address", *address,
                 "IP address the nodes bind to (default 127.0.0.1; for test hosts only)");
  tn->callback([nodes, port, address] {
    std::exit(dht::run_testnet_cli(*nodes, *port, *address, std::cout));
  });
}

} // namespace dtt::app
