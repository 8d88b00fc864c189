#pragma once

// A large in-memory network of sans-IO DHT nodes in virtual time (tests and benches only):
// tests/dht/sim.hpp grown for issue 16. Every packet has a delivery time (per-pair round trips
// drawn from a log-normal distribution, plus jitter), packets are lost at random, nodes can be
// unresponsive (gone or behind a NAT: everything sent to them is dropped) and nodes leave and
// join while lookups run. Events (deliveries, node ticks) run from one time-ordered heap, so a
// step costs O(log n) whatever the number of nodes.
#include "dht/node.hpp"
#include "sim.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

namespace dtt::dht::test {

/// Network conditions of a large_sim.
struct large_sim_config {
  double rtt_median_ms = 100;  ///< median round trip between two nodes
  double rtt_sigma = 0.7;      ///< log-normal sigma: 0.7 puts ~1% of round trips past 500 ms
  double jitter = 0.1;         ///< each one-way delay varies by up to +-10%
  double loss = 0.02;          ///< probability that one datagram is lost
  uint64_t seed = 16;
};

/// The network.
class large_sim {
public:
  /// One host: a node and what it reported.
  struct host : node_effects {
    large_sim* sim = nullptr;
    size_t index = 0;
    endpoint ep;
    std::unique_ptr<node> n;
    bool alive = true;
    time_point scheduled = time_point::max();
    std::function<void(request_id, const mutable_item&)> item_cb;
    std::function<void(const completion&)> done_cb;

    void send(const endpoint& to, bytes packet) override { sim->send(*this, to, std::move(packet)); }
    void on_item(request_id id, const mutable_item& it) override {
      if (item_cb)
        item_cb(id, it);
    }
    void on_done(const completion& c) override {
      if (done_cb)
        done_cb(c);
    }
  };

  explicit large_sim(large_sim_config cfg = {}) : cfg_(cfg), rng_(cfg.seed), prng_(cfg.seed) {}

  time_point now() const noexcept { return now_; }
  std::vector<std::unique_ptr<host>>& hosts() noexcept { return hosts_; }
  seeded_random& rng() noexcept { return rng_; }
  uint64_t delivered() const noexcept { return delivered_; }
  uint64_t lost() const noexcept { return lost_; }

  /// A uniform double in [0, 1) (simulation randomness, not the nodes').
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// A uniform index below `n` (n > 0).
  size_t index_below(size_t n) { return static_cast<size_t>(next_u64() % n); }

  /// Adds a node (alive, not bootstrapped).
  host& add(node_config cfg) {
    auto h = std::make_unique<host>();
    h->sim = this;
    h->index = hosts_.size();
    auto i = hosts_.size() + 1;
    h->ep = endpoint::v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                         static_cast<uint8_t>(i), 6881);
    h->n = std::make_unique<node>(cfg, *h, rng_);
    h->n->set_own_address(h->ep);
    hosts_.push_back(std::move(h));
    return *hosts_.back();
  }

  /// Runs `f` on a host's node now, then reschedules its tick.
  template <class F>
  auto call(host& h, F&& f) {
    if constexpr (std::is_void_v<decltype(f(*h.n))>) {
      f(*h.n);
      reschedule(h);
    } else {
      auto r = f(*h.n);
      reschedule(h);
      return r;
    }
  }

  /// Marks a host unresponsive (it stays in other nodes' tables) or back.
  void set_alive(host& h, bool alive) {
    h.alive = alive;
    h.scheduled = time_point::max();
    if (alive)
      reschedule(h);
  }

  /// Schedules `f` at `at` (simulation events: commands, churn).
  void at(time_point t, std::function<void()> f) {
    events_.push({t, seq_++, event::kind::action, 0, {}, {}, std::move(f)});
  }

  /// Processes events until `t` (or pred() holds, checked between events).
  void run_until(time_point t, const std::function<bool()>& pred = {}) {
    while (!events_.empty() && events_.top().t <= t) {
      if (pred && pred())
        return;
      // Moving out of the heap's top is safe: it is popped before the heap is touched again.
      auto e = std::move(const_cast<event&>(events_.top()));
      events_.pop();
      now_ = std::max(now_, e.t);
      switch (e.k) {
        case event::kind::packet: {
          auto& h = *hosts_[e.host];
          if (!h.alive)
            break;
          ++delivered_;
          h.n->handle_packet(e.data, e.from, now_);
          reschedule(h);
          break;
        }
        case event::kind::tick: {
          auto& h = *hosts_[e.host];
          if (!h.alive || h.scheduled != e.t)
            break;
          h.scheduled = time_point::max();
          h.n->tick(now_);
          reschedule(h);
          break;
        }
        case event::kind::action:
          e.action();
          break;
      }
    }
    now_ = std::max(now_, t);
  }

  /// The round trip between two hosts (fixed per pair), in ms.
  double rtt_ms(size_t a, size_t b) const {
    if (a > b)
      std::swap(a, b);
    uint64_t x = (static_cast<uint64_t>(a) << 32) ^ b ^ (cfg_.seed * 0x9e3779b97f4a7c15ull);
    double u1 = (static_cast<double>(splitmix(x) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = (static_cast<double>(splitmix(x + 1) >> 11) + 0.5) * 0x1.0p-53;
    double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    return cfg_.rtt_median_ms * std::exp(cfg_.rtt_sigma * z);
  }

private:
  struct event {
    enum class kind : uint8_t { packet, tick, action };
    time_point t;
    uint64_t seq;
    kind k;
    size_t host;
    endpoint from;
    bytes data;
    std::function<void()> action;
    bool operator>(const event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  uint64_t next_u64() { return splitmix(prng_++); }

  static size_t index_of(const endpoint& ep) {
    if (ep.family != 4 || ep.ip[0] != 10)
      return static_cast<size_t>(-1);
    size_t i = (size_t{ep.ip[1]} << 16) | (size_t{ep.ip[2]} << 8) | ep.ip[3];
    return i - 1;
  }

  void send(host& from, const endpoint& to, bytes packet) {
    auto i = index_of(to);
    if (i >= hosts_.size())
      return;
    if (uniform() < cfg_.loss) {
      ++lost_;
      return;
    }
    double one_way = rtt_ms(from.index, i) / 2 * (1 + cfg_.jitter * (2 * uniform() - 1));
    auto t = now_ + std::chrono::microseconds(static_cast<int64_t>(one_way * 1000));
    events_.push({t, seq_++, event::kind::packet, i, from.ep, std::move(packet), {}});
  }

  void reschedule(host& h) {
    if (!h.alive)
      return;
    auto t = std::max(h.n->next_tick(), now_);
    if (t == h.scheduled)
      return;
    h.scheduled = t;
    events_.push({t, seq_++, event::kind::tick, h.index, {}, {}, {}});
  }

  large_sim_config cfg_;
  seeded_random rng_;
  uint64_t prng_;
  time_point now_ = time_point{} + std::chrono::hours(1);
  uint64_t seq_ = 0;
  uint64_t delivered_ = 0, lost_ = 0;
  std::vector<std::unique_ptr<host>> hosts_;
  std::priority_queue<event, std::vector<event>, std::greater<event>> events_;
};

} // namespace dtt::dht::test
