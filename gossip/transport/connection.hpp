#pragma once

#include "gossip/transport/backlog.hpp"
#include "gossip/transport/frame.hpp"
#include "gossip/transport/options.hpp"
#include "gossip/transport/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace dtt::net {

class connection;

/// SO_REUSEPORT: our listeners and the sockets that connect from the listening port (reversed
/// dials and hole-punching primers, gossip/transport/reversal.hpp) set it, so that a dial can
/// bind the port a listener holds. Only sockets of the same user may share the port.
using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// Opens `s` for `local`'s protocol with SO_REUSEADDR and SO_REUSEPORT and binds it to `local`
/// (closed again on failure).
boost::system::error_code open_bound(boost::asio::ip::tcp::socket& s,
                                     const boost::asio::ip::tcp::endpoint& local);

/// Messages waiting for a peer. Belongs to the peer, not to a connection, so that a duplicate
/// connection that steps down hands its unsent messages to the one that stays.
/// Every message in it was counted in the transport's backlog when send() accepted it; the
/// queue gives them back there as they leave it (pop_front) or when it is dropped.
struct send_queue {
  std::deque<gossip::shared_buffer> messages;
  size_t total_bytes = 0;
  std::shared_ptr<backlog> counted; // set by the transport before the first message goes in
  gossip::endpoint_id peer{};

  send_queue() = default;
  send_queue(const send_queue&) = delete;
  send_queue& operator=(const send_queue&) = delete;
  ~send_queue() {
    if (counted)
      counted->sub(peer, messages.size() + taken_messages_, total_bytes + taken_bytes_);
  }
  void push_back(gossip::shared_buffer m) {
    total_bytes += m.size();
    messages.push_back(std::move(m));
  }
  /// Removes the oldest message; its count leaves the backlog at settle() (one lock per write,
  /// not per message).
  void pop_front() {
    auto n = messages.front().size();
    total_bytes -= n;
    messages.pop_front();
    ++taken_messages_;
    taken_bytes_ += n;
  }
  void settle() {
    if (counted && taken_messages_)
      counted->sub(peer, taken_messages_, taken_bytes_);
    taken_messages_ = 0;
    taken_bytes_ = 0;
  }

private:
  size_t taken_messages_ = 0;
  size_t taken_bytes_ = 0;
};

/// Admission outcomes a connection reports (see connection_owner::on_admission).
enum class admission_event : uint8_t {
  accepted,      ///< the peer proved a topic we are a member of
  bad_proof,     ///< a proof that does not verify: the link is closed
  unknown_topic, ///< a proof for a topic we are not a member of (ignored)
  early_message, ///< a message of a topic not proven on the link: the link is closed
  no_topic,      ///< no topic proven within the admission timeout: the link is closed
  unanswered,    ///< the peer left our proof unanswered: the link is closed
  not_member,    ///< a queued message for a topic we are no longer a member of was dropped
};

/// What a connection reports to the transport that owns it. Called on the io thread.
class connection_owner {
public:
  virtual ~connection_owner() = default;
  /// TLS is up and the peer's id is known (connection::peer()).
  virtual void on_established(const std::shared_ptr<connection>& c) = 0;
  /// Message frames arrived (those of one read, in order; at least one).
  virtual void on_messages(connection& c, std::vector<gossip::shared_buffer>&& messages) = 0;
  /// The peer said it writes nothing more on this connection.
  virtual void on_goodbye(connection& c) = 0;
  /// The connection is closed (called once). `clean` after an orderly goodbye exchange;
  /// `level` says how loudly to log it (warn for a misbehaving or unexpected peer).
  virtual void on_closed(connection& c, const std::string& reason, bool clean,
                         log_level level) = 0;
  /// A log line.
  virtual void log(log_level level, const std::string& line) = 0;
  /// The membership key of `topic` (docs/ADMISSION.md), or nullptr if we are not a member.
  virtual const bytes32* membership_key(const gossip::topic_id& topic) = 0;
  /// Something happened to a link's admission (for counters and logs).
  virtual void on_admission(connection& c, admission_event ev, const gossip::topic_id& topic) = 0;
  /// The link failed before it was established; on_closed follows.
  virtual void on_handshake_failed(connection&, handshake_failure) {}
  /// Bytes read from or written to the link's TLS stream (frame headers included).
  virtual void on_traffic(connection&, size_t /*bytes_in*/, size_t /*bytes_out*/) {}
  /// A reversal control frame (request or notice, body size checked by the frame decoder)
  /// arrived on a link that speaks them (speaks_current()).
  virtual void on_reversal(connection&, control /*code*/, byte_view /*body*/) {}
  /// A relay control frame (gossip/transport/relay.hpp; body size checked by the frame decoder)
  /// arrived on a link that speaks them (speaks_current()).
  virtual void on_relay(connection&, byte_view /*body*/) {}
};

