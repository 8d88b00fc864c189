// A cluster member for the multi-process tests and measurements (tests/cluster/processes.cpp,
// bench/cluster.sh). It joins a cluster on a loopback DHT, publishes "echo" and answers
// commands on stdin with lines on stdout:
//   ready <id> <port>                   once joined (the middleman's TLS port)
//   members <n> <ids...>                whenever the set of live members changes
//   event <kind> <id> [name] [handle]   every cluster event ("handle": it carries the actor)
//   call <ok> <total> <ids...>          after "call": echo called on every member, who replied
//   lat <n> <p50_us> <max_us>           after "bench N": N calls to every other member's echo
//   outsider <what> <ok|refused>        --outsider host:port: what a process without the
//                                       secret got (TLS with a wrong CA, no certificate, plain)
// Commands: call, bench N, count (prints "count <n> <outsider_msgs>"), quit.
#include "dtt/all.hpp"
#include "dtt/cluster.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <sys/stat.h>

using namespace std::chrono_literals;

namespace {

std::mutex out_mutex;

void say(const std::string& line) {
  std::lock_guard<std::mutex> g(out_mutex);
  std::cout << line << std::endl;
}

std::string hex8(const dtt::endpoint_id& id) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < 4; ++i) {
    s += d[id[i] >> 4];
    s += d[id[i] & 15];
  }
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string p; std::getline(in, p, sep);)
    if (!p.empty())
      out.push_back(p);
  return out;
}

std::atomic<uint64_t> echo_count{0};
std::atomic<uint64_t> outsider_msgs{0};

caf::behavior echo(caf::event_based_actor*, std::string me) {
  return {[=](const std::string& s) {
    ++echo_count;
    if (s.rfind("outsider", 0) == 0)
      ++outsider_msgs;
    return me + " " + s;
  }};
}

dtt::cluster_subscriber::behavior_type printer(dtt::cluster_subscriber::pointer) {
  return {[](dtt::cluster_event_atom, const dtt::cluster_event& ev) {
    say("event " + std::string(dtt::to_string(ev.k)) + " " + hex8(ev.member) +
        (ev.name.empty() ? "" : " " + ev.name) + (ev.actor ? " handle" : ""));
  }};
}

// A process that knows the cluster's name but not its secret: it tries to reach a member's
// middleman with credentials of its own, and without any.
int run_outsider(const std::string& target, const std::string& dir, const std::string& mode) {
  auto hp = split(target, ':');
  if (hp.size() != 2)
    return 2;
  auto port = static_cast<uint16_t>(std::stoi(hp[1]));
  ::mkdir(dir.c_str(), 0700);
  if (mode == "all" || mode == "wrong-ca") {
    // 1. TLS with a certificate from a CA derived from a wrong secret.
    dtt::system_config cfg;
    if (!dtt::prepare_cluster(cfg, "procs", "not-the-secret", dir + "/wrong"))
      return 1;
    caf::actor_system sys{cfg};
    auto h = caf::openssl::remote_actor(sys, hp[0], port);
    say(std::string("outsider tls-wrong-ca ") + (h ? "ok" : "refused"));
    if (h) {
      caf::scoped_actor self{sys};
      self->send(*h, std::string("outsider-tls"));
    }
  }
  if (mode == "all" || mode == "anonymous" || mode == "plain") {
    // 2. TLS without a certificate (CAF's anonymous mode), and 3. plain BASP.
    dtt::system_config cfg;
    cfg.load<caf::io::middleman>();
    cfg.load<caf::openssl::manager>();
    caf::actor_system sys{cfg};
    if (mode != "plain") {
      auto h = caf::openssl::remote_actor(sys, hp[0], port);
      say(std::string("outsider tls-anonymous ") + (h ? "ok" : "refused"));
      if (h) {
        caf::scoped_actor self{sys};
        self->send(*h, std::string("outsider-anon"));
      }
    }
    if (mode != "anonymous") {
      auto p = caf::io::remote_actor(sys, hp[0], port);
      say(std::string("outsider plain ") + (p ? "ok" : "refused"));
      if (p) {
        caf::scoped_actor self{sys};
        self->send(*p, std::string("outsider-plain"));
      }
    }
  }
  say("outsider done");
  return 0;
}

