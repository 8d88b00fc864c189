#pragma once

// dttd's HTTP/1.1 + WebSocket server (Boost.Beast), on the runtime's io_context. This header has
// no Beast in it: Beast lives in http_server.cpp alone (compile time).

#include "dtt/errors.hpp"
#include "dtt/events.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace dtt::http {

/// Bounds of the server; every one is enforced per connection or node-wide.
struct server_options {
  std::string bind = "127.0.0.1"; ///< numeric listen address (loopback by default)
  uint16_t port = 0;              ///< 0: chosen by the OS
  /// When non-empty every request needs `Authorization: Bearer <token>` (401 otherwise); a
  /// WebSocket upgrade may carry it as a `Sec-WebSocket-Protocol` item
  /// `dtt.bearer.<lower-case hex of the token>` instead (what a browser can send).
  std::string token;
  /// Exact targets a GET may fetch without the token (dttd: the live page "/", whose bytes
  /// are the same for everyone; the data it shows comes from requests that need the token).
  std::vector<std::string> public_paths;
  /// Largest request body (a broadcast carries at most 4 KiB; JSON requests are small).
  size_t max_body = 64 * 1024;
  /// Largest request line + headers (nginx's large_client_header_buffers default is 8 KiB).
  size_t max_header_bytes = 8 * 1024;
  /// Most header fields in one request (431 beyond).
  size_t max_header_count = 64;
  /// Connections at once (HTTP and WebSocket); more are closed at accept.
  size_t max_connections = 64;
  /// Time to send one whole request (header and body): a slow client (slowloris) is cut off.
  std::chrono::milliseconds request_timeout{10000};
  /// Keep-alive: how long an idle connection waits for its next request.
  std::chrono::milliseconds idle_timeout{30000};
  /// A WebSocket's outgoing queue: beyond it messages are dropped and the client gets one
  /// {"event":"lagged","dropped":N} line when room is back (as dtt::topic::next does).
  size_t max_ws_queue = 1024;
  size_t max_ws_queue_bytes = 2 * 1024 * 1024; ///< 64 sockets: at most 128 MiB queued
};

/// The `Sec-WebSocket-Protocol` item prefix that carries the token (see server_options::token).
inline constexpr const char* websocket_bearer_prefix = "dtt.bearer.";
/// The subprotocol a client may offer next to its token; the server then chooses it.
inline constexpr const char* websocket_events_protocol = "dtt.events";

/// A parsed request, as handlers see it.
struct request {
  std::string method; ///< "GET", "POST", ...
  std::string target; ///< path and query, e.g. "/v1/topics/ab12/messages"
  std::string content_type;
  std::string body;
};

/// A response to send.
struct response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; ///< extra header fields
};

/// Sends the response of one request; may be called once, from any thread.
using responder = std::function<void(response)>;

/// The server side of one WebSocket, for the handler that accepted it. Thread-safe.
class websocket {
public:
  virtual ~websocket() = default;
  /// Queues a text message; false when the queue is full (the message is dropped and counted,
  /// the client gets a lagged line later) or the socket is closed.
  virtual bool send_text(std::string text) = 0;
  /// Closes the socket (normal closure) after what is queued.
  virtual void close() = 0;
  /// True until the socket closed.
  virtual bool open() const = 0;
};

/// What the server calls, on the io thread: a handler must not block (hand blocking work to
/// another thread and answer through the responder).
struct handlers {
  /// Every HTTP request that passed the server's checks (size, headers, token).
  std::function<void(request, responder)> on_request;
  /// A WebSocket upgrade request: answer with a response of status 101 to accept (the socket
  /// is then given to `on_open`), or any other status to refuse with that response.
  std::function<response(const request&)> on_upgrade;
  /// A WebSocket was accepted for `req`; `on_closed` of the returned function runs when it
  /// closes (may be empty).
  std::function<std::function<void()>(const request&, std::shared_ptr<websocket>)> on_open;
};

/// Counters, readable from any thread.
struct server_stats {
  uint64_t requests = 0;          ///< requests handled (any status)
  uint64_t bad_requests = 0;      ///< refused with 4xx by the server's own checks
  uint64_t unauthorized = 0;      ///< refused for a missing or wrong token
  uint64_t timeouts = 0;          ///< connections closed for a slow request or idleness
  uint64_t refused_connections = 0; ///< closed at accept: max_connections reached
  uint64_t connections = 0;       ///< open right now
  uint64_t websockets = 0;        ///< open right now
  uint64_t ws_dropped = 0;        ///< WebSocket messages dropped on a full queue
};

/// The server. Everything runs on the io_context's thread; stop() and the destructor may be
/// called from any other thread (the io_context must still run, or be stopped already).
class server {
public:
  /// Binds and starts accepting; errc::io_error (address in use), errc::invalid_argument.
  static result<std::unique_ptr<server>> start(boost::asio::io_context& io, server_options opts,
                                               handlers h);
  /// Stops accepting and closes every connection.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The bound address.
  socket_address local_address() const;
  /// Current counters.
  server_stats stats() const;
  /// Stops accepting and closes every connection (idempotent; waits up to 2 s for the io
  /// thread to do it).
  void stop();

  class impl;

private:
  explicit server(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

/// True for 127.0.0.0/8 and ::1 (the addresses that need no token).
bool is_loopback(const std::string& numeric_address);

/// Compares in time independent of where they differ.
bool equal_constant_time(const std::string& a, const std::string& b);

/// What the server makes of the first request in `data`, without a socket: the same parser
/// limits and checks (header bytes, body size, header count, token) as a connection, so tests
/// and the fuzz target (fuzz/http_request.cpp) see what a peer's bytes would do.
struct parsed_request {
  enum class outcome {
    incomplete, ///< more bytes needed (a connection waits, under request_timeout)
    accepted,   ///< `req` goes to the handlers (on_upgrade when `upgrade`)
    refused,    ///< `refusal` is sent and the connection closed
  };
  outcome what = outcome::incomplete;
  request req;           ///< accepted only
  bool upgrade = false;  ///< accepted only: a WebSocket upgrade request
  bool keep_alive = false;
  response refusal;      ///< refused only
  size_t consumed = 0;   ///< bytes of `data` the parser used
};

/// Parses one request from `data` as a connection of a server with `opts` would.
parsed_request parse_request(std::string_view data, const server_options& opts);

} // namespace dtt::http
