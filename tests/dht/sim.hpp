#pragma once

// In-memory network of sans-IO DHT nodes with a fake clock (tests only).
#include "dht/node.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>

namespace dtt::dht::test {

/// Deterministic, seedable randomness (xorshift64*); not for secrets.
class seeded_random final : public crypto::random_source {
public:
  explicit seeded_random(uint64_t seed) : s_(seed ? seed : 1) {}
  void fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      s_ ^= s_ >> 12;
      s_ ^= s_ << 25;
      s_ ^= s_ >> 27;
      out[i] = static_cast<uint8_t>((s_ * 2685821657736338717ull) >> 56);
    }
  }

private:
  uint64_t s_;
};

struct sim_net;

/// One simulated host: a node plus what it reported.
struct sim_host : node_effects {
  sim_net* net = nullptr;
  endpoint ep;   ///< IPv4 address, or the IPv6 one of an IPv6-only host
  endpoint ep6;  ///< IPv6 address of a dual-stack host (port 0 otherwise)
  std::unique_ptr<node> n;
  bool alive = true;
  std::vector<std::pair<request_id, mutable_item>> items;
  std::map<request_id, completion> done;

  void send(const endpoint& to, bytes packet) override;
  void on_item(request_id id, const mutable_item& it) override { items.emplace_back(id, it); }
  void on_done(const completion& c) override { done[c.id] = c; }
  size_t items_for(request_id id) const {
    size_t k = 0;
    for (auto& [r, it] : items)
      k += r == id;
    return k;
  }
};

/// The network: FIFO delivery with zero latency; time advances only when the network is idle.
struct sim_net {
  struct packet {
    endpoint from, to;
    bytes data;
  };
  seeded_random rng{42};
  time_point now = time_point{} + std::chrono::hours(1);
  std::vector<std::unique_ptr<sim_host>> hosts;
  std::map<endpoint, sim_host*> by_ep;
  std::deque<packet> queue;
  uint64_t delivered = 0;
  /// Packets a host tried to send to a family it has no address in (never sent).
  uint64_t unsendable = 0;
  /// Optional filter: may rewrite a packet; return false to drop it.
  std::function<bool(packet&)> filter;

  sim_host& add(node_config cfg = {}) {
    auto h = std::make_unique<sim_host>();
    h->net = this;
    auto i = hosts.size() + 1;
    h->ep = endpoint::v4(10, 0, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1),
                         6881);
    if (cfg.rate_limit_per_ip == node_config{}.rate_limit_per_ip)
      cfg.rate_limit_per_ip = 0;
    h->n = std::make_unique<node>(cfg, *h, rng);
    by_ep[h->ep] = h.get();
    hosts.push_back(std::move(h));
    return *hosts.back();
  }

  /// Delivers packets and advances time until pred() holds or `limit` of simulated time passes.
  bool run_until(const std::function<bool()>& pred,
                 std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    auto deadline = now + limit;
    size_t budget = 5'000'000; // hard bound on deliveries
    while (budget-- > 0) {
      if (pred())
        return true;
      if (!queue.empty()) {
        auto p = std::move(queue.front());
        queue.pop_front();
        auto it = by_ep.find(p.to);
        if (it == by_ep.end() || !it->second->alive)
          continue;
        if (filter && !filter(p))
          continue;
        ++delivered;
        it->second->n->handle_packet(p.data, p.from, now);
        continue;
      }
      time_point next = deadline;
      for (auto& h : hosts)
        if (h->alive)
          next = std::min(next, h->n->next_tick());
      if (next >= deadline && now >= deadline)
        return pred();
      now = std::max(now + std::chrono::milliseconds(1), next);
      for (auto& h : hosts)
        if (h->alive && h->n->next_tick() <= now)
          h->n->tick(now);
      if (now >= deadline)
        return pred();
    }
    return pred();
  }

  /// Runs until the network is idle and no node has a command running (bounded).
  void settle(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    run_until([&] {
      if (!queue.empty())
        return false;
      for (auto& h : hosts)
        if (h->n->active_commands() > 0)
          return false;
      return true;
    }, limit);
  }

  /// A host in the given families (BEP 32): IPv4 10.0.x.y, IPv6 fd00:0:0:i::1 (each in its own
  /// /64, so that one-entry-per-IP tables keep every host). A dual-stack host's `ep` is its
  /// IPv4 address and `ep6` its IPv6 one; an IPv6-only host's `ep` is IPv6.
  sim_host& add_host(node_config cfg, bool v4, bool v6) {
    cfg.ipv4 = v4;
    cfg.ipv6 = v6;
    auto& h = add(cfg);
    by_ep.erase(h.ep);
    auto i = hosts.size();
    endpoint six;
    six.family = 6;
    six.ip[0] = 0xfd;
    six.ip[6] = static_cast<uint8_t>(i >> 8);
    six.ip[7] = static_cast<uint8_t>(i & 0xff);
    six.ip[15] = 1;
    six.port = 6881;
    if (!v4)
      h.ep = six;
    else if (v6)
      h.ep6 = six;
    by_ep[h.ep] = &h;
    if (h.ep6.port)
      by_ep[h.ep6] = &h;
    return h;
  }

  /// Builds n server nodes, each bootstrapped from host 0 (and the previous host).
  void build(size_t n, node_config cfg = {}) {
    for (size_t i = 0; i < n; ++i) {
      auto& h = add(cfg);
      std::vector<endpoint> seeds;
      if (i > 0)
        seeds.push_back(hosts[0]->ep);
      if (i > 1)
        seeds.push_back(hosts[i - 1]->ep);
      if (!seeds.empty())
        h.n->bootstrap(seeds, now);
      settle();
    }
  }
};

inline void sim_host::send(const endpoint& to, bytes packet) {
  // From the address of the destination's family (a dual-stack host has two).
  const endpoint& from = to.family == 6 && ep6.port ? ep6 : ep;
  if (from.family != to.family) {
    ++net->unsendable; // no socket of that family: the packet is never sent
    return;
  }
  net->queue.push_back({from, to, std::move(packet)});
}

} // namespace dtt::dht::test
