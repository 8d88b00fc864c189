// Topic admission: derivation and proofs (crypto/membership.hpp, docs/ADMISSION.md).
#include "crypto/hash.hpp"
#include "crypto/membership.hpp"
#include "crypto/topic_id.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

namespace {

// Known answers computed independently (Python 3 hashlib + hmac):
//   th  = sha512(b"my-iroh-gossip-topic")[:32]; ish = sha512(b"my-initial-secret")[:32]
//   prk = hmac(b"dtt/v1 gossip membership", th + ish, sha256)
//   tid = hmac(prk, b"dtt/v1 gossip topic id\x01"); key = hmac(prk, b"dtt/v1 gossip membership key\x01")
//   proof = hmac(key, b"dtt/v1 admission proof" + bytes(range(32)) + b"\x01"*32 + b"\x02"*32 + tid)
constexpr const char* kat_topic_id =
  "e7419044ad0ab449bfedc022c8d9cc4cfa671fc895912dd8d244cde72bff2152";
constexpr const char* kat_key = "457c89a9699540810f35aff1153183e80dc2a16bba770d6319b83085165995c8";
constexpr const char* kat_proof =
  "80ba865175c52537fbd4d64be6ff0c777d625343e26768df19e836d82e2bc17c";

topic_membership kat_membership() {
  return derive_membership(topic_id::from_name("my-iroh-gossip-topic").hash(),
                           initial_secret_hash(byte_view::of("my-initial-secret")));
}

bytes32 filled(uint8_t v) {
  bytes32 b{};
  b.fill(v);
  return b;
}

bytes32 counting() {
  bytes32 b{};
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<uint8_t>(i);
  return b;
}

} // namespace

TEST_CASE("membership: topic id and key match the known answers") {
  auto m = kat_membership();
  CHECK(to_hex(m.topic_id) == kat_topic_id);
  CHECK(to_hex(m.key) == kat_key);
  // The gossip topic id is not the public topic hash, and differs from the key.
  CHECK(m.topic_id != topic_id::from_name("my-iroh-gossip-topic").hash());
  CHECK(m.topic_id != m.key);
}

TEST_CASE("membership: name and secret each change both values") {
  auto base = kat_membership();
  auto other_secret = derive_membership(topic_id::from_name("my-iroh-gossip-topic").hash(),
                                        initial_secret_hash(byte_view::of("other-secret")));
  auto other_name = derive_membership(topic_id::from_name("other-topic").hash(),
                                      initial_secret_hash(byte_view::of("my-initial-secret")));
  CHECK(other_secret.topic_id != base.topic_id);
  CHECK(other_secret.key != base.key);
  CHECK(other_name.topic_id != base.topic_id);
  CHECK(other_name.key != base.key);
}

TEST_CASE("membership: a proof verifies only for its key, link, direction and topic") {
  auto m = kat_membership();
  auto exporter = counting();
  auto a = filled(1), b = filled(2), c = filled(3);
  auto proof = admission_proof(m.key, exporter, a, b, m.topic_id);
  CHECK(to_hex(proof) == kat_proof);
  CHECK(check_admission_proof(m.key, exporter, a, b, m.topic_id, proof));
  // Another key (wrong secret), link, direction, sender, receiver or topic: refused.
  CHECK_FALSE(check_admission_proof(filled(9), exporter, a, b, m.topic_id, proof));
  CHECK_FALSE(check_admission_proof(m.key, filled(7), a, b, m.topic_id, proof));
  CHECK_FALSE(check_admission_proof(m.key, exporter, b, a, m.topic_id, proof));
  CHECK_FALSE(check_admission_proof(m.key, exporter, c, b, m.topic_id, proof));
  CHECK_FALSE(check_admission_proof(m.key, exporter, a, c, m.topic_id, proof));
  CHECK_FALSE(check_admission_proof(m.key, exporter, a, b, filled(4), proof));
  auto flipped = proof;
  flipped[31] ^= 1;
  CHECK_FALSE(check_admission_proof(m.key, exporter, a, b, m.topic_id, flipped));
}

TEST_CASE("membership: admissions encode to 64 bytes and decode strictly") {
  admission a{filled(0xaa), filled(0xbb)};
  auto enc = encode_admission(a);
  REQUIRE(enc.size() == admission_size);
  auto back = decode_admission(enc);
  REQUIRE(back.ok());
  CHECK(*back == a);
  CHECK(decode_admission(byte_view{enc.data(), 63}).err().code == errc::truncated);
  bytes longer = enc;
  longer.push_back(0);
  CHECK(decode_admission(longer).err().code == errc::malformed);
  CHECK(decode_admission(byte_view{}).err().code == errc::truncated);
}
