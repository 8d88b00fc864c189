#include "crypto/hardened.hpp"

#include "crypto/hash.hpp"

namespace dtt::crypto::hardened {

slot_secrets derive(const bytes32& topic_hash, const bytes32& minute_secret, uint64_t minute) {
  bytes le;
  put_le64(le, minute);
  auto prk = hkdf_extract(byte_view::of(extract_salt), {topic_hash, minute_secret});
  slot_secrets out;
  out.dht_seed = to_array<32>(hkdf_expand(prk, {byte_view::of(dht_seed_label), le}, 32));
  out.salt = to_array<32>(hkdf_expand(prk, {byte_view::of(salt_label), le}, 32));
  return out;
}

slot_secrets derive(const topic_id& topic, const rotation_handle& rotation,
                    const bytes32& initial_secret_hash, uint64_t minute) {
  return derive(topic.hash(), rotation.derive(topic.hash(), minute, initial_secret_hash), minute);
}

int64_t seq_at(int64_t unix_seconds) noexcept {
  if (unix_seconds < 1)
    return 1;
  return unix_seconds > max_seq ? max_seq : unix_seconds;
}

} // namespace dtt::crypto::hardened
