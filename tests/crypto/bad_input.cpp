// Hostile and malformed input for every record-layer parser (issue #3, "Bad input").
#include "crypto/encrypted_record.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

namespace {

struct fixture {
  topic_id topic = topic_id::from_name("bad-input-topic");
  uint64_t minute = 29123456;
  bytes32 ish = initial_secret_hash(byte_view::of("s3cret"));
  signing_key node = signing_key::from_seed(bytes32{42});
  signing_key enc = encryption_keypair(topic, rotation_handle{}, ish, minute);
  record rec = record::sign(topic.hash(), minute,
                            gossip_record_content::make({bytes32{5}}, {}).encode(), node);
  bytes value = *encrypted_record::seal(rec, enc.public_key_bytes())->to_bytes();
};

// The group order ℓ, little-endian.
const bytes32 ell = *array_from_hex<32>(
  "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

bytes32 add_le(const bytes32& a, const bytes32& b) {
  bytes32 out{};
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    unsigned s = a[i] + b[i] + carry;
    out[i] = static_cast<uint8_t>(s);
    carry = s >> 8;
  }
  return out;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "record::from_bytes: every length below 136 fails, 136 parses") {
  auto raw = rec.to_bytes();
  for (size_t n = 0; n < record::min_size; ++n)
    CHECK(record::from_bytes(byte_view(raw).sub(0, n)).err().code == errc::truncated);
  auto empty_content = record::from_bytes(byte_view(raw).sub(0, record::min_size));
  REQUIRE(empty_content);
  CHECK(empty_content->content().empty());
}

TEST_CASE_FIXTURE(fixture, "every single-bit flip of a signed record fails verification") {
  auto raw = rec.to_bytes();
  REQUIRE(record::from_bytes(raw)->verify(topic.hash(), minute));
  for (size_t bit = 0; bit < raw.size() * 8; ++bit) {
    auto copy = raw;
    copy[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto parsed = record::from_bytes(copy);
    REQUIRE(parsed);
    CAPTURE(bit);
    CHECK_FALSE(parsed->verify(topic.hash(), minute));
  }
}

TEST_CASE_FIXTURE(fixture, "every single-bit flip of an encrypted DHT value fails to open") {
  REQUIRE(open_record(value, topic, minute, enc));
  for (size_t bit = 0; bit < value.size() * 8; ++bit) {
    auto copy = value;
    copy[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CAPTURE(bit);
    CHECK_FALSE(open_record(copy, topic, minute, enc));
  }
}

TEST_CASE_FIXTURE(fixture, "encrypted value: truncations, length field off by one, over-size") {
  for (size_t n = 0; n < value.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(encrypted_record::from_bytes(byte_view(value).sub(0, n)));
  }
  uint32_t len = get_le32(value.data());
  for (int64_t delta : {-1, 1}) {
    auto copy = value;
    uint32_t l = static_cast<uint32_t>(len + delta);
    for (int i = 0; i < 4; ++i)
      copy[i] = static_cast<uint8_t>(l >> (8 * i));
    auto r = encrypted_record::from_bytes(copy);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::length_mismatch);
  }
  auto longer = value;
  longer.push_back(0);
  CHECK(encrypted_record::from_bytes(longer).err().code == errc::length_mismatch);
  // L = 2049 is refused before anything else, and 0xffffffff does not overflow.
  for (uint32_t l : {2049u, 0xffffffffu}) {
    auto copy = value;
    for (int i = 0; i < 4; ++i)
      copy[i] = static_cast<uint8_t>(l >> (8 * i));
    CHECK(encrypted_record::from_bytes(copy).err().code == errc::too_large);
  }
  // A record whose sealed form exceeds 2048 bytes cannot be written.
  auto big = record::sign(topic.hash(), minute, bytes(1900, 1), node);
  CHECK(encrypted_record::seal(big, enc.public_key_bytes()).err().code == errc::too_large);
}

TEST_CASE_FIXTURE(fixture, "wrong topic, minute and secret are told apart") {
  auto other_topic = topic_id::from_name("other");
  auto r1 = open_record(value, other_topic, minute, enc);
  REQUIRE_FALSE(r1);
  CHECK(r1.err().code == errc::wrong_topic);
  auto r2 = open_record(value, topic, minute + 1, enc);
  REQUIRE_FALSE(r2);
  CHECK(r2.err().code == errc::wrong_minute);
  auto wrong_secret = encryption_keypair(topic, rotation_handle{},
                                         initial_secret_hash(byte_view::of("guess")), minute);
  auto r3 = open_record(value, topic, minute, wrong_secret);
  REQUIRE_FALSE(r3);
  CHECK(r3.err().code == errc::decrypt_failed);
  auto next_minute_key = encryption_keypair(topic, rotation_handle{}, ish, minute + 1);
  CHECK(open_record(value, topic, minute, next_minute_key).err().code == errc::decrypt_failed);
}

TEST_CASE_FIXTURE(fixture, "non-canonical S, small-order keys and small-order R are rejected") {
  auto msg = rec.signed_data();
  auto sig = rec.sig();
  REQUIRE(verify_strict(node.public_key_bytes(), msg, sig));

  SUBCASE("S + ell verifies mathematically but is not canonical") {
    auto s = to_array<32>(byte_view(sig).sub(32));
    auto s2 = add_le(s, ell);
    signature bad = sig;
    std::copy(s2.begin(), s2.end(), bad.begin() + 32);
    CHECK_FALSE(verify_strict(node.public_key_bytes(), msg, bad));
  }
  SUBCASE("identity public key (small order)") {
    public_key identity{};
    identity[0] = 1;
    CHECK_FALSE(is_valid_public_key(identity));
    signature s{};
    s[0] = 1; // R = identity, S = 0: passes the cofactorless equation for A = identity
    CHECK_FALSE(verify_strict(identity, msg, s));
  }
  SUBCASE("non-canonical encodings of y (y >= p)") {
    public_key y_p_plus_1 = *array_from_hex<32>(
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    CHECK_FALSE(is_valid_public_key(y_p_plus_1));
    CHECK_FALSE(verify_strict(y_p_plus_1, msg, sig));
  }
  SUBCASE("bytes that are not a curve point") {
    public_key junk{};
    junk[0] = 2; // y = 2 has no x on the curve
    CHECK_FALSE(is_valid_public_key(junk));
  }
  SUBCASE("small-order R with a valid key") {
    signature s = sig;
    std::fill(s.begin(), s.begin() + 32, 0);
    s[0] = 1;
    CHECK_FALSE(verify_strict(node.public_key_bytes(), msg, s));
  }
  SUBCASE("a record signed by a key with a small-order pub_key field fails as bad_key") {
    auto raw = rec.to_bytes();
    std::fill(raw.begin() + 40, raw.begin() + 72, 0);
    raw[40] = 1;
    auto r = record::from_bytes(raw)->verify(topic.hash(), minute);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::bad_key);
  }
}

TEST_CASE_FIXTURE(fixture, "a key blob that decrypts to something other than 32 bytes fails") {
  auto er = *encrypted_record::from_bytes(value);
  auto bad_blob = *hpke::seal_ed(enc.public_key_bytes(), bytes(31, 1), os_random());
  // 31-byte plaintext makes an 87-byte blob: wrong size on the wire too.
  bytes wire;
  put_le32(wire, static_cast<uint32_t>(er.encrypted_record_bytes().size()));
  append(wire, er.encrypted_record_bytes());
  append(wire, bad_blob);
  CHECK(encrypted_record::from_bytes(wire).err().code == errc::length_mismatch);
  auto bad33 = *hpke::seal_ed(enc.public_key_bytes(), bytes(33, 1), os_random());
  bad33.pop_back(); // keep the size at 88 but ruin the tag
  wire.resize(4 + er.encrypted_record_bytes().size());
  append(wire, bad33);
  CHECK_FALSE(open_record(wire, topic, minute, enc));
}
