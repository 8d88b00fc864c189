#include "dht/storage.hpp"

#include "dht/krpc.hpp"

#include <algorithm>

namespace dtt::dht {

void item_store::make_room() {
  while (items_.size() >= cfg_.max_items && !items_.empty()) {
    auto oldest = std::min_element(items_.begin(), items_.end(), [](auto& a, auto& b) {
      return a.second.stored < b.second.stored;
    });
    items_.erase(oldest);
  }
}

int item_store::put_immutable(byte_view bencoded_v, time_point now) {
  if (bencoded_v.size() > crypto::bep44::max_value_size)
    return krpc::code::value_too_big;
  auto t = crypto::bep44::immutable_target(bencoded_v);
  auto it = items_.find(t);
  if (it != items_.end()) {
    it->second.stored = now;
    return 0;
  }
  make_room();
  stored_item item;
  item.v = bencoded_v.to_bytes();
  item.stored = now;
  items_.emplace(t, std::move(item));
  return 0;
}

int item_store::put_mutable(const bytes32& k, byte_view salt, int64_t seq,
                            std::optional<int64_t> cas, byte_view bencoded_v, const bytes64& sig,
                            time_point now) {
  if (bencoded_v.size() > crypto::bep44::max_value_size)
    return krpc::code::value_too_big;
  if (salt.size() > crypto::bep44::max_salt_size)
    return krpc::code::salt_too_big;
  if (!crypto::verify_strict(k, crypto::bep44::signable(salt, seq, bencoded_v), sig))
    return krpc::code::bad_signature;
  auto t = crypto::bep44::mutable_target(k, salt);
  auto it = items_.find(t);
  if (it != items_.end()) {
    if (cas && *cas != it->second.seq)
      return krpc::code::cas_mismatch;
    if (seq < it->second.seq)
      return krpc::code::seq_too_small;
  } else {
    make_room();
    it = items_.emplace(t, stored_item{}).first;
  }
  auto& item = it->second;
  item.v = bencoded_v.to_bytes();
  item.k = k;
  item.sig = sig;
  item.salt = salt.to_bytes();
  item.seq = seq;
  item.stored = now;
  return 0;
}

const stored_item* item_store::get(const crypto::bep44::target& t) const {
  auto it = items_.find(t);
  return it == items_.end() ? nullptr : &it->second;
}

void item_store::expire(time_point now) {
  for (auto it = items_.begin(); it != items_.end();) {
    if (now - it->second.stored >= cfg_.expiry)
      it = items_.erase(it);
    else
      ++it;
  }
}

bool rate_limiter::allow(const endpoint& from, time_point now) {
  if (rate_ <= 0)
    return true;
  // Per IPv4 address, per IPv6 /64 (address_unit): one host rarely has fewer than a /64.
  auto unit = address_unit(from);
  std::array<uint8_t, 17> key{};
  key[0] = unit.family;
  std::copy(unit.ip.begin(), unit.ip.end(), key.begin() + 1);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tracked_) {
      // Forget buckets that are full again (idle senders); if none, forget everything.
      for (auto j = buckets_.begin(); j != buckets_.end();) {
        double secs = std::chrono::duration<double>(now - j->second.last).count();
        if (j->second.tokens + secs * rate_ >= burst_)
          j = buckets_.erase(j);
        else
          ++j;
      }
      if (buckets_.size() >= max_tracked_)
        buckets_.clear();
    }
    it = buckets_.emplace(key, bucket{burst_, now}).first;
  }
  auto& b = it->second;
  double secs = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, secs) * rate_);
  b.last = now;
  if (b.tokens < 1.0)
    return false;
  b.tokens -= 1.0;
  return true;
}

} // namespace dtt::dht
