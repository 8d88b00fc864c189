#include "crypto/bep44.hpp"
#include "crypto/encrypted_record.hpp"
#include "crypto/hash.hpp"

#include "support/vectors.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

namespace {

gossip_record_content content_of(const nlohmann::json& inputs) {
  std::vector<bytes32> peers, hashes;
  for (auto& p : inputs["peers"])
    peers.push_back(test::hex32(p));
  for (auto& h : inputs["hashes"])
    hashes.push_back(test::hex32(h));
  return gossip_record_content::make(peers, hashes);
}

} // namespace

TEST_CASE("record bytes and signature match spec/vectors.json") {
  auto v = test::load_shared_json("spec/vectors.json");
  auto topic = topic_id::from_name(v["topic_name_utf8"].get<std::string>());
  auto node = signing_key::from_seed(test::hex32(v["node_seed"]));
  bytes32 s1, s2;
  s1.fill(1);
  s2.fill(2);
  auto content = gossip_record_content::make(
    {signing_key::from_seed(s1).public_key_bytes(), signing_key::from_seed(s2).public_key_bytes()},
    {sha512_32({byte_view::of("hello")})});
  CHECK(to_hex(content.encode()) == v["content_postcard"]);
  auto rec = record::sign(topic.hash(), v["unix_minute"], content.encode(), node);
  CHECK(to_hex(rec.to_bytes()) == v["record_bytes"]);
  CHECK(to_hex(rec.sig()) == v["record_signature"]);
  CHECK(rec.to_bytes().size() == 456);
  CHECK(rec.verify(topic.hash(), v["unix_minute"]));
}

TEST_CASE("encrypted record with fixed randomness matches spec/vectors.json") {
  auto v = test::load_shared_json("spec/vectors.json");
  auto topic = topic_id::from_name(v["topic_name_utf8"].get<std::string>());
  uint64_t m = v["unix_minute"];
  auto rec = *record::from_bytes(test::hex(v["record_bytes"]));
  auto ish = initial_secret_hash(byte_view::of(v["initial_secret_utf8"].get<std::string>()));
  auto enc = encryption_keypair(topic, rotation_handle{}, ish, m);
  auto er = encrypted_record::seal_with(rec, enc.public_key_bytes(), test::hex32(v["one_time_seed"]),
                                        test::hex32(v["hpke_ephemeral_secret_record"]),
                                        test::hex32(v["hpke_ephemeral_secret_key"]));
  REQUIRE(er);
  CHECK(to_hex(er->encrypted_key_bytes()) == v["encrypted_decryption_key_88"]);
  auto wire = er->to_bytes();
  REQUIRE(wire);
  CHECK(wire->size() == v["dht_value_len"].get<size_t>());
  CHECK(to_hex(*wire) == v["dht_value"]);
  auto opened = open_record(*wire, topic, m, enc);
  REQUIRE(opened);
  CHECK(*opened == rec);
}

TEST_CASE("every record of vectors/dtt_records.json: sign, seal with fixed randomness, open") {
  auto doc = test::load_shared_json("vectors/dtt_records.json");
  REQUIRE(doc["records"].size() == 2);
  for (auto& r : doc["records"]) {
    CAPTURE(r["name"].get<std::string>());
    auto& in = r["inputs"];
    auto topic = topic_id::from_name(in["topic_name"].get<std::string>());
    uint64_t m = in["unix_minute"];
    auto node = signing_key::from_seed(test::hex32(in["node_seed"]));
    CHECK(to_hex(node.public_key_bytes()) == r["node_pubkey"]);
    auto content = content_of(in);
    CHECK(to_hex(content.encode()) == r["content_hex"]);
    auto rec = record::sign(topic.hash(), m, content.encode(), node);
    CHECK(to_hex(rec.signed_data()) == r["signed_data_hex"]);
    CHECK(to_hex(rec.sig()) == r["signature"]);
    CHECK(to_hex(rec.to_bytes()) == r["record_hex"]);
    CHECK(rec.to_bytes().size() == r["record_len"].get<size_t>());

    auto& ex = r["encrypted_example"];
    auto ish = initial_secret_hash(byte_view::of(in["secret"].get<std::string>()));
    auto enc = encryption_keypair(topic, rotation_handle{}, ish, m);
    // The Rust crate draws: one-time seed, then the ikm of each HPKE ephemeral.
    bytes randomness = test::hex(ex["one_time_seed"]);
    append(randomness, test::hex(ex["ikmE_record"]));
    append(randomness, test::hex(ex["ikmE_key"]));
    fixed_random rng{randomness};
    auto er = encrypted_record::seal(rec, enc.public_key_bytes(), rng);
    REQUIRE(er);
    auto wire = *er->to_bytes();
    CHECK(to_hex(wire) == ex["encrypted_record_hex"]);
    CHECK(wire.size() == ex["encrypted_record_len"].get<size_t>());
    CHECK(er->encrypted_record_bytes().size() == ex["part_record_len"].get<size_t>());
    CHECK(er->encrypted_key_bytes().size() == ex["part_key_len"].get<size_t>());

    auto opened = open_record(test::hex(ex["encrypted_record_hex"]), topic, m, enc);
    REQUIRE(opened);
    CHECK(to_hex(opened->to_bytes()) == r["record_hex"]);
    auto decoded = opened->gossip_content();
    REQUIRE(decoded);
    CHECK(decoded->peers().size() == in["peers"].size());
    CHECK(decoded->hashes().size() == in["hashes"].size());

    auto dht_key = signing_keypair(topic, m);
    auto buf = bep44::signable_for_string(salt(topic, m), ex["dht_seq"].get<int64_t>(), wire);
    CHECK(to_hex(dht_key.sign(buf)) == ex["dht_put_signature"]);
  }
}

TEST_CASE("gossip_record_content decoding") {
  gossip_record_content c;
  c.active_peers[2].fill(7);
  c.last_message_hashes[4].fill(9);
  auto enc = c.encode();
  REQUIRE(enc.size() == 320);
  CHECK(*gossip_record_content::decode(enc) == c);
  CHECK(gossip_record_content::decode(enc)->peers().size() == 1);
  CHECK(gossip_record_content::decode(enc)->hashes().size() == 1);
  auto longer = enc;
  longer.push_back(1);
  CHECK(*gossip_record_content::decode(longer) == c); // trailing bytes ignored
  for (size_t n = 0; n < 320; ++n)
    CHECK_FALSE(gossip_record_content::decode(byte_view(enc).sub(0, n)));
  // make() keeps at most five of each.
  std::vector<bytes32> seven(7, bytes32{1});
  auto m = gossip_record_content::make(seven, seven);
  CHECK(m.peers().size() == 5);
  CHECK(m.hashes().size() == 5);
}
