// The only translation unit with Boost.Beast in it (compile time): dttd's HTTP/1.1 and
// WebSocket server on the runtime's io_context.
#include "app/dttd/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace dtt::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace bws = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

struct counters {
  std::atomic<uint64_t> requests{0}, bad_requests{0}, unauthorized{0}, timeouts{0},
    refused_connections{0}, connections{0}, websockets{0}, ws_dropped{0};
};

// Something the server can close on stop().
class session_base {
public:
  virtual ~session_base() = default;
  virtual void shut() = 0;
};

using beast_request = bhttp::request<bhttp::string_body>;
using beast_parser = bhttp::request_parser<bhttp::string_body>;

response plain(unsigned status, std::string text) {
  response r;
  r.status = status;
  r.body = std::move(text) + "\n";
  return r;
}

// The limits every request is read under (a connection and parse_request alike).
void configure(beast_parser& p, const server_options& o) {
  p.header_limit(static_cast<uint32_t>(o.max_header_bytes));
  p.body_limit(o.max_body);
}

// Boost 1.74's parser applies header_limit to the request line and to the header fields each
// on its own when a whole header arrives in one buffer, so a header of up to twice the limit
// got through (found by fuzz/http_request). The header's size is checked here as well, once
// the parser has it: the bytes it used up to the end of the header.
bool header_too_large(size_t header_bytes, const server_options& o) {
  return header_bytes > o.max_header_bytes;
}

// The answer to a request the parser refused.
response refusal_for(beast::error_code ec) {
  unsigned status = 400;
  if (ec == bhttp::error::header_limit)
    status = 431;
  else if (ec == bhttp::error::body_limit)
    status = 413;
  return plain(status, ec.message());
}

std::string_view sv(beast::string_view v) { return {v.data(), v.size()}; }

// The items of a comma-separated header value, spaces and tabs around each trimmed.
std::vector<std::string_view> header_items(std::string_view v) {
  std::vector<std::string_view> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (!item.empty())
      out.push_back(item);
  }
  return out;
}

