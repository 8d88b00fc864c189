#include "app/cli/demo.hpp"

#include "actors/log.hpp"
#include "dht/testnet.hpp"
#include "dtt/all.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// What every node's events said, each stamped when the event reached that node's reader (an
// actor waiting on the topic with no timeout), not when the demo looked at it.
struct observations {
  explicit observations(size_t n, clock_type::time_point start)
    : t0(start), first_neighbor_s(n), neighbors(n), received(n) {}
  std::mutex mtx;
  std::condition_variable cv;
  clock_type::time_point t0;
  std::vector<std::optional<double>> first_neighbor_s;
  std::vector<std::set<endpoint_id>> neighbors;
  std::vector<std::map<std::string, double>> received; // message → when it arrived
  uint64_t lagged = 0;
  uint64_t changes = 0;  // bumped on every event, so that the main thread sees news
  double last_event = 0; // when the latest event arrived
  double last_view_change = 0; // when the latest neighbor_up/down arrived
};

// Subscribes to node `i`'s topic: every event comes as a message the moment it happens, is
// recorded with its arrival time, and a quiet node costs nothing.
event_subscriber::behavior_type event_reader(event_subscriber::pointer self, topic_actor topic,
                                             size_t i, std::shared_ptr<observations> obs) {
  self->request(topic, caf::infinite, subscribe_atom::value,
                caf::actor_cast<event_subscriber>(self))
    .then([](const std::vector<endpoint_id>&) {}, [=](caf::error& e) { self->quit(std::move(e)); });
  return {
    [=](event_atom, const bytes32&, const event& ev) {
      {
        std::lock_guard<std::mutex> g(obs->mtx);
        double at = seconds_since(obs->t0);
        switch (ev.k) {
          case event::kind::neighbor_up:
            obs->neighbors[i].insert(ev.peer);
            obs->last_view_change = at;
            if (!obs->first_neighbor_s[i])
              obs->first_neighbor_s[i] = at;
            break;
          case event::kind::neighbor_down:
            obs->neighbors[i].erase(ev.peer);
            obs->last_view_change = at;
            break;
          case event::kind::received:
            obs->received[i].emplace(std::string(ev.content.begin(), ev.content.end()), at);
            break;
          case event::kind::lagged:
            obs->lagged += ev.lagged;
            break;
        }
        ++obs->changes;
        obs->last_event = at;
      }
      obs->cv.notify_all();
    },
  };
}

