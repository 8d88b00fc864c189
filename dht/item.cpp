#include "dht/item.hpp"

namespace dtt::dht {

mutable_item mutable_item::sign(const crypto::signing_key& k, bytes salt, int64_t seq,
                                bytes value) {
  mutable_item it;
  it.key = k.public_key_bytes();
  it.salt = std::move(salt);
  it.seq = seq;
  it.value = std::move(value);
  it.signature = k.sign(crypto::bep44::signable_for_string(it.salt, it.seq, it.value));
  return it;
}

status mutable_item::verify() const {
  if (salt.size() > crypto::bep44::max_salt_size)
    return error{errc::too_large, "BEP 44 salt over 64 bytes"};
  if (crypto::bep44::bencode_string(value).size() > crypto::bep44::max_value_size)
    return error{errc::too_large, "BEP 44 value over 1000 bytes"};
  if (!crypto::verify_strict(key, crypto::bep44::signable_for_string(salt, seq, value), signature))
    return error{errc::bad_signature, "BEP 44 item signature does not verify"};
  return ok_status();
}

} // namespace dtt::dht