// Lower-case hex of `s`'s bytes, or "" when `hex` is not lower-case hex of even length.
std::string from_hex(std::string_view hex) {
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  if (hex.size() % 2 != 0)
    return out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return {};
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// Whether `req` carries the token: `Authorization: Bearer <token>`, or, on a WebSocket upgrade,
// a `Sec-WebSocket-Protocol` item `dtt.bearer.<hex of the token>` (a browser cannot set the
// Authorization header of a WebSocket), or it is a GET of one of `public_paths`.
bool carries_token(const beast_request& req, const server_options& o) {
  auto auth = std::string(req[bhttp::field::authorization]);
  const std::string scheme = "Bearer ";
  if (auth.size() > scheme.size() && auth.compare(0, scheme.size(), scheme) == 0
      && equal_constant_time(auth.substr(scheme.size()), o.token))
    return true;
  if (bws::is_upgrade(req)) {
    const std::string_view prefix = websocket_bearer_prefix;
    for (auto item : header_items(sv(req[bhttp::field::sec_websocket_protocol])))
      if (item.size() > prefix.size() && item.substr(0, prefix.size()) == prefix
          && equal_constant_time(from_hex(item.substr(prefix.size())), o.token))
        return true;
  }
  if (req.method() == bhttp::verb::get)
    for (auto& path : o.public_paths)
      if (sv(req.target()) == path)
        return true;
  return false;
}

// The server's own checks of a parsed request (header count, token): a response to refuse it
// with, or nothing. `unauthorized` tells which counter a refusal belongs to.
std::optional<response> check_request(const beast_request& req, const server_options& o,
                                      bool& unauthorized) {
  unauthorized = false;
  size_t fields = 0;
  for (auto it = req.begin(); it != req.end(); ++it)
    ++fields;
  if (fields > o.max_header_count)
    return plain(431, "too many header fields");
  if (!o.token.empty()) {
    if (!carries_token(req, o)) {
      unauthorized = true;
      auto r = plain(401, "a bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
  }
  return std::nullopt;
}

// What handlers see of a request (the body is moved out of `req`).
request to_request(beast_request& req) {
  request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.content_type = std::string(req[bhttp::field::content_type]);
  r.body = std::move(req.body());
  return r;
}

} // namespace

class server::impl : public std::enable_shared_from_this<server::impl> {
public:
  impl(asio::io_context& io, server_options opts, handlers h)
    : io_(io), acceptor_(io), opts_(std::move(opts)), h_(std::move(h)) {}

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  server_options opts_;
  handlers h_;
  counters n_;
  socket_address local_;
  bool stopped_ = false; // io thread only
  uint64_t next_session_ = 0;
  std::map<uint64_t, std::weak_ptr<session_base>> sessions_; // io thread only

  void accept();
  void add(uint64_t id, std::weak_ptr<session_base> s) { sessions_.emplace(id, std::move(s)); }
  void remove(uint64_t id) { sessions_.erase(id); }
  void shut_all() {
    stopped_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
    auto sessions = std::move(sessions_);
    for (auto& [id, w] : sessions)
      if (auto s = w.lock())
        s->shut();
    h_ = handlers{}; // releases what the handlers captured
  }
};

namespace {

using impl_ptr = std::shared_ptr<server::impl>;

// A WebSocket: a bounded queue of text messages written in order; what the client sends is
// read (so that pings and the close handshake work) and ignored.
class ws_session : public websocket,
                   public session_base,
                   public std::enable_shared_from_this<ws_session> {
public:
  ws_session(impl_ptr srv, uint64_t id, beast::tcp_stream stream,
             bhttp::request<bhttp::string_body> req)
    : srv_(std::move(srv)), id_(id), ws_(std::move(stream)), req_(std::move(req)) {}

  ~ws_session() override { --srv_->n_.websockets; }

  void start(request r) {
    ++srv_->n_.websockets;
    srv_->add(id_, weak_from_this());
    beast::get_lowest_layer(ws_).expires_never(); // the websocket's own timeouts take over
    bws::stream_base::timeout t;
    t.handshake_timeout = srv_->opts_.request_timeout;
    t.idle_timeout = srv_->opts_.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(4096);
    // A client that offers the events subprotocol (the live page does, next to its token) must
    // see it chosen, or a browser fails the socket.
    for (auto item : header_items(sv(req_[bhttp::field::sec_websocket_protocol])))
      if (item == websocket_events_protocol) {
        ws_.set_option(bws::stream_base::decorator([](bws::response_type& res) {
          res.set(bhttp::field::sec_websocket_protocol, websocket_events_protocol);
        }));
        break;
      }
    ws_.async_accept(req_, [self = shared_from_this(), r = std::move(r)](beast::error_code ec) {
      if (ec)
        return self->closed();
      if (self->srv_->h_.on_open)
        self->on_closed_ = self->srv_->h_.on_open(r, self);
      self->read();
      self->kick();
    });
  }

  bool send_text(std::string text) override {
    std::lock_guard<std::mutex> guard(mu_);
    if (!open_ || closing_)
      return false;
    auto& o = srv_->opts_;
    if (queue_.size() + 2 > o.max_ws_queue || queued_bytes_ + text.size() + 64 > o.max_ws_queue_bytes) {
      ++dropped_;
      ++srv_->n_.ws_dropped;
      return false;
    }
    if (dropped_ > 0) {
      auto line = R"({"event":"lagged","dropped":)" + std::to_string(dropped_) + "}";
      queued_bytes_ += line.size();
      queue_.push_back(std::move(line));
      dropped_ = 0;
    }
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
    schedule_locked();
    return true;
  }

  void close() override {
    std::lock_guard<std::mutex> guard(mu_);
    closing_ = true;
    schedule_locked();
  }

  bool open() const override {
    std::lock_guard<std::mutex> guard(mu_);
    return open_;
  }

  void shut() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
  }

private:
  void schedule_locked() {
    if (kick_posted_ || !open_)
      return;
    kick_posted_ = true;
    asio::post(ws_.get_executor(), [w = weak_from_this()] {
      if (auto self = w.lock())
        self->kick();
    });
  }

  // io thread: starts the next write, or the close once the queue is empty.
  void kick() {
    bool do_close = false;
    {
      std::lock_guard<std::mutex> guard(mu_);
      kick_posted_ = false;
      if (writing_ || !accepted_ || !open_)
        return;
      if (queue_.empty()) {
        do_close = closing_ && !close_sent_;
        close_sent_ = close_sent_ || do_close;
      } else {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= current_.size();
        writing_ = true;
      }
    }
    if (do_close) {
      ws_.async_close(bws::close_code::normal, [self = shared_from_this()](beast::error_code) {});
      return;
    }
    if (!writing_)
      return;
    ws_.text(true);
    ws_.async_write(asio::buffer(current_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      {
                        std::lock_guard<std::mutex> guard(self->mu_);
                        self->writing_ = false;
                      }
                      if (ec)
                        return self->closed();
                      self->kick();
                    });
  }

  void read() {
    {
      std::lock_guard<std::mutex> guard(mu_);
      accepted_ = true;
    }
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->closed();
      self->in_.consume(self->in_.size());
      self->read();
    });
  }

  void closed() {
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (!open_)
        return;
      open_ = false;
      queue_.clear();
      queued_bytes_ = 0;
      cb = std::move(on_closed_);
    }
    srv_->remove(id_);
    if (cb)
      cb();
  }

  impl_ptr srv_;
  uint64_t id_;
  bws::stream<beast::tcp_stream> ws_;
  bhttp::request<bhttp::string_body> req_;
  beast::flat_buffer in_;
  std::function<void()> on_closed_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_; // guarded by mu_
  size_t queued_bytes_ = 0;       // guarded by mu_
  uint64_t dropped_ = 0;          // guarded by mu_
  bool open_ = true;              // guarded by mu_
  bool closing_ = false;          // guarded by mu_
  bool kick_posted_ = false;      // guarded by mu_
  bool accepted_ = false;         // guarded by mu_
  bool writing_ = false;          // guarded by mu_ (written on the io thread only)
  bool close_sent_ = false;       // guarded by mu_
  std::string current_;           // io thread: the message being written
};

