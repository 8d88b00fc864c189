#include "dht/token.hpp"

#include "crypto/hash.hpp"

namespace dtt::dht {

token_manager::token_manager(crypto::random_source& rng) : rng_(rng) {
  current_ = rng_.bytes_32();
  previous_ = rng_.bytes_32();
}

void token_manager::tick(time_point now) {
  if (rotated_ == time_point{}) {
    rotated_ = now;
    return;
  }
  if (now - rotated_ >= rotation) {
    previous_ = current_;
    current_ = rng_.bytes_32();
    rotated_ = now;
  }
}

bytes token_manager::compute(const bytes32& secret, const endpoint& from) const {
  auto mac = crypto::hmac_sha256(secret, {from.address()});
  return bytes(mac.begin(), mac.begin() + token_size);
}

bytes token_manager::make(const endpoint& from) const { return compute(current_, from); }

bool token_manager::check(byte_view token, const endpoint& from) const {
  if (token.size() != token_size)
    return false;
  return crypto::equal_ct(token, compute(current_, from))
         || crypto::equal_ct(token, compute(previous_, from));
}

} // namespace dtt::dht
