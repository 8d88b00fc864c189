#pragma once

#include "crypto/ed25519.hpp"
#include "crypto/topic_id.hpp"

#include <memory>

namespace dtt::crypto {

/// Derives the per-minute encryption seed (PROTOCOL.md §1.6).
class secret_rotation {
public:
  virtual ~secret_rotation() = default;
  /// Returns the 32-byte Ed25519 seed of the encryption key for `minute`.
  virtual bytes32 derive(const bytes32& topic_hash, uint64_t minute,
                         const bytes32& initial_secret_hash) const = 0;
};

/// The crate's DefaultSecretRotation: SHA-512(topic_hash || BE64(minute) || ish)[0..32].
/// Note the BIG-endian minute, unlike every other derivation.
class default_secret_rotation final : public secret_rotation {
public:
  bytes32 derive(const bytes32& topic_hash, uint64_t minute,
                 const bytes32& initial_secret_hash) const override;
};

/// A shareable rotation (RotationHandle); default-constructed it is default_secret_rotation.
class rotation_handle {
public:
  rotation_handle();
  explicit rotation_handle(std::shared_ptr<const secret_rotation> impl);
  bytes32 derive(const bytes32& topic_hash, uint64_t minute, const bytes32& ish) const {
    return impl_->derive(topic_hash, minute, ish);
  }

private:
  std::shared_ptr<const secret_rotation> impl_;
};

/// Seed of the public per-minute DHT signing key: SHA-512(topic_hash || LE64(minute))[0..32].
bytes32 dht_signing_seed(const topic_id& topic, uint64_t minute);

/// The per-minute DHT signing key pair (BEP 44 `k`), shared by every member (§1.4).
signing_key signing_keypair(const topic_id& topic, uint64_t minute);

/// The per-minute BEP 44 salt: SHA-512("salt" || topic_hash || LE64(minute))[0..32] (§1.5).
bytes32 salt(const topic_id& topic, uint64_t minute);

/// The per-minute encryption key pair: Ed25519 from seed rotation.derive(...) (§1.6).
signing_key encryption_keypair(const topic_id& topic, const rotation_handle& rotation,
                               const bytes32& initial_secret_hash, uint64_t minute);

} // namespace dtt::crypto
