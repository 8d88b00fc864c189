#pragma once

// One end of a relayed link (gossip/transport/relay.hpp), the part with I/O: a local socket
// pair. The transport runs an ordinary `connection` (TLS, framing, admission) over one socket;
// the pipe holds the other, sends what it reads there as relay data chunks (paced, so that the
// relay's byte budget is not overrun), and writes the chunks the relay forwards into it. So a
// relayed link is a connection like any other, whose bytes go through a common peer.

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "gossip/transport/relay.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace dtt::net {

class relay_pipe : public std::enable_shared_from_this<relay_pipe> {
public:
  using tcp = boost::asio::ip::tcp;

  struct hooks {
    /// Sends one chunk read from the pipe as relay data (1..max_relay_chunk bytes); false if
    /// it cannot go (the link to the relay is gone or full): the pipe ends.
    std::function<bool(byte_view)> send;
    /// The pipe ended on its own (the connection closed its socket, a write failed, too much
    /// waits, or send() refused): called once, never after close().
    std::function<void(const std::string& why)> ended;
  };

  /// Bytes of forwarded chunks that may wait for the local connection to read them; more ends
  /// the pipe (a relay that outruns the budget, or a connection that stopped reading).
  static constexpr size_t max_waiting = 1 << 20;

  /// A connected socket pair on `io`: the pipe gets one end, `inner` (closed) is given the
  /// other, for the connection. Sends are paced at `rate` bytes/s with bursts of `burst`.
  static result<std::shared_ptr<relay_pipe>> create(boost::asio::io_context& io,
                                                    tcp::socket& inner, double rate,
                                                    double burst);
  /// Starts reading; `h` is called on the io thread.
  void start(hooks h);
  /// A chunk forwarded by the relay: written into the pipe. False (and the pipe ended, without
  /// calling ended) if more than max_waiting bytes would wait.
  bool deliver(byte_view chunk);
  /// Ends the pipe: its socket closes, so the connection on the other end reads EOF. Does
  /// not call ended. Idempotent.
  void close();
  bool closed() const noexcept { return closed_; }

  /// Bytes sent (read from the pipe) and delivered (written into it) so far.
  uint64_t bytes_sent() const noexcept { return sent_; }
  uint64_t bytes_delivered() const noexcept { return delivered_; }

  relay_pipe(boost::asio::io_context& io, double rate, double burst);

private:
  void read();
  void write();
  void end(const std::string& why);

  tcp::socket sock_;
  boost::asio::steady_timer timer_;
  relay_pacer pacer_;
  hooks hooks_;
  std::array<uint8_t, max_relay_chunk> rbuf_{};
  std::deque<bytes> waiting_; // chunks to write, the first one being written
  size_t waiting_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  uint64_t sent_ = 0, delivered_ = 0;
};

} // namespace dtt::net
