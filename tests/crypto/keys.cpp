#include "crypto/bep44.hpp"
#include "crypto/clock.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

#include "support/vectors.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

TEST_CASE("derivations match spec/vectors.json (PROTOCOL.md §1, §4.1)") {
  auto v = test::load_shared_json("spec/vectors.json");
  auto topic = topic_id::from_name(v["topic_name_utf8"].get<std::string>());
  uint64_t m = v["unix_minute"];
  auto ish = initial_secret_hash(byte_view::of(v["initial_secret_utf8"].get<std::string>()));
  CHECK(to_hex(topic.hash()) == v["topic_id"]);
  CHECK(to_hex(ish) == v["initial_secret_hash"]);
  CHECK(to_hex(dht_signing_seed(topic, m)) == v["dht_signing_seed"]);
  auto dht_key = signing_keypair(topic, m);
  CHECK(to_hex(dht_key.public_key_bytes()) == v["dht_signing_pubkey"]);
  auto s = salt(topic, m);
  CHECK(to_hex(s) == v["salt"]);
  CHECK(to_hex(bep44::mutable_target(dht_key.public_key_bytes(), s)) == v["bep44_target_sha1"]);
  rotation_handle rot;
  CHECK(to_hex(rot.derive(topic.hash(), m, ish)) == v["encryption_seed_default_rotation"]);
  auto enc = encryption_keypair(topic, rot, ish, m);
  CHECK(to_hex(enc.public_key_bytes()) == v["encryption_ed25519_pubkey"]);
  CHECK(to_hex(*ed25519_to_x25519_public(enc.public_key_bytes())) == v["encryption_x25519_pubkey"]);
  CHECK(to_hex(enc.x25519_secret_unclamped()) == v["encryption_x25519_secret_unclamped"]);
  auto node = signing_key::from_seed(test::hex32(v["node_seed"]));
  CHECK(to_hex(node.public_key_bytes()) == v["node_pubkey"]);
}

TEST_CASE("derivations match every entry of vectors/dtt_records.json") {
  auto doc = test::load_shared_json("vectors/dtt_records.json");
  REQUIRE(doc["derivations"].size() == 3);
  for (auto& d : doc["derivations"]) {
    CAPTURE(d["name"].get<std::string>());
    auto topic = topic_id::from_bytes(test::hex(d["topic_name_utf8_hex"]));
    uint64_t m = d["unix_minute"];
    auto ish = initial_secret_hash(test::hex(d["secret_utf8_hex"]));
    CHECK(to_hex(topic.hash()) == d["topic_hash"]);
    CHECK(to_hex(ish) == d["initial_secret_hash"]);
    CHECK(to_hex(dht_signing_seed(topic, m)) == d["signing_seed"]);
    auto k = signing_keypair(topic, m);
    CHECK(to_hex(k.public_key_bytes()) == d["signing_pubkey"]);
    auto enc = encryption_keypair(topic, rotation_handle{}, ish, m);
    CHECK(to_hex(enc.seed()) == d["encryption_seed"]);
    CHECK(to_hex(enc.public_key_bytes()) == d["encryption_pubkey"]);
    CHECK(to_hex(*ed25519_to_x25519_public(enc.public_key_bytes()))
          == d["encryption_x25519_public"]);
    // The file lists the clamped (libsodium) form of the X25519 secret.
    auto sk = enc.x25519_secret_unclamped();
    sk[0] &= 248;
    sk[31] &= 127;
    sk[31] |= 64;
    CHECK(to_hex(sk) == d["encryption_x25519_secret"]);
    auto s = salt(topic, m);
    CHECK(to_hex(s) == d["salt"]);
    CHECK(to_hex(bep44::mutable_target(k.public_key_bytes(), s)) == d["dht_target"]);
  }
}

TEST_CASE("a custom secret rotation replaces the default") {
  struct fixed_rotation : secret_rotation {
    bytes32 derive(const bytes32&, uint64_t minute, const bytes32&) const override {
      bytes32 out{};
      out[0] = static_cast<uint8_t>(minute);
      return out;
    }
  };
  rotation_handle rot{std::make_shared<fixed_rotation>()};
  auto topic = topic_id::from_name("t");
  auto k = encryption_keypair(topic, rot, bytes32{}, 3);
  bytes32 expected{};
  expected[0] = 3;
  CHECK(k.seed() == expected);
  // A null rotation falls back to the default.
  rotation_handle fallback{nullptr};
  CHECK(fallback.derive(topic.hash(), 3, bytes32{})
        == default_secret_rotation{}.derive(topic.hash(), 3, bytes32{}));
}

TEST_CASE("unix_minute floors, applies the offset and refuses negative minutes") {
  manual_wall_clock clock{29000000LL * 60 + 59};
  CHECK(unix_minute(clock) == 29000000u);
  CHECK(unix_minute(clock, -1) == 28999999u);
  CHECK(unix_minute(clock, 2) == 29000002u);
  clock.set(0);
  CHECK(unix_minute(clock) == 0u);
  CHECK_FALSE(unix_minute(clock, -1).has_value());
  clock.set(-1);
  CHECK_FALSE(unix_minute(clock).has_value());
}

TEST_CASE("topic ids hash names and from_hash takes bytes as they are") {
  auto t = topic_id::from_name("my-iroh-gossip-topic");
  CHECK(topic_id::from_hash(t.hash()) == t);
  CHECK(topic_id::from_name("") == topic_id::from_bytes(bytes{}));
  CHECK(topic_id::from_name("a") != topic_id::from_name("b"));
}

TEST_CASE("hash primitives") {
  CHECK(to_hex(sha1(byte_view::of("abc"))) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(to_hex(sha256(byte_view::of("abc")))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // BLAKE2b-256("abc"), RFC 7693 family (libsodium generichash, 32-byte output).
  CHECK(to_hex(blake2b_256(byte_view::of("abc")))
        == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(to_hex(sha512_32({byte_view::of("hello")}))
        == "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7");
}

TEST_CASE("hex helpers reject bad input") {
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK(from_hex("AbCd") == bytes{0xab, 0xcd});
  CHECK_FALSE(array_from_hex<32>("00"));
}
