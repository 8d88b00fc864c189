#include "actors/runtime.hpp"

#include "actors/log.hpp"

#include <caf/scoped_actor.hpp>

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace dtt {

namespace {

// The transport holds up to 512 links, 64 handshakes and 256 refused connections at once, and
// the DHT a socket: more than the usual soft limit of 1024 descriptors leaves room for. Raise
// the soft limit to the hard one, as Go's runtime does at start (the hard limit still bounds).
void raise_descriptor_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  auto want = rl.rlim_max == RLIM_INFINITY ? rlim_t{65536} : rl.rlim_max;
  if (want <= rl.rlim_cur)
    return;
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    log::in("runtime").warn("cannot raise the descriptor limit: {}", std::strerror(errno));
}

} // namespace

runtime::runtime(caf::actor_system& sys)
  : sys_(&sys), work_(boost::asio::make_work_guard(io_)) {
}

runtime_options runtime_options::loopback(std::vector<std::string> bootstrap) {
  runtime_options ro;
  ro.dht.bind_address = "127.0.0.1";
  ro.dht.bootstrap = std::move(bootstrap);
  ro.dht.read_only = true;
  ro.dht.rate_limit_per_ip = 0;
  ro.gossip.transport.bind = {"127.0.0.1", 0};
  return ro;
}

result<std::unique_ptr<runtime>> runtime::start(caf::actor_system& sys, crypto::signing_key key,
                                                runtime_options opts) {
  raise_descriptor_limit();
  std::unique_ptr<runtime> rt{new runtime(sys)};
  auto dht = spawn_dht_actor(sys, rt->io_, std::move(opts.dht));
  if (!dht)
    return error{errc::io_error, "DHT node: " + sys.render(dht.error())};
  rt->dht_ = std::move(*dht);
  auto gossip = spawn_gossip_actor(sys, rt->io_, key, std::move(opts.gossip));
  if (!gossip) {
    rt->dht_ = nullptr;
    return error{errc::io_error, "gossip transport: " + sys.render(gossip.error())};
  }
  rt->gossip_ = std::move(*gossip);
  rt->thread_ = std::thread([io = &rt->io_] { io->run(); });
  node_options no;
  no.dht = rt->dht_;
  no.gossip = rt->gossip_;
  no.use_endpoint_records = opts.use_endpoint_records;
  no.advertise = opts.advertise;
  no.state_dir = opts.state_dir;
  rt->node_ = std::make_unique<dtt::node>(sys, std::move(key), std::move(no));
  return rt;
}

runtime::~runtime() {
  node_.reset();
  // Stop both actors and wait (bounded) until they are gone, so that the io_context still runs
  // while they post their sockets' shutdown into it.
  {
    caf::scoped_actor self{*sys_};
    size_t pending = 0;
    for (auto a : {caf::actor_cast<caf::actor>(dht_), caf::actor_cast<caf::actor>(gossip_)}) {
      if (!a)
        continue;
      self->monitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
      ++pending;
    }
    dht_ = nullptr;
    gossip_ = nullptr;
    for (size_t i = 0; i < pending; ++i)
      self->receive([](const caf::down_msg&) {},
                    caf::after(std::chrono::seconds(5)) >> [] {
                      log::in("runtime").warn("an actor did not stop within 5 s");
                    });
  }
  work_.reset();
  if (thread_.joinable()) {
    // Whatever is left (closing sockets) gets a moment, then the loop is stopped.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!io_.stopped() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io_.stop();
    thread_.join();
  }
}

} // namespace dtt
