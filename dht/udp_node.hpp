#pragma once

#include "dht/node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dtt::dht {

/// Mainline's default bootstrap routers (PROTOCOL.md §4.2).
std::vector<std::string> default_bootstrap_routers();

/// Options of a socket-driven node.
struct udp_node_options {
  /// Numeric IPv4 address of the IPv4 socket; empty: none. (An IPv6 address here binds the one
  /// socket IPv6, as before BEP 32 support: "::" then carries IPv4 too, as mapped addresses.)
  std::string bind_address = "0.0.0.0";
  /// Numeric IPv6 address of an IPv6-only socket (BEP 32: the node joins the IPv6 DHT, with its
  /// own routing table); empty: none. "::" for every interface, "::1" for loopback tests.
  std::string bind6;
  /// Port of both sockets; 0: chosen by the OS (the IPv6 socket then tries the IPv4 one's
  /// port first, so that a dual-stack node has one port).
  uint16_t port = 0;
  /// "host:port" or "[v6]:port" bootstrap addresses; names are resolved asynchronously.
  std::vector<std::string> bootstrap;
  /// File to load the routing table from at start and save it to at stop; empty: none.
  std::string routing_table_file;
  node_config node;
  /// Called (on the io thread) for every refusal the node counts (node_effects::on_refused):
  /// where the owner logs them, rate-limited per kind. Empty: counted only.
  std::function<void(refusal, const endpoint&)> on_refused;
  /// Called (on the io thread) when our external address as responders see it is decided or
  /// changes (node_effects::on_external_address, issue 15). Must not call into the node.
  std::function<void(const endpoint&)> on_external_address;
};

/// A dht::node on a Boost.Asio UDP socket. Every method must be called on the thread that
/// runs the io_context (post to it from elsewhere). Handlers run on that thread too, after the
/// node call that produced them returned, so they may issue further commands.
class udp_node : public std::enable_shared_from_this<udp_node> {
public:
  using item_handler = std::function<void(const mutable_item&)>;
  using done_handler = std::function<void(const completion&)>;

  /// Opens and binds the socket (may be called from any thread before start()).
  static result<std::shared_ptr<udp_node>> create(boost::asio::io_context& io,
                                                  udp_node_options opts,
                                                  crypto::random_source& rng = crypto::os_random());
  ~udp_node();

  /// Starts receiving, the timer, and bootstrap (routing table file, then opts.bootstrap).
  void start();
  /// Saves the routing table (if configured), closes the socket and cancels the timer.
  /// Pending commands are dropped without completion.
  void stop();
  bool stopped() const noexcept { return stopped_; }

  /// The bound address: the IPv4 socket's, or the IPv6 one's on a node without IPv4.
  endpoint local_endpoint() const;
  /// The IPv6 socket's address (family 6), if there is one.
  std::optional<endpoint> local_endpoint6() const;
  /// Every bound address (IPv4 first).
  std::vector<endpoint> local_endpoints() const;

  /// Adds bootstrap addresses ("host:port"); names resolve asynchronously.
  void bootstrap(const std::vector<std::string>& addresses);

  request_id get_mutable(const bytes32& key, bytes salt, item_handler on_item, done_handler done,
                         size_t max_items = 0);
  request_id put_mutable(const mutable_item& item, std::optional<int64_t> cas,
                         done_handler done);
  request_id get_immutable(const node_id& target, done_handler done);
  request_id put_immutable(bytes bencoded_value, done_handler done);
  /// Stops a command; its handlers are dropped.
  void cancel(request_id id);

  /// The core's counters plus socket counters.
  std::map<std::string, uint64_t> stats() const;
  /// The io_context the node runs on.
  boost::asio::io_context& io_context() const noexcept { return io_; }
  /// The sans-IO core (read-only access).
  const node& core() const noexcept { return *node_; }

private:
  struct effects;
  struct handlers {
    item_handler on_item;
    done_handler done;
  };

  /// One bound socket with its receive buffer.
  struct socket_slot {
    explicit socket_slot(boost::asio::io_context& io) : socket(io) {}
    boost::asio::ip::udp::socket socket;
    boost::asio::ip::udp::endpoint sender;
    std::array<uint8_t, 4096> buf{};
    bool v6 = false;      ///< an IPv6 socket (set once at bind: not a syscall per send)
    bool mapped = false;  ///< an IPv6 socket that carries IPv4 too (legacy "::" bind_address)
  };

  udp_node(boost::asio::io_context& io, udp_node_options opts, crypto::random_source& rng);
  void receive(socket_slot& slot);
  /// The socket that sends to `to`'s family, or nullptr.
  socket_slot* slot_for(const endpoint& to) noexcept;
  void arm_timer();
  void after_call();
  void flush();
  request_id track(request_id id, item_handler on_item, done_handler done);

  boost::asio::io_context& io_;
  udp_node_options opts_;
  crypto::random_source& rng_;
  /// [0]: the IPv4 socket, [1]: the IPv6 one (either may be absent).
  std::unique_ptr<socket_slot> slots_[2];
  boost::asio::steady_timer timer_;
  time_point armed_at_ = time_point::max();
  std::unique_ptr<effects> fx_;
  std::unique_ptr<node> node_;
  std::map<request_id, handlers> handlers_;
  std::vector<std::pair<request_id, mutable_item>> pending_items_;
  std::vector<completion> pending_done_;
  bool flushing_ = false;
  bool stopped_ = false;
  uint64_t send_failures_ = 0;
  uint64_t resolve_failures_ = 0;
};

} // namespace dtt::dht
