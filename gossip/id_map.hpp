#pragma once

// A flat hash map keyed by 32-byte ids (message ids), for PlumTree's seen-id and payload tables,
// which hold up to a million entries and are probed for every message received.
//
// Why not std::unordered_map: each probe there costs a bucket load plus a node load (two cache
// misses on a large table) and every insert a node allocation; here entries live inline in one
// array (one miss, no per-entry allocation). Debian 12's Boost (1.74) predates
// boost::unordered_flat_map, and abseil would be a large dependency for one table.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), load factor
// at most 1/2 (halved again below 1/8). The slot of an id comes from a keyed hash of the whole
// id (id_hasher): the key, random per node, keeps a peer from choosing ids that share a probe
// run.

#include "gossip/types.hpp"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace dtt::gossip {

/// A keyed hash of all 32 bytes of an id (multilinear: the sum of (word + k_i) * m_i over its
/// four 64-bit words, with k_i and m_i drawn from `key`). Ids announced by IHave are arbitrary
/// bytes from peers and ids of payloads can be ground, so the hash must be neither a fixed
/// function of the id nor of a part of it.
class id_hasher {
public:
  explicit id_hasher(uint64_t key = 0) {
    auto next = [&key] { // splitmix64
      uint64_t z = (key += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    for (size_t i = 0; i < 4; ++i) {
      add_[i] = next();
      mul_[i] = next() | 1;
    }
  }
  /// 64 well-mixed bits; take the high ones for a power-of-two table.
  uint64_t operator()(const message_id& id) const noexcept {
    uint64_t h = 0;
    for (size_t i = 0; i < 4; ++i) {
      uint64_t w;
      std::memcpy(&w, id.data() + 8 * i, sizeof w);
      h += (w + add_[i]) * mul_[i];
    }
    return h ^ (h >> 29); // std containers take the value modulo a prime: fold high into low
  }

private:
  uint64_t add_[4];
  uint64_t mul_[4];
};

template <class V>
class id_map {
public:
  /// `key` randomises the slot of each id (see the file comment); any value works.
  explicit id_map(uint64_t key = 0) : hash_(key) {}

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  V* find(const message_id& id) {
    if (slots_.empty())
      return nullptr;
    for (size_t i = home(id);; i = (i + 1) & mask_) {
      auto& s = slots_[i];
      if (!s.used)
        return nullptr;
      if (s.id == id)
        return &s.value;
    }
  }
  const V* find(const message_id& id) const { return const_cast<id_map*>(this)->find(id); }
  bool contains(const message_id& id) const { return find(id) != nullptr; }

  /// Inserts (id, v) unless `id` is present. True if inserted.
  bool insert(const message_id& id, V v) {
    if ((size_ + 1) * 2 > slots_.size())
      grow();
    for (size_t i = home(id);; i = (i + 1) & mask_) {
      auto& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.id = id;
        s.value = std::move(v);
        ++size_;
        return true;
      }
      if (s.id == id)
        return false;
    }
  }

  /// Removes `id`. True if it was present.
  bool erase(const message_id& id) {
    if (slots_.empty())
      return false;
    size_t i = home(id);
    while (true) {
      if (!slots_[i].used)
        return false;
      if (slots_[i].id == id)
        break;
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole, so that every entry
    // stays reachable from its home slot without tombstones.
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j].used; j = (j + 1) & mask_) {
      size_t h = home(slots_[j].id);
      // Move j into the hole if its home is not in the cyclic range (hole, j].
      bool in_range = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!in_range) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
    slots_[hole] = slot{};
    --size_;
    if (slots_.size() > min_capacity && size_ * 8 < slots_.size())
      rehash(slots_.size() / 2); // a burst's table is given back as it expires
    return true;
  }

  void clear() {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }

private:
  struct slot {
    message_id id{};
    bool used = false;
    V value{};
  };

  size_t home(const message_id& id) const noexcept {
    return static_cast<size_t>(hash_(id) >> shift_);
  }

  static constexpr size_t min_capacity = 16;

  void grow() { rehash(slots_.empty() ? min_capacity : slots_.size() * 2); }

  void rehash(size_t cap) {
    std::vector<slot> old;
    old.swap(slots_);
    slots_.resize(cap);
    mask_ = cap - 1;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1)
      --shift_;
    size_ = 0;
    for (auto& s : old)
      if (s.used)
        insert(s.id, std::move(s.value));
  }

  id_hasher hash_;
  std::vector<slot> slots_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t size_ = 0;
};

} // namespace dtt::gossip
