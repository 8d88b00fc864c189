#pragma once

#include "dht/udp_node.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace dtt::dht {

/// Options of a local testnet.
struct testnet_options {
  size_t nodes = 20;           ///< server nodes to start
  uint16_t base_port = 0;      ///< 0: ports chosen by the OS; else base_port + i
  /// The first node's address. An IPv4 loopback address (127/8) gives each node its own
  /// address, counting up from this one (127.0.0.1, 127.0.0.2, ...: Linux routes all of 127/8
  /// to lo without set-up), so that routing tables keep their default of one entry per IP.
  /// Any other address (or one that cannot be bound) is shared by every node, whose tables
  /// then keep one entry per IP:port instead. "::1" gives an IPv6-only testnet (BEP 32).
  /// Empty: no IPv4 socket (with address6 set).
  std::string address = "127.0.0.1";
  /// An IPv6 address every node also binds (one shared address, e.g. "::1"): dual-stack nodes
  /// with an IPv4 and an IPv6 routing table. Their tables then keep one entry per IP:port
  /// (::1 is one address). Empty: none.
  std::string address6;
  std::chrono::milliseconds ready_timeout{10000};  ///< start() fails after this
};

/// N DHT server nodes in this process on loopback addresses, bootstrapped from each other,
/// with their own io_context thread. Ready when every routing table holds min(k, N-1) nodes.
/// Rate limiting is off (clients of a testnet usually share one address).
class testnet {
public:
  explicit testnet(testnet_options opts = {});
  ~testnet();
  testnet(const testnet&) = delete;
  testnet& operator=(const testnet&) = delete;

  /// Binds and bootstraps the nodes and waits until ready (or fails after ready_timeout; the
  /// nodes are then stopped again).
  status start();
  /// Stops every node and joins the thread. Idempotent.
  void stop();

  /// The nodes' addresses (each node's first socket: IPv4, or IPv6 on an IPv6-only testnet).
  const std::vector<endpoint>& addresses() const noexcept { return addresses_; }
  /// The nodes' IPv6 addresses on a dual-stack testnet (address6), else empty.
  const std::vector<endpoint>& addresses6() const noexcept { return addresses6_; }
  /// The addresses as "ip:port" strings (for udp_node_options::bootstrap / dht_options).
  std::vector<std::string> bootstrap() const;
  /// The IPv6 addresses of a dual-stack testnet as "[v6]:port" strings.
  std::vector<std::string> bootstrap6() const;
  /// True once every routing table (of each family a node has) is populated.
  bool ready() const;
  /// Every node's routing-table entries (buckets and replacement caches), one list per node.
  std::vector<std::vector<node_entry>> tables() const;
  /// Sum of every node's counters.
  std::map<std::string, uint64_t> stats() const;
  /// Number of nodes.
  size_t size() const noexcept { return addresses_.size(); }
  /// True if every node has its own address (tables keep one entry per IP), false if they
  /// share one (one entry per IP:port).
  bool distinct_addresses() const noexcept { return distinct_; }
  /// Time start() took.
  std::chrono::microseconds startup_time() const noexcept { return startup_; }

private:
  template <class F>
  auto on_io(F f) const -> decltype(f());

  testnet_options opts_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::vector<std::shared_ptr<udp_node>> nodes_;
  std::vector<endpoint> addresses_;
  std::vector<endpoint> addresses6_;
  std::chrono::microseconds startup_{0};
  bool distinct_ = false;
};

/// The `dtt testnet` command: starts a testnet of `nodes` nodes from `address` (see
/// testnet_options::address; ports from base_port, or OS-chosen if 0), and on `address6` too
/// if not empty, prints the bootstrap addresses to `out` one per line (IPv6 ones after the
/// others), and runs until SIGINT or SIGTERM. Returns a process exit code (0 on a clean stop).
int run_testnet_cli(size_t nodes, uint16_t base_port, const std::string& address,
                    std::ostream& out, const std::string& address6 = {});

} // namespace dtt::dht
