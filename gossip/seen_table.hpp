#pragma once

// PlumTree's memory of broadcast messages (PROTOCOL.md §8.4): the ids seen within the id
// retention, and the payloads of the newest of them, kept for Graft within the cache retention.
//
// Every entry lives equally long, so both expire in insertion order and the cached payloads
// are always the newest entries: one queue in insertion order holds them all, the payload of an
// entry is dropped when it leaves the cache, the entry itself when it leaves the id retention,
// and one index finds an entry by id (one probe per message for both questions).
//
// The index keeps 8 bytes a slot, not the id: the entry holds the id once. At the default bound
// (2^20 ids) a slot of id + value (48 bytes, as gossip::id_map has) made the index alone
// 100-200 MB and its growth (fresh pages, each faulted in) a large part of a high-rate stream's
// CPU; 8-byte slots make it 16-32 MB.

#include "gossip/effects.hpp"
#include "gossip/id_map.hpp"
#include "gossip/word_table.hpp"
#include "gossip/wire.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace dtt::gossip {

/// For a loop over `n` independent lookups whose memory misses should overlap: called at the
/// top of iteration `i`, it calls fetch(j) for the items that enter the window of `ahead`
/// items after the current one (1..ahead at i = 0, then i + ahead). The current item is never
/// fetched (it is looked up at once), so a loop of one item does no extra work.
template <class Fetch>
void fetch_ahead(size_t i, size_t n, size_t ahead, Fetch&& fetch) {
  for (size_t j = i == 0 ? 1 : i + ahead; j < n && j <= i + ahead; ++j)
    fetch(j);
}

/// The seen ids' index: id -> sequence number of its entry, open addressing with linear probing
/// and backward-shift deletion (as id_map), load factor at most 1/2 (halved again below 1/8).
/// A slot is one 64-bit word: the high 32 bits of the id's keyed hash with bit 0 set (the tag;
/// a used slot is never 0, and the tag's top bits give the home slot again on rehash) and the
/// low 32 bits of the sequence number. Indexed entries span fewer than 2^32 sequence numbers
/// from the oldest (`first`), so the full number is first + (low - first) mod 2^32. A tag match
/// is confirmed against the entry's id (`id_of(seq)`), so a collision of tags costs one
/// comparison, never a wrong answer.
class seen_index {
public:
  explicit seen_index(uint64_t key) : hash_(key) {}

  size_t size() const noexcept { return size_; }

  /// The sequence number of `id`'s entry, if indexed.
  template <class IdOf>
  std::optional<uint64_t> find(const message_id& id, uint64_t first, IdOf&& id_of) const {
    if (slots_.empty())
      return std::nullopt;
    auto tag = tag_of(id);
    for (size_t i = home(tag);; i = (i + 1) & mask_) {
      auto s = slots_[i];
      if (s == 0)
        return std::nullopt;
      if (static_cast<uint32_t>(s >> 32) == tag) {
        auto seq = full_seq(s, first);
        if (id_of(seq) == id)
          return seq;
      }
    }
  }

  /// Asks the CPU to fetch the slot where a lookup of `id` starts (the index is far larger
  /// than the caches: every lookup of a new id misses them otherwise).
  void prefetch(const message_id& id) const noexcept {
    if (!slots_.empty())
      __builtin_prefetch(&slots_[home(tag_of(id))]);
  }

  /// Indexes `id` at `seq` unless it is indexed (`absent`: the caller just found it is not,
  /// and nothing changed since: not looked up again). True if inserted.
  template <class IdOf>
  bool insert(const message_id& id, uint64_t seq, uint64_t first, IdOf&& id_of,
              bool absent = false) {
    if (!absent && find(id, first, id_of))
      return false;
    if ((size_ + 1) * 2 > slots_.size())
      rehash(slots_.empty() ? min_capacity : slots_.size() * 2);
    place((uint64_t{tag_of(id)} << 32) | static_cast<uint32_t>(seq));
    ++size_;
    return true;
  }

  /// Removes `id`. True if it was indexed.
  template <class IdOf>
  bool erase(const message_id& id, uint64_t first, IdOf&& id_of) {
    if (slots_.empty())
      return false;
    auto tag = tag_of(id);
    size_t i = home(tag);
    for (;; i = (i + 1) & mask_) {
      auto s = slots_[i];
      if (s == 0)
        return false;
      if (static_cast<uint32_t>(s >> 32) == tag && id_of(full_seq(s, first)) == id)
        break;
    }
    // Backward shift (see id_map::erase).
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
      size_t h = home(static_cast<uint32_t>(slots_[j] >> 32));
      bool in_range = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!in_range) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = 0;
    --size_;
    if (slots_.size() > min_capacity && size_ * 8 < slots_.size())
      rehash(slots_.size() / 2);
    return true;
  }

  /// Slots allocated (for tests of the memory bound).
  size_t capacity() const noexcept { return slots_.size(); }

