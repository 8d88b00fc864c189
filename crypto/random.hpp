#pragma once

#include "crypto/bytes.hpp"

#include <cstdint>

namespace dtt::crypto {

/// Source of secret randomness (one-time keys, HPKE ephemerals, node keys). Injectable so that
/// tests reproduce fixed-randomness vectors; production code uses os_random().
class random_source {
public:
  virtual ~random_source() = default;
  /// Fills [out, out + n) with random bytes.
  virtual void fill(uint8_t* out, size_t n) = 0;

  /// Convenience: 32 random bytes.
  bytes32 bytes_32() {
    bytes32 b;
    fill(b.data(), b.size());
    return b;
  }
};

/// The operating system's CSPRNG (libsodium randombytes). Thread-safe, never fails.
random_source& os_random();

/// Replays a fixed byte sequence (tests only); throws std::out_of_range once exhausted.
class fixed_random final : public random_source {
public:
  explicit fixed_random(bytes seq) : seq_(std::move(seq)) {}
  void fill(uint8_t* out, size_t n) override;

private:
  bytes seq_;
  size_t pos_ = 0;
};

/// Non-secret uniform integers in [0, bound) for jitter and shuffles; bound 0 gives 0.
/// Separate from random_source so simulations can seed it (see also dtt::gossip's rng).
uint64_t uniform_below(random_source& rng, uint64_t bound);

} // namespace dtt::crypto