// One HTTP connection: read a request (bounded in size, header count and time), answer it,
// then the next one if the client keeps the connection alive.
class http_session : public session_base, public std::enable_shared_from_this<http_session> {
public:
  http_session(impl_ptr srv, uint64_t id, tcp::socket s)
    : srv_(std::move(srv)), id_(id), stream_(std::move(s)) {}

  ~http_session() override {
    --srv_->n_.connections;
    srv_->remove(id_);
  }

  void start() {
    ++srv_->n_.connections;
    srv_->add(id_, weak_from_this());
    read();
  }

  void shut() override {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

private:
  void read() {
    parser_.emplace();
    configure(*parser_, srv_->opts_);
    // One deadline for the whole request, so that a client sending a byte at a time is cut
    // off (slowloris); it also bounds how long an idle keep-alive connection is kept.
    stream_.expires_after(srv_->opts_.request_timeout);
    // The header first, to check its size (header_too_large), then the body.
    bhttp::async_read_header(
      stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t n) {
        if (!ec && header_too_large(n, self->srv_->opts_))
          ec = bhttp::error::header_limit;
        if (ec || self->parser_->is_done())
          return self->on_read(ec);
        bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                          [self](beast::error_code ec, size_t) { self->on_read(ec); });
      });
  }

  void on_read(beast::error_code ec) {
    if (srv_->stopped_)
      return;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset
        || ec == asio::error::eof || ec == asio::error::operation_aborted)
      return shut();
    if (ec == beast::error::timeout) {
      ++srv_->n_.timeouts;
      return shut();
    }
    if (ec) {
      ++srv_->n_.bad_requests;
      return reply(refusal_for(ec), false);
    }
    auto req = parser_->release();
    ++srv_->n_.requests;
    keep_alive_ = req.keep_alive();
    bool unauthorized = false;
    if (auto refused = check_request(req, srv_->opts_, unauthorized)) {
      ++(unauthorized ? srv_->n_.unauthorized : srv_->n_.bad_requests);
      return reply(std::move(*refused), false);
    }
    if (bws::is_upgrade(req)) {
      request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.content_type = std::string(req[bhttp::field::content_type]);
      auto answer = srv_->h_.on_upgrade ? srv_->h_.on_upgrade(r) : plain(404, "not found");
      if (answer.status != 101)
        return reply(std::move(answer), false);
      stream_.expires_never();
      auto ws = std::make_shared<ws_session>(srv_, srv_->next_session_++, std::move(stream_),
                                             std::move(req));
      srv_->remove(id_);
      ws->start(std::move(r));
      return;
    }
    request r = to_request(req);
    if (!srv_->h_.on_request)
      return reply(plain(404, "not found"), keep_alive_);
    // The responder may run on any thread, once; a handler that drops it answers 500. It holds
    // the session (nothing else does while the handler works) and hands it back to the io
    // thread with the answer.
    struct once {
      std::shared_ptr<http_session> session;
      std::atomic<bool> done{false};
      asio::io_context& io;
      explicit once(asio::io_context& c) : io(c) {}
      ~once() {
        if (!done)
          post(plain(500, "no answer"));
      }
      void post(response resp) {
        asio::post(io, [s = std::move(session), resp = std::move(resp)]() mutable {
          if (s)
            s->reply(std::move(resp), s->keep_alive_);
        });
      }
    };
    auto state = std::make_shared<once>(srv_->io_);
    state->session = shared_from_this();
    try {
      srv_->h_.on_request(std::move(r), [state](response resp) {
        if (!state->done.exchange(true))
          state->post(std::move(resp));
      });
    } catch (const std::exception& e) {
      if (!state->done.exchange(true))
        state->post(plain(500, e.what()));
    }
  }

  void reply(response resp, bool keep_alive) {
    if (srv_->stopped_)
      return;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(resp.status);
    res->version(11);
    res->set(bhttp::field::server, "dttd");
    res->set(bhttp::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers)
      res->set(k, v);
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(srv_->opts_.request_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         if (ec || !res->keep_alive() || self->srv_->stopped_)
                           return self->shut();
                         self->read();
                       });
  }

  impl_ptr srv_;
  uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{8192};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = false;
};

} // namespace