private:
  static constexpr size_t min_capacity = 16;

  uint32_t tag_of(const message_id& id) const noexcept {
    return static_cast<uint32_t>(hash_(id) >> 32) | 1u;
  }
  size_t home(uint32_t tag) const noexcept { return shift_ >= 32 ? 0 : tag >> shift_; }
  static uint64_t full_seq(uint64_t slot, uint64_t first) noexcept {
    return first + static_cast<uint32_t>(static_cast<uint32_t>(slot) - static_cast<uint32_t>(first));
  }
  void place(uint64_t slot) {
    size_t i = home(static_cast<uint32_t>(slot >> 32));
    while (slots_[i] != 0)
      i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  void rehash(size_t cap) {
    word_table old(cap);
    old.swap(slots_);
    mask_ = cap - 1;
    shift_ = 32;
    for (size_t c = cap; c > 1; c >>= 1)
      --shift_;
    for (auto s : old)
      if (s != 0)
        place(s);
  }

  id_hasher hash_;
  word_table slots_;
  size_t mask_ = 0;
  unsigned shift_ = 32; ///< 32 - log2(capacity): home = tag >> shift_
  size_t size_ = 0;
};

class seen_table {
public:
  /// Bounds: ids are remembered for `id_retention`, at most `max_ids` of them (at most 2^31,
  /// see seen_index); payloads for `cache_retention` (no longer than their id), at most
  /// `max_cache_bytes` of them. `hash_key` keys the id hash (see id_map).
  seen_table(duration id_retention, duration cache_retention, size_t max_ids,
             size_t max_cache_bytes, uint64_t hash_key)
    : id_retention_(id_retention),
      cache_retention_(cache_retention),
      max_ids_(std::min<size_t>(max_ids, size_t{1} << 31)),
      max_cache_bytes_(max_cache_bytes),
      index_(hash_key) {}

  bool contains(const message_id& id) const { return find(id).has_value(); }
  /// A hint that `id` will be looked up soon (see seen_index::prefetch).
  void prefetch(const message_id& id) const noexcept { index_.prefetch(id); }

  /// The cached message (payload and the scope it is forwarded with), if still cached.
  std::optional<msg::gossip> cached(const message_id& id) const {
    auto seq = find(id);
    if (!seq || *seq < cache_first_)
      return std::nullopt;
    const auto& e = at(*seq);
    return msg::gossip{e.id, e.content, e.scope};
  }

  /// Remembers `m` (id and payload) as seen at `now`, unless its id is known; then applies the
  /// count and byte bounds. `absent`: contains(m.id) was false just before, with no change to
  /// the table since (the id is not looked up again).
  void insert(const msg::gossip& m, time_point now, bool absent = false) {
    if (!index_.insert(m.id, first_ + order_.size(), first_, id_of(), absent))
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
  /// Slots of the id index (8 bytes each).
  size_t index_capacity() const { return index_.capacity(); }
  size_t cache_size() const { return static_cast<size_t>(first_ + order_.size() - cache_first_); }
  size_t cache_bytes() const { return cache_bytes_; }

private:
  struct entry {
    time_point at;
    message_id id;
    shared_bytes content; // empty once out of the cache
    delivery_scope scope;
  };

  std::optional<uint64_t> find(const message_id& id) const {
    return index_.find(id, first_, id_of());
  }
  // The id of the entry with a sequence number (for the index, which keeps no ids).
  struct id_lookup {
    const seen_table* t;
    const message_id& operator()(uint64_t seq) const { return t->at(seq).id; }
  };
  id_lookup id_of() const { return {this}; }

  const entry& at(uint64_t seq) const { return order_[static_cast<size_t>(seq - first_)]; }
  entry& at(uint64_t seq) { return order_[static_cast<size_t>(seq - first_)]; }

  // Entries leave in insertion order, so the memory the next departures touch (the index slot
  // of an id, a cached block's header: written long ago, in no cache now) is known ahead.
  static constexpr uint64_t fetch_ahead = 4;

  void pop_oldest() {
    if (cache_first_ == first_)
      uncache_oldest();
    if (order_.size() > fetch_ahead)
      index_.prefetch(at(first_ + fetch_ahead).id);
    index_.erase(order_.front().id, first_, id_of());
    order_.pop_front();
    ++first_;
  }

  void uncache_oldest() {
    if (cache_first_ + fetch_ahead < first_ + order_.size())
      at(cache_first_ + fetch_ahead).content.prefetch();
    auto& e = at(cache_first_);
    cache_bytes_ -= e.content.size();
    e.content = shared_bytes{};
    ++cache_first_;
  }

  duration id_retention_;
  duration cache_retention_;
  size_t max_ids_;
  size_t max_cache_bytes_;
  seen_index index_; // id -> sequence number of its entry
  std::deque<entry> order_;
  uint64_t first_ = 0;       // sequence number of order_.front()
  uint64_t cache_first_ = 0; // oldest entry still holding its payload (or first_ + size)
  size_t cache_bytes_ = 0;
};

} // namespace dtt::gossip
