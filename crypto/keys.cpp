#include "crypto/keys.hpp"

#include "crypto/hash.hpp"

namespace dtt::crypto {

bytes32 default_secret_rotation::derive(const bytes32& topic_hash, uint64_t minute,
                                        const bytes32& ish) const {
  bytes be;
  put_be64(be, minute);
  return sha512_32({topic_hash, be, ish});
}

rotation_handle::rotation_handle() : impl_(std::make_shared<default_secret_rotation>()) {}

rotation_handle::rotation_handle(std::shared_ptr<const secret_rotation> impl)
  : impl_(impl ? std::move(impl) : std::make_shared<default_secret_rotation>()) {}

bytes32 dht_signing_seed(const topic_id& topic, uint64_t minute) {
  bytes le;
  put_le64(le, minute);
  return sha512_32({topic.hash(), le});
}

signing_key signing_keypair(const topic_id& topic, uint64_t minute) {
  return signing_key::from_seed(dht_signing_seed(topic, minute));
}

bytes32 salt(const topic_id& topic, uint64_t minute) {
  bytes le;
  put_le64(le, minute);
  return sha512_32({byte_view::of("salt"), topic.hash(), le});
}

signing_key encryption_keypair(const topic_id& topic, const rotation_handle& rotation,
                               const bytes32& initial_secret_hash, uint64_t minute) {
  return signing_key::from_seed(rotation.derive(topic.hash(), minute, initial_secret_hash));
}

} // namespace dtt::crypto