void server::impl::accept() {
  acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (self->stopped_)
      return;
    if (!ec) {
      if (self->n_.connections.load() + self->n_.websockets.load()
          >= self->opts_.max_connections) {
        ++self->n_.refused_connections;
        beast::error_code ignored;
        s.close(ignored);
      } else {
        std::make_shared<http_session>(self, self->next_session_++, std::move(s))->start();
      }
    }
    self->accept();
  });
}

bool is_loopback(const std::string& address) {
  beast::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

bool equal_constant_time(const std::string& a, const std::string& b) {
  if (a.size() != b.size())
    return false; // the length is not the secret
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

parsed_request parse_request(std::string_view data, const server_options& opts) {
  parsed_request out;
  beast_parser p;
  configure(p, opts);
  beast::error_code ec;
  // As a connection does: put() until the header is done (then its size is checked), then
  // eagerly until the message is done, an error, or need_more.
  while (!p.is_done() && out.consumed < data.size()) {
    bool header_was_done = p.is_header_done();
    auto n = p.put(asio::buffer(data.data() + out.consumed, data.size() - out.consumed), ec);
    out.consumed += n;
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec)
      break;
    if (!header_was_done && p.is_header_done()) {
      if (header_too_large(out.consumed, opts)) {
        ec = bhttp::error::header_limit;
        break;
      }
      p.eager(true);
    }
    if (n == 0)
      break;
  }
  if (ec) {
    out.what = parsed_request::outcome::refused;
    out.refusal = refusal_for(ec);
    return out;
  }
  if (!p.is_done())
    return out; // incomplete
  auto req = p.release();
  out.keep_alive = req.keep_alive();
  bool unauthorized = false;
  if (auto refused = check_request(req, opts, unauthorized)) {
    out.what = parsed_request::outcome::refused;
    out.refusal = std::move(*refused);
    return out;
  }
  out.what = parsed_request::outcome::accepted;
  out.upgrade = bws::is_upgrade(req);
  out.req = to_request(req);
  return out;
}

server::server(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() { stop(); }

result<std::unique_ptr<server>> server::start(asio::io_context& io, server_options opts,
                                              handlers h) {
  beast::error_code ec;
  auto address = asio::ip::make_address(opts.bind, ec);
  if (ec)
    return error{errc::invalid_argument, "http bind \"" + opts.bind + "\" is not a numeric address"};
  if (opts.max_connections == 0 || opts.max_body == 0 || opts.max_header_bytes == 0)
    return error{errc::invalid_argument, "http limits must be positive"};
  auto p = std::make_shared<impl>(io, std::move(opts), std::move(h));
  tcp::endpoint ep{address, p->opts_.port};
  p->acceptor_.open(ep.protocol(), ec);
  if (!ec)
    p->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    p->acceptor_.bind(ep, ec);
  if (!ec)
    p->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error{errc::io_error, "http " + p->opts_.bind + ":" + std::to_string(p->opts_.port)
                                   + ": " + ec.message()};
  auto bound = p->acceptor_.local_endpoint(ec);
  p->local_ = {bound.address().to_string(), bound.port()};
  asio::post(io, [p] { p->accept(); });
  return std::unique_ptr<server>(new server(std::move(p)));
}

socket_address server::local_address() const { return impl_->local_; }

server_stats server::stats() const {
  auto& n = impl_->n_;
  return {n.requests, n.bad_requests, n.unauthorized, n.timeouts, n.refused_connections,
          n.connections, n.websockets, n.ws_dropped};
}

void server::stop() {
  if (!impl_)
    return;
  auto p = std::move(impl_);
  if (p->io_.stopped()) {
    p->shut_all();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  asio::post(p->io_, [p, done] {
    p->shut_all();
    done->set_value();
  });
  fut.wait_for(std::chrono::seconds(2));
}

} // namespace dtt::http
