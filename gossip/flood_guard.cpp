#include "gossip/flood_guard.hpp"

#include <algorithm>
#include <iterator>
#include <type_traits>

namespace dtt::gossip {

namespace {

// msg::body indices (wire.hpp): swarm 0-5, gossip 6-9.
constexpr std::array<const char*, std::variant_size_v<msg::body>> names = {
  "Join",       "ForwardJoin", "Shuffle", "ShuffleReply", "Neighbor",
  "Disconnect", "Gossip",      "Prune",   "Graft",        "IHave"};

template <size_t I, class T>
constexpr bool at = std::is_same_v<std::variant_alternative_t<I, msg::body>, T>;
static_assert(at<0, msg::join> && at<1, msg::forward_join> && at<2, msg::shuffle> &&
                at<3, msg::shuffle_reply> && at<4, msg::neighbor> && at<5, msg::disconnect> &&
                at<6, msg::gossip> && at<7, msg::prune> && at<8, msg::graft> &&
                at<9, msg::ihave> && std::variant_size_v<msg::body> == 10,
              "flood_guard's kind indices follow msg::body");

} // namespace

const rate_limit* flood_limits::of(size_t kind) const {
  switch (kind) {
    case 0: return &join;
    case 1: return &forward_join;
    case 2: return &shuffle;
    case 3: return &shuffle_reply;
    case 4: return &neighbor;
    case 5: return &disconnect;
    case 7: return &prune;
    case 8: return &graft;
    case 9: return &ihave;
    default: return nullptr; // Gossip payloads, and anything unknown
  }
}

const char* kind_name(size_t kind) { return kind < names.size() ? names[kind] : "unknown"; }

bool flood_guard::admit(const endpoint_id& peer, size_t kind, const rate_limit& limit,
                        time_point now) {
  if (kind >= kinds || limit.burst == 0)
    return false;
  // Generic cell rate algorithm: `full` is when the bucket is whole again; a message costs one
  // interval and is admitted while the debt stays within burst - 1 intervals.
  const auto slack = limit.interval * static_cast<int64_t>(limit.burst - 1);
  auto it = peers_.find(peer);
  time_point full = it == peers_.end() ? now : std::max(it->second.full[kind], now);
  if (full - now > slack)
    return false;
  if (it == peers_.end()) {
    if (peers_.size() >= max_peers)
      make_room(now);
    it = peers_.emplace(peer, entry{}).first;
  }
  auto& e = it->second;
  e.full[kind] = full + limit.interval;
  e.latest = std::max(e.latest, e.full[kind]);
  return true;
}

void flood_guard::prune(time_point now) {
  for (auto it = peers_.begin(); it != peers_.end();)
    it = it->second.latest <= now ? peers_.erase(it) : std::next(it);
}

void flood_guard::make_room(time_point now) {
  prune(now);
  if (peers_.size() < max_peers)
    return;
  // Every entry is in debt: forgetting the one closest to full buckets forgives the least.
  auto victim = std::min_element(peers_.begin(), peers_.end(), [](const auto& a, const auto& b) {
    return a.second.latest < b.second.latest;
  });
  peers_.erase(victim);
}

std::string flood_error_text(size_t kind, const rate_limit& limit, const topic_id& topic) {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(limit.interval).count();
  std::string per = us % 1000 == 0 ? std::to_string(us / 1000) + " ms" : std::to_string(us) + " us";
  return std::string(kind_name(kind)) + " flood: over the budget of " +
         std::to_string(limit.burst) + " (one more per " + per + ") for topic " +
         to_hex(byte_view{topic.data(), 4});
}

} // namespace dtt::gossip
