#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/random.hpp"

namespace dtt::crypto {

/// An Ed25519 public key (32 bytes, RFC 8032 encoding). Also a node's endpoint id.
using public_key = bytes32;

/// An Ed25519 signature (R || S).
using signature = bytes64;

/// An Ed25519 key pair made from a 32-byte seed (RFC 8032 seed expansion, as ed25519-dalek's
/// SigningKey::from_bytes and libsodium's crypto_sign_seed_keypair). The secret is wiped on
/// destruction.
class signing_key {
public:
  /// Expands a seed into a key pair.
  static signing_key from_seed(const bytes32& seed);
  /// A fresh key from the given randomness.
  static signing_key generate(random_source& rng = os_random());

  signing_key(const signing_key&);
  signing_key& operator=(const signing_key&);
  ~signing_key();

  /// The 32-byte seed (the secret key as dalek serialises it).
  const bytes32& seed() const noexcept { return seed_; }
  /// The public key.
  const public_key& public_key_bytes() const noexcept { return pk_; }
  /// Signs a message (plain Ed25519: no prehash, no context).
  signature sign(byte_view msg) const;
  /// The X25519 secret scalar of this key: SHA-512(seed)[0..32], unclamped (dalek's
  /// to_scalar_bytes). X25519 clamps at use, so the clamped form gives the same results.
  bytes32 x25519_secret_unclamped() const;

private:
  signing_key() = default;
  bytes32 seed_{};
  public_key pk_{};
  bytes64 expanded_{}; // libsodium layout: seed || public key
};

/// Strict verification (PROTOCOL.md §2.2): rejects non-canonical S, small-order A or R,
/// non-canonical A, then checks the cofactorless equation. libsodium 1.0.18's verifier.
bool verify_strict(const public_key& pk, byte_view msg, const signature& sig) noexcept;

/// True if the bytes decode to an Ed25519 point that is not of small order. (dalek accepts
/// small-order keys at decode time; no signature under such a key passes verify_strict, and
/// dtt refuses them as endpoint ids.)
bool is_valid_public_key(const public_key& pk) noexcept;

/// Edwards → Montgomery map of a public key: u = (1 + y) / (1 − y).
result<bytes32> ed25519_to_x25519_public(const public_key& pk);

/// X25519 public key of a secret scalar (clamped at use).
bytes32 x25519_public(const bytes32& secret);

/// X25519 Diffie–Hellman; fails on an all-zero output (small-order peer key).
result<bytes32> x25519(const bytes32& secret, const bytes32& peer_public);

} // namespace dtt::crypto
