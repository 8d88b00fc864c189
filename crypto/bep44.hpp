#pragma once

#include "crypto/bytes.hpp"
#include "crypto/ed25519.hpp"

#include <cstdint>

/// The byte-level parts of BEP 44 that the record layer needs (signable buffer, targets).
/// The DHT protocol itself lives in dht/.
namespace dtt::crypto::bep44 {

/// A 20-byte DHT target id.
using target = byte_array<20>;

/// Largest bencoded `v` a storing node accepts (BEP 44).
inline constexpr size_t max_value_size = 1000;
/// Largest salt (BEP 44).
inline constexpr size_t max_salt_size = 64;

/// The buffer a mutable item's signature covers, for an already-bencoded value:
/// ["4:salt" len(salt) ":" salt, only if salt is non-empty] "3:seqi" seq "e1:v" bencoded_v.
bytes signable(byte_view salt, int64_t seq, byte_view bencoded_value);

/// As signable(), for a value that is a byte string (bencoded as `len:bytes`), which is how
/// distributed-topic-tracker (Rust mainline) stores its records.
bytes signable_for_string(byte_view salt, int64_t seq, byte_view raw_value);

/// Bencodes a byte string: decimal(len) ":" bytes.
bytes bencode_string(byte_view raw);

/// Mutable target: SHA-1(public_key || salt).
target mutable_target(const public_key& k, byte_view salt);

/// Immutable target: SHA-1(bencoded value).
target immutable_target(byte_view bencoded_value);

} // namespace dtt::crypto::bep44
