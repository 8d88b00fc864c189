#include "crypto/hpke.hpp"

#include "crypto/hash.hpp"

#include <sodium.h>

#include <cstring>

namespace dtt::crypto::hpke {

namespace {

constexpr uint8_t kem_suite[] = {'K', 'E', 'M', 0x00, 0x20};
constexpr uint8_t hpke_suite[] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03};
constexpr std::string_view version_label = "HPKE-v1";

byte_view suite_view(const uint8_t* s, size_t n) { return {s, n}; }

// HKDF-Extract(salt, ikm) = HMAC-SHA256(salt, ikm); an empty salt is HashLen zero bytes, which
// HMAC treats exactly like an empty key.
bytes32 labeled_extract(byte_view suite, byte_view salt, std::string_view label, byte_view ikm) {
  return hkdf_extract(salt, {byte_view::of(version_label), suite, byte_view::of(label), ikm});
}

bytes labeled_expand(byte_view suite, const bytes32& prk, std::string_view label, byte_view info,
                     size_t length) {
  bytes labeled_info;
  labeled_info.push_back(static_cast<uint8_t>(length >> 8));
  labeled_info.push_back(static_cast<uint8_t>(length));
  append(labeled_info, byte_view::of(version_label));
  append(labeled_info, suite);
  append(labeled_info, byte_view::of(label));
  append(labeled_info, info);
  return hkdf_expand(prk, {labeled_info}, length);
}

bytes32 extract_and_expand(byte_view dh, byte_view kem_context) {
  auto kem = suite_view(kem_suite, sizeof kem_suite);
  auto prk = labeled_extract(kem, {}, "eae_prk", dh);
  return to_array<32>(labeled_expand(kem, prk, "shared_secret", kem_context, 32));
}

} // namespace

keypair derive_keypair(byte_view ikm) {
  auto kem = suite_view(kem_suite, sizeof kem_suite);
  auto prk = labeled_extract(kem, {}, "dkp_prk", ikm);
  keypair kp;
  kp.secret = to_array<32>(labeled_expand(kem, prk, "sk", {}, 32));
  kp.public_key = x25519_public(kp.secret);
  return kp;
}

result<encapsulation> encap(const bytes32& pk_recipient, const bytes32& sk_ephemeral) {
  auto dh = x25519(sk_ephemeral, pk_recipient);
  if (!dh)
    return dh.err();
  encapsulation out;
  out.enc = x25519_public(sk_ephemeral);
  bytes kem_context;
  append(kem_context, out.enc);
  append(kem_context, pk_recipient);
  out.shared_secret = extract_and_expand(*dh, kem_context);
  sodium_memzero(dh->data(), dh->size());
  return out;
}

result<bytes32> decap(const bytes32& enc, const bytes32& sk_recipient) {
  auto dh = x25519(sk_recipient, enc);
  if (!dh)
    return dh.err();
  bytes kem_context;
  append(kem_context, enc);
  append(kem_context, x25519_public(sk_recipient));
  auto shared = extract_and_expand(*dh, kem_context);
  sodium_memzero(dh->data(), dh->size());
  return shared;
}

context key_schedule_base(const bytes32& shared_secret, byte_view info) {
  auto suite = suite_view(hpke_suite, sizeof hpke_suite);
  auto psk_id_hash = labeled_extract(suite, {}, "psk_id_hash", {});
  auto info_hash = labeled_extract(suite, {}, "info_hash", info);
  bytes ks_context;
  ks_context.push_back(0x00); // mode_base
  append(ks_context, psk_id_hash);
  append(ks_context, info_hash);
  auto secret = labeled_extract(suite, shared_secret, "secret", {});
  context ctx;
  ctx.key = to_array<32>(labeled_expand(suite, secret, "key", ks_context, 32));
  ctx.base_nonce = to_array<12>(labeled_expand(suite, secret, "base_nonce", ks_context, 12));
  ctx.exporter_secret = to_array<32>(labeled_expand(suite, secret, "exp", ks_context, 32));
  sodium_memzero(secret.data(), secret.size());
  return ctx;
}

