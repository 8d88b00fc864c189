#include "crypto/ed25519.hpp"

#include "crypto/hash.hpp"

#include <sodium.h>

#include <stdexcept>

namespace dtt::crypto {

namespace {
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    throw std::runtime_error("libsodium failed to initialise");
}
} // namespace

signing_key signing_key::from_seed(const bytes32& seed) {
  ensure_sodium();
  signing_key k;
  k.seed_ = seed;
  crypto_sign_seed_keypair(k.pk_.data(), k.expanded_.data(), seed.data());
  return k;
}

signing_key signing_key::generate(random_source& rng) {
  bytes32 seed = rng.bytes_32();
  auto k = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

signing_key::signing_key(const signing_key&) = default;
signing_key& signing_key::operator=(const signing_key&) = default;

signing_key::~signing_key() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(expanded_.data(), expanded_.size());
}

signature signing_key::sign(byte_view msg) const {
  signature sig;
  crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), expanded_.data());
  return sig;
}

bytes32 signing_key::x25519_secret_unclamped() const { return sha512_32({seed_}); }

bool verify_strict(const public_key& pk, byte_view msg, const signature& sig) noexcept {
  ensure_sodium();
  return crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(), pk.data()) == 0;
}

bool is_valid_public_key(const public_key& pk) noexcept {
  ensure_sodium();
  bytes32 ignored;
  // Fails for encodings that are not on the curve and for small-order points.
  return crypto_sign_ed25519_pk_to_curve25519(ignored.data(), pk.data()) == 0;
}

result<bytes32> ed25519_to_x25519_public(const public_key& pk) {
  ensure_sodium();
  bytes32 out;
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), pk.data()) != 0)
    return error{errc::bad_key, "public key is not a usable Ed25519 point"};
  return out;
}

bytes32 x25519_public(const bytes32& secret) {
  ensure_sodium();
  bytes32 out;
  crypto_scalarmult_base(out.data(), secret.data());
  return out;
}

result<bytes32> x25519(const bytes32& secret, const bytes32& peer_public) {
  ensure_sodium();
  bytes32 out;
  if (crypto_scalarmult(out.data(), secret.data(), peer_public.data()) != 0)
    return error{errc::crypto_failure, "X25519 produced the all-zero shared secret"};
  return out;
}

} // namespace dtt::crypto
