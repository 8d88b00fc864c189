#include "crypto/encrypted_record.hpp"

#include <sodium.h>

namespace dtt::crypto {

result<encrypted_record> encrypted_record::seal_with(const record& r,
                                                     const public_key& encryption_pub,
                                                     const bytes32& one_time_seed,
                                                     const bytes32& sk_ephemeral_record,
                                                     const bytes32& sk_ephemeral_key) {
  auto one_time = signing_key::from_seed(one_time_seed);
  auto inner = hpke::seal_ed_with_secret(one_time.public_key_bytes(), r.to_bytes(),
                                         sk_ephemeral_record);
  if (!inner)
    return inner.err();
  auto outer = hpke::seal_ed_with_secret(encryption_pub, one_time_seed, sk_ephemeral_key);
  if (!outer)
    return outer.err();
  encrypted_record er;
  er.record_blob_ = std::move(*inner);
  er.key_blob_ = std::move(*outer);
  if (er.record_blob_.size() + 4 + key_blob_size > max_size)
    return error{errc::too_large, "encrypted record over 2048 bytes"};
  return er;
}

result<encrypted_record> encrypted_record::seal(const record& r, const public_key& encryption_pub,
                                                random_source& rng) {
  bytes32 one_time_seed = rng.bytes_32();
  auto eph_record = hpke::derive_keypair(rng.bytes_32());
  auto eph_key = hpke::derive_keypair(rng.bytes_32());
  auto out = seal_with(r, encryption_pub, one_time_seed, eph_record.secret, eph_key.secret);
  sodium_memzero(one_time_seed.data(), one_time_seed.size());
  sodium_memzero(eph_record.secret.data(), 32);
  sodium_memzero(eph_key.secret.data(), 32);
  return out;
}

result<encrypted_record> encrypted_record::from_bytes(byte_view data) {
  if (data.size() < 4)
    return error{errc::truncated, "encrypted record shorter than its 4-byte length"};
  uint64_t len = get_le32(data.data());
  if (len > max_size)
    return error{errc::too_large, "encrypted record length field over 2048"};
  uint64_t remaining = data.size() - 4;
  if (remaining != len + key_blob_size)
    return error{errc::length_mismatch,
                 "encrypted record length field " + std::to_string(len) + " does not match "
                   + std::to_string(remaining) + " following bytes"};
  encrypted_record er;
  er.record_blob_ = data.sub(4, len).to_bytes();
  er.key_blob_ = data.sub(4 + len).to_bytes();
  return er;
}

result<bytes> encrypted_record::to_bytes() const {
  size_t total = 4 + record_blob_.size() + key_blob_.size();
  if (total > max_size)
    return error{errc::too_large, "encrypted record over 2048 bytes"};
  bytes out;
  out.reserve(total);
  put_le32(out, static_cast<uint32_t>(record_blob_.size()));
  append(out, record_blob_);
  append(out, key_blob_);
  return out;
}

result<record> encrypted_record::open(const signing_key& encryption_key) const {
  auto seed = hpke::open_ed(encryption_key.seed(), key_blob_);
  if (!seed)
    return error{seed.err().code, "decryption-key layer: " + seed.err().what};
  if (seed->size() != 32)
    return error{errc::malformed, "decryption-key layer does not hold a 32-byte seed"};
  auto one_time = to_array<32>(*seed);
  sodium_memzero(seed->data(), seed->size());
  auto plain = hpke::open_ed(one_time, record_blob_);
  sodium_memzero(one_time.data(), one_time.size());
  if (!plain)
    return error{plain.err().code, "record layer: " + plain.err().what};
  return record::from_bytes(*plain);
}

result<record> open_record(byte_view dht_value, const topic_id& topic, uint64_t minute,
                           const signing_key& encryption_key) {
  auto er = encrypted_record::from_bytes(dht_value);
  if (!er)
    return er.err();
  auto rec = er->open(encryption_key);
  if (!rec)
    return rec.err();
  auto st = rec->verify(topic.hash(), minute);
  if (!st)
    return st.err();
  return rec;
}

} // namespace dtt::crypto
