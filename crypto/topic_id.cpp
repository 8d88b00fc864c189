#include "crypto/topic_id.hpp"

#include "crypto/hash.hpp"

namespace dtt::crypto {

topic_id topic_id::from_name(std::string_view name) { return from_bytes(byte_view::of(name)); }

topic_id topic_id::from_bytes(byte_view name) { return topic_id{sha512_32({name})}; }

bytes32 initial_secret_hash(byte_view initial_secret) { return sha512_32({initial_secret}); }

} // namespace dtt::crypto