/// One TCP + TLS 1.3 link to a peer: handshake with deadlines, frame reading with the size
/// limit, batched writes from the peer's send queue, keep-alive and idle timeout, and the
/// goodbye exchange that retires a duplicate link without losing a message.
class connection : public std::enable_shared_from_this<connection> {
public:
  using tcp = boost::asio::ip::tcp;
  using clock = std::chrono::steady_clock;

  /// `serial` numbers connections for logs and tie-breaks (newer has a larger serial).
  connection(boost::asio::io_context& io, std::shared_ptr<tls_identity> tls,
             std::shared_ptr<const transport_options> opts,
             std::shared_ptr<connection_owner> owner, bool outbound, uint64_t serial);

  /// The TCP socket (an acceptor accepts into it before start_inbound).
  tcp::socket& socket() noexcept { return stream_.next_layer(); }
  /// Dials `addrs` in order within the dial timeout, then runs the client handshake and
  /// accepts only a certificate with key `expected`.
  void start_outbound(const gossip::endpoint_id& expected, std::vector<tcp::endpoint> addrs);
  /// Runs the client handshake on a socket connected already (a connect from our listening
  /// port, hole punching), accepting only a certificate with key `expected`.
  void start_connected(const gossip::endpoint_id& expected);
  /// Runs the server handshake on an accepted socket; the peer id comes from its certificate.
  void start_inbound();

  /// Makes this connection the writer of `q` and starts writing.
  void attach_queue(std::shared_ptr<send_queue> q);
  /// New messages are in the attached queue.
  void kick() { pump(); }
  /// Stops taking messages from the queue, writes a goodbye frame after what is in flight,
  /// and closes once the peer's goodbye has arrived too (or the drain timeout passed).
  void say_goodbye();
  /// Says goodbye once the attached queue is empty (a graceful close: everything queued so far
  /// is written first). unfinish() cancels it if the goodbye has not been written yet.
  void finish() {
    finish_ = true;
    pump();
  }
  void unfinish() noexcept { finish_ = false; }
  /// Writes a control frame with `body` (control_body_size(c) bytes) soon, ahead of queued
  /// messages. Dropped (false) before the link is up, after it closed, or if too many control
  /// bytes are waiting already (bounded).
  bool send_control(control c, byte_view body);
  /// Writes a relay control frame (gossip/transport/relay.hpp) soon, in order with the other
  /// relay frames, ahead of queued messages. Dropped (false) unless the link is writable() (a
  /// relayed link's bytes never change links), or if max_relay_out bytes of relay frames are
  /// waiting already.
  bool send_relay(byte_view body);
  /// Relay frame bytes waiting to be written.
  size_t relay_waiting() const noexcept { return relay_out_.size(); }
  /// Bound on relay frame bytes waiting (send_relay).
  static constexpr size_t max_relay_out = 256 * 1024;
  /// Closes the socket at once and reports on_closed (once).
  void close(const std::string& reason, bool clean = false, log_level level = log_level::info);

