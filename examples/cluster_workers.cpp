// A zero-configuration CAF cluster (docs/CLUSTER.md): one coordinator and N workers, separate
// processes started with nothing but a cluster name and a secret. They find each other through
// dtt (the mainline DHT and a gossip topic), their middlemen connect over TLS links only
// members can open, and the coordinator finds the workers by name and spreads jobs over them.
// A killed worker's jobs go to the others; a restarted worker is used again.
//
//   cluster_workers worker      --cluster jobs --secret s3cret [--bootstrap 127.0.0.1:6881]
//   cluster_workers coordinator --cluster jobs --secret s3cret [--jobs 500] [--bootstrap ...]
//
// Try it on one machine with a local DHT testnet (without --bootstrap: the public DHT):
//   build/app/dtt testnet --nodes 20 --port 6881 &
//   for i in 1 2 3; do
//     build/examples/cluster_workers worker --cluster c --secret s --bootstrap 127.0.0.1:6881 &
//   done
//   build/examples/cluster_workers coordinator --cluster c --secret s --bootstrap 127.0.0.1:6881
#include "dtt/all.hpp"
#include "dtt/cluster.hpp"

#include <caf/all.hpp>

#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <sstream>

#include <unistd.h>

namespace {

using job_atom = caf::atom_constant<caf::atom("job")>;
using work_done_atom = caf::atom_constant<caf::atom("workdone")>;

std::string short_hex(const dtt::endpoint_id& id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 4; ++i) {
    out += digits[id[i] >> 4];
    out += digits[id[i] & 15];
  }
  return out;
}

// A worker: (job, n) → (n * n, its name), after `work_ms` of "work" (a timer, not a sleep).
struct worker_state {
  uint64_t next = 0;
  std::map<uint64_t, caf::typed_response_promise<uint64_t, std::string>> waiting;
};

caf::behavior worker(caf::stateful_actor<worker_state>* self, std::string name, int work_ms) {
  return {
    [=](job_atom, uint64_t n) {
      auto rp = self->make_response_promise<uint64_t, std::string>();
      auto key = self->state.next++;
      self->state.waiting.emplace(key, rp);
      self->delayed_send(self, std::chrono::milliseconds(work_ms), work_done_atom::value, key, n);
      return rp;
    },
    [=](work_done_atom, uint64_t key, uint64_t n) {
      auto it = self->state.waiting.find(key);
      if (it == self->state.waiting.end())
        return;
      it->second.deliver(n * n, name);
      self->state.waiting.erase(it);
    },
  };
}

struct coordinator_state {
  std::deque<uint64_t> pending;
  std::map<caf::actor, size_t> in_flight; // worker → jobs it holds now
  std::map<std::string, size_t> done_by;  // worker name → jobs done
  size_t done = 0;
  size_t total = 0;
};

// Holds at most 2 jobs per worker; a job whose worker fails or vanishes goes back in the queue.
void dispatch(caf::stateful_actor<coordinator_state>* self) {
  auto& st = self->state;
  for (auto& [w, n] : st.in_flight) {
    while (n < 2 && !st.pending.empty()) {
      auto job = st.pending.front();
      st.pending.pop_front();
      ++n;
      auto wk = w;
      self->request(wk, std::chrono::seconds(5), job_atom::value, job)
        .then(
          [=](uint64_t result, const std::string& who) {
            auto& st = self->state;
            if (auto it = st.in_flight.find(wk); it != st.in_flight.end())
              --it->second;
            ++st.done_by[who];
            if (++st.done % 50 == 0 || st.done == st.total)
              std::cout << "coordinator: " << st.done << "/" << st.total << " done (job " << job
                        << " = " << result << " by " << who << ")" << std::endl;
            if (st.done == st.total) {
              for (auto& [name, count] : st.done_by)
                std::cout << "coordinator: worker " << name << " did " << count << " jobs"
                          << std::endl;
              self->quit();
              return;
            }
            dispatch(self);
          },
          [=](const caf::error& e) {
            auto& st = self->state;
            std::cout << "coordinator: job " << job << " failed on " << caf::to_string(wk.node())
                      << " (" << self->system().render(e) << "), queued again" << std::endl;
            if (auto it = st.in_flight.find(wk); it != st.in_flight.end())
              --it->second;
            st.pending.push_front(job);
            dispatch(self);
          });
    }
  }
}

