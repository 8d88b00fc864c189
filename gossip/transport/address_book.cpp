#include "gossip/transport/address_book.hpp"

#include <algorithm>

namespace dtt::net {

address_book::address_book(size_t max_peers, size_t max_per_peer)
  : max_peers_(std::max<size_t>(1, max_peers)), max_per_peer_(std::max<size_t>(1, max_per_peer)) {
}

void address_book::add(const gossip::endpoint_id& id, const gossip::socket_address& addr,
                       address_source src) {
  if (addr.ip.empty() || addr.port == 0)
    return;
  auto it = peers_.find(id);
  if (it == peers_.end()) {
    if (peers_.size() >= max_peers_) {
      auto oldest = std::min_element(peers_.begin(), peers_.end(), [](auto& a, auto& b) {
        return a.second.touched < b.second.touched;
      });
      peers_.erase(oldest);
    }
    it = peers_.emplace(id, peer_entry{}).first;
  }
  auto& p = it->second;
  p.touched = ++clock_;
  for (auto& e : p.addrs) {
    if (e.addr == addr) {
      e.src = std::min(e.src, src);
      e.stamp = clock_;
      return;
    }
  }
  if (p.addrs.size() >= max_per_peer_) {
    // Evict the weakest source, oldest first.
    auto victim = std::max_element(p.addrs.begin(), p.addrs.end(), [](auto& a, auto& b) {
      return a.src < b.src || (a.src == b.src && a.stamp > b.stamp);
    });
    p.addrs.erase(victim);
  }
  p.addrs.push_back(entry{addr, src, clock_});
}

void address_book::add_all(const gossip::endpoint_id& id,
                           const std::vector<gossip::socket_address>& addrs,
                           address_source src) {
  for (auto it = addrs.rbegin(); it != addrs.rend(); ++it)
    add(id, *it, src);
}

std::vector<gossip::socket_address> address_book::candidates(const gossip::endpoint_id& id) const {
  std::vector<gossip::socket_address> out;
  auto it = peers_.find(id);
  if (it == peers_.end())
    return out;
  auto sorted = it->second.addrs;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
    return a.src < b.src || (a.src == b.src && a.stamp > b.stamp);
  });
  for (auto& e : sorted)
    out.push_back(e.addr);
  return out;
}

void address_book::forget(const gossip::endpoint_id& id) { peers_.erase(id); }

} // namespace dtt::net
