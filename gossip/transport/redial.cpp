#include "gossip/transport/redial.hpp"

#include <algorithm>

namespace dtt::net {

redial_backoff::clock::time_point redial_backoff::allowed_at(const endpoint_id& peer,
                                                             clock::time_point now) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || forgotten(it->second, now))
    return now;
  return std::max(now, it->second.next);
}

void redial_backoff::dialed(const endpoint_id& peer, clock::time_point now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= cfg_.max_keys) {
      // Forget what is stale; if nothing is, the peer dialled least recently.
      for (auto i = peers_.begin(); i != peers_.end();)
        i = forgotten(i->second, now) ? peers_.erase(i) : std::next(i);
      if (peers_.size() >= cfg_.max_keys)
        peers_.erase(std::min_element(peers_.begin(), peers_.end(), [](auto& a, auto& b) {
          return a.second.last < b.second.last;
        }));
    }
    it = peers_.emplace(peer, entry{}).first;
  }
  auto& e = it->second;
  if (forgotten(e, now))
    e.dials = 0;
  ++e.dials;
  e.last = now;
  e.next = now;
  if (e.dials >= cfg_.free_dials) {
    // The wait before the next dial: first, 2*first, 4*first ... up to max.
    auto n = std::min<uint32_t>(e.dials - cfg_.free_dials, 30);
    auto wait = cfg_.max;
    if ((cfg_.first.count() << n) / (int64_t{1} << n) == cfg_.first.count())
      wait = std::min(cfg_.max, std::chrono::milliseconds(cfg_.first.count() << n));
    e.next = now + wait;
  }
}

void redial_backoff::link_ended(const endpoint_id& peer, clock::duration lived) {
  if (lived >= cfg_.stable)
    peers_.erase(peer);
}

bool keep_new_link(bool we_are_smaller, const link_view& fresh, const link_view& old) {
  if (!old.writable)
    return true;
  auto by_smaller = [&](const link_view& l) { return l.outbound == we_are_smaller; };
  if (by_smaller(fresh) != by_smaller(old))
    return by_smaller(fresh);
  return fresh.serial > old.serial;
}

} // namespace dtt::net
