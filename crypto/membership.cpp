#include "crypto/membership.hpp"

#include "crypto/hash.hpp"

#include <algorithm>

namespace dtt::crypto {

namespace {
// Domain labels: version-tagged so that a future derivation cannot collide with this one.
constexpr std::string_view extract_salt = "dtt/v1 gossip membership";
constexpr std::string_view topic_id_info = "dtt/v1 gossip topic id";
constexpr std::string_view key_info = "dtt/v1 gossip membership key";
constexpr std::string_view proof_label = "dtt/v1 admission proof";
} // namespace

topic_membership derive_membership(const bytes32& topic_hash,
                                   const bytes32& initial_secret_hash) {
  auto prk = hkdf_extract(byte_view::of(extract_salt), {topic_hash, initial_secret_hash});
  topic_membership m;
  m.topic_id = to_array<32>(hkdf_expand(prk, {byte_view::of(topic_id_info)}, 32));
  m.key = to_array<32>(hkdf_expand(prk, {byte_view::of(key_info)}, 32));
  return m;
}

bytes32 admission_proof(const bytes32& membership_key, const bytes32& exporter,
                        const bytes32& sender, const bytes32& receiver,
                        const bytes32& topic_id) {
  return hmac_sha256(membership_key,
                     {byte_view::of(proof_label), exporter, sender, receiver, topic_id});
}

bool check_admission_proof(const bytes32& membership_key, const bytes32& exporter,
                           const bytes32& sender, const bytes32& receiver,
                           const bytes32& topic_id, const bytes32& proof) noexcept {
  auto expected = admission_proof(membership_key, exporter, sender, receiver, topic_id);
  return equal_ct(expected, proof);
}

bytes encode_admission(const admission& a) {
  bytes out(a.topic_id.begin(), a.topic_id.end());
  out.insert(out.end(), a.proof.begin(), a.proof.end());
  return out;
}

result<admission> decode_admission(byte_view in) {
  if (in.size() < admission_size)
    return error{errc::truncated, "admission of " + std::to_string(in.size()) + " bytes, expected "
                                    + std::to_string(admission_size)};
  if (in.size() > admission_size)
    return error{errc::malformed, "admission of " + std::to_string(in.size())
                                    + " bytes, expected " + std::to_string(admission_size)};
  admission a;
  std::copy(in.data(), in.data() + 32, a.topic_id.begin());
  std::copy(in.data() + 32, in.data() + 64, a.proof.begin());
  return a;
}

} // namespace dtt::crypto
