#include "crypto/bep44.hpp"
#include "crypto/hash.hpp"

#include "support/vectors.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

TEST_CASE("BEP 44 signable buffers, targets and signatures match the BEP's test vectors") {
  auto doc = test::load_shared_json("vectors/bep44.json");
  size_t mutable_checked = 0, immutable_checked = 0;
  for (auto& v : doc["vectors"]) {
    CAPTURE(v["name"].get<std::string>());
    if (v["type"] == "mutable") {
      auto pk = test::hex32(v["public_key"]);
      auto salt = test::hex(v["salt_hex"]);
      auto buf = bep44::signable_for_string(salt, v["seq"].get<int64_t>(),
                                            test::hex(v["value_raw_hex"]));
      CHECK(to_hex(buf) == v["buffer_being_signed_hex"]);
      CHECK(to_hex(bep44::mutable_target(pk, salt)) == v["target_id"]);
      auto sig = to_array<64>(test::hex(v["signature"]));
      CHECK(verify_strict(pk, buf, sig));
      sig[5] ^= 1;
      CHECK_FALSE(verify_strict(pk, buf, sig));
      ++mutable_checked;
    } else {
      CHECK(to_hex(bep44::immutable_target(test::hex(v["value_bencoded_hex"])))
            == v["target_id"]);
      ++immutable_checked;
    }
  }
  CHECK(mutable_checked == 2);
  CHECK(immutable_checked == 1);
}

TEST_CASE("the DTT put signature matches spec/vectors.json") {
  auto v = test::load_shared_json("spec/vectors.json");
  auto seed = test::hex32(v["dht_signing_seed"]);
  auto key = signing_key::from_seed(seed);
  auto buf = bep44::signable_for_string(test::hex(v["salt"]), v["bep44_seq"].get<int64_t>(),
                                        test::hex(v["dht_value"]));
  CHECK(to_hex(sha256(buf)) == v["bep44_signable_sha256"]);
  CHECK(to_hex(key.sign(buf)) == v["bep44_signature"]);
}
