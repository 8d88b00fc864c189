#pragma once

// Helpers for the transport tests: an io thread that must drain on stop, an event recorder,
// and a node (key + transport + recorder) on 127.0.0.1.
#include "gossip/transport/transport.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace dtt::test {

using namespace std::chrono_literals;

/// The topic every test node is a member of, and its membership key (docs/ADMISSION.md).
/// node::send() puts the topic id in front of a text; the recorder takes it off again.
inline const gossip::topic_id& test_topic() {
  static const gossip::topic_id t = [] {
    gossip::topic_id x{};
    x.fill(0x7e);
    return x;
  }();
  return t;
}
inline const bytes32& test_membership_key() {
  static const bytes32 k = [] {
    bytes32 x{};
    x.fill(0x6b);
    return x;
  }();
  return k;
}

/// `payload` as a message of the test topic.
inline gossip::shared_buffer topic_message(byte_view payload) {
  bytes m(test_topic().begin(), test_topic().end());
  m.insert(m.end(), payload.begin(), payload.end());
  return gossip::shared_buffer::copy_of(m);
}
inline gossip::shared_buffer topic_message(size_t size, uint8_t fill) {
  return topic_message(bytes(size, fill));
}

/// An io_context run by one thread. stop() releases the work guard and requires the loop to
/// drain (every socket and timer finished) within a deadline.
class io_thread {
public:
  io_thread() : guard_(boost::asio::make_work_guard(io)) { start(); }
  ~io_thread() {
    if (thread_.joinable())
      stop();
  }
  void start() {
    done_ = std::promise<void>();
    auto fut = done_.get_future();
    finished_ = std::move(fut);
    thread_ = std::thread([this] {
      io.run();
      done_.set_value();
    });
  }
  /// Returns false (and force-stops the loop) if it did not drain within `deadline`.
  bool stop(std::chrono::milliseconds deadline = 5000ms) {
    guard_.reset();
    bool drained = finished_.wait_for(deadline) == std::future_status::ready;
    if (!drained)
      io.stop();
    thread_.join();
    return drained;
  }
  /// Stops the loop at once, leaving its work pending (a frozen peer).
  void freeze() {
    io.stop();
    thread_.join();
  }
  /// Runs a frozen loop again.
  void thaw() {
    io.restart();
    start();
  }
  boost::asio::io_context io;

private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::promise<void> done_;
  std::future<void> finished_;
};

/// Everything a transport reported, guarded for the test thread.
struct recorder : std::enable_shared_from_this<recorder> {
  struct message {
    gossip::endpoint_id from;
    bytes content;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<gossip::endpoint_id> connected;
  std::vector<message> messages;
  std::vector<std::pair<gossip::endpoint_id, std::string>> closed;
  std::vector<gossip::endpoint_id> renewed;
  std::vector<std::pair<net::log_level, std::string>> logs;

  net::transport_callbacks callbacks() {
    net::transport_callbacks cb;
    cb.connected = [self = shared_from_this()](const gossip::endpoint_id& id) {
      std::lock_guard<std::mutex> g(self->mu);
      self->connected.push_back(id);
      self->cv.notify_all();
    };
    cb.messages = [self = shared_from_this()](const gossip::endpoint_id& id,
                                              std::vector<gossip::shared_buffer>&& batch) {
      std::lock_guard<std::mutex> g(self->mu);
      const auto& t = test_topic();
      for (auto& f : batch) {
        auto m = f.to_bytes();
        if (m.size() >= t.size() && std::equal(t.begin(), t.end(), m.begin()))
          m.erase(m.begin(), m.begin() + t.size());
        self->messages.push_back({id, std::move(m)});
      }
      self->cv.notify_all();
    };
    cb.closed = [self = shared_from_this()](const gossip::endpoint_id& id,
                                            const std::string& why) {
      std::lock_guard<std::mutex> g(self->mu);
      self->closed.emplace_back(id, why);
      self->cv.notify_all();
    };
    cb.renewed = [self = shared_from_this()](const gossip::endpoint_id& id) {
      std::lock_guard<std::mutex> g(self->mu);
      self->renewed.push_back(id);
      self->cv.notify_all();
    };
    return cb;
  }
  net::log_sink sink() {
    return [self = shared_from_this()](net::log_level l, const std::string& line) {
      std::lock_guard<std::mutex> g(self->mu);
      self->logs.emplace_back(l, line);
      self->cv.notify_all();
    };
  }
  /// Waits until pred() (called under the lock) holds, at most `deadline`.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds deadline = 10000ms) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, deadline, pred);
  }
  bool has_log(net::log_level min, const std::string& needle) {
    std::lock_guard<std::mutex> g(mu);
    for (auto& [l, s] : logs)
      if (l >= min && s.find(needle) != std::string::npos)
        return true;
    return false;
  }
  size_t messages_from(const gossip::endpoint_id& id) {
    size_t n = 0;
    for (auto& m : messages)
      n += m.from == id;
    return n;
  }
};

/// Options for tests: loopback, short handshake timeout, logs into the recorder.
inline net::transport_options test_options(recorder& rec) {
  net::transport_options o;
  o.bind = {"127.0.0.1", 0};
  o.handshake_timeout = 2000ms;
  o.dial_timeout = 2000ms;
  o.log = rec.sink();
  return o;
}

/// A transport with a fresh key and its recorder.
struct node {
  crypto::signing_key key = crypto::signing_key::generate();
  std::shared_ptr<recorder> recp = std::make_shared<recorder>();
  recorder& rec = *recp;
  std::unique_ptr<net::transport> t;

  explicit node(boost::asio::io_context& io,
                std::function<void(net::transport_options&)> tweak = {})
    : node(io, crypto::signing_key::generate(), std::move(tweak)) {}
  /// A node with the given key (two nodes may share one: the same endpoint id).
  node(boost::asio::io_context& io, crypto::signing_key k,
       std::function<void(net::transport_options&)> tweak = {})
    : key(std::move(k)) {
    auto o = test_options(rec);
    if (tweak)
      tweak(o);
    auto r = net::transport::create(io, key, std::move(o), rec.callbacks());
    if (!r)
      FAIL("transport::create: " << r.err().message());
    t = std::move(*r);
    t->add_topic(test_topic(), test_membership_key());
  }
  const gossip::endpoint_id& id() const { return t->id(); }
  gossip::socket_address addr() const { return t->local_addresses().at(0); }
  /// Teaches `other` where this node listens.
  void introduce_to(node& other) { other.t->add_addresses(id(), {addr()}); }
  /// Sends `s` as a message of the test topic.
  status send(const gossip::endpoint_id& to, const std::string& s) {
    return t->send(to, topic_message(byte_view::of(s)));
  }
};

inline std::string text(const bytes& b) { return std::string(b.begin(), b.end()); }

/// Links `x` and `y` (x dials) and waits until each proved the test topic to the other.
inline void link(node& x, node& y) {
  y.introduce_to(x);
  REQUIRE(x.send(y.id(), "hi").ok());
  REQUIRE(y.rec.wait([&] { return y.rec.messages_from(x.id()) >= 1; }));
  REQUIRE(y.send(x.id(), "hi back").ok());
  REQUIRE(x.rec.wait([&] { return x.rec.messages_from(y.id()) >= 1; }));
}

/// A port on `ip` that nothing listens on (bound, then closed): dials to it are refused.
inline uint16_t closed_port(const std::string& ip = "127.0.0.1") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address(ip), 0});
  auto port = a.local_endpoint().port();
  a.close();
  return port;
}

/// Polls `pred` until it holds or the deadline passes (for counters without a condition).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline = 10000ms) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

} // namespace dtt::test
