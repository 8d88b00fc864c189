#pragma once

#include "gossip/transport/options.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace dtt::hostile {

/// What each attacking connection does once TCP is up.
enum class flood_mode {
  tcp,          ///< nothing: an idle TCP connection (no TLS ClientHello)
  tls_one,      ///< completes TLS 1.3 with one Ed25519 identity for all connections, then sends
                ///< only keep-alive control frames (gossip/transport/frame.hpp)
  tls_many,     ///< as tls_one, one identity per connection slot
};

/// Parses "tcp", "tls-one", "tls-many".
bool parse_flood_mode(const std::string& s, flood_mode& out);
/// The name parse_flood_mode accepts.
const char* to_string(flood_mode m) noexcept;

/// The attack: `connections` connections from `source_ip` (any port) to the victim, each one
/// reopened when it closes (when `reopen`), at most `max_opens_per_second` opens in all (a
/// token bucket, so a refusing victim never makes a tight loop).
struct flood_options {
  std::string target_ip = "127.0.0.1";
  uint16_t target_port = 0;
  /// A second loopback address (Linux loopback answers all of 127/8), so that the victim can
  /// tell the attacker (127.0.0.2) from honest nodes (127.0.0.1).
  std::string source_ip = "127.0.0.2";
  size_t connections = 500;
  flood_mode mode = flood_mode::tcp;
  bool reopen = true;
  /// Bound on connection attempts per second (first opens and reopens alike).
  double max_opens_per_second = 1000;
  /// TLS modes: a keep-alive frame this often (the transport's own interval is 5 s).
  std::chrono::milliseconds keepalive_interval{2000};
  /// TLS modes: the victim's ALPN protocol, the transport's own (an attacker with another ALPN
  /// is refused in the TLS handshake and floods only TCP).
  std::string alpn = net::transport_options{}.alpn;
};

/// Counters of a running flood.
struct flood_stats {
  size_t open = 0;                 ///< connections currently open (TCP up)
  size_t established = 0;          ///< of those, TLS established (TLS modes)
  uint64_t attempts = 0;           ///< connects started
  uint64_t connected = 0;          ///< TCP connects that succeeded
  uint64_t handshakes = 0;         ///< TLS handshakes that succeeded
  uint64_t connect_failures = 0;   ///< TCP connects refused or failed
  uint64_t handshake_failures = 0; ///< TLS handshakes that failed
  uint64_t closed_by_victim = 0;   ///< open connections that the victim closed or reset
  uint64_t keepalives_sent = 0;
  /// Longest life (TCP up until the victim closed it) of a connection the victim closed.
  std::chrono::milliseconds max_lifetime{0};
  /// Age of the oldest connection still open.
  std::chrono::milliseconds oldest_open{0};
};

/// Runs a flood on its own io_context thread until stop() or destruction.
class flood {
public:
  /// Builds identities (TLS modes) and starts the attack; nullptr with `why` on a setup error.
  static std::unique_ptr<flood> start(const flood_options& o, std::string* why = nullptr);
  ~flood();
  flood(const flood&) = delete;
  flood& operator=(const flood&) = delete;
  /// Closes every connection and joins the thread. Idempotent.
  void stop();
  /// Current counters.
  flood_stats stats() const;

  class impl;

private:
  explicit flood(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
  std::shared_ptr<impl> impl_;
};

/// One flood_stats as a JSON object on one line (the attack tool's output).
std::string to_json(const flood_stats& s, double elapsed_s);

} // namespace dtt::hostile