// The same call over a middleman link configured by hand (no dtt): the server publishes echo
// on a TLS port with the cluster's credentials, the client connects to host:port and times
// `calls` requests ("lat <n> <p50_us> <max_us>").
int run_by_hand(const std::string& server_port, const std::string& client_target,
                const std::string& secret, const std::string& dir, size_t calls) {
  dtt::system_config cfg;
  if (!dtt::prepare_cluster(cfg, "procs", secret, dir))
    return 1;
  caf::actor_system sys{cfg};
  if (!server_port.empty()) {
    auto e = sys.spawn(echo, std::string("hand"));
    auto port = caf::openssl::publish(e, static_cast<uint16_t>(std::stoi(server_port)),
                                      "127.0.0.1");
    if (!port)
      return 1;
    say("hand-ready " + std::to_string(*port));
    for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    }
    caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
    return 0;
  }
  auto hp = split(client_target, ':');
  auto h = caf::openssl::remote_actor(sys, hp[0], static_cast<uint16_t>(std::stoi(hp[1])));
  if (!h)
    return 1;
  caf::scoped_actor self{sys};
  std::vector<int64_t> lat;
  for (size_t i = 0; i < calls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    self->request(*h, 5s, std::string("b")).receive([](const std::string&) {},
                                                    [](const caf::error&) {});
    lat.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count());
  }
  std::sort(lat.begin(), lat.end());
  say("lat " + std::to_string(lat.size()) + " " + std::to_string(lat[lat.size() / 2]) + " " +
      std::to_string(lat.back()));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string name = "procs", secret, bootstrap, dir, outsider, key_path, mode = "all";
  std::string hand_server, hand_client;
  size_t expect = 0, calls = 1000;
  auto t_start = std::chrono::steady_clock::now();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--cluster") name = argv[i + 1];
    else if (k == "--secret") secret = argv[i + 1];
    else if (k == "--bootstrap") bootstrap = argv[i + 1];
    else if (k == "--dir") dir = argv[i + 1];
    else if (k == "--outsider") outsider = argv[i + 1];
    else if (k == "--key") key_path = argv[i + 1];
    else if (k == "--outsider-mode") mode = argv[i + 1];
    else if (k == "--expect") expect = std::stoul(argv[i + 1]);
    else if (k == "--hand-server") hand_server = argv[i + 1];
    else if (k == "--hand-client") hand_client = argv[i + 1];
    else if (k == "--calls") calls = std::stoul(argv[i + 1]);
  }
  if (dir.empty())
    return 2;
  if (!outsider.empty())
    return run_outsider(outsider, dir, mode);
  if (!hand_server.empty() || !hand_client.empty())
    return run_by_hand(hand_server, hand_client, secret, dir, calls);
  dtt::system_config cfg;
  if (auto st = dtt::prepare_cluster(cfg, name, secret, dir); !st) {
    std::cerr << st.err().message() << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  // With --key the member keeps its endpoint id across restarts (a new incarnation of it).
  auto key = key_path.empty() ? dtt::result<dtt::node_key>(dtt::node_key::generate())
                              : dtt::node_key::load_or_create(key_path);
  if (!key)
    return 1;
  auto rt = dtt::runtime::start(sys, *key,
                                dtt::options::loopback(split(bootstrap, ',')));
  if (!rt) {
    std::cerr << rt.err().message() << "\n";
    return 1;
  }
  auto opts = dtt::cluster_options::loopback();
  opts.topic.join_timeout = 0ms;
  auto cl = dtt::cluster::join(**rt, name, secret, opts);
  if (!cl) {
    std::cerr << cl.err().message() << "\n";
    return 1;
  }
  auto me = hex8((*cl)->id());
  auto e = sys.spawn(echo, me);
  if (!(*cl)->publish("echo", e))
    return 1;
  auto pr = sys.spawn(printer);
  (*cl)->subscribe(pr);
  say("ready " + me + " " + std::to_string((*cl)->port()));

  std::atomic<bool> done{false};
  std::thread watcher([&] {
    std::string last;
    while (!done) {
      if (auto ms = (*cl)->members()) {
        std::vector<std::string> ids;
        for (auto& m : *ms)
          ids.push_back(hex8(m.id));
        std::sort(ids.begin(), ids.end());
        std::string line = "members " + std::to_string(ids.size());
        for (auto& i : ids)
          line += " " + i;
        if (line != last)
          say(line);
        last = line;
        if (expect > 0 && ids.size() == expect) {
          say("complete " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - t_start)
                                             .count()));
          expect = 0;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  for (std::string line; std::getline(std::cin, line);) {
    auto words = split(line, ' ');
    if (words.empty())
      continue;
    if (words[0] == "quit")
      break;
    if (words[0] == "count") {
      say("count " + std::to_string(echo_count.load()) + " " + std::to_string(outsider_msgs.load()));
    } else if (words[0] == "call") {
      auto hs = (*cl)->lookup("echo");
      std::vector<std::string> who;
      size_t total = hs ? hs->size() : 0;
      if (hs) {
        caf::scoped_actor self{sys};
        for (auto& h : *hs)
          self->request(h, 5s, std::string("ping from " + me))
            .receive([&](const std::string& r) { who.push_back(split(r, ' ')[0]); },
                     [&](const caf::error&) {});
      }
      std::sort(who.begin(), who.end());
      std::string out = "call " + std::to_string(who.size()) + " " + std::to_string(total);
      for (auto& w : who)
        out += " " + w;
      say(out);
    } else if (words[0] == "bench" && words.size() == 2) {
      auto n = std::stoul(words[1]);
      auto hs = (*cl)->lookup("echo");
      std::vector<int64_t> lat;
      caf::scoped_actor self{sys};
      if (hs)
        for (auto& h : *hs) {
          if (h.node() == sys.node())
            continue;
          for (size_t i = 0; i < n; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            self->request(h, 5s, std::string("b")).receive([](const std::string&) {},
                                                           [](const caf::error&) {});
            lat.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count());
          }
        }
      std::sort(lat.begin(), lat.end());
      say("lat " + std::to_string(lat.size()) + " " +
          std::to_string(lat.empty() ? 0 : lat[lat.size() / 2]) + " " +
          std::to_string(lat.empty() ? 0 : lat.back()));
    }
  }
  done = true;
  watcher.join();
  caf::anon_send_exit(pr, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  cl->reset();
  rt->reset();
  return 0;
}
