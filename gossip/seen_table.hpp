#pragma once

// PlumTree's memory of broadcast messages (PROTOCOL.md §8.4): the ids seen within the id
// retention, and the payloads of the newest of them, kept for Graft within the cache retention.
//
// Every entry lives equally long, so both expire in insertion order and the cached payloads
// are always the newest entries: one queue in insertion order holds them all, the payload of an
// entry is dropped when it leaves the cache, the entry itself when it leaves the id retention,
// and one id_map finds an entry by id (one probe per message for both questions).

#include "gossip/effects.hpp"
#include "gossip/id_map.hpp"
#include "gossip/wire.hpp"

#include <cstdint>
#include <deque>
#include <optional>

namespace dtt::gossip {

class seen_table {
public:
  /// Bounds: ids are remembered for `id_retention`, at most `max_ids` of them; payloads for
  /// `cache_retention` (no longer than their id), at most `max_cache_bytes` of them.
  /// `hash_key` keys the id hash (see id_map).
  seen_table(duration id_retention, duration cache_retention, size_t max_ids,
             size_t max_cache_bytes, uint64_t hash_key)
    : id_retention_(id_retention),
      cache_retention_(cache_retention),
      max_ids_(max_ids),
      max_cache_bytes_(max_cache_bytes),
      index_(hash_key) {}

  bool contains(const message_id& id) const { return index_.contains(id); }

  /// The cached message (payload and the scope it is forwarded with), if still cached.
  std::optional<msg::gossip> cached(const message_id& id) const {
    auto* seq = index_.find(id);
    if (!seq || *seq < cache_first_)
      return std::nullopt;
    const auto& e = at(*seq);
    return msg::gossip{e.id, e.content, e.scope};
  }

  /// Remembers `m` (id and payload) as seen at `now`, unless its id is known; then applies the
  /// count and byte bounds.
  void insert(const msg::gossip& m, time_point now) {
    if (!index_.insert(m.id, first_ + order_.size()))
      return;
    order_.push_back({now, m.id, m.content, m.scope});
    cache_bytes_ += m.content.size();
    while (order_.size() > max_ids_)
      pop_oldest();
    while (cache_bytes_ > max_cache_bytes_)
      uncache_oldest();
  }

  /// Drops what has outlived its retention at `now`.
  void expire(time_point now) {
    while (!order_.empty() && order_.front().at + id_retention_ <= now)
      pop_oldest();
    while (cache_first_ < first_ + order_.size() && at(cache_first_).at + cache_retention_ <= now)
      uncache_oldest();
  }

  /// Calls f(id, scope) for the cached messages remembered at or after `since`, newest first,
  /// at most `max` of them.
  template <class F>
  void for_each_recent(time_point since, size_t max, F&& f) const {
    for (uint64_t seq = first_ + order_.size(); seq > cache_first_ && max > 0; --seq, --max) {
      const auto& e = at(seq - 1);
      if (e.at < since)
        break;
      f(e.id, e.scope);
    }
  }

  size_t size() const { return order_.size(); }
  size_t cache_size() const { return static_cast<size_t>(first_ + order_.size() - cache_first_); }
  size_t cache_bytes() const { return cache_bytes_; }

private:
  struct entry {
    time_point at;
    message_id id;
    shared_bytes content; // empty once out of the cache
    delivery_scope scope;
  };

  const entry& at(uint64_t seq) const { return order_[static_cast<size_t>(seq - first_)]; }
  entry& at(uint64_t seq) { return order_[static_cast<size_t>(seq - first_)]; }

  void pop_oldest() {
    if (cache_first_ == first_)
      uncache_oldest();
    index_.erase(order_.front().id);
    order_.pop_front();
    ++first_;
  }

  void uncache_oldest() {
    auto& e = at(cache_first_);
    cache_bytes_ -= e.content.size();
    e.content = shared_bytes{};
    ++cache_first_;
  }

  duration id_retention_;
  duration cache_retention_;
  size_t max_ids_;
  size_t max_cache_bytes_;
  id_map<uint64_t> index_; // id -> sequence number of its entry
  std::deque<entry> order_;
  uint64_t first_ = 0;       // sequence number of order_.front()
  uint64_t cache_first_ = 0; // oldest entry still holding its payload (or first_ + size)
  size_t cache_bytes_ = 0;
};

} // namespace dtt::gossip
