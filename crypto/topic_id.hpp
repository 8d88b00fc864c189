#pragma once

#include "crypto/bytes.hpp"

#include <cstring>
#include <functional>
#include <string_view>

namespace dtt::crypto {

/// A topic identifier: SHA-512(name)[0..32] (PROTOCOL.md §1.1). The same 32 bytes are the
/// gossip topic id.
class topic_id {
public:
  /// Hashes the raw bytes of a name (no normalisation, no prefix).
  static topic_id from_name(std::string_view name);
  /// Hashes arbitrary bytes.
  static topic_id from_bytes(byte_view name);
  /// Takes a 32-byte hash as is.
  static topic_id from_hash(const bytes32& hash) { return topic_id{hash}; }

  /// The 32-byte topic hash.
  const bytes32& hash() const noexcept { return hash_; }

  friend bool operator==(const topic_id& a, const topic_id& b) { return a.hash_ == b.hash_; }
  friend bool operator!=(const topic_id& a, const topic_id& b) { return !(a == b); }
  friend bool operator<(const topic_id& a, const topic_id& b) { return a.hash_ < b.hash_; }

private:
  explicit topic_id(const bytes32& h) : hash_(h) {}
  bytes32 hash_;
};

/// SHA-512(initial_secret)[0..32] (PROTOCOL.md §1.2).
bytes32 initial_secret_hash(byte_view initial_secret);

} // namespace dtt::crypto

template <>
struct std::hash<dtt::crypto::topic_id> {
  size_t operator()(const dtt::crypto::topic_id& t) const noexcept {
    size_t h;
    std::memcpy(&h, t.hash().data(), sizeof h);
    return h;
  }
};
