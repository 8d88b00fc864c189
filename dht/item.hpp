#pragma once

#include "crypto/bep44.hpp"
#include "crypto/bytes.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"

#include <cstdint>
#include <string>

namespace dtt::dht {

/// A BEP 44 mutable item as stored by DHT nodes and returned by get. `value` holds the raw bytes
/// of a bencoded byte string (the only kind of `v` distributed-topic-tracker writes); items whose
/// `v` is not a byte string are not represented.
struct mutable_item {
  crypto::public_key key{};
  bytes salt;
  int64_t seq = 0;
  bytes value;
  crypto::signature signature{};

  /// Builds and signs an item.
  static mutable_item sign(const crypto::signing_key& k, bytes salt, int64_t seq, bytes value);
  /// Checks sizes (v ≤ 1000 bytes bencoded, salt ≤ 64) and the signature.
  status verify() const;
  /// SHA-1(key || salt).
  crypto::bep44::target target() const { return crypto::bep44::mutable_target(key, salt); }

  friend bool operator==(const mutable_item& a, const mutable_item& b) {
    return a.key == b.key && a.salt == b.salt && a.seq == b.seq && a.value == b.value
           && a.signature == b.signature;
  }
};

/// What a put achieved, node by node (like Rust mainline's PutOutcome).
struct put_outcome {
  uint32_t stored = 0;          ///< nodes that answered the put without error
  uint32_t cas_mismatch = 0;    ///< KRPC error 301
  uint32_t seq_too_small = 0;   ///< KRPC error 302
  uint32_t other_errors = 0;    ///< any other KRPC error
  uint32_t no_response = 0;     ///< timed out
  /// Mainline's rule: success if at least one node stored it and no majority refused on
  /// CAS/seq grounds.
  bool ok() const noexcept {
    uint32_t answered = stored + cas_mismatch + seq_too_small + other_errors;
    return stored > 0 && 2 * (cas_mismatch + seq_too_small) <= answered;
  }
};

} // namespace dtt::dht
