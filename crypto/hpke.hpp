#pragma once

#include "crypto/bytes.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/error.hpp"
#include "crypto/random.hpp"

#include <string_view>

/// RFC 9180 HPKE, base mode only, with the single suite dtt needs:
/// DHKEM(X25519, HKDF-SHA256) = 0x0020, HKDF-SHA256 = 0x0001, ChaCha20-Poly1305 = 0x0003.
/// Built from libsodium primitives (OpenSSL 3.0 has no HPKE API; libsodium 1.0.18 has no HKDF).
namespace dtt::crypto::hpke {

/// An X25519 key pair in RFC 9180 serialisation (skXm / pkXm).
struct keypair {
  bytes32 secret;
  bytes32 public_key;
};

/// DeriveKeyPair(ikm) of RFC 9180 §7.1.3 for X25519.
keypair derive_keypair(byte_view ikm);

/// Output of Encap: the KEM shared secret and the encapsulated key (pkE).
struct encapsulation {
  bytes32 shared_secret;
  bytes32 enc;
};

/// Encap(pkR) with the given ephemeral secret (RFC 9180 §4.1).
result<encapsulation> encap(const bytes32& pk_recipient, const bytes32& sk_ephemeral);

/// Decap(enc, skR) (RFC 9180 §4.1).
result<bytes32> decap(const bytes32& enc, const bytes32& sk_recipient);

/// Key-schedule output for one base-mode context (RFC 9180 §5.1).
struct context {
  bytes32 key;
  byte_array<12> base_nonce;
  bytes32 exporter_secret;

  /// Seals at the given sequence number (nonce = base_nonce XOR seq).
  bytes seal(uint64_t seq, byte_view aad, byte_view plaintext) const;
  /// Opens at the given sequence number.
  result<bytes> open(uint64_t seq, byte_view aad, byte_view ciphertext) const;
  /// Export(exporter_context, L), L ≤ 255 * 32.
  bytes export_secret(byte_view exporter_context, size_t length) const;
};

/// KeySchedule(mode_base, shared_secret, info, default psk, default psk_id).
context key_schedule_base(const bytes32& shared_secret, byte_view info);

/// The info and aad constants of ed25519-dalek-hpke as used by distributed-topic-tracker.
inline constexpr std::string_view dalek_info = "arbitrary_info_bytes";
inline constexpr std::string_view dalek_aad = "arbitrary_seal_bytes";

/// Bytes the ed25519-dalek-hpke framing adds: LE64(32) || enc(32) || tag(16).
inline constexpr size_t ed_overhead = 8 + 32 + 16;

/// Largest enc length a reader accepts (PROTOCOL.md §3.4).
inline constexpr size_t ed_max_enc_len = 128;

/// HPKE_Seal_ed (PROTOCOL.md §3.3): single-shot seal to an Ed25519 public key, ephemeral
/// derived as the Rust hpke crate does (DeriveKeyPair of 32 random bytes).
/// Output: LE64(32) || enc || ciphertext-with-tag.
result<bytes> seal_ed(const public_key& recipient, byte_view plaintext, random_source& rng);

/// As seal_ed, with a given ephemeral X25519 secret (known-answer tests).
result<bytes> seal_ed_with_secret(const public_key& recipient, byte_view plaintext,
                                  const bytes32& sk_ephemeral);

/// HPKE_Open_ed (PROTOCOL.md §3.4): opens a blob with the recipient's Ed25519 seed.
result<bytes> open_ed(const bytes32& recipient_seed, byte_view blob);

} // namespace dtt::crypto::hpke
