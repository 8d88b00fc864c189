#include "crypto/hash.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>

namespace dtt::crypto {

namespace {
// libsodium declares its pointer arguments nonnull even for zero lengths.
const uint8_t* nonnull(byte_view b) noexcept {
  static const uint8_t empty = 0;
  return b.data() != nullptr ? b.data() : &empty;
}
} // namespace

byte_array<20> sha1(byte_view data) {
  byte_array<20> out{};
  unsigned int len = 0;
  if (EVP_Digest(nonnull(data), data.size(), out.data(), &len, EVP_sha1(), nullptr) != 1 || len != 20)
    throw std::runtime_error("OpenSSL SHA-1 unavailable");
  return out;
}

bytes64 sha512(std::initializer_list<byte_view> parts) {
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  for (auto p : parts)
    crypto_hash_sha512_update(&st, nonnull(p), p.size());
  bytes64 out;
  crypto_hash_sha512_final(&st, out.data());
  return out;
}

bytes32 sha512_32(std::initializer_list<byte_view> parts) {
  auto full = sha512(parts);
  return to_array<32>(full);
}

// OpenSSL's SHA-256 (SHA-NI or AVX2 code, picked at run time) rather than libsodium's portable
// one: 0.67 us per KiB against 1.84 us for libsodium's BLAKE2b on this machine, and SHA-256 is
// the gossip message id, hashed twice per delivery. The digest is fetched once and each thread
// keeps its context (an implicit fetch per call costs a lock and a lookup in OpenSSL 3).
bytes32 sha256(byte_view data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                            &EVP_MD_CTX_free);
  bytes32 out;
  unsigned int len = 0;
  if (md && ctx && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1
      && EVP_DigestUpdate(ctx.get(), nonnull(data), data.size()) == 1
      && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size())
    return out;
  crypto_hash_sha256(out.data(), nonnull(data), data.size()); // same digest, slower code
  return out;
}

bytes32 hmac_sha256(byte_view key, std::initializer_list<byte_view> parts) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, nonnull(key), key.size());
  for (auto p : parts)
    crypto_auth_hmacsha256_update(&st, nonnull(p), p.size());
  bytes32 out;
  crypto_auth_hmacsha256_final(&st, out.data());
  return out;
}

bytes32 hkdf_extract(byte_view salt, std::initializer_list<byte_view> ikm) {
  return hmac_sha256(salt, ikm);
}

bytes hkdf_expand(const bytes32& prk, std::initializer_list<byte_view> info, size_t length) {
  if (length > 255 * 32)
    throw std::invalid_argument("HKDF-Expand length over 255 * HashLen");
  bytes info_bytes;
  for (auto p : info)
    info_bytes.insert(info_bytes.end(), p.begin(), p.end());
  bytes out;
  bytes32 t{};
  size_t t_len = 0;
  for (uint8_t i = 1; out.size() < length; ++i) {
    uint8_t counter = i;
    t = hmac_sha256(prk, {byte_view{t.data(), t_len}, info_bytes, byte_view{&counter, 1}});
    t_len = t.size();
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(length);
  return out;
}

bytes32 blake2b_256(byte_view data) {
  bytes32 out;
  crypto_generichash(out.data(), out.size(), nonnull(data), data.size(), nullptr, 0);
  return out;
}

bool equal_ct(byte_view a, byte_view b) noexcept {
  return a.size() == b.size() && sodium_memcmp(nonnull(a), nonnull(b), a.size()) == 0;
}

} // namespace dtt::crypto