// Connected components of the neighbour graph the events describe (obs->mtx held). A link counts
// once both ends reported it: a node that lists a peer whose own view does not have it yet
// neither gets that peer's broadcasts nor gets its own through (PlumTree pushes to the peers in
// its view, and a message nobody has is never announced), so a hello sent then is lost.
size_t count_clusters(const observations& obs, const std::map<endpoint_id, size_t>& index,
                      const std::vector<endpoint_id>& ids) {
  size_t n = obs.neighbors.size();
  std::vector<size_t> parent(n);
  for (size_t i = 0; i < n; ++i)
    parent[i] = i;
  std::function<size_t(size_t)> root = [&](size_t i) {
    return parent[i] == i ? i : parent[i] = root(parent[i]);
  };
  for (size_t i = 0; i < n; ++i)
    for (auto& id : obs.neighbors[i])
      if (auto it = index.find(id); it != index.end() && obs.neighbors[it->second].count(ids[i]))
        parent[root(i)] = root(it->second);
  size_t c = 0;
  for (size_t i = 0; i < n; ++i)
    c += root(i) == i ? 1 : 0;
  return c;
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

  system_config cfg; // dtt's types and scheduler defaults
  cfg.set("scheduler.max-threads", 2);
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

  auto obs = std::make_shared<observations>(o.nodes, t0);
  std::vector<std::unique_ptr<runtime>> rts(o.nodes);
  std::vector<std::unique_ptr<topic>> topics(o.nodes);
  std::vector<event_subscriber> readers;
  std::map<endpoint_id, size_t> index;
  std::vector<endpoint_id> ids;
  auto stop_all = [&] {
    caf::scoped_actor self{sys};
    for (auto& r : readers)
      self->send_exit(r, caf::exit_reason::user_shutdown);
    self->wait_for(readers); // each holds its topic: let go first
    readers.clear();
    for (auto& t : topics)
      t.reset();
    // A runtime waits up to ~2 s for its sockets to close: stop them all at once.
    std::vector<std::thread> stoppers;
    for (auto& rt : rts)
      if (rt)
        stoppers.emplace_back([r = std::move(rt)]() mutable { r.reset(); });
    for (auto& th : stoppers)
      th.join();
    net.stop();
  };
  for (size_t i = 0; i < o.nodes; ++i) {
    auto rt = runtime::start(sys, node_key::generate(), options::loopback(net.bootstrap()));
    if (!rt) {
      fmt::print(stderr, "dtt demo: node {} failed to start: {}\n", i + 1, rt.err().message());
      stop_all();
      return 1;
    }
    rts[i] = std::move(*rt);
    topics[i] = std::make_unique<topic>(rts[i]->join_no_wait(o.topic, o.secret, tracker_cfg));
    readers.push_back(sys.spawn(event_reader, topics[i]->handle(), i, obs));
    index[rts[i]->id()] = i;
    ids.push_back(rts[i]->id());
    fmt::print("[{:6.2f}s] node {} started, id {}…, looking for peers\n", seconds_since(t0),
               i + 1, to_hex(byte_view(rts[i]->id()).sub(0, 6)));
  }

  // Report first neighbours and the overlay's clusters as the events come. Gossip delivers to
  // the members connected at the time of a broadcast (it keeps no history for latecomers), so
  // wait until every node has joined, the overlay is one connected graph and no view changed
  // for `quiet` (joins still walking through the overlay move links while it settles).
  // On a loaded machine views can keep moving for seconds: after max_settle of being connected
  // the hellos go anyway (a lost one then shows as such in the table).
  const double quiet = 0.3, max_settle = 2.0;
  std::optional<double> connected_at;
  std::vector<bool> reported(o.nodes, false);
  size_t clusters = 0;
  bool connected = false;
  {
    std::unique_lock<std::mutex> lk(obs->mtx);
    uint64_t seen = ~uint64_t{0};
    while (clock_type::now() < deadline) {
      if (obs->changes != seen) {
        seen = obs->changes;
        // First neighbours in the order they happened, with the time they happened.
        std::vector<std::pair<double, size_t>> fresh;
        for (size_t i = 0; i < o.nodes; ++i)
          if (!reported[i] && obs->first_neighbor_s[i]) {
            reported[i] = true;
            fresh.emplace_back(*obs->first_neighbor_s[i], i);
          }
        std::sort(fresh.begin(), fresh.end());
        for (auto& [at, i] : fresh)
          fmt::print("[{:6.2f}s] node {} joined the topic\n", at, i + 1);
        auto c = count_clusters(*obs, index, ids);
        if (c != clusters) {
          fmt::print("[{:6.2f}s] overlay: {} cluster(s){}\n",
                     obs->changes > 0 ? obs->last_event : seconds_since(t0), c,
                     c == 1 ? ", connected" : "; waiting for bubble merge to join them");
          clusters = c;
        }
      }
      bool all = std::all_of(reported.begin(), reported.end(), [](bool b) { return b; });
      if (all && clusters == 1) {
        if (!connected_at)
          connected_at = seconds_since(t0);
        double settled_at = std::min(obs->last_view_change + quiet, *connected_at + max_settle);
        if (seconds_since(t0) >= settled_at) {
          connected = true;
          break;
        }
        auto until = t0 + std::chrono::duration_cast<clock_type::duration>(
                            std::chrono::duration<double>(settled_at));
        obs->cv.wait_until(lk, std::min(until, deadline));
        continue;
      }
      connected_at.reset();
      obs->cv.wait_until(lk, deadline);
    }
  }

  double first_sent = seconds_since(t0);
  if (connected) {
    // All at once, one thread per node (a broadcast waits for the gossip actor's answer).
    std::vector<std::thread> senders;
    std::mutex print_mtx;
    for (size_t i = 0; i < o.nodes; ++i)
      senders.emplace_back([&, i] {
        auto msg = fmt::format("hello from node {}", i + 1);
        if (auto st = topics[i]->broadcast(bytes(msg.begin(), msg.end())); !st) {
          std::lock_guard<std::mutex> g(print_mtx);
          fmt::print("[{:6.2f}s] node {} broadcast failed: {}\n", seconds_since(t0), i + 1,
                     st.err().message());
        }
      });
    for (auto& th : senders)
      th.join();
    fmt::print("[{:6.2f}s] every node broadcast a hello ({:.0f} ms for all {})\n",
               seconds_since(t0), 1e3 * (seconds_since(t0) - first_sent), o.nodes);
  }
  auto all_received = [&] { // obs->mtx held
    for (auto& r : obs->received)
      if (r.size() < o.nodes - 1)
        return false;
    return true;
  };
  std::unique_lock<std::mutex> lk(obs->mtx);
  obs->cv.wait_until(lk, deadline, [&] { return connected && all_received(); });
  bool everyone = connected && all_received();
  if (everyone) {
    double last = 0;
    for (auto& r : obs->received)
      for (auto& [m, at] : r)
        last = std::max(last, at);
    fmt::print("[{:6.2f}s] every node had every message ({:.0f} ms after the first broadcast)\n",
               last, 1e3 * (last - first_sent));
  } else {
    fmt::print("[{:6.2f}s] deadline reached\n", seconds_since(t0));
  }

  fmt::print("\n{:<6} {:<14} {:>22} {:>11} {:>10}\n", "node", "id", "time to 1st neighbour",
             "neighbours", "messages");
  bool ok = everyone;
  for (size_t i = 0; i < o.nodes; ++i) {
    auto& first = obs->first_neighbor_s[i];
    ok = ok && first && obs->received[i].size() == o.nodes - 1;
    fmt::print("{:<6} {:<14} {:>22} {:>11} {:>7}/{}\n", i + 1,
               to_hex(byte_view(rts[i]->id()).sub(0, 6)),
               first ? fmt::format("{:.2f} s", *first) : "never", obs->neighbors[i].size(),
               obs->received[i].size(), o.nodes - 1);
  }
  if (!everyone && connected) // which hellos went missing where, for whoever investigates
    for (size_t i = 0; i < o.nodes; ++i)
      for (size_t j = 0; j < o.nodes; ++j)
        if (j != i && !obs->received[i].count(fmt::format("hello from node {}", j + 1)))
          fmt::print("node {} never got the hello of node {} ({} neighbour(s) listed by both)\n",
                     i + 1, j + 1,
                     std::count_if(obs->neighbors[i].begin(), obs->neighbors[i].end(),
                                   [&](const endpoint_id& p) {
                                     auto it = index.find(p);
                                     return it != index.end()
                                            && obs->neighbors[it->second].count(ids[i]) > 0;
                                   }));
  if (obs->lagged > 0)
    fmt::print("({} lagged event(s): a reader fell behind its topic's event buffer)\n",
               obs->lagged);
  lk.unlock();
  auto dht_stats = net.stats();
  auto stat = [&](const char* k) { return dht_stats.count(k) ? dht_stats[k] : uint64_t{0}; };
  fmt::print("\nDHT testnet: {} packets in, {} puts stored, {} items held\n", stat("packets_in"),
             stat("puts_stored"), stat("stored_items"));
  fmt::print("result: {} ({:.2f} s)\n",
             ok ? "PASS (all nodes joined and got every message)" : "FAIL", seconds_since(t0));
  stop_all();
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
  auto address6 = std::make_shared<std::string>();
  auto tn = app.add_subcommand("testnet", "serve a local DHT testnet until interrupted");
  tn->add_option("--nodes", *nodes, "DHT nodes (default 20)")->check(CLI::Range(2, 1000));
  tn->add_option("--port", *port, "first UDP port (default: chosen by the OS)");
  tn->add_option("--address", *address,
                 "IP address the nodes bind to (default 127.0.0.1; ::1 for an IPv6 testnet; "
                 "for test hosts only)");
  tn->add_option("--address6", *address6,
                 "also bind every node on this IPv6 address, e.g. ::1 (dual-stack nodes, "
                 "BEP 32)");
  tn->callback([nodes, port, address, address6] {
    std::exit(dht::run_testnet_cli(*nodes, *port, *address, std::cout, *address6));
  });
}

} // namespace dtt::app
