#pragma once

#include "crypto/bytes.hpp"

#include <initializer_list>

namespace dtt::crypto {

/// SHA-1 (OpenSSL EVP; libsodium has none). Used only for BEP 44 / BEP 5 targets and ids.
byte_array<20> sha1(byte_view data);

/// SHA-512 over the concatenation of the parts (libsodium).
bytes64 sha512(std::initializer_list<byte_view> parts);

/// First 32 bytes of SHA-512 over the concatenated parts (PROTOCOL.md's H512_32).
bytes32 sha512_32(std::initializer_list<byte_view> parts);

/// SHA-256 (libsodium).
bytes32 sha256(byte_view data);

/// HMAC-SHA256 with a key of any length (libsodium).
bytes32 hmac_sha256(byte_view key, std::initializer_list<byte_view> parts);

/// HKDF-Extract (RFC 5869 §2.2): HMAC-SHA256(salt, ikm); an empty salt acts as 32 zero bytes.
bytes32 hkdf_extract(byte_view salt, std::initializer_list<byte_view> ikm);

/// HKDF-Expand (RFC 5869 §2.3) with SHA-256: `length` (≤ 255 × 32) bytes from `prk` and the
/// concatenated info parts. Throws std::invalid_argument over 8160 bytes (a caller's bug).
bytes hkdf_expand(const bytes32& prk, std::initializer_list<byte_view> info, size_t length);

/// BLAKE2b-256, unkeyed (libsodium). dtt's gossip message id (iroh uses BLAKE3, see issue #5).
bytes32 blake2b_256(byte_view data);

/// Constant-time equality of two equally long buffers (false if the lengths differ).
bool equal_ct(byte_view a, byte_view b) noexcept;

} // namespace dtt::crypto
