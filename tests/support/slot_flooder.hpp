#pragma once
// The slot flooder of issue 11 finding 5 (PROTOCOL.md §10.1), as test support: knowing only the
// topic NAME, it overwrites the current and the previous minute's record slots (standard
// derivation, §1.4-§1.5) every `period` with junk records (valid BEP 44 signatures, content
// sealed to a random key: undecryptable for members). It puts through its own read-only DHT
// client, so the junk lands on every node that stores the slot (the closest nodes a get reads).
// Loopback testnets only.
#include "crypto/clock.hpp"
#include "dht/udp_node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace dtt::test {

/// A flooder on its own io thread. Stopped (and its thread joined) by stop() or the destructor.
class slot_flooder {
public:
  /// `bootstrap`: the testnet's "ip:port" addresses.
  slot_flooder(std::vector<std::string> bootstrap, std::string topic_name,
               std::chrono::milliseconds period = std::chrono::milliseconds(200),
               const crypto::wall_clock& clock = crypto::system_wall_clock());
  ~slot_flooder();
  slot_flooder(const slot_flooder&) = delete;
  slot_flooder& operator=(const slot_flooder&) = delete;

  /// Binds the client on 127.0.0.1 and starts flooding.
  status start();
  /// Stops flooding and joins the thread. Idempotent.
  void stop();

  /// Puts sent so far.
  uint64_t puts_sent() const noexcept { return sent_; }
  /// Storage-node acceptances so far (sum of put_outcome::stored).
  uint64_t stored() const noexcept { return stored_; }

private:
  void tick();

  std::vector<std::string> bootstrap_;
  std::string topic_;
  std::chrono::milliseconds period_;
  const crypto::wall_clock* clock_;
  boost::asio::io_context io_{1};
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::shared_ptr<dht::udp_node> node_;
  std::thread thread_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> stored_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<bool> started_{false};
};

} // namespace dtt::test
