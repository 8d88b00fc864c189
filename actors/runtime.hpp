#pragma once

#include "actors/dht_actor.hpp"
#include "actors/gossip_actor.hpp"
#include "actors/node.hpp"
#include "actors/reachability.hpp"
#include "nat/port_mapper.hpp"
#include "dtt/runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <thread>

namespace dtt {

/// Everything one node needs to run for real, with every internal knob (dtt::options is the
/// public subset; to_runtime_options maps it here).
struct runtime_options {
  dht_options dht;       ///< the DHT node (mainline routers by default)
  gossip_options gossip; ///< the TLS transport and gossip protocol
  bool use_endpoint_records = true;
  /// Published instead of the transport's addresses (see node_options::advertise).
  std::vector<gossip::socket_address> advertise;
  /// State directory (see node_options::state_dir); empty: no state kept.
  std::string state_dir;
  /// Seconds added to the system clock (see options::clock_offset).
  std::chrono::seconds clock_offset{0};
  /// Port mapping (options::nat_settings): off unless asked for.
  nat::mode port_mapping = nat::mode::off;
  std::chrono::seconds nat_lease{3600};

  /// A node of a loopback testnet (demo, tests, benchmarks): DHT client and gossip on 127.0.0.1
  /// with ports chosen by the OS, bootstrapping from `bootstrap`, no per-IP DHT rate limit
  /// (every node shares one IP).
  static runtime_options loopback(std::vector<std::string> bootstrap);
};

/// The public options as runtime_options; errc::invalid_argument for a value out of range.
result<runtime_options> to_runtime_options(const options& opts);

/// What a dtt::runtime is made of: one Boost.Asio io_context thread carrying the DHT (UDP) and
/// gossip (TCP + TLS) sockets, the DHT and gossip actors, and the dtt::node over them.
struct runtime::internals {
  explicit internals(caf::actor_system& sys);
  ~internals();
  caf::actor_system* sys;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::thread thread;
  dht_actor dht;
  gossip_actor gossip;
  std::unique_ptr<dtt::node> node;
  /// External address and port mappings (issue 15).
  std::shared_ptr<reachability_hub> reach;
  std::shared_ptr<nat::port_mapper> mapper; ///< null when nothing is mapped
  /// The configured advertise addresses (runtime_options::advertise).
  std::vector<socket_address> advertise;
};

/// Starts a runtime with internal options (dtt's tests and tools).
result<std::unique_ptr<runtime>> start_runtime(caf::actor_system& sys, crypto::signing_key key,
                                               runtime_options opts);

} // namespace dtt
