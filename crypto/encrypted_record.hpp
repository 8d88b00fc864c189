#pragma once

#include "crypto/hpke.hpp"
#include "crypto/keys.hpp"
#include "crypto/record.hpp"

namespace dtt::crypto {

/// A record sealed in two HPKE layers (PROTOCOL.md §3); its bytes are the BEP 44 value:
/// LE32(L) || encrypted_record (L bytes) || encrypted_decryption_key (88 bytes).
class encrypted_record {
public:
  /// Upper bound on the serialised size and on L (the crate's MAX_SIZE).
  static constexpr size_t max_size = 2048;
  /// HPKE of a 32-byte seed: LE64(32) || enc(32) || ciphertext(32) || tag(16).
  static constexpr size_t key_blob_size = hpke::ed_overhead + 32;

  /// Seals a record to the per-minute encryption public key with fresh randomness:
  /// a one-time Ed25519 seed, then one HPKE ephemeral per layer, drawn in that order.
  static result<encrypted_record> seal(const record& r, const public_key& encryption_pub,
                                       random_source& rng = os_random());
  /// As seal(), with every random value given (known-answer tests).
  static result<encrypted_record> seal_with(const record& r, const public_key& encryption_pub,
                                            const bytes32& one_time_seed,
                                            const bytes32& sk_ephemeral_record,
                                            const bytes32& sk_ephemeral_key);

  /// Parses the wire form with every length check of §3.1.
  static result<encrypted_record> from_bytes(byte_view data);
  /// The wire form; fails if it would exceed max_size.
  result<bytes> to_bytes() const;

  /// Opens both layers with the per-minute encryption key and parses the record (no verify).
  result<record> open(const signing_key& encryption_key) const;

  const bytes& encrypted_record_bytes() const noexcept { return record_blob_; }
  const bytes& encrypted_key_bytes() const noexcept { return key_blob_; }

private:
  bytes record_blob_;
  bytes key_blob_;
};

/// The whole read path for one DHT value (PROTOCOL.md §4.4 step 2): parse, decrypt with the
/// minute's key, verify for (topic, minute). The error says which step failed.
result<record> open_record(byte_view dht_value, const topic_id& topic, uint64_t minute,
                           const signing_key& encryption_key);

} // namespace dtt::crypto
