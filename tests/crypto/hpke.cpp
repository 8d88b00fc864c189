#include "crypto/hpke.hpp"

#include "support/vectors.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

namespace {

void check_hpke_file(const std::string& file) {
  auto doc = test::load_shared_json(file);
  REQUIRE(doc["vectors"].size() >= 1);
  for (auto& v : doc["vectors"]) {
    CAPTURE(v["name"].get<std::string>());
    REQUIRE(v["mode"] == 0);
    auto eph = hpke::derive_keypair(test::hex(v["ikmE"]));
    CHECK(to_hex(eph.secret) == v["skEm"]);
    CHECK(to_hex(eph.public_key) == v["pkEm"]);
    auto rcp = hpke::derive_keypair(test::hex(v["ikmR"]));
    CHECK(to_hex(rcp.secret) == v["skRm"]);
    CHECK(to_hex(rcp.public_key) == v["pkRm"]);

    auto enc = hpke::encap(rcp.public_key, eph.secret);
    REQUIRE(enc);
    CHECK(to_hex(enc->enc) == v["enc"]);
    CHECK(to_hex(enc->shared_secret) == v["shared_secret"]);
    auto dec = hpke::decap(enc->enc, rcp.secret);
    REQUIRE(dec);
    CHECK(*dec == enc->shared_secret);

    auto ctx = hpke::key_schedule_base(enc->shared_secret, test::hex(v["info"]));
    CHECK(to_hex(ctx.key) == v["key"]);
    CHECK(to_hex(ctx.base_nonce) == v["base_nonce"]);
    CHECK(to_hex(ctx.exporter_secret) == v["exporter_secret"]);

    size_t n = 0;
    for (auto& e : v["encryptions"]) {
      uint64_t seq = e["sequence_number"];
      auto ct = ctx.seal(seq, test::hex(e["aad"]), test::hex(e["pt"]));
      CHECK(to_hex(ct) == e["ct"]);
      auto pt = ctx.open(seq, test::hex(e["aad"]), ct);
      REQUIRE(pt);
      CHECK(to_hex(*pt) == e["pt"]);
      ++n;
    }
    CHECK(n == v["encryptions"].size());
    for (auto& x : v["exports"]) {
      auto out = ctx.export_secret(test::hex(x["exporter_context"]), x["L"].get<size_t>());
      CHECK(to_hex(out) == x["exported_value"]);
    }
  }
}

} // namespace

TEST_CASE("HPKE base mode matches RFC 9180 A.2.1") {
  check_hpke_file("vectors/hpke_base_x25519_sha256_chacha20poly1305.json");
}

TEST_CASE("HPKE base mode matches the CFRG vectors for all 257 sequence numbers") {
  check_hpke_file("vectors/hpke_base_x25519_sha256_chacha20poly1305_cfrg779d028_full.json");
}

TEST_CASE("ed25519-dalek-hpke framing round-trips and has 56 bytes of overhead") {
  auto key = signing_key::from_seed(bytes32{7});
  bytes msg = {1, 2, 3, 4, 5};
  auto blob = hpke::seal_ed(key.public_key_bytes(), msg, os_random());
  REQUIRE(blob);
  CHECK(blob->size() == msg.size() + hpke::ed_overhead);
  CHECK(to_hex(byte_view(*blob).sub(0, 8)) == "2000000000000000");
  auto opened = hpke::open_ed(key.seed(), *blob);
  REQUIRE(opened);
  CHECK(*opened == msg);
}

TEST_CASE("HPKE open_ed rejects malformed blobs with a clear error") {
  auto key = signing_key::from_seed(bytes32{9});
  auto blob = *hpke::seal_ed(key.public_key_bytes(), byte_view::of("secret"), os_random());

  SUBCASE("every truncation fails") {
    for (size_t n = 0; n < blob.size(); ++n) {
      CAPTURE(n);
      CHECK_FALSE(hpke::open_ed(key.seed(), byte_view(blob).sub(0, n)));
    }
  }
  SUBCASE("enc length over 128") {
    auto b = blob;
    b[0] = 129;
    auto r = hpke::open_ed(key.seed(), b);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::too_large);
  }
  SUBCASE("enc length 31 and 33") {
    for (uint8_t l : {31, 33}) {
      auto b = blob;
      b[0] = l;
      auto r = hpke::open_ed(key.seed(), b);
      REQUIRE_FALSE(r);
    }
  }
  SUBCASE("enc length consuming the whole blob") {
    bytes b;
    put_le64(b, 40);
    b.resize(48, 1);
    auto r = hpke::open_ed(key.seed(), b);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::truncated);
  }
  SUBCASE("huge enc length does not overflow") {
    auto b = blob;
    for (int i = 0; i < 8; ++i)
      b[i] = 0xff;
    CHECK_FALSE(hpke::open_ed(key.seed(), b));
  }
  SUBCASE("small-order enc gives the all-zero DH error") {
    auto b = blob;
    std::fill(b.begin() + 8, b.begin() + 40, 0); // u = 0 is a small-order point
    auto r = hpke::open_ed(key.seed(), b);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::crypto_failure);
  }
  SUBCASE("wrong key") {
    auto other = signing_key::from_seed(bytes32{10});
    auto r = hpke::open_ed(other.seed(), blob);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::decrypt_failed);
  }
}
