// Hardened record slots (docs/HARDENED.md): known answers from a second implementation.
//
// The constants below were produced by docs/hardened_kat.py (Python hashlib/hmac for SHA-512,
// HMAC-SHA256 and HKDF; PyNaCl for the Ed25519 public key), run as
//   /usr/bin/python3 docs/hardened_kat.py
// which also checks its HKDF against RFC 5869 A.1.
#include "crypto/hardened.hpp"
#include "crypto/hash.hpp"

#include <doctest/doctest.h>

using namespace dtt;
using namespace dtt::crypto;

TEST_CASE("HKDF-SHA256 matches RFC 5869 test case 1") {
  auto salt = *array_from_hex<13>("000102030405060708090a0b0c");
  bytes ikm(22, 0x0b);
  auto prk = hkdf_extract(salt, {ikm});
  CHECK(to_hex(prk) == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  auto info = *array_from_hex<10>("f0f1f2f3f4f5f6f7f8f9");
  CHECK(to_hex(hkdf_expand(prk, {info}, 42))
        == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST_CASE("hardened slot derivation: known answers (docs/hardened_kat.py)") {
  auto topic = topic_id::from_name("my-iroh-gossip-topic");
  rotation_handle rot;
  auto ish = initial_secret_hash(byte_view::of("my-initial-secret"));
  auto s = hardened::derive(topic, rot, ish, 29000000);
  CHECK(to_hex(s.dht_seed) == "05bbdd5afda62273a941fd4fe5a068bd461f84057531091a17ef23ba9efa359c");
  CHECK(to_hex(s.salt) == "391ea1e76232e355c932c9a692498afc3986b079c79317e107b873246fbc29dd");
  CHECK(to_hex(signing_key::from_seed(s.dht_seed).public_key_bytes())
        == "79903923a600dc89cad2e97774811dd34fea4e57c6f04c4b87fede61313a59dd");

  // Another secret: another slot (an outsider who knows only the name cannot compute it).
  auto other = hardened::derive(topic, rot, initial_secret_hash(byte_view::of("another-secret")),
                                29000000);
  CHECK(to_hex(other.dht_seed) == "e689b57b136720166ef5153dd9ddb3c2b11f8e4a5cf06271dc9a15d7fc6e2f2a");
  CHECK(to_hex(other.salt) == "24a097575df533fc98b816030b11015a5a561e013539903d8f673944ab09eee2");

  // The next minute.
  auto next = hardened::derive(topic, rot, ish, 29000001);
  CHECK(to_hex(next.dht_seed) == "e20d9eefb3510a33373940add07e67fc602c89d428d94d6ec6dd9ec0d414856b");
  CHECK(to_hex(next.salt) == "51dcfbf26ddc047cd405b3dfd128f755eb4527b3dee1b1ce2ac1b00650eb94c1");

  // Neither equals the standard (public) derivation of PROTOCOL.md §1.4-§1.5.
  CHECK(s.dht_seed != dht_signing_seed(topic, 29000000));
  CHECK(s.salt != salt(topic, 29000000));
}

TEST_CASE("hardened seq is the unix time, within what a double holds exactly") {
  CHECK(hardened::seq_at(1764456000) == 1764456000);
  CHECK(hardened::seq_at(0) == 1);
  CHECK(hardened::seq_at(-5) == 1);
  CHECK(hardened::seq_at(INT64_MAX) == hardened::max_seq);
  CHECK(static_cast<int64_t>(static_cast<double>(hardened::max_seq)) == hardened::max_seq);
}
