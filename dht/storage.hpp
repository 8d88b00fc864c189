#pragma once

#include "crypto/bep44.hpp"
#include "dht/routing_table.hpp"

#include <chrono>
#include <map>
#include <optional>

namespace dtt::dht {

/// One stored BEP 44 item: immutable (no key) or mutable.
struct stored_item {
  bytes v;                      ///< the bencoded value, as received
  std::optional<bytes32> k;     ///< mutable items: public key
  bytes64 sig{};                ///< mutable items: signature
  bytes salt;                   ///< mutable items: salt (may be empty)
  int64_t seq = 0;              ///< mutable items: sequence number
  time_point stored{};          ///< last write
};

/// A BEP 44 store with bounded size and expiry. Mutable writes follow Rust mainline 7
/// (PROTOCOL.md §4.2): cas present and ≠ stored seq → 301; seq < stored seq → 302; otherwise
/// overwrite (equal seq overwrites, which dtt's writers rely on).
class item_store {
public:
  struct config {
    size_t max_items = 1000;                 ///< bound on stored items; oldest is evicted
                                             ///< (libtorrent's dht_max_dht_items is 700)
    std::chrono::seconds expiry{2 * 3600};   ///< BEP 44: items live ~2 h unless re-put
  };

  explicit item_store(config cfg) : cfg_(cfg) {}
  item_store() : item_store(config{}) {}

  /// Stores an immutable item (bencoded v). Returns 0 or a KRPC error code (205).
  int put_immutable(byte_view bencoded_v, time_point now);
  /// Verifies and stores a mutable item. Returns 0 or a KRPC error code (205, 206, 207, 301,
  /// 302).
  int put_mutable(const bytes32& k, byte_view salt, int64_t seq, std::optional<int64_t> cas,
                  byte_view bencoded_v, const bytes64& sig, time_point now);
  /// The item stored under a target, if any.
  const stored_item* get(const crypto::bep44::target& t) const;
  /// Drops expired items.
  void expire(time_point now);
  size_t size() const noexcept { return items_.size(); }

private:
  void make_room();
  config cfg_;
  std::map<crypto::bep44::target, stored_item> items_;
};

/// Per-IP token bucket for incoming queries (protects storage and CPU; libtorrent's
/// dht_block_ratelimit defaults to 5 queries/s per IP with a burst, mainline similar).
class rate_limiter {
public:
  /// rate queries per second with a burst of `burst`; rate 0 disables limiting.
  rate_limiter(double rate, double burst, size_t max_tracked = 4096)
      : rate_(rate), burst_(burst), max_tracked_(max_tracked) {}
  /// True if a query from this address may be served now (counted per IPv4 address, per IPv6
  /// /64: address_unit).
  bool allow(const endpoint& from, time_point now);

private:
  struct bucket {
    double tokens;
    time_point last;
  };
  double rate_;
  double burst_;
  size_t max_tracked_;
  std::map<std::array<uint8_t, 17>, bucket> buckets_;
};

} // namespace dtt::dht
