#pragma once

#include "actors/dht_actor.hpp"
#include "actors/gossip_actor.hpp"
#include "actors/node.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <thread>

namespace dtt {

/// Everything one node needs to run for real.
struct runtime_options {
  dht_options dht;       ///< the DHT node (mainline routers by default)
  gossip_options gossip; ///< the TLS transport and gossip protocol
  bool use_endpoint_records = true;
  /// Published instead of the transport's addresses (see node_options::advertise).
  std::vector<gossip::socket_address> advertise;
  /// State directory (see node_options::state_dir); empty: no state kept.
  std::string state_dir;

  /// A node of a loopback testnet (demo, tests, benchmarks): DHT client and gossip on 127.0.0.1
  /// with ports chosen by the OS, bootstrapping from `bootstrap`, no per-IP DHT rate limit
  /// (every node shares one IP).
  static runtime_options loopback(std::vector<std::string> bootstrap);
};


/// A node with its own sockets: one Boost.Asio io_context thread carrying the DHT (UDP) and
/// gossip (TCP + TLS) sockets, the DHT and gossip actors, and the dtt::node over them.
/// Destroy every topic handle before the runtime.
class runtime {
public:
  /// Binds the sockets and starts everything; fails with the reason (e.g. a port in use).
  static result<std::unique_ptr<runtime>> start(caf::actor_system& sys, crypto::signing_key key,
                                                runtime_options opts = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The node (join topics here).
  dtt::node& node() noexcept { return *node_; }
  /// The DHT actor.
  const dht_actor& dht() const noexcept { return dht_; }
  /// The gossip actor.
  const gossip_actor& gossip() const noexcept { return gossip_; }

private:
  explicit runtime(caf::actor_system& sys);
  caf::actor_system* sys_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  dht_actor dht_;
  gossip_actor gossip_;
  std::unique_ptr<dtt::node> node_;
};

} // namespace dtt