namespace {
byte_array<12> nonce_for(const byte_array<12>& base, uint64_t seq) {
  auto nonce = base;
  for (int i = 0; i < 8; ++i)
    nonce[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
  return nonce;
}
} // namespace

bytes context::seal(uint64_t seq, byte_view aad, byte_view plaintext) const {
  auto nonce = nonce_for(base_nonce, seq);
  bytes out(plaintext.size() + crypto_aead_chacha20poly1305_ietf_ABYTES);
  unsigned long long out_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(),
                                            plaintext.size(), aad.data(), aad.size(), nullptr,
                                            nonce.data(), key.data());
  out.resize(out_len);
  return out;
}

result<bytes> context::open(uint64_t seq, byte_view aad, byte_view ciphertext) const {
  if (ciphertext.size() < crypto_aead_chacha20poly1305_ietf_ABYTES)
    return error{errc::truncated, "HPKE ciphertext shorter than its tag"};
  auto nonce = nonce_for(base_nonce, seq);
  bytes out(ciphertext.size() - crypto_aead_chacha20poly1305_ietf_ABYTES);
  unsigned long long out_len = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, ciphertext.data(),
                                                ciphertext.size(), aad.data(), aad.size(),
                                                nonce.data(), key.data())
      != 0)
    return error{errc::decrypt_failed, "HPKE AEAD open failed"};
  out.resize(out_len);
  return out;
}

bytes context::export_secret(byte_view exporter_context, size_t length) const {
  return labeled_expand(suite_view(hpke_suite, sizeof hpke_suite), exporter_secret, "sec",
                        exporter_context, length);
}

result<bytes> seal_ed_with_secret(const public_key& recipient, byte_view plaintext,
                                  const bytes32& sk_ephemeral) {
  auto pk_r = ed25519_to_x25519_public(recipient);
  if (!pk_r)
    return pk_r.err();
  auto enc = encap(*pk_r, sk_ephemeral);
  if (!enc)
    return enc.err();
  auto ctx = key_schedule_base(enc->shared_secret, byte_view::of(dalek_info));
  bytes out;
  out.reserve(ed_overhead + plaintext.size());
  put_le64(out, enc->enc.size());
  append(out, enc->enc);
  append(out, ctx.seal(0, byte_view::of(dalek_aad), plaintext));
  return out;
}

result<bytes> seal_ed(const public_key& recipient, byte_view plaintext, random_source& rng) {
  bytes32 ikm = rng.bytes_32();
  auto eph = derive_keypair(ikm);
  sodium_memzero(ikm.data(), ikm.size());
  auto out = seal_ed_with_secret(recipient, plaintext, eph.secret);
  sodium_memzero(eph.secret.data(), eph.secret.size());
  return out;
}

result<bytes> open_ed(const bytes32& recipient_seed, byte_view blob) {
  if (blob.size() < 8)
    return error{errc::truncated, "HPKE blob shorter than its 8-byte enc length"};
  uint64_t enc_len = get_le64(blob.data());
  if (enc_len > ed_max_enc_len)
    return error{errc::too_large, "HPKE enc length over 128"};
  auto rest = blob.sub(8);
  if (rest.size() < enc_len)
    return error{errc::truncated, "HPKE blob shorter than its enc"};
  if (rest.size() == enc_len)
    return error{errc::truncated, "HPKE blob has no ciphertext"};
  if (enc_len != 32)
    return error{errc::malformed, "HPKE enc is not 32 bytes"};
  auto enc = to_array<32>(rest.sub(0, 32));
  auto sk = sha512_32({recipient_seed});
  auto shared = decap(enc, sk);
  sodium_memzero(sk.data(), sk.size());
  if (!shared)
    return shared.err();
  auto ctx = key_schedule_base(*shared, byte_view::of(dalek_info));
  return ctx.open(0, byte_view::of(dalek_aad), rest.sub(32));
}

} // namespace dtt::crypto::hpke