  bool outbound() const noexcept { return outbound_; }
  uint64_t serial() const noexcept { return serial_; }
  /// The peer: known from the start when dialing, after the handshake when accepting.
  const std::optional<gossip::endpoint_id>& peer() const noexcept { return peer_; }
  bool established() const noexcept { return established_; }
  /// A dial whose TCP connect completed (the TLS handshake may still be under way).
  bool tcp_connected() const noexcept { return remote_.port() != 0; }
  /// Both goodbyes crossed: everything either side wrote before its goodbye was read.
  bool goodbye_exchanged() const noexcept { return goodbye_written_ && goodbye_received_; }
  /// Established and not retiring: may carry the peer's queue.
  bool writable() const noexcept {
    return established_ && !closed_ && !goodbye_pending_ && !goodbye_received_;
  }
  /// The remote TCP endpoint (unspecified before connect).
  const tcp::endpoint& remote() const noexcept { return remote_; }
  /// Sets what remote() says: a relayed link runs over a local socket pair, and says the
  /// relay's address instead (call after start_*).
  void set_remote(const tcp::endpoint& ep) noexcept { remote_ = ep; }
  /// "outbound #3 127.0.0.1:4000 peer 1a2b3c4d" for log lines.
  std::string describe() const;
  /// True once the peer proved membership of at least one topic on this link.
  bool admitted() const noexcept { return !peer_proven_.empty(); }
  /// Bytes read and written on the TLS stream (frames and their headers). Readable from any
  /// thread.
  uint64_t bytes_in() const noexcept { return bytes_in_; }
  uint64_t bytes_out() const noexcept { return bytes_out_; }
  /// True once established with our preferred ALPN protocol (transport_options::alpn): the
  /// peer understands every frame we know (frame.hpp, "Compatibility").
  bool speaks_current() const noexcept { return speaks_current_; }
  /// Why the link failed before it was established, if it did.
  const std::optional<handshake_failure>& failure() const noexcept { return failure_; }
  /// How the link was made (set by the transport).
  link_method method() const noexcept { return method_; }
  void set_method(link_method m) noexcept { method_ = m; }
  /// When the link was established (wall clock; the epoch before that).
  std::chrono::system_clock::time_point up_since() const noexcept { return up_since_; }
  /// When the link was established (steady clock; the epoch before that).
  clock::time_point established_at() const noexcept { return established_at_; }

private:
  void on_connected();
  void on_handshake(const boost::system::error_code& ec);
  void arm_deadline(std::chrono::milliseconds d, const char* what);
  void arm_tick();
  const char* goodbye_close_reason() const noexcept;
  void on_tick();
  /// Reports the failure to the owner, then closes.
  void fail(handshake_failure why, const std::string& reason, log_level level = log_level::info);
  void read();
  void pump();
  // Admission (docs/ADMISSION.md).
  bool on_admit(byte_view body);
  bool proven_by_peer(const gossip::topic_id& t) const;
  void send_proof(const gossip::topic_id& t, const bytes32& key);
  enum class gate { pass, wait, drop };
  gate outbound_gate(byte_view message);

  std::shared_ptr<tls_identity> tls_;
  std::shared_ptr<const transport_options> opts_;
  std::shared_ptr<connection_owner> owner_;
  boost::asio::ssl::stream<tcp::socket> stream_;
  boost::asio::steady_timer timer_;
  bool outbound_;
  uint64_t serial_;
  peer_verification verification_;
  std::optional<gossip::endpoint_id> peer_;
  tcp::endpoint remote_;
  frame_decoder decoder_;
  std::array<uint8_t, 16384> rbuf_{};
  bytes wbuf_;
  std::shared_ptr<send_queue> queue_;
  clock::time_point last_read_{};
  clock::time_point last_write_{};
  clock::time_point goodbye_at_{};
  clock::time_point established_at_{};
  std::chrono::system_clock::time_point up_since_{};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> bytes_out_{0};
  // Admission state of this link: its TLS exporter value, the topics the peer proved here, the
  // topics we proved here, our proofs waiting to be written, and the topic whose proof from
  // the peer the send queue waits for (since when).
  bytes32 exporter_{};
  std::vector<gossip::topic_id> peer_proven_;
  std::vector<gossip::topic_id> we_proved_;
  bytes controls_out_; // admit and other control frames waiting to be written
  bytes relay_out_;    // relay frames waiting to be written (bounded by max_relay_out)
  std::optional<gossip::topic_id> blocked_on_;
  clock::time_point blocked_since_{};
  size_t unknown_admits_ = 0;
  std::optional<handshake_failure> failure_;
  link_method method_ = link_method::direct;
  bool speaks_current_ = false;
  bool established_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool ping_pending_ = false;
  bool finish_ = false;
  bool peer_said_goodbye_first_ = false; // its goodbye came before we started ours
  bool goodbye_pending_ = false;
  bool goodbye_in_flight_ = false;
  bool goodbye_written_ = false;
  bool goodbye_received_ = false;
};

} // namespace dtt::net