caf::behavior coordinator(caf::stateful_actor<coordinator_state>* self, size_t jobs) {
  for (uint64_t j = 1; j <= jobs; ++j)
    self->state.pending.push_back(j);
  self->state.total = jobs;
  return {
    // Workers come and go as the cluster reports them (subscribed in main).
    [=](dtt::cluster_event_atom, const dtt::cluster_event& ev) {
      if (ev.name != "worker")
        return;
      auto& st = self->state;
      if (ev.k == dtt::cluster_event::kind::actor_up && ev.actor) {
        std::cout << "coordinator: worker " << short_hex(ev.member) << " is up" << std::endl;
        st.in_flight.emplace(ev.actor, 0);
        dispatch(self);
      } else if (ev.k == dtt::cluster_event::kind::actor_down) {
        std::cout << "coordinator: worker " << short_hex(ev.member) << " is gone" << std::endl;
        if (ev.actor)
          st.in_flight.erase(ev.actor); // its outstanding requests fail and are queued again
      }
    },
  };
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty())
      out.push_back(part);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: cluster_workers coordinator|worker --cluster C --secret S "
                 "[--bootstrap host:port,...] [--jobs N] [--work-ms MS]\n";
    return 2;
  }
  std::string role = argv[1], name, secret, bootstrap;
  size_t jobs = 500;
  int work_ms = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--cluster") name = argv[i + 1];
    else if (k == "--secret") secret = argv[i + 1];
    else if (k == "--bootstrap") bootstrap = argv[i + 1];
    else if (k == "--jobs") jobs = std::stoul(argv[i + 1]);
    else if (k == "--work-ms") work_ms = std::stoi(argv[i + 1]);
  }
  if ((role != "coordinator" && role != "worker") || name.empty() || secret.empty()) {
    std::cerr << "cluster_workers: a role, --cluster and --secret are required\n";
    return 2;
  }

  // 1. Before the actor system: this member's TLS credentials for the middleman links.
  dtt::system_config cfg;
  auto dir = "/tmp/cluster_workers-" + std::to_string(::getpid());
  if (auto st = dtt::prepare_cluster(cfg, name, secret, dir); !st) {
    std::cerr << "cannot prepare the cluster: " << st.err().message() << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};

  // 2. A dtt node, and the cluster on it.
  dtt::options opts;
  opts.dht.bootstrap = split(bootstrap); // empty: the public mainline DHT
  auto cluster_opts = dtt::cluster_options{};
  if (!bootstrap.empty()) { // a local testnet: loopback addresses, faster announcements
    opts = dtt::options::loopback(split(bootstrap));
    cluster_opts = dtt::cluster_options::loopback();
  }
  auto rt = dtt::runtime::start(sys, dtt::node_key::generate(), opts);
  if (!rt) {
    std::cerr << "cannot start dtt: " << rt.err().message() << "\n";
    return 1;
  }
  auto cl = dtt::cluster::join(**rt, name, secret, cluster_opts);
  if (!cl) {
    std::cerr << "cannot join the cluster: " << cl.err().message() << "\n";
    return 1;
  }
  auto me = short_hex((*cl)->id());

  int rc = 0;
  if (role == "worker") {
    auto w = sys.spawn(worker, me, work_ms);
    (*cl)->publish("worker", w);
    std::cout << "worker " << me << " ready (Ctrl-D or end of stdin stops it)" << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
    }
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  } else {
    std::cout << "coordinator " << me << ": " << jobs << " jobs" << std::endl;
    auto c = sys.spawn(coordinator, jobs);
    (*cl)->subscribe(caf::actor_cast<dtt::cluster_subscriber>(c));
    // Workers already known when we subscribed.
    if (auto ws = (*cl)->lookup("worker"))
      for (auto& w : *ws)
        caf::anon_send(c, dtt::cluster_event_atom::value,
                       dtt::cluster_event{dtt::cluster_event::kind::actor_up, {}, 0, "worker", w});
    caf::scoped_actor self{sys};
    self->wait_for(c);
  }
  cl->reset();
  rt->reset();
  std::system(("rm -rf '" + dir + "'").c_str());
  return rc;
}
